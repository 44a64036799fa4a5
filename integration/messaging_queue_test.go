package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestMessagingQueuePriorities: priorities 1, 9, 5 are consumed as 9, 5, 1,
// and messages of one priority in publish order.
func TestMessagingQueuePriorities(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for _, p := range []int{1, 9, 5} {
		s.ok("queue.publish", map[string]any{"queue": "prio", "message": map[string]int{"p": p}, "priority": p}, nil)
	}
	for _, want := range []int{9, 5, 1} {
		m := s.consume(map[string]any{"queue": "prio"})
		if m.Priority != want || string(m.Message) != fmt.Sprintf(`{"p":%d}`, want) {
			t.Fatalf("consumed %+v (message %s), want priority %d", m, m.Message, want)
		}
	}
	if m := s.consume(map[string]any{"queue": "prio"}); !m.none() {
		t.Fatalf("a fourth consume got %+v, want message null", m)
	}

	// FIFO within a priority, the default priority (5) between 9 and 1, and
	// headers kept.
	for i, p := range []int{1, 9, 1, 9} {
		s.ok("queue.publish", map[string]any{"queue": "fifo", "message": i, "priority": p}, nil)
	}
	s.ok("queue.publish", map[string]any{"queue": "fifo", "message": "default", "headers": map[string]string{"source": "web-app"}}, nil)
	var got []string
	for range 5 {
		m := s.consume(map[string]any{"queue": "fifo"})
		got = append(got, fmt.Sprintf("%d:%s", m.Priority, m.Message))
		if string(m.Message) == `"default"` && m.Headers["source"] != "web-app" {
			t.Errorf("headers of the message: %v", m.Headers)
		}
	}
	if want := []string{"9:1", "9:3", `5:"default"`, "1:0", "1:2"}; !slices.Equal(got, want) {
		t.Fatalf("consumed %v, want %v", got, want)
	}
	s.fails("queue.publish", map[string]any{"queue": "fifo", "message": 1, "priority": 10}, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
}

// TestMessagingQueueRedeliveryAfterDeadline: a message not acked before its
// ack deadline is delivered again with retry_count 1, and once acked it is
// gone.
func TestMessagingQueueRedeliveryAfterDeadline(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok("queue.create", map[string]any{"queue": "jobs", "config": map[string]any{"ack_deadline": 1, "max_retries": 3}}, nil)
	var pub struct {
		MessageID string `json:"message_id"`
	}
	s.ok("queue.publish", map[string]any{"queue": "jobs", "message": "work"}, &pub)
	first := s.consume(map[string]any{"queue": "jobs"})
	if first.MessageID != pub.MessageID || first.RetryCount != 0 {
		t.Fatalf("first delivery %+v, want %s with retry_count 0", first, pub.MessageID)
	}
	// Not acked: the wait ends when the deadline brings the message back.
	again := s.consume(map[string]any{"queue": "jobs", "timeout": 30})
	if again.MessageID != pub.MessageID || again.RetryCount != 1 || string(again.Message) != `"work"` {
		t.Fatalf("after the ack deadline got %+v, want %s again with retry_count 1", again, pub.MessageID)
	}
	s.ok("queue.ack", map[string]any{"queue": "jobs", "message_id": again.MessageID}, nil)
	st := s.queueStats("jobs")
	if st.Depth != 0 || st.InFlight != 0 || st.AckedTotal != 1 || st.ConsumedTotal != 2 || st.DeadLettered != 0 {
		t.Fatalf("stats after the ack: %+v", st)
	}
	if m := s.consume(map[string]any{"queue": "jobs"}); !m.none() {
		t.Fatalf("an acked message came back: %+v", m)
	}
	// An ack for a message no longer in flight fails.
	s.fails("queue.ack", map[string]any{"queue": "jobs", "message_id": again.MessageID}, http.StatusNotFound, "MESSAGE_NOT_FOUND")
}

// TestMessagingQueueDeadLetterAndRequeue: past max_retries a message is in
// the dead-letter queue, readable with queue.dlq.list; queue.dlq.requeue
// puts it back, with its retries reset; queue.dlq.purge empties the DLQ.
func TestMessagingQueueDeadLetterAndRequeue(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok("queue.create", map[string]any{"queue": "flaky", "config": map[string]any{"ack_deadline": 1, "max_retries": 1}}, nil)
	var pub struct {
		MessageID string `json:"message_id"`
	}
	s.ok("queue.publish", map[string]any{"queue": "flaky", "message": map[string]string{"job": "a"}, "priority": 7}, &pub)
	if m := s.consume(map[string]any{"queue": "flaky"}); m.MessageID != pub.MessageID {
		t.Fatalf("consumed %+v", m)
	}
	if m := s.consume(map[string]any{"queue": "flaky", "timeout": 30}); m.MessageID != pub.MessageID || m.RetryCount != 1 {
		t.Fatalf("redelivery: %+v, want retry_count 1", m)
	}
	// A nack with requeue is a failed delivery too: retry_count 2 is past
	// max_retries 1, so the message goes to the DLQ.
	var nack struct {
		Success bool   `json:"success"`
		Action  string `json:"action"`
	}
	s.ok("queue.nack", map[string]any{"queue": "flaky", "message_id": pub.MessageID, "requeue": true}, &nack)
	if !nack.Success || nack.Action != "dead_lettered" {
		t.Fatalf("nack past max_retries: %+v, want action dead_lettered", nack)
	}
	type dlq struct {
		Queue    string     `json:"queue"`
		Messages []queueMsg `json:"messages"`
		Total    int        `json:"total"`
	}
	var list dlq
	s.ok("queue.dlq.list", map[string]any{"queue": "flaky"}, &list)
	if list.Total != 1 || len(list.Messages) != 1 || list.Messages[0].MessageID != pub.MessageID ||
		string(list.Messages[0].Message) != `{"job":"a"}` || list.Messages[0].Priority != 7 || list.Messages[0].RetryCount != 2 {
		t.Fatalf("queue.dlq.list: %+v", list)
	}
	if st := s.queueStats("flaky"); st.DeadLettered != 1 || st.Depth != 0 || st.InFlight != 0 {
		t.Fatalf("stats with one dead letter: %+v", st)
	}
	if m := s.consume(map[string]any{"queue": "flaky"}); !m.none() {
		t.Fatalf("a dead-lettered message was consumed: %+v", m)
	}

	var requeued struct {
		Requeued int `json:"requeued"`
	}
	s.ok("queue.dlq.requeue", map[string]any{"queue": "flaky"}, &requeued)
	if requeued.Requeued != 1 {
		t.Fatalf("queue.dlq.requeue: %+v", requeued)
	}
	m := s.consume(map[string]any{"queue": "flaky"})
	if m.MessageID != pub.MessageID || m.RetryCount != 0 || m.Priority != 7 {
		t.Fatalf("requeued message: %+v, want %s with retry_count 0", m, pub.MessageID)
	}
	s.ok("queue.dlq.list", map[string]any{"queue": "flaky"}, &list)
	if list.Total != 0 || len(list.Messages) != 0 {
		t.Fatalf("DLQ after requeue: %+v", list)
	}

	// Now let the deadline pass twice: the DLQ fills on its own.
	msgEventually(t, "the message in the DLQ again", func() bool {
		s.consume(map[string]any{"queue": "flaky", "timeout": 2})
		s.ok("queue.dlq.list", map[string]any{"queue": "flaky"}, &list)
		return list.Total == 1
	})
	var purged struct {
		Purged int `json:"purged"`
	}
	s.ok("queue.dlq.purge", map[string]any{"queue": "flaky"}, &purged)
	s.ok("queue.dlq.list", map[string]any{"queue": "flaky"}, &list)
	if purged.Purged != 1 || list.Total != 0 {
		t.Fatalf("purge: %+v, then %+v", purged, list)
	}
	// The REST route reads the DLQ too.
	s.restJSON("GET", "/queue/flaky/dlq", nil, `{"queue":"flaky","messages":[],"total":0}`)
}

// TestMessagingQueueConsumeWaits: a consume with a timeout returns the
// message published while it waits, and message null when none comes.
func TestMessagingQueueConsumeWaits(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok("queue.create", map[string]any{"queue": "wait"}, nil)
	got := make(chan queueMsg, 1)
	go func() {
		body, _ := json.Marshal(map[string]any{"command": "queue.consume", "payload": map[string]any{"queue": "wait", "timeout": 60}})
		resp, err := http.Post(s.data+"/api/v1/command", "application/json", bytesReader(body))
		if err != nil {
			got <- queueMsg{MessageID: "error: " + err.Error()}
			return
		}
		defer resp.Body.Close()
		var r reply
		var m queueMsg
		if json.NewDecoder(resp.Body).Decode(&r) != nil || json.Unmarshal(r.Payload, &m) != nil {
			m.MessageID = fmt.Sprintf("bad reply %d %+v", resp.StatusCode, r)
		}
		got <- m
	}()
	// The waiting consumer is counted: publish only once it waits.
	msgEventually(t, "the consumer to wait", func() bool { return s.queueStats("wait").Consumers == 1 })
	var pub struct {
		MessageID string `json:"message_id"`
	}
	s.ok("queue.publish", map[string]any{"queue": "wait", "message": "hello"}, &pub)
	select {
	case m := <-got:
		if m.MessageID != pub.MessageID || string(m.Message) != `"hello"` {
			t.Fatalf("the waiting consume got %+v, want %s", m, pub.MessageID)
		}
	case <-time.After(msgPatience):
		t.Fatalf("the waiting consume did not return within %s of the publish (its timeout is 60 s)", msgPatience)
	}
	// Nothing comes: message null at the end of the wait.
	if m := s.consume(map[string]any{"queue": "wait", "timeout": 1}); !m.none() {
		t.Fatalf("consume on an empty queue: %+v, want message null", m)
	}
	// Without a timeout it does not wait.
	if m := s.consume(map[string]any{"queue": "wait"}); !m.none() {
		t.Fatalf("consume on an empty queue: %+v, want message null", m)
	}
}

// TestMessagingQueueStats: queue.stats has the spec's figures with real
// values, and in_flight and dead_lettered; queue.list, purge and delete.
func TestMessagingQueueStats(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok("queue.create", map[string]any{"queue": "st", "config": map[string]any{"max_retries": 0}}, nil)
	s.fails("queue.create", map[string]any{"queue": "st"}, http.StatusConflict, "QUEUE_EXISTS")
	for i := range 5 {
		s.ok("queue.publish", map[string]any{"queue": "st", "message": i}, nil)
	}
	a := s.consume(map[string]any{"queue": "st", "consumer_id": "c1"})
	b := s.consume(map[string]any{"queue": "st", "consumer_id": "c2"})
	c := s.consume(map[string]any{"queue": "st", "consumer_id": "c2"})
	s.ok("queue.ack", map[string]any{"queue": "st", "message_id": a.MessageID}, nil)
	var nack struct {
		Action string `json:"action"`
	}
	s.ok("queue.nack", map[string]any{"queue": "st", "message_id": b.MessageID, "requeue": false}, &nack)
	if nack.Action != "dead_lettered" {
		t.Fatalf("nack without requeue: %+v", nack)
	}
	st := s.queueStats("st")
	want := qstats{Queue: "st", Depth: 2, Consumers: 1, PublishedTotal: 5, ConsumedTotal: 3, AckedTotal: 1,
		NackedTotal: 1, InFlight: 1, DeadLettered: 1, OldestMessageAgeSecs: st.OldestMessageAgeSecs}
	if st != want {
		t.Fatalf("queue.stats:\n got  %+v\n want %+v", st, want)
	}
	if st.OldestMessageAgeSecs < 0 {
		t.Fatalf("oldest_message_age_secs %d", st.OldestMessageAgeSecs)
	}
	// The age of the oldest message grows.
	msgEventually(t, "oldest_message_age_secs to reach 1", func() bool { return s.queueStats("st").OldestMessageAgeSecs >= 1 })
	s.ok("queue.ack", map[string]any{"queue": "st", "message_id": c.MessageID}, nil)

	s.ok("queue.publish", map[string]any{"queue": "other", "message": 1}, nil) // created on first publish
	var list struct {
		Queues []string `json:"queues"`
	}
	s.ok("queue.list", map[string]any{}, &list)
	if !slices.Equal(list.Queues, []string{"other", "st"}) {
		t.Fatalf("queue.list: %v", list.Queues)
	}
	var purged struct {
		Purged int `json:"purged"`
	}
	s.ok("queue.purge", map[string]any{"queue": "st"}, &purged)
	if st := s.queueStats("st"); purged.Purged != 2 || st.Depth != 0 || st.InFlight != 0 {
		t.Fatalf("purge: %+v, then %+v", purged, st)
	}
	s.ok("queue.delete", map[string]any{"queue": "other"}, nil)
	s.fails("queue.stats", map[string]any{"queue": "other"}, http.StatusNotFound, "QUEUE_NOT_FOUND")
	s.ok("queue.list", map[string]any{}, &list)
	if !slices.Equal(list.Queues, []string{"st"}) {
		t.Fatalf("queue.list after delete: %v", list.Queues)
	}
}

// TestMessagingQueueSubscribeOverWS: queue.subscribe pushes queue_message
// frames; acks and nacks sent over the socket work, and a nacked message
// comes back with retry_count 1.
func TestMessagingQueueSubscribeOverWS(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok("queue.create", map[string]any{"queue": "push"}, nil)
	c := s.dialWS("", nil)
	c.ok("queue.subscribe", map[string]any{"queue": "push", "ack_deadline": 60}, nil)
	const n = 5
	ids := map[string]int{}
	for i := range n {
		var pub struct {
			MessageID string `json:"message_id"`
		}
		s.ok("queue.publish", map[string]any{"queue": "push", "message": map[string]int{"i": i}, "headers": map[string]string{"n": fmt.Sprint(i)}}, &pub)
		ids[pub.MessageID] = i
	}
	var nacked string
	for i := range n {
		f := c.next()
		if f.Type != "queue_message" || f.Queue != "push" || string(f.Message) != fmt.Sprintf(`{"i":%d}`, i) ||
			ids[f.MessageID] != i || f.RetryCount != 0 || f.Priority != 5 {
			t.Fatalf("push %d: %+v (message %s)", i, f, f.Message)
		}
		if i == 2 {
			nacked = f.MessageID
			var r struct {
				Action string `json:"action"`
			}
			c.ok("queue.nack", map[string]any{"queue": "push", "message_id": f.MessageID}, &r)
			if r.Action != "requeued" {
				t.Fatalf("nack: %+v", r)
			}
			continue
		}
		c.ok("queue.ack", map[string]any{"queue": "push", "message_id": f.MessageID}, nil)
	}
	f := c.next()
	if f.Type != "queue_message" || f.MessageID != nacked || f.RetryCount != 1 {
		t.Fatalf("after the nack: %+v, want %s with retry_count 1", f, nacked)
	}
	c.ok("queue.ack", map[string]any{"queue": "push", "message_id": f.MessageID}, nil)
	st := s.queueStats("push")
	if st.AckedTotal != n || st.Depth != 0 || st.InFlight != 0 || st.NackedTotal != 1 || st.Consumers != 1 {
		t.Fatalf("stats: %+v", st)
	}
	// queue.unsubscribe stops the pushes: a message published then stays
	// ready, for queue.consume.
	c.ok("queue.unsubscribe", map[string]any{"queue": "push"}, nil)
	s.ok("queue.publish", map[string]any{"queue": "push", "message": "later"}, nil)
	if m := s.consume(map[string]any{"queue": "push"}); string(m.Message) != `"later"` {
		t.Fatalf("after unsubscribe: consume got %+v", m)
	}
	if got := c.pushCount(); got != n+1 {
		t.Fatalf("%d pushes, want %d", got, n+1)
	}
	// Over HTTP, queue.subscribe is refused: it needs a session.
	s.fails("queue.subscribe", map[string]any{"queue": "push"}, http.StatusBadRequest, "BAD_REQUEST")
}
