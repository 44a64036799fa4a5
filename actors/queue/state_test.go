package queue

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

// mapJournal is the store as the state machine sees it.
type mapJournal map[string][]byte

func (j mapJournal) Set(key, value []byte) { j[string(key)] = value }
func (j mapJournal) Delete(key []byte)     { delete(j, string(key)) }

func newQueue(t *testing.T, cfg Config) (*State, mapJournal) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	j := mapJournal{}
	return New([]byte("queues/q\x00"), cfg, j), j
}

func publish(t *testing.T, s *State, priority int, payload string) string {
	t.Helper()
	id, _, err := s.Publish(t0, []byte(payload), priority, nil)
	if err != nil {
		t.Fatalf("Publish(%s): %v", payload, err)
	}
	return id
}

func consume(t *testing.T, s *State, now time.Time) Message {
	t.Helper()
	m, ok := s.Consume(now, "c1", 0)
	if !ok {
		t.Fatal("Consume found no message")
	}
	return m
}

// drain consumes every ready message and returns their payloads in order.
func drain(s *State) []string {
	var out []string
	for {
		m, ok := s.Consume(t0, "drain", 0)
		if !ok {
			return out
		}
		out = append(out, string(m.Payload))
	}
}

func TestPriorityOrder(t *testing.T) {
	tests := []struct {
		name       string
		priorities []int
		positions  []int
		order      []string // payloads are "p<priority>-<publish index>"
	}{
		{"issue example", []int{1, 9, 5}, []int{1, 1, 2}, []string{"p9-1", "p5-2", "p1-0"}},
		{"fifo within a priority", []int{5, 5, 5}, []int{1, 2, 3}, []string{"p5-0", "p5-1", "p5-2"}},
		{"mixed", []int{5, 5, 9, 1, 5, 0, 9}, []int{1, 2, 1, 4, 4, 6, 2},
			[]string{"p9-2", "p9-6", "p5-0", "p5-1", "p5-4", "p1-3", "p0-5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newQueue(t, DefaultConfig())
			for i, p := range tt.priorities {
				_, pos, err := s.Publish(t0, fmt.Appendf(nil, "p%d-%d", p, i), p, nil)
				if err != nil {
					t.Fatal(err)
				}
				if pos != tt.positions[i] {
					t.Errorf("publish #%d (priority %d): position %d, want %d", i, p, pos, tt.positions[i])
				}
			}
			if got := drain(s); !slices.Equal(got, tt.order) {
				t.Errorf("consumed %v, want %v", got, tt.order)
			}
		})
	}
}

func TestPublish(t *testing.T) {
	s, _ := newQueue(t, Config{MaxDepth: 2, AckDeadline: time.Second, MaxRetries: 3, DeadLetter: true})
	for _, p := range []int{-1, 10} {
		if _, _, err := s.Publish(t0, nil, p, nil); !errors.Is(err, ErrPriority) {
			t.Errorf("Publish with priority %d: %v, want ErrPriority", p, err)
		}
	}
	headers := map[string]string{"source": "web-app"}
	id, _, err := s.Publish(t0, []byte(`{"a":1}`), 7, headers)
	if err != nil {
		t.Fatal(err)
	}
	m := consume(t, s, t0)
	if m.ID != id || string(m.Payload) != `{"a":1}` || m.Priority != 7 || m.Headers["source"] != "web-app" ||
		m.RetryCount != 0 || !m.PublishedAt.Equal(t0) {
		t.Errorf("consumed %+v", m)
	}

	// In-flight messages count toward max_depth.
	publish(t, s, 5, "b")
	if _, _, err := s.Publish(t0, nil, 5, nil); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third publish with max_depth 2: %v, want ErrQueueFull", err)
	}
	if err := s.Ack(id); err != nil {
		t.Fatal(err)
	}
	publish(t, s, 5, "c")
}

