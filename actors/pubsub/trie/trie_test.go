package trie

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestTrieMatchesNotesExamples(t *testing.T) {
	for _, tt := range matchCases {
		var tr Trie[string]
		if _, err := tr.Subscribe(tt.pattern, "s1"); err != nil {
			t.Fatalf("Subscribe(%q): %v", tt.pattern, err)
		}
		got := tr.Match(tt.topic)
		if want := tt.want; (len(got) == 1) != want {
			t.Errorf("pattern %q, topic %q: Match = %v, want match %v", tt.pattern, tt.topic, got, want)
		}
	}
}

func TestTrieMatchReturnsEachKeyOnce(t *testing.T) {
	var tr Trie[string]
	for _, sub := range []struct{ pattern, key string }{
		{"orders.#", "s1"},
		{"orders.*", "s1"},
		{"orders.eu", "s1"},
		{"#", "s2"},
		{"orders.eu", "s3"},
		{"orders.us", "s4"},
	} {
		if _, err := tr.Subscribe(sub.pattern, sub.key); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		topic string
		want  []string
	}{
		{"orders.eu", []string{"s1", "s2", "s3"}},
		{"orders.us", []string{"s1", "s2", "s4"}},
		{"orders", []string{"s1", "s2"}},
		{"orders.eu.paris", []string{"s1", "s2"}},
		{"billing", []string{"s2"}},
	}
	for _, tt := range tests {
		if got := sorted(tr.Match(tt.topic)); !slices.Equal(got, tt.want) {
			t.Errorf("Match(%q) = %v, want %v", tt.topic, got, tt.want)
		}
	}
}

func TestTrieSubscribeUnsubscribe(t *testing.T) {
	var tr Trie[int]
	if _, err := tr.Subscribe("a.#.b", 1); err == nil {
		t.Fatal("Subscribe accepted an invalid pattern")
	}
	for _, step := range []struct {
		op      string
		pattern string
		key     int
		want    bool
	}{
		{"sub", "a.b", 1, true},
		{"sub", "a.b", 1, false}, // already subscribed
		{"sub", "a.b", 2, true},
		{"sub", "a.*", 1, true},
		{"sub", "a.#", 3, true},
		{"unsub", "a.c", 1, false}, // no such pattern
		{"unsub", "a.*", 2, false}, // pattern exists, key not in it
		{"unsub", "a..", 1, false}, // invalid pattern
		{"unsub", "a.b", 1, true},
		{"unsub", "a.b", 1, false}, // twice
	} {
		var got bool
		if step.op == "sub" {
			got, _ = tr.Subscribe(step.pattern, step.key)
		} else {
			got = tr.Unsubscribe(step.pattern, step.key)
		}
		if got != step.want {
			t.Fatalf("%s(%q, %d) = %v, want %v", step.op, step.pattern, step.key, got, step.want)
		}
	}
	if got, want := tr.Patterns(), []string{"a.#", "a.*", "a.b"}; !slices.Equal(got, want) {
		t.Errorf("Patterns() = %q, want %q", got, want)
	}
	counts := map[string]int{"a.b": 1, "a.*": 1, "a.#": 1, "a.c": 0, "a": 0, "a.*.*": 0, "#": 0, "a..": 0}
	for p, want := range counts {
		if got := tr.Count(p); got != want {
			t.Errorf("Count(%q) = %d, want %d", p, got, want)
		}
	}
	if tr.Len() != 3 || tr.Subscriptions() != 3 {
		t.Errorf("Len, Subscriptions = %d, %d, want 3, 3", tr.Len(), tr.Subscriptions())
	}

	for _, s := range []struct {
		pattern string
		key     int
	}{{"a.b", 2}, {"a.*", 1}, {"a.#", 3}} {
		if !tr.Unsubscribe(s.pattern, s.key) {
			t.Fatalf("Unsubscribe(%q, %d) = false", s.pattern, s.key)
		}
	}
	if !tr.root.empty() {
		t.Errorf("nodes left after the last unsubscribe: %+v", tr.root)
	}
	if tr.Len() != 0 || tr.Subscriptions() != 0 || len(tr.Patterns()) != 0 {
		t.Errorf("Len, Subscriptions, Patterns = %d, %d, %q after removing everything", tr.Len(), tr.Subscriptions(), tr.Patterns())
	}
}

