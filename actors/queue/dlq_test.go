package queue

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// bury publishes one message per payload (priority 5) and rejects each, so
// the DLQ holds them in that order. It returns their IDs.
func bury(t *testing.T, s *State, payloads ...string) []string {
	t.Helper()
	var ids []string
	for _, p := range payloads {
		id := publish(t, s, 5, p)
		if m := consume(t, s, t0); m.ID != id {
			t.Fatalf("consumed %s, want %s", m.ID, id)
		}
		if a, err := s.Nack(id, false); a != DeadLettered || err != nil {
			t.Fatalf("Nack(%s) = %v, %v", id, a, err)
		}
		ids = append(ids, id)
	}
	return ids
}

func payloads(ms []Message) string {
	var b strings.Builder
	for _, m := range ms {
		b.Write(m.Payload)
	}
	return b.String()
}

func TestDLQList(t *testing.T) {
	s, _ := newQueue(t, DefaultConfig())
	bury(t, s, "a", "b", "c", "d", "e")
	tests := []struct {
		offset, limit int
		want          string
	}{
		{0, 0, "abcde"},
		{0, 2, "ab"},
		{2, 2, "cd"},
		{3, 10, "de"},
		{5, 1, ""},
		{9, 0, ""},
		{-1, 1, "a"},
	}
	for _, tt := range tests {
		if got := payloads(s.DLQList(tt.offset, tt.limit)); got != tt.want {
			t.Errorf("DLQList(%d, %d) = %q, want %q", tt.offset, tt.limit, got, tt.want)
		}
	}
}

func TestDLQRequeue(t *testing.T) {
	s, _ := newQueue(t, DefaultConfig())
	ids := bury(t, s, "a", "b", "c", "d")
	readyID := publish(t, s, 5, "e")

	n := s.DLQRequeue([]string{ids[2], ids[0], ids[2], readyID, "msg_00000000000000ff", "junk"})
	if n != 2 {
		t.Fatalf("DLQRequeue = %d, want 2 (duplicates, ready and unknown ids ignored)", n)
	}
	if got := payloads(s.DLQList(0, 0)); got != "bd" {
		t.Errorf("DLQ after requeue = %q, want %q", got, "bd")
	}
	// Back in their original place: ahead of "e", published after them.
	var got []string
	for {
		m, ok := s.Consume(t0, "c", 0)
		if !ok {
			break
		}
		if m.RetryCount != 0 {
			t.Errorf("%s: RetryCount %d after requeue from the DLQ, want 0", m.Payload, m.RetryCount)
		}
		got = append(got, string(m.Payload))
	}
	if want := []string{"a", "c", "e"}; !slices.Equal(got, want) {
		t.Errorf("consumed %v, want %v", got, want)
	}

	if n := s.DLQRequeueAll(); n != 2 || len(s.DLQList(0, 0)) != 0 {
		t.Fatalf("DLQRequeueAll = %d, DLQ left %d", n, len(s.DLQList(0, 0)))
	}
	if got, want := drain(s), []string{"b", "d"}; !slices.Equal(got, want) {
		t.Errorf("consumed %v, want %v", got, want)
	}
}

// TestDLQRequeueRespectsMaxDepth checks that moving messages back stops when
// the queue is full, leaving the rest in the DLQ.
func TestDLQRequeueRespectsMaxDepth(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxDepth = 3
	for _, all := range []bool{false, true} {
		s, _ := newQueue(t, cfg)
		ids := bury(t, s, "a", "b", "c")
		publish(t, s, 5, "x")
		var n int
		if all {
			n = s.DLQRequeueAll()
		} else {
			n = s.DLQRequeue(ids)
		}
		if n != 2 {
			t.Errorf("all=%v: requeued %d, want 2", all, n)
		}
		if got := payloads(s.DLQList(0, 0)); got != "c" {
			t.Errorf("all=%v: DLQ = %q, want %q", all, got, "c")
		}
	}
}

// TestDLQBounded checks that a full DLQ drops its oldest message, from
// memory and from the store.
func TestDLQBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxDepth = 2
	s, j := newQueue(t, cfg)
	ids := bury(t, s, "a", "b", "c")
	if got := payloads(s.DLQList(0, 0)); got != "bc" {
		t.Errorf("DLQ = %q, want %q", got, "bc")
	}
	if n := s.DLQRequeue(ids[:1]); n != 0 {
		t.Errorf("requeued a dropped message")
	}
	if len(j) != 3 || len(s.entries) != 2 {
		t.Errorf("journal keys %d, entries %d, want counters + 2 dead, and 2", len(j), len(s.entries))
	}
}

func TestNoDeadLetter(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DeadLetter, cfg.MaxRetries = false, 0
	s, j := newQueue(t, cfg)
	publish(t, s, 5, "a")
	s.Consume(t0, "c", time.Second)
	if x := s.Tick(t0.Add(time.Second)); x != (Expired{Discarded: 1}) {
		t.Errorf("Tick = %+v, want one discarded", x)
	}
	if st := s.Stats(t0); st.Depth+st.InFlight+st.DeadLettered != 0 || len(j) != 1 {
		t.Errorf("discarded message held: %+v, journal %d keys", st, len(j))
	}
}
