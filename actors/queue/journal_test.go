package queue

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var testPrefix = []byte("queues/q\x00")

// restore builds a State from a copy of j the way the actor does after a
// restart, and returns it with its own journal.
func restore(t *testing.T, j mapJournal, cfg Config) (*State, mapJournal) {
	t.Helper()
	jb := maps.Clone(j)
	s := New(testPrefix, cfg, jb)
	for _, k := range slices.Sorted(maps.Keys(jb)) {
		if err := s.Restore([]byte(k), jb[k]); err != nil {
			t.Fatalf("Restore(%q): %v", k, err)
		}
	}
	return s, jb
}

// randomOps applies n random commands to s, starting at now, and returns
// the time it ended at.
func randomOps(r *rand.Rand, s *State, now time.Time, n int) time.Time {
	for range n {
		now = now.Add(time.Duration(r.IntN(2000)) * time.Millisecond)
		switch op := r.IntN(100); {
		case op < 35:
			var headers map[string]string
			if r.IntN(3) == 0 {
				headers = map[string]string{"k": fmt.Sprint(r.IntN(5)), "trace": "t"}
			}
			s.Publish(now, fmt.Appendf(nil, `{"n":%d}`, r.Int()), r.IntN(MaxPriority+1), headers)
		case op < 60:
			s.Consume(now, fmt.Sprintf("c%d", r.IntN(3)), time.Duration(1+r.IntN(10))*time.Second)
		case op < 72 && len(s.inFlight) > 0:
			s.Ack(messageID(s.inFlight[r.IntN(len(s.inFlight))].seq))
		case op < 84 && len(s.inFlight) > 0:
			s.Nack(messageID(s.inFlight[r.IntN(len(s.inFlight))].seq), r.IntN(4) != 0)
		case op < 93:
			s.Tick(now)
		case op < 95 && len(s.dead) > 0:
			s.DLQRequeue([]string{messageID(s.dead[r.IntN(len(s.dead))].seq)})
		case op < 96:
			s.DLQRequeueAll()
		case op < 97:
			s.DLQPurge()
		case op < 98:
			s.Purge()
		default:
			s.Ack(messageID(uint64(r.IntN(50)))) // mostly not in flight
		}
	}
	return now
}

// TestRestoreEquivalence applies random commands to a queue, restores a
// second one from the journal, and checks that it is the first as it must
// be after a restart: the same counters and DLQ, every message not acked
// ready in its place (in-flight ones included, RetryCount unchanged), and
// the same next message ID. It then does the same from the restored queue.
func TestRestoreEquivalence(t *testing.T) {
	configs := []Config{
		DefaultConfig(),
		{MaxDepth: 8, AckDeadline: 5 * time.Second, MaxRetries: 1, DeadLetter: true},
		{MaxDepth: 20, AckDeadline: 5 * time.Second, MaxRetries: 0, DeadLetter: false},
	}
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 2))
		cfg := configs[seed%uint64(len(configs))]
		j := mapJournal{}
		a := New(testPrefix, cfg, j)
		now := randomOps(r, a, t0, r.IntN(120))
		b, jb := checkRestore(t, seed, a, j, cfg, now)

		now = randomOps(r, b, now, r.IntN(120))
		checkRestore(t, seed, b, jb, cfg, now)
	}
}

func checkRestore(t *testing.T, seed uint64, a *State, j mapJournal, cfg Config, now time.Time) (*State, mapJournal) {
	t.Helper()
	// The journal holds the counters and the messages still held, no more.
	if want := len(a.entries) + min(1, int(a.published)); len(j) != want {
		t.Fatalf("seed %d: journal holds %d keys, want %d", seed, len(j), want)
	}

	b, jb := restore(t, j, cfg)

	// What a restart must give: ready and in-flight messages, ready in
	// consume order.
	var want []Message
	for _, e := range a.entries {
		if e.where != dead {
			want = append(want, e.message())
		}
	}
	slices.SortFunc(want, func(x, y Message) int {
		return cmp.Or(cmp.Compare(y.Priority, x.Priority), strings.Compare(x.ID, y.ID))
	})

	sa, sb := a.Stats(now), b.Stats(now)
	wantStats := sa
	wantStats.Depth, wantStats.InFlight, wantStats.Consumers = sa.Depth+sa.InFlight, 0, 0
	if len(want) > 0 {
		oldest := slices.MinFunc(want, func(x, y Message) int { return strings.Compare(x.ID, y.ID) })
		wantStats.OldestMessageAgeSecs = int64(now.Sub(oldest.PublishedAt) / time.Second)
	}
	if sb != wantStats {
		t.Fatalf("seed %d: restored stats\n %+v, want\n %+v", seed, sb, wantStats)
	}
	sameMessages(t, seed, "DLQ", b.DLQList(0, 0), a.DLQList(0, 0))

	var got []Message
	for {
		m, ok := b.Consume(now, "after-restart", time.Minute)
		if !ok {
			break
		}
		got = append(got, m)
	}
	sameMessages(t, seed, "ready", got, want)

	// Both go on alike: IDs are never reused.
	idA, _, errA := a.Publish(now, nil, 5, nil)
	idB, _, errB := b.Publish(now, nil, 5, nil)
	if idA != idB || (errA == nil) != (errB == nil) {
		t.Fatalf("seed %d: next publish %q %v, restored %q %v", seed, idA, errA, idB, errB)
	}
	return b, jb
}