// TestTrieAgreesWithOracle subscribes and unsubscribes random patterns and
// checks every answer of the trie against a list of (pattern, key) pairs
// matched one by one with the regular-expression oracle.
func TestTrieAgreesWithOracle(t *testing.T) {
	type sub struct {
		pattern string
		key     int
	}
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		var tr Trie[int]
		model := map[sub]bool{}
		for range 300 {
			s := sub{randomPattern(r), r.IntN(10)}
			if r.IntN(3) == 0 {
				if got := tr.Unsubscribe(s.pattern, s.key); got != model[s] {
					t.Fatalf("seed %d: Unsubscribe(%q, %d) = %v, want %v", seed, s.pattern, s.key, got, model[s])
				}
				delete(model, s)
			} else {
				if got, _ := tr.Subscribe(s.pattern, s.key); got == model[s] {
					t.Fatalf("seed %d: Subscribe(%q, %d) = %v, want %v", seed, s.pattern, s.key, got, !model[s])
				}
				model[s] = true
			}

			topic := randomTopic(r)
			var want []int
			for s := range model {
				if oracle(s.pattern).MatchString(topic) && !slices.Contains(want, s.key) {
					want = append(want, s.key)
				}
			}
			if got := sorted(tr.Match(topic)); !slices.Equal(got, sorted(want)) {
				t.Fatalf("seed %d: Match(%q) = %v, want %v", seed, topic, got, sorted(want))
			}
		}

		counts := map[string]int{}
		for s := range model {
			counts[s.pattern]++
		}
		var patterns []string
		for p, n := range counts {
			patterns = append(patterns, p)
			if got := tr.Count(p); got != n {
				t.Errorf("seed %d: Count(%q) = %d, want %d", seed, p, got, n)
			}
		}
		if got := tr.Patterns(); !slices.Equal(got, sorted(patterns)) {
			t.Errorf("seed %d: Patterns() = %q, want %q", seed, got, sorted(patterns))
		}
		if tr.Len() != len(counts) || tr.Subscriptions() != len(model) {
			t.Errorf("seed %d: Len, Subscriptions = %d, %d, want %d, %d", seed, tr.Len(), tr.Subscriptions(), len(counts), len(model))
		}
	}
}

// BenchmarkMatch matches topics against 10,000 patterns, a twentieth of
// them with '*' and a twentieth with '#'. The linear case, every pattern
// tried in turn with Matches, is the baseline.
func BenchmarkMatch(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	level := func() string { return fmt.Sprintf("l%d", r.IntN(20)) }
	var tr Trie[int]
	patterns := make([]string, 10000)
	for i := range patterns {
		p := level() + "." + level() + "." + level()
		switch i % 20 {
		case 0:
			p = level() + ".*." + level()
		case 1:
			p = level() + "." + level() + ".#"
		}
		patterns[i] = p
		if _, err := tr.Subscribe(p, i); err != nil {
			b.Fatal(err)
		}
	}
	topics := make([]string, 1024)
	for i := range topics {
		topics[i] = level() + "." + level() + "." + level()
	}

	b.Run("trie", func(b *testing.B) {
		b.ReportAllocs()
		matched := 0
		for i := 0; b.Loop(); i++ {
			matched += len(tr.Match(topics[i%len(topics)]))
		}
		b.ReportMetric(float64(matched)/float64(b.N), "keys/op")
	})
	b.Run("linear", func(b *testing.B) {
		matched := 0
		for i := 0; b.Loop(); i++ {
			topic := topics[i%len(topics)]
			for _, p := range patterns {
				if Matches(p, topic) {
					matched++
				}
			}
		}
		b.ReportMetric(float64(matched)/float64(b.N), "keys/op")
	})
}

func sorted[T interface{ ~int | ~string }](s []T) []T {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
