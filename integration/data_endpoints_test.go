package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// readJSON reads one frame from a per-resource endpoint, with a deadline.
func readJSON(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("frame %s: %v", data, err)
	}
	return m
}

func dialEndpoint(t *testing.T, s *server, path string) *websocket.Conn {
	t.Helper()
	c, status, err := tryDialWS("ws"+strings.TrimPrefix(s.data, "http")+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %d %v", path, status, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// TestOriginalWebSocketEndpoints: /pubsub/ws, /stream/{room}/ws/{id} and
// /queue/{name}/ws/{consumer} send the original's welcome and push frames;
// a queue consumer acks over its socket.
func TestOriginalWebSocketEndpoints(t *testing.T) {
	s := startServer(t)

	ps := dialEndpoint(t, s, "/pubsub/ws?topics=news.*,alerts")
	if m := readJSON(t, ps); m["type"] != "connected" || m["subscription_count"] != float64(2) || m["subscriber_id"] == "" {
		t.Fatalf("pubsub welcome: %v", m)
	}
	var pub struct {
		MessageID string `json:"message_id"`
	}
	s.ok("pubsub.publish", map[string]any{"topic": "news.tech", "payload": map[string]any{"a": 1}}, &pub)
	if m := readJSON(t, ps); m["type"] != "message" || m["topic"] != "news.tech" || m["message_id"] != pub.MessageID ||
		m["payload"].(map[string]any)["a"] != float64(1) {
		t.Fatalf("pubsub message: %v", m)
	}

	s.ok("stream.publish", map[string]any{"room": "chat", "event": "old", "data": 0}, nil)
	st := dialEndpoint(t, s, "/stream/chat/ws/sub-1?from_offset=0")
	if m := readJSON(t, st); m["type"] != "connected" || m["room"] != "chat" || m["subscriber_id"] != "sub-1" || m["from_offset"] != float64(0) {
		t.Fatalf("stream welcome: %v", m)
	}
	if m := readJSON(t, st); m["type"] != "event" || m["offset"] != float64(0) || m["event"] != "old" {
		t.Fatalf("replayed event: %v", m)
	}
	s.ok("stream.publish", map[string]any{"room": "chat", "event": "new", "data": map[string]any{"x": true}}, nil)
	if m := readJSON(t, st); m["type"] != "event" || m["offset"] != float64(1) || m["event"] != "new" {
		t.Fatalf("live event: %v", m)
	}

	s.ok("queue.create", map[string]any{"queue": "jobs"}, nil)
	qc := dialEndpoint(t, s, "/queue/jobs/ws/worker-1")
	if m := readJSON(t, qc); m["type"] != "connected" || m["queue"] != "jobs" || m["consumer_id"] != "worker-1" {
		t.Fatalf("queue welcome: %v", m)
	}
	s.ok("queue.publish", map[string]any{"queue": "jobs", "message": "do it", "priority": 8}, nil)
	m := readJSON(t, qc)
	if m["type"] != "message" || m["payload"] != "do it" || m["priority"] != float64(8) {
		t.Fatalf("queue message: %v", m)
	}
	ack, _ := json.Marshal(map[string]any{"command": "ack", "message_id": m["message_id"]})
	if err := qc.Write(context.Background(), websocket.MessageText, ack); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var stats struct {
			Acked int `json:"acked_total"`
		}
		s.ok("queue.stats", map[string]any{"queue": "jobs"}, &stats)
		if stats.Acked == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ack over the socket was not counted: %+v", stats)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A refused subscription: an error frame, then the close.
	bad := dialEndpoint(t, s, "/pubsub/ws?topics=a.%23.b")
	if m := readJSON(t, bad); m["type"] != "error" || m["error"] == "" {
		t.Fatalf("refused subscription: %v", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, _, err := bad.Read(ctx); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("after a refused subscription: %v", err)
	}
}
