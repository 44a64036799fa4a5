package integration

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestMessagingQueuePipelinedOverWS: a WebSocket client that sends its
// publishes and acks without waiting for their replies (the session
// pipelines them) gets every reply, its messages stay in the order it sent
// them, a command between them sees exactly the earlier ones done, and
// every publish and ack it was answered survives kill -9. Under
// --fsync=always, where a reply waits for the fsync of its write: under
// batch, Pebble hands a write to its log's flusher goroutine, and a kill -9
// just after the replies lost the last 4 of 100 acks in a run.
func TestMessagingQueuePipelinedOverWS(t *testing.T) {
	s := startServer(t, "--fsync=always")
	pub := s.dialWS("", nil)
	const n = 200
	var ids []string
	var statsID, otherID string
	for i := range n {
		switch i {
		case 100: // another queue in the middle of the run
			otherID = pub.send("queue.publish", map[string]any{"queue": "other", "message": map[string]int{"n": i}})
		case 150: // another command: it runs once the publishes before it are done
			statsID = pub.send("queue.stats", map[string]any{"queue": "piped"})
		}
		ids = append(ids, pub.send("queue.publish", map[string]any{"queue": "piped", "message": map[string]int{"n": i}}))
	}
	seen := map[string]bool{}
	for i, id := range ids {
		f := pub.response(id)
		var p struct {
			MessageID string `json:"message_id"`
		}
		if f.Status != "success" || json.Unmarshal(f.Payload, &p) != nil || p.MessageID == "" || seen[p.MessageID] {
			t.Fatalf("publish %d: %+v %s", i, f, f.Payload)
		}
		seen[p.MessageID] = true
	}
	if f := pub.response(otherID); f.Status != "success" {
		t.Fatalf("publish to the other queue: %+v", f)
	}
	var st qstats
	if f := pub.response(statsID); f.Status != "success" || json.Unmarshal(f.Payload, &st) != nil || st.PublishedTotal != 150 {
		t.Fatalf("queue.stats sent after 150 publishes: %+v %s, want published_total 150", f, f.Payload)
	}

	// Half the messages are consumed over a subscription and acked
	// without waiting for the acks' replies.
	cons := s.dialWS("", nil)
	cons.ok("queue.subscribe", map[string]any{"queue": "piped", "ack_deadline": 600}, nil)
	var acks []string
	for i := range n / 2 {
		m := cons.next()
		var body struct {
			N int `json:"n"`
		}
		if m.Type != "queue_message" || json.Unmarshal(m.Message, &body) != nil || body.N != i {
			t.Fatalf("push %d: %+v %s, want message %d (publish order)", i, m, m.Message, i)
		}
		acks = append(acks, cons.send("queue.ack", map[string]any{"queue": "piped", "message_id": m.MessageID}))
	}
	for i, id := range acks {
		if f := cons.response(id); f.Status != "success" {
			t.Fatalf("ack %d: %+v", i, f)
		}
	}

	s.kill9()
	s.restart()
	// What was acked is gone; the rest comes back in publish order (the
	// subscriber's unacked messages first, as they were delivered before).
	st = s.queueStats("piped")
	if st.Depth+st.InFlight != n/2 {
		t.Fatalf("after kill -9: %+v, want %d messages left", st, n/2)
	}
	for i := n / 2; i < n; i++ {
		m := s.consume(map[string]any{"queue": "piped", "ack_deadline": 600})
		if want := fmt.Sprintf(`{"n":%d}`, i); string(m.Message) != want {
			t.Fatalf("after kill -9, consumed %s, want %s", m.Message, want)
		}
	}
	if m := s.consume(map[string]any{"queue": "piped"}); !m.none() {
		t.Fatalf("after kill -9, an extra message: %+v", m)
	}
}