func TestMessageIDs(t *testing.T) {
	s, _ := newQueue(t, DefaultConfig())
	var ids []string
	for range 20 {
		ids = append(ids, publish(t, s, 5, "x"))
	}
	if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Errorf("ids are not unique and increasing: %v", ids)
	}
	for _, id := range ids {
		if seq, ok := parseID(id); !ok || messageID(seq) != id {
			t.Errorf("parseID(%q) = %d, %v", id, seq, ok)
		}
	}
	for _, bad := range []string{"", "msg_", "msg_12", "id_0000000000000001", "msg_000000000000000g", "msg_00000000000000001"} {
		if _, ok := parseID(bad); ok {
			t.Errorf("parseID(%q) accepted", bad)
		}
	}
}

func TestAckErrors(t *testing.T) {
	s, _ := newQueue(t, DefaultConfig())
	readyID := publish(t, s, 5, "ready")
	publish(t, s, 9, "first")
	flying := consume(t, s, t0)
	if err := s.Ack(flying.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id   string
		want error
	}{
		{flying.ID, ErrNotFound}, // acked already
		{readyID, ErrNotInFlight},
		{"msg_00000000000000ff", ErrNotFound},
		{"nonsense", ErrNotFound},
	}
	for _, tt := range tests {
		if err := s.Ack(tt.id); !errors.Is(err, tt.want) {
			t.Errorf("Ack(%q) = %v, want %v", tt.id, err, tt.want)
		}
		if _, err := s.Nack(tt.id, true); !errors.Is(err, tt.want) {
			t.Errorf("Nack(%q) = %v, want %v", tt.id, err, tt.want)
		}
	}
}

func TestNack(t *testing.T) {
	tests := []struct {
		name       string
		maxRetries int
		deadLetter bool
		nacks      int // requeueing nacks before the one checked
		requeue    bool
		want       Action
		retries    int // RetryCount afterwards, wherever the message is
	}{
		{"requeue", 3, true, 0, true, Requeued, 1},
		{"last retry", 3, true, 2, true, Requeued, 3},
		{"retries used up", 3, true, 3, true, DeadLettered, 4},
		{"retries used up, no DLQ", 3, false, 3, true, Discarded, 0},
		{"no retries at all", 0, true, 0, true, DeadLettered, 1},
		{"reject", 3, true, 0, false, DeadLettered, 1},
		{"reject, no DLQ", 3, false, 0, false, Discarded, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxRetries, cfg.DeadLetter = tt.maxRetries, tt.deadLetter
			s, _ := newQueue(t, cfg)
			id := publish(t, s, 5, "m")
			for range tt.nacks {
				consume(t, s, t0)
				if a, err := s.Nack(id, true); a != Requeued || err != nil {
					t.Fatalf("Nack = %v, %v", a, err)
				}
			}
			consume(t, s, t0)
			a, err := s.Nack(id, tt.requeue)
			if err != nil || a != tt.want {
				t.Fatalf("Nack = %v, %v, want %v", a, err, tt.want)
			}
			st := s.Stats(t0)
			if st.InFlight != 0 || st.NackedTotal != uint64(tt.nacks+1) {
				t.Errorf("after nack: %+v", st)
			}
			var where []Message
			switch a {
			case Requeued:
				where = []Message{consume(t, s, t0)}
			case DeadLettered:
				where = s.DLQList(0, 0)
			case Discarded:
				if st.Depth+st.DeadLettered != 0 {
					t.Errorf("discarded message still held: %+v", st)
				}
				if _, ok := s.entries[0]; ok {
					t.Error("discarded message still indexed")
				}
			}
			if len(where) > 0 && where[0].RetryCount != tt.retries {
				t.Errorf("RetryCount = %d, want %d", where[0].RetryCount, tt.retries)
			}
		})
	}
}

