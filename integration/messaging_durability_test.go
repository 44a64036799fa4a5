package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-run/troupe/system/store/pgtest"
)

// queueLedger is what the clients of a queue under load know: which
// publishes and acks the server acknowledged, which acks got no answer, and
// which messages were consumed and deliberately never acked.
type queueLedger struct {
	mu          sync.Mutex
	attempted   map[string]bool // publishes sent
	published   map[string]bool // publishes acknowledged
	acked       map[string]int  // acks acknowledged, how many times
	ackUnknown  map[string]bool // acks sent without a success reply
	held        map[string]bool // consumed, never acked
	consumeErrs int
}

func newQueueLedger() *queueLedger {
	return &queueLedger{attempted: map[string]bool{}, published: map[string]bool{}, acked: map[string]int{},
		ackUnknown: map[string]bool{}, held: map[string]bool{}}
}

func (l *queueLedger) count(m map[string]bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(m)
}

func (l *queueLedger) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// publisher publishes keys w<n>-<i> until stop.
func (l *queueLedger) publisher(client *http.Client, base, queue string, w int, stop *atomic.Bool) {
	for i := 0; !stop.Load(); i++ {
		key := fmt.Sprintf("w%d-%d", w, i)
		l.mu.Lock()
		l.attempted[key] = true
		l.mu.Unlock()
		status, r, err := tryCommand(client, base, "queue.publish", map[string]any{"queue": queue, "message": map[string]string{"k": key}})
		if err == nil && status == http.StatusOK && r.Status == "success" {
			l.mu.Lock()
			l.published[key] = true
			l.mu.Unlock()
		}
	}
}

// consumer consumes and acks until stop, holding every holdEvery-th message
// unacked (0: none).
func (l *queueLedger) consumer(client *http.Client, base, queue string, holdEvery int, stop *atomic.Bool) {
	for n := 1; !stop.Load(); n++ {
		status, r, err := tryCommand(client, base, "queue.consume", map[string]any{"queue": queue, "timeout": 1, "ack_deadline": 600})
		var m struct {
			MessageID string `json:"message_id"`
			Message   struct {
				K string `json:"k"`
			} `json:"message"`
		}
		if err != nil || status != http.StatusOK || r.Status != "success" || json.Unmarshal(r.Payload, &m) != nil {
			l.mu.Lock()
			l.consumeErrs++
			l.mu.Unlock()
			if err != nil {
				time.Sleep(5 * time.Millisecond) // the server is gone or restarting
			}
			continue
		}
		if m.MessageID == "" {
			continue
		}
		if holdEvery > 0 && n%holdEvery == 0 {
			l.mu.Lock()
			l.held[m.Message.K] = true
			l.mu.Unlock()
			continue
		}
		status, r, err = tryCommand(client, base, "queue.ack", map[string]any{"queue": queue, "message_id": m.MessageID})
		l.mu.Lock()
		if err == nil && status == http.StatusOK && r.Status == "success" {
			l.acked[m.Message.K]++
		} else {
			l.ackUnknown[m.Message.K] = true
		}
		l.mu.Unlock()
	}
}

// drain consumes every message left in the queue (without acking) and
// returns their keys with their retry counts. A request that meets an
// injected panic (503) is tried again.
func drain(t *testing.T, s *server, queue string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for unavailable := 0; ; {
		status, r := s.command("queue.consume", map[string]any{"queue": queue, "ack_deadline": 600})
		if status == http.StatusServiceUnavailable && unavailable < 10 {
			unavailable++
			continue
		}
		if status != http.StatusOK {
			t.Fatalf("draining %s: %d %+v", queue, status, r.Error)
		}
		var m struct {
			MessageID  string `json:"message_id"`
			RetryCount int    `json:"retry_count"`
			Message    struct {
				K string `json:"k"`
			} `json:"message"`
		}
		if err := json.Unmarshal(r.Payload, &m); err != nil {
			t.Fatal(err)
		}
		if m.MessageID == "" {
			return got
		}
		if _, dup := got[m.Message.K]; dup {
			t.Fatalf("draining %s: %s delivered twice", queue, m.Message.K)
		}
		got[m.Message.K] = m.RetryCount
	}
}

