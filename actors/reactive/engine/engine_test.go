package engine

import (
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestCompareOrder(t *testing.T) {
	ordered := []string{`null`, `false`, `true`, `-1.5`, `0`, `2`, `10`, `""`, `"a"`, `"b"`, `[]`, `[1]`, `[1,2]`, `[2]`, `{}`, `{"a":1}`, `{"a":2}`, `{"b":0}`}
	for i := range ordered {
		for j := range ordered {
			got := CompareKeys(ordered[i], ordered[j])
			if (i < j && got >= 0) || (i > j && got <= 0) || (i == j && got != 0) {
				t.Fatalf("Compare(%s, %s) = %d", ordered[i], ordered[j], got)
			}
		}
	}
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		`1.0`: `1`, ` "x" `: `"x"`, `{"b":1, "a":[1e2, true]}`: `{"a":[100,true],"b":1}`, `1e21`: `1e+21`, `0.1`: `0.1`,
	} {
		got, err := Canonical([]byte(in))
		if err != nil || got != want {
			t.Errorf("Canonical(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := Canonical([]byte(`{`)); err == nil {
		t.Error("Canonical accepted a broken key")
	}
}

// goMapper maps with a Go function; it can read other nodes through eng.
type goMapper struct {
	eng *Engine
	f   func(e *Engine, k string, vs []string) ([]Pair, error)
}

func (m goMapper) MapEntry(k string, vs []string) ([]Pair, error) { return m.f(m.eng, k, vs) }

type goReducer struct{}

func (goReducer) Initial() (string, bool) { return "0", true }
func (goReducer) Add(acc string, _ bool, v string) (string, error) {
	a, _ := strconv.Atoi(acc)
	x, _ := strconv.Atoi(v)
	return strconv.Itoa(a + x), nil
}
func (goReducer) Remove(acc, v string) (string, bool, error) {
	a, _ := strconv.Atoi(acc)
	x, _ := strconv.Atoi(v)
	if x%5 == 0 {
		return "", false, nil // exercise the recompute path
	}
	return strconv.Itoa(a - x), true, nil
}

var errBoom = errors.New("boom")

// graph builds the same network over two inputs in e: every operator, a
// mapper that reads the other input (a tracked dependency) and one that
// throws on a poisoned value.
type graph struct {
	a, b                                   *Node
	outs                                   []*Node
	names                                  []string
	mapped, grouped, summed, min, cnt, lzy *Node
}

func build(t testing.TB, e *Engine, fill func(a, b *Node)) *graph {
	g := &graph{a: e.NewInput("a"), b: e.NewInput("b")}
	if fill != nil {
		fill(g.a, g.b)
	}
	must := func(n *Node, err error) *Node {
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	g.mapped = must(e.Map(g.a, goMapper{e, func(e *Engine, k string, vs []string) ([]Pair, error) {
		var out []Pair
		for _, v := range vs {
			if v == "666" {
				return nil, errBoom
			}
			out = append(out, Pair{k, v})
		}
		// join through a read of b
		other, err := e.Get(g.b, k)
		if err != nil {
			return nil, err
		}
		for _, v := range other {
			out = append(out, Pair{k, `"b` + v + `"`})
		}
		return out, nil
	}}))
	g.grouped = must(e.Map(g.a, goMapper{e, func(e *Engine, k string, vs []string) ([]Pair, error) {
		var out []Pair
		for _, v := range vs {
			n, _ := strconv.Atoi(v)
			out = append(out, Pair{strconv.Itoa(n % 3), v})
		}
		return out, nil
	}}))
	g.summed = must(e.Reduce(g.grouped, goReducer{}))
	sum, _ := Native("sum")
	nsum := must(e.Reduce(g.grouped, sum))
	mn, _ := Native("min")
	g.min = must(e.Reduce(g.a, mn))
	cnt, _ := Native("count")
	g.cnt = must(e.Reduce(g.b, cnt))
	merged := e.Merge(g.a, g.b)
	sliced := e.Slice(merged, [][2]string{{"1", "3"}, {"7", "8"}})
	taken := e.Take(merged, 4)
	g.lzy = e.Lazy(lazyFn{e, g.b})
	viaLazy := must(e.Map(g.a, goMapper{e, func(e *Engine, k string, vs []string) ([]Pair, error) {
		l, err := e.Get(g.lzy, k)
		if err != nil {
			return nil, err
		}
		return []Pair{{k, strconv.Itoa(len(l))}}, nil
	}}))
	sized := must(e.Map(g.a, goMapper{e, func(e *Engine, k string, vs []string) ([]Pair, error) {
		return []Pair{{k, strconv.Itoa(e.Size(g.b))}}, nil
	}}))
	g.outs = []*Node{g.mapped, g.grouped, g.summed, nsum, g.min, g.cnt, merged, sliced, taken, viaLazy, sized}
	g.names = []string{"mapped", "grouped", "summed", "nativesum", "min", "count", "merged", "sliced", "taken", "viaLazy", "sized"}
	for _, n := range g.outs {
		e.Watch(n)
	}
	return g
}

type lazyFn struct {
	e *Engine
	b *Node
}

func (l lazyFn) Compute(k string) ([]string, error) {
	vs, err := l.e.Get(l.b, k)
	if err != nil {
		return nil, err
	}
	return append([]string{"0"}, vs...), nil
}

func contents(g *graph) map[string][]Entry {
	out := map[string][]Entry{}
	for i, n := range g.outs {
		es := n.Entries()
		for j := range es {
			es[j].Values = sorted(es[j].Values)
		}
		out[g.names[i]] = es
	}
	return out
}

func sorted(vs []string) []string {
	c := append([]string(nil), vs...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

// TestIncrementalEqualsFromScratch applies random transactions (some of
// which throw and are rolled back) and checks every operator's contents
// against a graph built from scratch over the same inputs, and each
// transaction's reported delta against the contents before and after.
func TestIncrementalEqualsFromScratch(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewSource(seed))
		e := New()
		g := build(t, e, nil)
		for step := 0; step < 60; step++ {
			before := contents(g)
			e.Begin()
			poisoned := false
			for n := rng.Intn(4) + 1; n > 0; n-- {
				in := g.a
				if rng.Intn(3) == 0 {
					in = g.b
				}
				k := strconv.Itoa(rng.Intn(10))
				var vs []string
				for m := rng.Intn(3); m > 0; m-- {
					v := strconv.Itoa(rng.Intn(20))
					if rng.Intn(40) == 0 && in == g.a {
						v, poisoned = "666", true
					}
					vs = append(vs, v)
				}
				e.Set(in, k, vs)
			}
			poisoned = false
			for _, en := range g.a.Entries() {
				for _, v := range en.Values {
					poisoned = poisoned || v == "666"
				}
			}
			err := e.Propagate(nil)
			if poisoned != (err != nil) {
				t.Fatalf("seed %d step %d: poisoned %v, error %v", seed, step, poisoned, err)
			}
			if err != nil {
				e.Rollback()
				if got := contents(g); !reflect.DeepEqual(got, before) {
					t.Fatalf("seed %d step %d: rollback left changes:\n%v\n%v", seed, step, got, before)
				}
				continue
			}
			deltas := map[string][]Entry{}
			for i, n := range g.outs {
				deltas[g.names[i]] = n.Delta()
			}
			e.Commit()
			after := contents(g)
			for name, d := range deltas {
				checkDelta(t, fmt.Sprintf("seed %d step %d %s", seed, step, name), before[name], after[name], d)
			}
			want := fromScratch(t, g)
			if !reflect.DeepEqual(withoutVanished(after, want), want) {
				t.Fatalf("seed %d step %d: incremental\n%v\nfrom scratch\n%v", seed, step, after, want)
			}
		}
	}
}

// fromScratch builds the network over inputs already holding g's
// contents.
func fromScratch(t *testing.T, g *graph) map[string][]Entry {
	fresh := build(t, New(), func(a, b *Node) {
		for _, en := range g.a.Entries() {
			a.eng.Set(a, en.Key, en.Values)
		}
		for _, en := range g.b.Entries() {
			b.eng.Set(b, en.Key, en.Values)
		}
	})
	return contents(fresh)
}

// withoutVanished drops from the incremental contents the reduced keys
// that a graph built from scratch lacks because their values went: an
// incremental reduce keeps them at the reducer's initial value, as Skip's
// does. Any other difference stays.
func withoutVanished(inc, scratch map[string][]Entry) map[string][]Entry {
	out := map[string][]Entry{}
	for name, es := range inc {
		have := index(scratch[name])
		kept := []Entry{}
		for _, en := range es {
			if _, ok := have[en.Key]; !ok && len(en.Values) == 1 && en.Values[0] == "0" &&
				(name == "summed" || name == "nativesum" || name == "count") {
				continue
			}
			kept = append(kept, en)
		}
		if len(es) == 0 {
			kept = es
		}
		out[name] = kept
	}
	return out
}

func checkDelta(t *testing.T, what string, before, after, delta []Entry) {
	t.Helper()
	b, a := index(before), index(after)
	changed := map[string]bool{}
	for k, vs := range a {
		if !reflect.DeepEqual(vs, b[k]) {
			changed[k] = true
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			changed[k] = true
		}
	}
	got := map[string]bool{}
	for _, d := range delta {
		got[d.Key] = true
		if !reflect.DeepEqual(sorted(d.Values), a[d.Key]) && !(len(d.Values) == 0 && a[d.Key] == nil) {
			t.Fatalf("%s: delta of %s has %v, contents %v", what, d.Key, d.Values, a[d.Key])
		}
	}
	if !reflect.DeepEqual(got, changed) {
		t.Fatalf("%s: delta names %v, changed keys %v", what, got, changed)
	}
}

func index(es []Entry) map[string][]string {
	m := map[string][]string{}
	for _, e := range es {
		m[e.Key] = e.Values
	}
	return m
}

// TestReduceKeepsVanishedKey: a reduced key whose last value goes stays at
// the reducer's initial value (Sum and Count 0) as Skip's does, Min has
// none; a key that never had values has no accumulator at all.
func TestReduceKeepsVanishedKey(t *testing.T) {
	e := New()
	in := e.NewInput("in")
	outs := map[string]*Node{}
	for _, name := range []string{"sum", "count", "min"} {
		r, _ := Native(name)
		n, err := e.Reduce(in, r)
		if err != nil {
			t.Fatal(err)
		}
		outs[name] = n
	}
	write := func(k string, vs ...string) {
		t.Helper()
		e.Begin()
		e.Set(in, k, vs)
		if err := e.Propagate(nil); err != nil {
			t.Fatal(err)
		}
		e.Commit()
	}
	write("a", "3", "4")
	write("a")
	write("b")
	for name, want := range map[string]string{"sum": `[{a [0]}]`, "count": `[{a [0]}]`, "min": `[]`} {
		if got := fmt.Sprint(outs[name].Entries()); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	write("a", "5")
	if got := fmt.Sprint(outs["sum"].Entries()); got != `[{a [5]}]` {
		t.Errorf("sum after a value came back: %s", got)
	}
}

// TestNativeReducersAsSkip: Sum, Min and Max take integers and booleans
// (1 and 0) and refuse fractions and other JSON, naming the value; Count
// counts any value.
func TestNativeReducersAsSkip(t *testing.T) {
	for _, c := range []struct {
		name, want string
		vals       []string
	}{
		{"sum", "6", []string{"true", "false", "5"}},
		{"min", "0", []string{"true", "false", "5"}},
		{"max", "5", []string{"true", "false", "5"}},
		{"sum", "2000", []string{"1e3", "1000.0"}},
		{"count", "4", []string{`"x"`, "2.5", "null", `{"a":1}`}},
	} {
		r, _ := Native(c.name)
		acc, has := r.Initial()
		for _, v := range c.vals {
			next, err := r.Add(acc, has, v)
			if err != nil {
				t.Fatalf("%s %v: %v", c.name, c.vals, err)
			}
			acc, has = next, true
		}
		if acc != c.want {
			t.Errorf("%s %v = %s, want %s", c.name, c.vals, acc, c.want)
		}
	}
	for _, name := range []string{"sum", "min", "max"} {
		r, _ := Native(name)
		for _, v := range []string{"2.5", `"3"`, "null", "[1]"} {
			_, err := r.Add("0", true, v)
			if !errors.Is(err, ErrNotNumber) || !strings.Contains(err.Error(), v) {
				t.Errorf("%s over %s: %v", name, v, err)
			}
		}
	}
}
