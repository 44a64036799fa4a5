package synap

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"

	"github.com/troupe-run/troupe/gateway/internal/doortest"
	"github.com/troupe-run/troupe/messages"
)

// wsTest is a test server listening on a port, for WebSocket clients.
type wsTest struct {
	*testServer
	url string // ws://host:port/api/v1/ws
}

func startWS(t *testing.T, cfg Config) *wsTest {
	t.Helper()
	ts := newTestServer(t, cfg)
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	t.Cleanup(ts.Drain) // runs first: ends the connections that srv.Close does not track
	return &wsTest{testServer: ts, url: "ws" + strings.TrimPrefix(srv.URL, "http") + wsPath}
}

// dial opens a WebSocket to the server, with query appended to the URL.
func (w *wsTest) dial(t *testing.T, query string, header http.Header) *websocket.Conn {
	t.Helper()
	c, err := w.tryDial(query, header)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func (w *wsTest) tryDial(query string, header http.Header) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), doortest.Wait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, w.url+query, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		if resp != nil {
			return nil, &dialError{resp.StatusCode, err}
		}
		return nil, err
	}
	c.SetReadLimit(-1)
	return c, nil
}

type dialError struct {
	status int
	err    error
}

func (e *dialError) Error() string { return e.err.Error() }

// recvN reads n frames, sorted, for frames whose order is not defined.
func recvN(t *testing.T, c *websocket.Conn, n int) []string {
	t.Helper()
	var out []string
	for range n {
		out = append(out, doortest.Recv(t, c))
	}
	slices.Sort(out)
	return out
}

// eventually waits until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(doortest.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// subscriber returns the subscriber of the first request of op, once the
// backend has got it.
func subscriberOf[Req interface{ GetSubscriber() *actor.PID }](t *testing.T, reqs func() []Req, match func(Req) bool) *actor.PID {
	t.Helper()
	var pid *actor.PID
	eventually(t, "a subscription", func() bool {
		for _, r := range reqs() {
			if match(r) {
				pid = r.GetSubscriber()
				return true
			}
		}
		return false
	})
	return pid
}

