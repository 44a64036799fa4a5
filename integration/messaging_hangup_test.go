package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// TestMessagingConsumerHangsUp: a client that hangs up on a long
// queue.consume frees its wait at once: the queue counts no consumer, and
// the next message goes, at once, to a consumer that is there, instead of
// to the one that left (where it would stay in flight until its ack
// deadline).
func TestMessagingConsumerHangsUp(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok("queue.create", map[string]any{"queue": "work"}, nil)

	ctx, cancel := context.WithCancel(context.Background())
	body, _ := json.Marshal(map[string]any{"command": "queue.consume", "payload": map[string]any{"queue": "work", "timeout": 60}})
	req, err := http.NewRequestWithContext(ctx, "POST", s.data+"/api/v1/command", bytesReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	gone := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		gone <- err
	}()
	msgEventually(t, "the consume to wait", func() bool { return s.queueStats("work").Consumers == 1 })
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("the hung-up consume ended with %v, want context.Canceled", err)
	}
	msgEventually(t, "the queue to forget the consumer that left", func() bool { return s.queueStats("work").Consumers == 0 })

	var pub struct {
		MessageID string `json:"message_id"`
	}
	s.ok("queue.publish", map[string]any{"queue": "work", "message": "job"}, &pub)
	m := s.consume(map[string]any{"queue": "work"})
	if m.MessageID != pub.MessageID || m.RetryCount != 0 {
		t.Fatalf("the consumer that is there got %+v, want %s, first delivery", m, pub.MessageID)
	}
	if st := s.queueStats("work"); st.InFlight != 1 || st.ConsumedTotal != 1 {
		t.Fatalf("stats %+v: want the one delivery, in flight with the consumer that is there", st)
	}
}

// TestMessagingSlowSubscriberDroppedByBytes: a WebSocket subscriber that
// never reads is closed (1008, naming the bound) once the bytes queued for
// it pass --ws-buffer-bytes, long before --ws-buffer's count of messages:
// 512 KiB messages do not pile up in the server by the thousand.
func TestMessagingSlowSubscriberDroppedByBytes(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--ws-buffer-bytes=1MiB", "--ws-buffer=1024")
	slow := s.dialWSIdle("", nil)
	ctx, cancel := context.WithTimeout(context.Background(), msgPatience)
	defer cancel()
	if err := slow.conn.Write(ctx, websocket.MessageText, []byte(`{"request_id":"s","command":"pubsub.subscribe","payload":{"topics":["big.*"]}}`)); err != nil {
		t.Fatal(err)
	}
	if _, data, err := slow.conn.Read(ctx); err != nil || !strings.Contains(string(data), `"status":"success"`) {
		t.Fatalf("subscribe: %s %v", data, err)
	}
	const dropped = `troupe_subscribers_dropped_total{door="data"}`
	body := fmt.Sprintf(`{"payload":%q}`, strings.Repeat("x", 512<<10))
	published := 0
	for ; s.metric(dropped) != "1"; published++ {
		if published >= 1024 {
			t.Fatalf("%d messages of 512 KiB published and the subscriber that never reads was not dropped", published)
		}
		if status, raw := s.rest("POST", "/pubsub/big.items/publish", body); status != http.StatusOK {
			t.Fatalf("publish %d: %d %.300s", published, status, raw)
		}
	}
	slow.startReading()
	ce := slow.closed()
	if ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "1048576 bytes") {
		t.Fatalf("closed with %d %q, want 1008 naming the bytes bound", ce.Code, ce.Reason)
	}
	t.Logf("dropped after %d messages of 512 KiB", published)
}