// TestDeadlines follows the scenario: a message not acked before its
// deadline comes back with RetryCount 1; past MaxRetries it is in the DLQ
// and can be requeued.
func TestDeadlines(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxRetries = 2
	s, _ := newQueue(t, cfg)
	id := publish(t, s, 5, "job")

	now := t0
	for retry := range 3 {
		m, ok := s.Consume(now, "worker", 10*time.Second)
		if !ok || m.ID != id || m.RetryCount != retry {
			t.Fatalf("delivery %d: %+v, %v", retry, m, ok)
		}
		if at, ok := s.NextDeadline(); !ok || !at.Equal(now.Add(10*time.Second)) {
			t.Fatalf("NextDeadline = %v, %v", at, ok)
		}
		if x := s.Tick(now.Add(9 * time.Second)); x != (Expired{}) {
			t.Fatalf("Tick before the deadline: %+v", x)
		}
		now = now.Add(10 * time.Second)
		want := Expired{Requeued: 1}
		if retry == 2 {
			want = Expired{DeadLettered: 1}
		}
		if x := s.Tick(now); x != want {
			t.Fatalf("Tick at the deadline of delivery %d: %+v, want %+v", retry, x, want)
		}
	}
	if _, ok := s.NextDeadline(); ok {
		t.Error("NextDeadline with nothing in flight")
	}
	if _, ok := s.Consume(now, "worker", 0); ok {
		t.Fatal("dead message delivered")
	}
	if dlq := s.DLQList(0, 10); len(dlq) != 1 || dlq[0].ID != id || dlq[0].RetryCount != 3 {
		t.Fatalf("DLQ = %+v", dlq)
	}
	if st := s.Stats(now); st.NackedTotal != 0 || st.ConsumedTotal != 3 || st.DeadLettered != 1 {
		t.Errorf("expiries are not nacks: %+v", st)
	}
	if n := s.DLQRequeue([]string{id}); n != 1 {
		t.Fatalf("DLQRequeue = %d", n)
	}
	if m := consume(t, s, now); m.ID != id || m.RetryCount != 0 {
		t.Errorf("requeued from the DLQ: %+v, want RetryCount 0", m)
	}
}

func TestDefaultAckDeadline(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AckDeadline = time.Minute
	s, _ := newQueue(t, cfg)
	publish(t, s, 5, "a")
	s.Consume(t0, "c", 0)
	if at, _ := s.NextDeadline(); !at.Equal(t0.Add(time.Minute)) {
		t.Errorf("deadline %v, want the configured %v", at, t0.Add(time.Minute))
	}
}

// TestRedeliveryKeepsPlace checks that a message whose deadline passed goes
// ahead of the messages published after it, in its own priority only, and
// that a nacked one goes behind those waiting at its priority (as the
// original server does), and gets its place back after a restart.
func TestRedeliveryKeepsPlace(t *testing.T) {
	s, j := newQueue(t, DefaultConfig())
	publish(t, s, 5, "a")
	b := publish(t, s, 5, "b")
	publish(t, s, 5, "c")
	consume(t, s, t0) // a
	consume(t, s, t0) // b
	publish(t, s, 5, "d")
	publish(t, s, 9, "high")
	publish(t, s, 1, "low")
	if _, err := s.Nack(b, true); err != nil {
		t.Fatal(err)
	}
	s.Tick(t0.Add(time.Hour)) // a expires
	restored, _ := restore(t, j, DefaultConfig())
	if got, want := drain(s), []string{"high", "a", "c", "d", "b", "low"}; !slices.Equal(got, want) {
		t.Errorf("consumed %v, want %v", got, want)
	}
	if got, want := drain(restored), []string{"high", "a", "b", "c", "d", "low"}; !slices.Equal(got, want) {
		t.Errorf("after a restart consumed %v, want %v", got, want)
	}
}