// check verifies the ledger against what a drain found: nothing acked came
// back, nothing published is missing, the held messages came back, and no
// message was acked twice.
func (l *queueLedger) check(t *testing.T, drained map[string]int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, n := range l.acked {
		if _, back := drained[key]; back {
			t.Errorf("%s was acked (the server acknowledged the ack) and came back", key)
		}
		if n > 1 {
			t.Errorf("%s was acked successfully %d times", key, n)
		}
	}
	for key := range l.published {
		_, back := drained[key]
		if !back && l.acked[key] == 0 && !l.ackUnknown[key] {
			t.Errorf("%s was published (acknowledged) and is missing: neither acked nor in the queue", key)
		}
	}
	for key := range l.held {
		if _, back := drained[key]; !back && l.acked[key] == 0 {
			t.Errorf("%s was in flight (consumed, never acked) and did not come back", key)
		}
	}
	for key := range drained {
		if !l.attempted[key] {
			t.Errorf("%s came out of the queue but was never published", key)
		}
	}
}

// TestMessagingKill9QueueLoad: kill -9 during publish and consume load
// under --fsync=always, then restart: no acked message comes back, no
// published and unacked message is missing, and the messages in flight at
// the crash come back too.
func TestMessagingKill9QueueLoad(t *testing.T) {
	t.Parallel()
	kill9QueueLoad(t, "--fsync=always")
}

// TestMessagingKill9QueueLoadOnPostgres: the same with the journal in a
// PostgreSQL server (of the test's own), which outlives the kill.
func TestMessagingKill9QueueLoadOnPostgres(t *testing.T) {
	t.Parallel()
	kill9QueueLoad(t, "--journal="+pgtest.Start(t))
}

func kill9QueueLoad(t *testing.T, args ...string) {
	s := startServer(t, args...)
	const queue = "load"
	s.ok("queue.create", map[string]any{"queue": queue, "config": map[string]any{"ack_deadline": 600}}, nil)
	l := newQueueLedger()
	// Ten messages in flight from the start: consumed, never acked.
	for i := range 10 {
		key := fmt.Sprint("held-", i)
		s.ok("queue.publish", map[string]any{"queue": queue, "message": map[string]string{"k": key}, "priority": 9}, nil)
		l.attempted[key], l.published[key] = true, true
		var m struct {
			Message struct {
				K string `json:"k"`
			} `json:"message"`
		}
		s.ok("queue.consume", map[string]any{"queue": queue, "ack_deadline": 600}, &m)
		if m.Message.K != key {
			t.Fatalf("consumed %+v, want %s", m, key)
		}
		l.held[key] = true
	}

	client := &http.Client{Timeout: 10 * time.Second}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() { l.publisher(client, s.data, queue, w, &stop) })
	}
	for range 3 {
		wg.Go(func() { l.consumer(client, s.data, queue, 7, &stop) })
	}
	msgEventually(t, "load to build up", func() bool { return l.ackedCount() >= 200 && l.count(l.published) >= 400 })
	s.kill9()
	stop.Store(true)
	wg.Wait()

	s.restart()
	drained := drain(t, s, queue)
	l.check(t, drained)
	for key, retries := range drained {
		if retries != 0 {
			t.Errorf("%s came back with retry_count %d: a crash is not a failed delivery", key, retries)
		}
	}
	st := s.queueStats(queue)
	if st.Depth != 0 || st.InFlight != int64(len(drained)) || st.DeadLettered != 0 {
		t.Errorf("stats after the drain: %+v (drained %d)", st, len(drained))
	}
	t.Logf("%d publishes and %d acks acknowledged, %d acks unanswered, %d held in flight; %d messages back after kill -9",
		len(l.published), len(l.acked), len(l.ackUnknown), len(l.held), len(drained))
}

