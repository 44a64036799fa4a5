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

// TestKVWatchEndpoint: /kv/ws?keys= sends the original's welcome, then one
// message frame per change of a matching string key, on the key's
// "__watch@0__:" channel, with the value after the change; a key nobody
// watches sends nothing; without keys the handshake is refused.
func TestKVWatchEndpoint(t *testing.T) {
	s := startServer(t) // the frames are the same in both reply modes

	c := dialEndpoint(t, s, "/kv/ws?keys=user:*,count")
	m := readJSON(t, c)
	if m["type"] != "connected" || m["subscriber_id"] == "" || m["subscription_count"] != float64(2) {
		t.Fatalf("welcome: %v", m)
	}
	if topics, _ := m["topics"].([]any); len(topics) != 2 || topics[0] != "__watch@0__:user:*" || topics[1] != "__watch@0__:count" {
		t.Fatalf("welcome topics: %v", m["topics"])
	}
	expect := func(key, event string, version int, value any) {
		t.Helper()
		m := readJSON(t, c)
		p, _ := m["payload"].(map[string]any)
		v, has := p["value"]
		if m["type"] != "message" || m["topic"] != "__watch@0__:"+key || m["message_id"] == "" || p["key"] != key ||
			p["event"] != event || p["version"] != float64(version) || has != (value != nil) || (has && v != value) {
			t.Fatalf("got %v, want %s %s v%d %v", m, key, event, version, value)
		}
	}
	s.ok("kv.set", map[string]any{"key": "other", "value": "x"}, nil) // not watched
	s.ok("kv.set", map[string]any{"key": "user:1", "value": "alice"}, nil)
	expect("user:1", "set", 1, "alice")
	s.ok("kv.set", map[string]any{"key": "user:2", "value": map[string]any{"a": 1}}, nil)
	expect("user:2", "set", 1, `{"a":1}`)
	s.ok("kv.incr", map[string]any{"key": "count", "amount": 3}, nil)
	expect("count", "incrby", 1, "3")
	s.ok("kv.decr", map[string]any{"key": "count", "amount": 1}, nil)
	expect("count", "decrby", 2, "2")
	s.ok("kv.append", map[string]any{"key": "user:1", "value": "!"}, nil)
	expect("user:1", "set", 2, "alice!")
	s.ok("kv.expire", map[string]any{"key": "user:1", "ttl": 600}, nil)
	expect("user:1", "expire", 3, nil)
	s.ok("kv.persist", map[string]any{"key": "user:1"}, nil)
	expect("user:1", "persist", 4, nil)
	s.ok("kv.del", map[string]any{"key": "user:1"}, nil)
	expect("user:1", "del", 5, nil)
	s.ok("hash.set", map[string]any{"key": "user:h", "field": "f", "value": 1}, nil) // only strings are watched
	s.ok("kv.set", map[string]any{"key": "user:1", "value": "again"}, nil)
	expect("user:1", "set", 1, "again")

	// No keys: refused before the upgrade, as the original does (400).
	if _, status, err := tryDialWS("ws"+strings.TrimPrefix(s.data, "http")+"/kv/ws", nil); err == nil || status != 400 {
		t.Fatalf("/kv/ws without keys: %d %v", status, err)
	}
}