func TestNextDeadlineOrder(t *testing.T) {
	s, _ := newQueue(t, DefaultConfig())
	for range 4 {
		publish(t, s, 5, "m")
	}
	deadlines := []time.Duration{30 * time.Second, 10 * time.Second, 20 * time.Second, 10 * time.Second}
	ids := make([]string, len(deadlines))
	for i, d := range deadlines {
		m, _ := s.Consume(t0, "c", d)
		ids[i] = m.ID
	}
	if err := s.Ack(ids[1]); err != nil { // one of the two earliest
		t.Fatal(err)
	}
	for _, step := range []struct {
		at      time.Duration
		expired int
		next    time.Duration
	}{
		{9 * time.Second, 0, 10 * time.Second},
		{10 * time.Second, 1, 20 * time.Second},
		{25 * time.Second, 1, 30 * time.Second},
	} {
		if x := s.Tick(t0.Add(step.at)); x.Requeued != step.expired {
			t.Errorf("Tick(+%v) requeued %d, want %d", step.at, x.Requeued, step.expired)
		}
		if at, ok := s.NextDeadline(); !ok || !at.Equal(t0.Add(step.next)) {
			t.Errorf("after Tick(+%v): NextDeadline = +%v, want +%v", step.at, at.Sub(t0), step.next)
		}
	}
}

func TestPurge(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxRetries = 0
	s, j := newQueue(t, cfg)
	for _, p := range []int{1, 5, 9, 9} {
		publish(t, s, p, "m")
	}
	flying := consume(t, s, t0)
	deadID := consume(t, s, t0).ID
	if a, _ := s.Nack(deadID, true); a != DeadLettered {
		t.Fatal(a)
	}
	if n := s.Purge(); n != 2 {
		t.Errorf("Purge = %d, want the 2 ready messages", n)
	}
	if st := s.Stats(t0); st.Depth != 0 || st.InFlight != 1 || st.DeadLettered != 1 {
		t.Errorf("after purge: %+v", st)
	}
	if err := s.Ack(flying.ID); err != nil {
		t.Errorf("ack of an in-flight message after purge: %v", err)
	}
	if n := s.DLQPurge(); n != 1 {
		t.Errorf("DLQPurge = %d, want 1", n)
	}
	// Only the counters are left in the store, and nothing in memory.
	if len(j) != 1 || len(s.entries) != 0 {
		t.Errorf("journal keys %d, entries %d, want 1 and 0", len(j), len(s.entries))
	}
}

func TestStats(t *testing.T) {
	s, _ := newQueue(t, DefaultConfig())
	if got := s.Stats(t0); got != (Stats{}) {
		t.Errorf("empty queue: %+v", got)
	}
	for i, p := range []int{1, 9, 5, 5} {
		if _, _, err := s.Publish(t0.Add(time.Duration(i)*time.Minute), nil, p, nil); err != nil {
			t.Fatal(err)
		}
	}
	m9, _ := s.Consume(t0, "alice", 0)
	m5, _ := s.Consume(t0, "alice", 0)
	s.Consume(t0, "bob", 0)
	if err := s.Ack(m9.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Nack(m5.ID, true); err != nil {
		t.Fatal(err)
	}
	// Ready now: the priority-1 message published at t0 and the requeued
	// priority-5 one published at t0+2m. The oldest is 10 minutes old.
	want := Stats{
		Depth: 2, InFlight: 1, Consumers: 1,
		PublishedTotal: 4, ConsumedTotal: 3, AckedTotal: 1, NackedTotal: 1,
		OldestMessageAgeSecs: 600,
	}
	if got := s.Stats(t0.Add(10 * time.Minute)); got != want {
		t.Errorf("Stats = %+v\nwant    %+v", got, want)
	}
	if got := s.Stats(t0.Add(-time.Minute)).OldestMessageAgeSecs; got != 0 {
		t.Errorf("age with a clock behind the publish time = %d, want 0", got)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
	for _, c := range []Config{
		{MaxDepth: 0, AckDeadline: time.Second},
		{MaxDepth: 1, AckDeadline: 0},
		{MaxDepth: 1, AckDeadline: time.Second, MaxRetries: -1},
	} {
		if c.Validate() == nil {
			t.Errorf("%+v is valid", c)
		}
	}
}