// TestMessagingChaosQueuesAndRooms: queue and room actors are made to
// panic again and again while clients publish, consume and ack: no
// acknowledged publish or ack is lost, no message is acked twice, and the
// room's log holds every acknowledged event at its offset, once.
func TestMessagingChaosQueuesAndRooms(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--chaos", "--fsync=batch", "--request-timeout=2s", "--restart-max=1000")
	const queue, room = "cq", "cr"
	s.ok("queue.create", map[string]any{"queue": queue, "config": map[string]any{"ack_deadline": 600}}, nil)
	s.ok("stream.publish", map[string]any{"room": room, "event_type": "start", "data": "start"}, nil)

	l := newQueueLedger()
	var (
		mu        sync.Mutex
		events    = map[int64]string{} // acknowledged offset -> data
		sent      = map[string]bool{}  // every event published
		hung      atomic.Int64
		stop      atomic.Bool
		wg        sync.WaitGroup
		roomFails atomic.Int64
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 3 {
		wg.Go(func() { l.publisher(client, s.data, queue, w, &stop) })
	}
	for range 2 {
		wg.Go(func() { l.consumer(client, s.data, queue, 0, &stop) })
	}
	for w := range 2 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				data := fmt.Sprintf("r%d-%d", w, i)
				mu.Lock()
				sent[data] = true
				mu.Unlock()
				status, r, err := tryCommand(client, s.data, "stream.publish", map[string]any{"room": room, "event_type": "e", "data": data})
				if isTimeout(err) {
					hung.Add(1)
				}
				var pub struct {
					Offset *int64 `json:"offset"`
				}
				if err != nil || status != http.StatusOK || json.Unmarshal(r.Payload, &pub) != nil || pub.Offset == nil {
					roomFails.Add(1)
					continue
				}
				mu.Lock()
				if prev, dup := events[*pub.Offset]; dup {
					t.Errorf("offset %d acknowledged twice: %s and %s", *pub.Offset, prev, data)
				}
				events[*pub.Offset] = data
				mu.Unlock()
			}
		})
	}
	for round := range 30 {
		target := "queues/*"
		if round%2 == 1 {
			target = "rooms/*"
		}
		status, raw := s.do("POST", "/admin/chaos", []byte(fmt.Sprintf(`{"target":%q,"fault":"panic"}`, target)))
		if status != http.StatusOK {
			t.Fatalf("chaos %s: %d %s", target, status, raw)
		}
		time.Sleep(30 * time.Millisecond)
	}
	// Keep the load on until the acks pile up, whatever the machine's speed.
	msgEventually(t, "acks under chaos", func() bool { return l.ackedCount() >= 100 })
	stop.Store(true)
	wg.Wait()
	if hung.Load() > 0 {
		t.Fatalf("%d requests got no answer within the client's 10 s (server deadline 2 s)", hung.Load())
	}

	drained := drain(t, s, queue)
	l.check(t, drained)

	// The room: every acknowledged event at its offset, every event once,
	// offsets contiguous from 0.
	type history struct {
		Events []struct {
			Offset int64  `json:"offset"`
			Data   string `json:"data"`
		} `json:"events"`
		Newest int64 `json:"newest_offset"`
	}
	seen := map[string]int64{}
	next := int64(0)
	for {
		var h history
		for attempt := 0; ; attempt++ {
			status, r := s.command("stream.history", map[string]any{"room": room, "from_offset": next, "limit": 1000})
			if status == http.StatusServiceUnavailable && attempt < 10 {
				continue
			}
			if status != http.StatusOK || json.Unmarshal(r.Payload, &h) != nil {
				t.Fatalf("stream.history from %d: %d %+v", next, status, r.Error)
			}
			break
		}
		for _, e := range h.Events {
			if e.Offset != next {
				t.Fatalf("history: offset %d where %d was due", e.Offset, next)
			}
			if prev, dup := seen[e.Data]; dup {
				t.Errorf("event %s is in the log twice, at %d and %d", e.Data, prev, e.Offset)
			}
			seen[e.Data] = e.Offset
			next++
		}
		if len(h.Events) == 0 || next > h.Newest {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for offset, data := range events {
		if got, ok := seen[data]; !ok || got != offset {
			t.Errorf("acknowledged event %s at offset %d: in the log at %d (%v)", data, offset, got, ok)
		}
	}
	for data := range seen {
		if data != "start" && !sent[data] {
			t.Errorf("event %s in the log was never published", data)
		}
	}
	metrics := string(func() []byte { _, b := s.do("GET", "/metrics", nil); return b }())
	for _, kind := range []string{"queues", "rooms"} {
		if !containsMetric(metrics, fmt.Sprintf(`troupe_actor_restarts_total{kind=%q,outcome="restarted"}`, kind)) {
			t.Errorf("no restart of %s counted in /metrics", kind)
		}
	}
	t.Logf("queue: %d publishes and %d acks acknowledged, %d acks unanswered, %d consume errors, %d left; room: %d events acknowledged, %d failed, %d in the log",
		len(l.published), len(l.acked), len(l.ackUnknown), l.consumeErrs, len(drained), len(events), roomFails.Load(), len(seen))
}
