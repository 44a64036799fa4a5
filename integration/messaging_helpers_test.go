package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Helpers of the messaging tests (messaging_*_test.go): a WebSocket client
// of the data door, and waits with generous deadlines (never assertions on
// time).

// msgPatience is how long a test waits for something that should happen soon.
const msgPatience = 20 * time.Second

// wsFrame is one frame the data door sends over the WebSocket: a response to
// a command, or a push (event, message, queue_message).
type wsFrame struct {
	Type      string          `json:"type"`
	RequestID string          `json:"request_id"`
	Status    string          `json:"status"`
	Payload   json.RawMessage `json:"payload"`
	Error     *struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`

	// Room events.
	Room      string          `json:"room"`
	EventID   string          `json:"event_id"`
	Offset    int64           `json:"offset"`
	EventType string          `json:"event_type"`
	Data      json.RawMessage `json:"data"`
	// Pub/sub messages.
	Topic    string          `json:"topic"`
	Message  json.RawMessage `json:"message"`
	Metadata json.RawMessage `json:"metadata"`
	// Queue messages (message is shared with pub/sub).
	Queue      string `json:"queue"`
	MessageID  string `json:"message_id"`
	Priority   int    `json:"priority"`
	RetryCount int    `json:"retry_count"`
}

// wsClient is a WebSocket client of the data door. One goroutine reads
// every frame: responses are kept by request_id, pushes in arrival order.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	seq  int

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced whenever something arrives
	responses map[string]wsFrame
	pushes    []wsFrame
	taken     int   // pushes returned by next
	readErr   error // what ended the reader
	reading   bool
	dropBody  bool // keep pushes without their message and data (large loads)
	readerEnd chan struct{}
}

// wsURL is the data door's WebSocket URL.
func (s *server) wsURL() string { return "ws" + strings.TrimPrefix(s.data, "http") + "/api/v1/ws" }

// dialWS opens a WebSocket to the data door and starts reading it.
func (s *server) dialWS(query string, header http.Header) *wsClient {
	s.t.Helper()
	c := s.dialWSIdle(query, header)
	c.startReading()
	return c
}

// dialWSIdle opens a WebSocket without reading it: a client that does not
// keep up, until startReading.
func (s *server) dialWSIdle(query string, header http.Header) *wsClient {
	s.t.Helper()
	conn, status, err := tryDialWS(s.wsURL()+query, header)
	if err != nil {
		s.t.Fatalf("WebSocket dial%s: %d %v", query, status, err)
	}
	c := &wsClient{t: s.t, conn: conn, changed: make(chan struct{}), responses: map[string]wsFrame{},
		readerEnd: make(chan struct{})}
	s.t.Cleanup(func() { conn.CloseNow() })
	return c
}

// tryDialWS dials url; on a refused handshake it returns the HTTP status.
func tryDialWS(url string, header http.Header) (*websocket.Conn, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), msgPatience)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	conn.SetReadLimit(-1)
	return conn, http.StatusSwitchingProtocols, nil
}

func (c *wsClient) startReading() {
	c.mu.Lock()
	c.reading = true
	c.mu.Unlock()
	go c.readLoop()
}

func (c *wsClient) readLoop() {
	defer close(c.readerEnd)
	for {
		_, data, err := c.conn.Read(context.Background())
		c.mu.Lock()
		if err != nil {
			c.readErr = err
			c.signal()
			c.mu.Unlock()
			return
		}
		var f wsFrame
		if jerr := json.Unmarshal(data, &f); jerr != nil {
			c.readErr = fmt.Errorf("frame is not JSON: %v: %.200s", jerr, data)
			c.signal()
			c.mu.Unlock()
			c.conn.CloseNow()
			return
		}
		switch f.Type {
		case "response", "batch_response":
			c.responses[f.RequestID] = f
		default:
			if c.dropBody {
				f.Message, f.Data = nil, nil
			}
			c.pushes = append(c.pushes, f)
		}
		c.signal()
		c.mu.Unlock()
	}
}

// signal wakes the waiters; c.mu is held.
func (c *wsClient) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitFor waits until cond (called with c.mu held) holds, failing the test
// after msgPatience or when the connection ends first.
func (c *wsClient) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.NewTimer(msgPatience)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok, err, ch := cond(), c.readErr, c.changed
		c.mu.Unlock()
		if ok {
			return
		}
		if err != nil {
			c.t.Fatalf("waiting for %s: the connection ended: %v", what, err)
		}
		select {
		case <-ch:
		case <-deadline.C:
			c.t.Fatalf("still waiting for %s after %s", what, msgPatience)
		}
	}
}

// send writes a command frame and returns its request_id.
func (c *wsClient) send(command string, payload any) string {
	c.t.Helper()
	c.mu.Lock()
	c.seq++
	id := fmt.Sprintf("req-%d", c.seq)
	c.mu.Unlock()
	body, err := json.Marshal(map[string]any{"request_id": id, "command": command, "payload": payload})
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), msgPatience)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, body); err != nil {
		c.t.Fatalf("writing %s: %v", body, err)
	}
	return id
}

// response waits for the response to request id.
func (c *wsClient) response(id string) wsFrame {
	c.t.Helper()
	var f wsFrame
	c.waitFor("the response to "+id, func() bool {
		var ok bool
		f, ok = c.responses[id]
		delete(c.responses, id)
		return ok
	})
	return f
}

// call sends a command and waits for its response.
func (c *wsClient) call(command string, payload any) wsFrame {
	c.t.Helper()
	return c.response(c.send(command, payload))
}

// ok sends a command that must succeed and decodes its payload into out.
func (c *wsClient) ok(command string, payload any, out any) {
	c.t.Helper()
	f := c.call(command, payload)
	if f.Status != "success" {
		c.t.Fatalf("over the WebSocket, %s %v: %+v %+v", command, payload, f, f.Error)
	}
	if out != nil {
		if err := json.Unmarshal(f.Payload, out); err != nil {
			c.t.Fatalf("%s: payload %s: %v", command, f.Payload, err)
		}
	}
}

// next waits for the next push not yet returned.
func (c *wsClient) next() wsFrame {
	c.t.Helper()
	var f wsFrame
	c.waitFor("a pushed frame", func() bool {
		if c.taken < len(c.pushes) {
			f = c.pushes[c.taken]
			c.taken++
			return true
		}
		return false
	})
	return f
}

// waitPushes waits until n pushes have arrived in all.
func (c *wsClient) waitPushes(n int) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("%d pushed frames", n), func() bool { return len(c.pushes) >= n })
}

// pushCount is the number of pushes received so far.
func (c *wsClient) pushCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pushes)
}

// allPushes returns a copy of every push received so far.
func (c *wsClient) allPushes() []wsFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]wsFrame(nil), c.pushes...)
}

// closed waits for the connection to end and returns the close status the
// server sent, failing the test when it ended without a close frame.
func (c *wsClient) closed() websocket.CloseError {
	c.t.Helper()
	select {
	case <-c.readerEnd:
	case <-time.After(msgPatience):
		c.t.Fatalf("the connection is still open after %s", msgPatience)
	}
	var ce websocket.CloseError
	if !errors.As(c.readErr, &ce) {
		c.t.Fatalf("the connection ended without a close frame: %v", c.readErr)
	}
	return ce
}

// isOpen reports whether the reader still runs.
func (c *wsClient) isOpen() bool {
	select {
	case <-c.readerEnd:
		return false
	default:
		return true
	}
}

// msgEventually polls cond until it holds, failing the test after msgPatience.
func msgEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(msgPatience); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after %s", what, msgPatience)
		}
	}
}

// metric returns the value of one series on /metrics ("" when absent).
func (s *server) metric(series string) string {
	s.t.Helper()
	_, text := s.do("GET", "/metrics", nil)
	v, _ := metricValue(string(text), series)
	return v
}

// queueStats is queue.stats's payload.
type qstats struct {
	Queue                string `json:"queue"`
	Depth                int64  `json:"depth"`
	Consumers            int64  `json:"consumers"`
	PublishedTotal       int64  `json:"published_total"`
	ConsumedTotal        int64  `json:"consumed_total"`
	AckedTotal           int64  `json:"acked_total"`
	NackedTotal          int64  `json:"nacked_total"`
	OldestMessageAgeSecs int64  `json:"oldest_message_age_secs"`
	InFlight             int64  `json:"in_flight"`
	DeadLettered         int64  `json:"dead_lettered"`
}

func (s *server) queueStats(queue string) qstats {
	s.t.Helper()
	var st qstats
	s.ok("queue.stats", map[string]any{"queue": queue}, &st)
	return st
}

// queueMsg is queue.consume's payload: a message, or message null.
type queueMsg struct {
	MessageID  string            `json:"message_id"`
	Message    json.RawMessage   `json:"message"`
	Priority   int               `json:"priority"`
	RetryCount int               `json:"retry_count"`
	Headers    map[string]string `json:"headers"`
}

// none reports a consume that found no message.
func (m queueMsg) none() bool { return m.MessageID == "" && string(m.Message) == "null" }

func (s *server) consume(payload map[string]any) queueMsg {
	s.t.Helper()
	var m queueMsg
	if _, ok := payload["consumer_id"]; !ok {
		s.ok("queue.consume", payload, &m)
		return m
	}
	// With a consumer_id the reply takes the original's shape,
	// {message: {id, payload, ...}} or {message: null}.
	var r struct {
		Message *struct {
			ID         string            `json:"id"`
			Payload    json.RawMessage   `json:"payload"`
			Priority   int               `json:"priority"`
			RetryCount int               `json:"retry_count"`
			Headers    map[string]string `json:"headers"`
		} `json:"message"`
	}
	s.ok("queue.consume", payload, &r)
	if r.Message == nil {
		return queueMsg{Message: json.RawMessage("null")}
	}
	return queueMsg{MessageID: r.Message.ID, Message: r.Message.Payload, Priority: r.Message.Priority,
		RetryCount: r.Message.RetryCount, Headers: r.Message.Headers}
}

// tryCommand posts one command from any goroutine: it never fails the test.
func tryCommand(client *http.Client, base, name string, payload any) (int, reply, error) {
	body, _ := json.Marshal(map[string]any{"command": name, "payload": payload})
	resp, err := client.Post(base+"/api/v1/command", "application/json", bytesReader(body))
	if err != nil {
		return 0, reply{}, err
	}
	defer resp.Body.Close()
	var r reply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return resp.StatusCode, r, err
	}
	return resp.StatusCode, r, nil
}

// awaitPush waits until until for a push that matches, or for the
// connection to end. It reports which, and neither on timeout; it never
// fails the test.
func (c *wsClient) awaitPush(match func(wsFrame) bool, until time.Time) (got, closed bool) {
	deadline := time.NewTimer(time.Until(until))
	defer deadline.Stop()
	for {
		c.mu.Lock()
		found := slices.ContainsFunc(c.pushes, match)
		err, ch := c.readErr, c.changed
		c.mu.Unlock()
		switch {
		case found:
			return true, false
		case err != nil:
			return false, true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false, false
		}
	}
}