func sameMessages(t *testing.T, seed uint64, what string, got, want []Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("seed %d: %s has %d messages after restore, want %d", seed, what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || !bytes.Equal(g.Payload, w.Payload) || g.Priority != w.Priority ||
			!maps.Equal(g.Headers, w.Headers) || g.RetryCount != w.RetryCount || !g.PublishedAt.Equal(w.PublishedAt) {
			t.Fatalf("seed %d: %s[%d] after restore:\n %+v, want\n %+v", seed, what, i, g, w)
		}
	}
}

// TestAckedNeverComesBack is the kill -9 property in miniature: whatever
// was acked is absent after a restart, whatever was not is present.
func TestAckedNeverComesBack(t *testing.T) {
	s, j := newQueue(t, DefaultConfig())
	ids := make([]string, 6)
	for i := range ids {
		ids[i] = publish(t, s, 5, fmt.Sprint(i))
	}
	for range 4 {
		consume(t, s, t0)
	}
	for _, id := range ids[:2] {
		if err := s.Ack(id); err != nil {
			t.Fatal(err)
		}
	}
	// 0, 1 acked; 2, 3 in flight; 4, 5 ready.
	r, _ := restore(t, j, DefaultConfig())
	if err := r.Ack(ids[2]); !errors.Is(err, ErrNotInFlight) {
		t.Errorf("ack for a delivery from before the restart: %v, want ErrNotInFlight", err)
	}
	if got, want := drain(r), []string{"2", "3", "4", "5"}; !slices.Equal(got, want) {
		t.Errorf("after restart: %v, want %v", got, want)
	}
}

func TestRestoreRejectsBadInput(t *testing.T) {
	src, good := newQueue(t, DefaultConfig())
	id := publish(t, src, 5, "x")
	seq, _ := parseID(id)
	msgKey, msgVal := src.messageKey(seq), good[string(src.messageKey(seq))]
	counters := string(testPrefix) + "c"

	tests := []struct {
		name       string
		key, value []byte
		why        string
	}{
		{"other prefix", []byte("queues/other\x00c"), good[counters], "not under prefix"},
		{"bare prefix", testPrefix, good[counters], "not under prefix"},
		{"unknown tag", append(slices.Clone(testPrefix), 'z'), good[counters], "unknown key"},
		{"short message key", append(slices.Clone(testPrefix), 'm', 1), msgVal, "unknown key"},
		{"future version", msgKey, append([]byte{2}, msgVal[1:]...), "version"},
		{"empty value", msgKey, nil, "version"},
		{"truncated counters", []byte(counters), []byte{version, 1, 2}, "corrupt"},
		{"truncated message", msgKey, msgVal[:3], "corrupt"},
		{"priority out of range", msgKey, []byte{version, 0, 42, 0, 0, 0}, "corrupt"},
		{"header count too large", msgKey, []byte{version, 0, 5, 0, 0, 100}, "corrupt"},
		{"header longer than value", msgKey, []byte{version, 0, 5, 0, 0, 1, 9, 'a'}, "corrupt"},
		{"key and value disagree", src.messageKey(seq + 1), msgVal, "holds message"},
	}
	for _, tt := range tests {
		s := New(testPrefix, DefaultConfig(), mapJournal{})
		err := s.Restore(tt.key, tt.value)
		if err == nil || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("%s: Restore error = %v, want one about %q", tt.name, err, tt.why)
		}
	}

	s := New(testPrefix, DefaultConfig(), mapJournal{})
	if err := s.Restore(msgKey, msgVal); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(src.deadKey(0), msgVal); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a message both live and dead: %v", err)
	}
}