func TestWSCommands(t *testing.T) {
	w := startWS(t, insecure())
	w.ks.reply = replyWith(&messages.DataReply{Found: true, Value: []byte(`1`), TtlMs: -1})
	c := w.dial(t, "", nil)
	tests := []struct {
		name  string
		frame string
		want  string
	}{
		{"command", `{"request_id":"ws-001","command":"kv.get","payload":{"key":"a"}}`,
			`{"type":"response","request_id":"ws-001","status":"success","success":true,"payload":{"found":true,"value":1,"ttl":null}}`},
		{"batch", `{"type":"batch","request_id":"b-1","commands":[{"command":"kv.get","payload":{"key":"a"}},{"command":"nope"}]}`,
			`{"type":"batch_response","request_id":"b-1","results":[{"status":"success","success":true,"payload":{"found":true,"value":1,"ttl":null}},` +
				`{"status":"error","success":false,"error":{"code":"UNKNOWN_COMMAND","message":"unknown command \"nope\"","details":{}}}]}`},
		{"invalid payload", `{"request_id":"e-1","command":"queue.publish","payload":{"queue":"q"}}`,
			`{"type":"response","request_id":"e-1","status":"error","success":false,"error":{"code":"INVALID_ARGUMENT","message":"message is required","details":{}}}`},
		{"malformed frame", `{"request_id":"e-2","command":`,
			`BAD_REQUEST`},
	}
	for _, tc := range tests {
		doortest.Send(t, c, tc.frame)
		got := doortest.Recv(t, c)
		if tc.want == codeBadRequest {
			var r reply
			if json.Unmarshal([]byte(got), &r) != nil || r.Error == nil || r.Error.Code != codeBadRequest || r.RequestID == nil {
				t.Errorf("%s: got %s, want a BAD_REQUEST error with a request_id", tc.name, got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	if obs := w.metrics.Last(); obs != (doortest.Observation{Door: door, Command: "invalid", Status: http.StatusBadRequest}) {
		t.Errorf("metrics observed %+v for the malformed frame", obs)
	}
}

// TestWSConsumeRunsBeside checks that a consume waiting for a message
// blocks neither the commands after it nor the pushes.
func TestWSConsumeRunsBeside(t *testing.T) {
	w := startWS(t, insecure())
	release := make(chan struct{})
	w.queues.setReply(func(_ context.Context, req *messages.QueueRequest) (*messages.QueueReply, error) {
		if req.Op == messages.QueueOp_QUEUE_CONSUME {
			<-release
			return &messages.QueueReply{Message: &messages.QueueMessage{MessageId: "m", Message: []byte(`1`), Priority: 5}}, nil
		}
		return &messages.QueueReply{}, nil
	})
	c := w.dial(t, "", nil)
	doortest.Send(t, c, `{"request_id":"c","command":"queue.consume","payload":{"queue":"q","timeout":30}}`)
	doortest.Send(t, c, `{"request_id":"s","command":"queue.subscribe","payload":{"queue":"q"}}`)
	if got := doortest.Recv(t, c); !strings.Contains(got, `"request_id":"s"`) {
		t.Fatalf("the reply after a waiting consume is %s, want the subscribe's", got)
	}
	sub := subscriberOf(t, w.queues.requests, func(r *messages.QueueRequest) bool { return r.Op == messages.QueueOp_QUEUE_SUBSCRIBE })
	w.sessions.push(sub, &messages.QueueDelivery{Queue: "q", Message: &messages.QueueMessage{MessageId: "p", Message: []byte(`2`)}})
	if got := doortest.Recv(t, c); !strings.Contains(got, `"type":"queue_message"`) {
		t.Fatalf("a push during a waiting consume: got %s", got)
	}
	close(release)
	want := `{"type":"response","request_id":"c","status":"success","success":true,"payload":` +
		`{"message_id":"m","message":1,"priority":5,"retry_count":0,"headers":{}}}`
	if got := doortest.Recv(t, c); got != want {
		t.Errorf("consume reply\n got %s\nwant %s", got, want)
	}
}

// TestWSStreamSubscribe checks that a subscriber gets the reply, the replay
// and then the live events, in order, though the room sends a live event
// before the subscribe's reply reaches the session.
func TestWSStreamSubscribe(t *testing.T) {
	w := startWS(t, insecure())
	event := func(offset int64) *messages.RoomEvent {
		return &messages.RoomEvent{Room: "chat", EventId: "e", Offset: offset, EventType: "msg", Data: []byte(`{}`), TimestampMs: 5000}
	}
	var mu sync.Mutex
	var subs []*actor.PID
	w.rooms.setReply(func(_ context.Context, req *messages.RoomRequest) (*messages.RoomReply, error) {
		mu.Lock()
		defer mu.Unlock()
		switch req.Op {
		case messages.RoomOp_ROOM_SUBSCRIBE:
			subs = append(subs, req.Subscriber)
			w.sessions.push(req.Subscriber, event(5)) // published just after the subscribe
			return &messages.RoomReply{Events: []*messages.RoomEvent{event(2), event(3), event(4)}, NewestOffset: 5}, nil
		case messages.RoomOp_ROOM_PUBLISH:
			for _, s := range subs {
				w.sessions.push(s, event(6))
			}
			return &messages.RoomReply{Event: event(6), SubscribersNotified: int64(len(subs))}, nil
		}
		return &messages.RoomReply{}, nil
	})
	c := w.dial(t, "", nil)
	doortest.Send(t, c, `{"request_id":"s","command":"stream.subscribe","payload":{"room":"chat","from_offset":2}}`)
	frame := func(offset string) string {
		return `{"type":"event","room":"chat","event_id":"e","offset":` + offset +
			`,"event_type":"msg","event":"msg","data":{},"timestamp":5}`
	}
	for i, want := range []string{
		`{"type":"response","request_id":"s","status":"success","success":true,"payload":` +
			`{"success":true,"room":"chat","replayed":3,"oldest_offset":0,"newest_offset":5}}`,
		frame("2"), frame("3"), frame("4"), frame("5"),
	} {
		if got := doortest.Recv(t, c); got != want {
			t.Fatalf("frame %d\n got %s\nwant %s", i, got, want)
		}
	}
	doortest.Send(t, c, `{"request_id":"p","command":"stream.publish","payload":{"room":"chat","event_type":"msg","data":{}}}`)
	want := []string{
		`{"type":"response","request_id":"p","status":"success","success":true,"payload":` +
			`{"event_id":"e","offset":6,"subscribers_notified":1,"room":"chat"}}`,
		frame("6"),
	}
	slices.Sort(want)
	if got := recvN(t, c, 2); !slices.Equal(got, want) {
		t.Errorf("after a publish\n got %q\nwant %q", got, want)
	}
}

func TestWSStreamSubscribeOffsets(t *testing.T) {
	tests := []struct {
		payload string
		from    []int64 // the from_offset of each subscribe sent
	}{
		{`{"room":"r"}`, []int64{-1}},
		{`{"room":"r","from_offset":null,"replay":false}`, []int64{-1}},
		{`{"room":"r","replay":true}`, []int64{0}},
		{`{"room":"r","from_offset":3}`, []int64{3}},
		{`{"room":"trimmed","replay":true}`, []int64{0, 10}}, // retried from the oldest kept
	}
	for _, tc := range tests {
		t.Run(tc.payload, func(t *testing.T) {
			w := startWS(t, insecure())
			w.rooms.setReply(func(_ context.Context, req *messages.RoomRequest) (*messages.RoomReply, error) {
				if req.Room == "trimmed" && req.FromOffset < 10 {
					return &messages.RoomReply{ErrorCode: messages.CodeOffsetTrimmed, OldestOffset: 10}, nil
				}
				return &messages.RoomReply{}, nil
			})
			c := w.dial(t, "", nil)
			doortest.Send(t, c, `{"command":"stream.subscribe","payload":`+tc.payload+`}`)
			if got := doortest.Recv(t, c); !strings.Contains(got, `"status":"success"`) {
				t.Fatalf("reply %s", got)
			}
			var from []int64
			for _, r := range w.rooms.requests() {
				if r.Replay != (r.FromOffset >= 0) || r.Subscriber == nil {
					t.Errorf("subscribe request %v", r)
				}
				from = append(from, r.FromOffset)
			}
			if !slices.Equal(from, tc.from) {
				t.Errorf("from_offset sent %v, want %v", from, tc.from)
			}
		})
	}
}

func TestWSPubSubAndQueuePushes(t *testing.T) {
	w := startWS(t, insecure())
	w.pubsub.setReply(func(_ context.Context, req *messages.PubSubRequest) (*messages.PubSubReply, error) {
		return &messages.PubSubReply{Topics: req.Patterns, Subscriptions: int64(len(req.Patterns))}, nil
	})
	c := w.dial(t, "", nil)
	doortest.Send(t, c, `{"request_id":"t","command":"pubsub.subscribe","payload":{"topics":["notifications.email.*","events.#"]}}`)
	got := doortest.Recv(t, c)
	sub := subscriberOf(t, w.pubsub.requests, func(*messages.PubSubRequest) bool { return true })
	want := `{"type":"response","request_id":"t","status":"success","success":true,"payload":{"success":true,"subscriber_id":"` +
		sub.Id + `","topics":["notifications.email.*","events.#"],"subscription_count":2}}`
	if got != want {
		t.Errorf("subscribe reply\n got %s\nwant %s", got, want)
	}
	doortest.Send(t, c, `{"command":"queue.subscribe","payload":{"queue":"jobs","ack_deadline":60}}`)
	doortest.Recv(t, c)
	if r := w.queues.requests()[0]; r.Op != messages.QueueOp_QUEUE_SUBSCRIBE || r.Queue != "jobs" || r.AckDeadlineMs != 60000 || !r.Subscriber.Equal(sub) {
		t.Errorf("queue subscribe request %v", r)
	}

	w.sessions.push(sub, &messages.PubSubMessage{Topic: "notifications.email.user", Message: []byte(`{"to":"alice"}`),
		Metadata: []byte(`{"source":"web"}`)})
	w.sessions.push(sub, &messages.PubSubMessage{Topic: "events", Message: []byte(`1`)})
	w.sessions.push(sub, &messages.QueueDelivery{Queue: "jobs", Message: &messages.QueueMessage{MessageId: "m1",
		Message: []byte(`{"n":1}`), Priority: 9, RetryCount: 2, Headers: map[string]string{"h": "v"}}})
	for i, want := range []string{
		`{"type":"message","topic":"notifications.email.user","message":{"to":"alice"},"metadata":{"source":"web"}}`,
		`{"type":"message","topic":"events","message":1,"metadata":null}`,
		`{"type":"queue_message","queue":"jobs","message_id":"m1","message":{"n":1},"priority":9,"retry_count":2,"headers":{"h":"v"}}`,
	} {
		if got := doortest.Recv(t, c); got != want {
			t.Errorf("push %d\n got %s\nwant %s", i, got, want)
		}
	}

	doortest.Send(t, c, `{"command":"pubsub.unsubscribe","payload":{"topics":["events.#"]}}`)
	doortest.Recv(t, c)
	reqs := w.pubsub.requests()
	if r := reqs[len(reqs)-1]; r.Op != messages.PubSubOp_PUBSUB_UNSUBSCRIBE || !slices.Equal(r.Patterns, []string{"events.#"}) || !r.Subscriber.Equal(sub) {
		t.Errorf("unsubscribe request %v", r)
	}
}

// TestWSCloseUnsubscribes checks that a session that ends, however it
// ends, drops what it subscribed to.
func TestWSCloseUnsubscribes(t *testing.T) {
	tests := []struct {
		name string
		end  func(w *wsTest, c *websocket.Conn, sub *actor.PID)
	}{
		{"client closes", func(_ *wsTest, c *websocket.Conn, _ *actor.PID) { c.Close(websocket.StatusNormalClosure, "") }},
		{"client vanishes", func(_ *wsTest, c *websocket.Conn, _ *actor.PID) { c.CloseNow() }},
		{"session crashes", func(w *wsTest, c *websocket.Conn, sub *actor.PID) {
			w.sessions.push(sub, (*messages.RoomEvent)(nil)) // panics in the actor
			if ce := doortest.CloseStatus(t, c); ce.Code != websocket.StatusGoingAway {
				t.Errorf("a crashed session closed with %v", ce)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := startWS(t, insecure())
			c := w.dial(t, "", nil)
			for _, frame := range []string{
				`{"command":"stream.subscribe","payload":{"room":"r"}}`,
				`{"command":"pubsub.subscribe","payload":{"topics":["a.*"]}}`,
				`{"command":"queue.subscribe","payload":{"queue":"q"}}`,
			} {
				doortest.Send(t, c, frame)
				doortest.Recv(t, c)
			}
			sub := w.rooms.requests()[0].Subscriber
			tc.end(w, c, sub)
			eventually(t, "the unsubscribes", func() bool {
				unsubscribed := func(op, want any, subscriber *actor.PID) bool { return op == want && subscriber.Equal(sub) }
				return slices.ContainsFunc(w.rooms.requests(), func(r *messages.RoomRequest) bool {
					return unsubscribed(r.Op, messages.RoomOp_ROOM_UNSUBSCRIBE, r.Subscriber) && r.Room == "r"
				}) && slices.ContainsFunc(w.queues.requests(), func(r *messages.QueueRequest) bool {
					return unsubscribed(r.Op, messages.QueueOp_QUEUE_UNSUBSCRIBE, r.Subscriber) && r.Queue == "q"
				}) && slices.ContainsFunc(w.pubsub.requests(), func(r *messages.PubSubRequest) bool {
					return unsubscribed(r.Op, messages.PubSubOp_PUBSUB_UNSUBSCRIBE, r.Subscriber) && len(r.Patterns) == 0
				})
			})
			eventually(t, "the session's end", func() bool { return w.openConns() == 0 })
		})
	}
}

// openConns returns the connections the server holds.
func (ts *testServer) openConns() int {
	return ts.conns.Len()
}

// TestWSSlowSubscriber checks that a subscriber that stops reading is
// closed with 1008 once its buffer is full, while one that keeps reading
// goes on receiving, and that the publisher is never held up.
func TestWSSlowSubscriber(t *testing.T) {
	cfg := insecure()
	cfg.WSBuffer = 4
	w := startWS(t, cfg)
	slow, fast := w.dial(t, "", nil), w.dial(t, "", nil)
	for _, c := range []*websocket.Conn{slow, fast} {
		doortest.Send(t, c, `{"command":"pubsub.subscribe","payload":{"topics":["t"]}}`)
		doortest.Recv(t, c)
	}
	var subs []*actor.PID
	for _, r := range w.pubsub.requests() {
		subs = append(subs, r.Subscriber)
	}
	payload := []byte(`"` + strings.Repeat("x", 256<<10) + `"`)
	publish := func() {
		for _, s := range subs {
			w.sessions.push(s, &messages.PubSubMessage{Topic: "t", Message: payload})
		}
	}
	// Publish until the slow subscriber's socket and buffer are full; the
	// fast one reads every message before the next.
	for n := 0; w.metrics.Dropped() == 0; n++ {
		if n == 1000 {
			t.Fatal("1000 messages of 256 KiB and the slow subscriber was not dropped")
		}
		publish()
		if got := doortest.Recv(t, fast); len(got) < len(payload) {
			t.Fatalf("the fast subscriber got %.100s", got)
		}
	}
	ce := doortest.CloseStatus(t, slow)
	if ce.Code != websocket.StatusPolicyViolation || !strings.HasPrefix(ce.Reason, "subscriber too slow: 4 messages") {
		t.Errorf("the slow subscriber was closed with %v", ce)
	}
	for range 3 {
		publish()
		if got := doortest.Recv(t, fast); len(got) < len(payload) {
			t.Fatalf("after the slow one's drop, the fast subscriber got %.100s", got)
		}
	}
	if n := w.metrics.Dropped(); n != 1 {
		t.Errorf("%d subscribers counted as dropped, want 1", n)
	}
}

// TestWSDeadPeer checks that a client that answers no ping is dropped.
func TestWSDeadPeer(t *testing.T) {
	cfg := insecure()
	cfg.WSPingInterval = 20 * time.Millisecond
	w := startWS(t, cfg)
	c := w.dial(t, "", nil)
	doortest.Send(t, c, `{"command":"stream.subscribe","payload":{"room":"r"}}`)
	// The client never reads again, so it never answers a ping.
	eventually(t, "the dead peer's session to end", func() bool {
		return w.openConns() == 0 && slices.ContainsFunc(w.rooms.requests(), func(r *messages.RoomRequest) bool {
			return r.Op == messages.RoomOp_ROOM_UNSUBSCRIBE
		})
	})
}

func TestWSAuth(t *testing.T) {
	cfg := Config{APIKeys: []string{"synap_key"}}
	w := startWS(t, cfg)
	tests := []struct {
		name   string
		query  string
		header http.Header
		status int // 0: connects
	}{
		{"no key", "", nil, 401},
		{"header", "", http.Header{"X-Api-Key": {"synap_key"}}, 0},
		{"bearer", "", http.Header{"Authorization": {"Bearer synap_key"}}, 0},
		{"query parameter", "?api_key=synap_key", nil, 0},
		{"wrong query parameter", "?api_key=nope", nil, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := w.tryDial(tc.query, tc.header)
			var de *dialError
			switch {
			case tc.status == 0 && err != nil:
				t.Fatalf("dial: %v", err)
			case tc.status == 0:
				c.CloseNow()
			case !errors.As(err, &de) || de.status != tc.status:
				t.Errorf("dial: %v, want status %d", err, tc.status)
			}
		})
	}
	// Only the WebSocket route takes a key in its URL.
	wantError(t, serve(w, "GET", "/kv/get/a?api_key=synap_key", ""), http.StatusUnauthorized, codeUnauthorized)
}

func TestWSMaxSessions(t *testing.T) {
	cfg := insecure()
	cfg.MaxSessions = 1
	w := startWS(t, cfg)
	first := w.dial(t, "", nil)
	_, err := w.tryDial("", nil)
	if de := (*dialError)(nil); !errors.As(err, &de) || de.status != http.StatusServiceUnavailable {
		t.Fatalf("a connection past the limit: %v, want 503", err)
	}
	first.Close(websocket.StatusNormalClosure, "")
	eventually(t, "the first connection's end", func() bool { return w.openConns() == 0 })
	w.dial(t, "", nil)
}

func TestWSDrain(t *testing.T) {
	w := startWS(t, insecure())
	c := w.dial(t, "", nil)
	w.Drain()
	if ce := doortest.CloseStatus(t, c); ce.Code != websocket.StatusGoingAway {
		t.Errorf("draining closed the connection with %v, want 1001", ce)
	}
	if _, err := w.tryDial("", nil); err == nil {
		t.Error("a connection was accepted while draining")
	}
}

func TestWSReadLimit(t *testing.T) {
	cfg := insecure()
	cfg.WSReadLimit = 64
	w := startWS(t, cfg)
	c := w.dial(t, "", nil)
	doortest.Send(t, c, `{"command":"kv.set","payload":{"key":"a","value":"`+strings.Repeat("x", 64)+`"}}`)
	if ce := doortest.CloseStatus(t, c); ce.Code != websocket.StatusMessageTooBig {
		t.Errorf("an oversized frame closed the connection with %v, want 1009", ce)
	}
}

// TestWSSubscriberBoundedInBytes: a subscriber that never reads is closed
// with 1008 once the bytes queued for it pass --ws-buffer-bytes, well before
// its message count would, and is counted; pushing never waits on it.
func TestWSSubscriberBoundedInBytes(t *testing.T) {
	cfg := insecure()
	cfg.WSBuffer = 1024
	cfg.WSBufferBytes = 2 << 20
	w := startWS(t, cfg)
	c := w.dial(t, "", nil)
	doortest.Send(t, c, `{"command":"pubsub.subscribe","payload":{"topics":["t"]}}`)
	doortest.Recv(t, c)
	sub := w.pubsub.requests()[0].Subscriber
	payload := []byte(`"` + strings.Repeat("x", 512<<10) + `"`)
	// 600 frames stay under the 1024 of --ws-buffer: only the byte bound
	// can drop the subscriber.
	for range 600 {
		w.sessions.push(sub, &messages.PubSubMessage{Topic: "t", Message: payload})
	}
	eventually(t, "the subscriber to be dropped", func() bool { return w.metrics.Dropped() == 1 })
	for {
		_, _, err := c.Read(context.Background())
		if err == nil {
			continue
		}
		if ce := websocket.CloseStatus(err); ce != websocket.StatusPolicyViolation {
			t.Errorf("closed with %v (%v), want 1008", ce, err)
		}
		break
	}
}
