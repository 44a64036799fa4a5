package skip

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/troupe-run/troupe/gateway/internal/doortest"
)

func TestPatchAndSnapshot(t *testing.T) {
	td := newTestDoor(t, Config{})
	want(t, td.call("PATCH", "/v1/inputs/in", `[["b",[2, 3]],["a",[{"x" : 1}]]]`, "Content-Type", "application/json"), 200, "OK")
	rec := td.call("POST", "/v1/snapshot/echo", `{}`, "Content-Type", "application/json")
	want(t, rec, 200, `[["a",[{"x":1}]],["b",[2,3]]]`)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("snapshot Content-Type %q", ct)
	}
	// An empty body is {} (as Skip's server takes it), and so is no
	// Content-Type.
	want(t, td.call("POST", "/v1/snapshot/echo", ``), 200, `[["a",[{"x":1}]],["b",[2,3]]]`)
	// Deleting a key: it is gone from the snapshot.
	want(t, td.call("PATCH", "/v1/inputs/in", `[["a",[]]]`), 200, "OK")
	want(t, td.call("POST", "/v1/snapshot/echo", `{}`), 200, `[["b",[2,3]]]`)
	if o := td.metrics.Last(); o != (doortest.Observation{Door: "skip", Command: "snapshot", Status: 200}) {
		t.Errorf("last observation %+v", o)
	}
}

func TestPatchBadBodies(t *testing.T) {
	td := newTestDoor(t, Config{MaxBody: 64})
	for _, c := range []struct{ body, says string }{
		{``, "the body is empty"},
		{`{"a":1}`, "must be an array of [key, [values...]] entries"},
		{`[["a",[1]`, "the body is not JSON"},
		{`[["a",[1]],["b"]]`, "entry 1 must be [key, [values...]]"},
		{`[["a",[1]],"b"]`, "entry 1 must be [key, [values...]]"},
		{`[["a",1]]`, `entry 0: the values of key "a" must be an array, got 1`},
		{`[["a",null]]`, `entry 0: the values of key "a" must be an array, got null`},
	} {
		wantError(t, td.call("PATCH", "/v1/inputs/in", c.body), 400, c.says)
	}
	wantError(t, td.call("PATCH", "/v1/inputs/in", `[["a",["`+strings.Repeat("x", 100)+`"]]]`), 413, "larger than the limit of 64 bytes")
	wantError(t, td.call("PATCH", "/v1/inputs/in", `[]`, "Content-Type", "text/plain"), 415, "must be application/json")
	wantError(t, td.call("PATCH", "/v1/inputs/nope", `[]`), 404, `unknown input collection "nope"`)
	wantError(t, td.call("PATCH", "/v1/inputs/in", `[["a",["throw"]]]`), 422, "mapper Echo threw")
	want(t, td.call("POST", "/v1/snapshot/echo", `{}`), 200, `[]`)
}

func TestSnapshotAndLookupErrors(t *testing.T) {
	td := newTestDoor(t, Config{})
	want(t, td.call("PATCH", "/v1/inputs/in", `[[1,["one"]]]`), 200, "OK")
	wantError(t, td.call("POST", "/v1/snapshot/nope", `{}`), 404, `unknown resource "nope"`)
	wantError(t, td.call("POST", "/v1/snapshot/echo", `[1`), 400, "the body is not JSON")
	wantError(t, td.call("POST", "/v1/snapshot/echo", `5`), 400, "params must be an object")

	want(t, td.call("POST", "/v1/snapshot/echo/lookup", `{"key":1,"params":{}}`), 200, `["one"]`)
	want(t, td.call("POST", "/v1/snapshot/echo/lookup", `{"key":2,"params":{}}`), 200, `[]`)
	wantError(t, td.call("POST", "/v1/snapshot/echo/lookup", `{"params":{}}`), 400, `no "key" field`)
	wantError(t, td.call("POST", "/v1/snapshot/echo/lookup", `{"key":1}`), 400, `no "params" field`)
	wantError(t, td.call("POST", "/v1/snapshot/echo/lookup", `[1]`), 400, `must be an object {"key": ..., "params": ...}`)
	wantError(t, td.call("POST", "/v1/snapshot/echo/lookup", ``), 400, `must be an object`)
	wantError(t, td.call("POST", "/v1/snapshot/nope/lookup", `{"key":1,"params":{}}`), 404, `unknown resource`)
	wantError(t, td.call("GET", "/v1/nothing", ``), 404, `no route GET /v1/nothing`)
}

func TestStreamCreateDelete(t *testing.T) {
	td := newTestDoor(t, Config{})
	rec := td.call("POST", "/v1/streams/echo", `{}`, "Content-Type", "application/json")
	want(t, rec, 201, "uuid-1")
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("stream creation answered Content-Type %q", ct)
	}
	wantError(t, td.call("POST", "/v1/streams/nope", `{}`), 404, "unknown resource")
	want(t, td.call("DELETE", "/v1/streams/uuid-1", ``), 200, "OK")
	wantError(t, td.call("DELETE", "/v1/streams/uuid-1", ``), 404, "unknown stream")

	prefixed := newTestDoor(t, Config{ResourcePrefix: "/skip/streams"})
	want(t, prefixed.call("POST", "/v1/streams/echo", `{}`), 201, "/skip/streams/uuid-1")
}

func TestHealth(t *testing.T) {
	td := newTestDoor(t, Config{})
	want(t, td.call("GET", "/v1/healthcheck", ``), 200, "OK")
	want(t, td.call("GET", "/healthz", ``), 200, "OK")
	rec := httptest.NewRecorder()
	td.Streaming().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	want(t, rec, 200, "OK")
}

func TestProtectedMode(t *testing.T) {
	for _, insecure := range []bool{false, true} {
		td := newTestDoor(t, Config{Insecure: insecure})
		req := httptest.NewRequest("POST", "/v1/snapshot/echo", strings.NewReader(`{}`))
		req.RemoteAddr = "192.0.2.7:5000"
		rec := httptest.NewRecorder()
		td.Control().ServeHTTP(rec, req)
		if insecure {
			want(t, rec, 200, "[]")
		} else {
			wantError(t, rec, 403, "loopback clients only")
		}
	}
}

// sse is a stream client over a real connection.
type sse struct {
	t    *testing.T
	resp *http.Response
	rd   *bufio.Reader
}

// openStream GETs the stream of uuid from srv with the Accept header
// given (none when empty).
func openStream(t *testing.T, srv *httptest.Server, uuid, accept string) (*http.Response, *sse) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/streams/"+uuid, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, &sse{t: t, resp: resp, rd: bufio.NewReader(resp.Body)}
}

// event reads the next event, whole, as its text; io.EOF at the end of the
// stream. It fails the test past doortest.Wait.
func (s *sse) event() (string, error) {
	s.t.Helper()
	type res struct {
		ev  string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		var b strings.Builder
		for {
			line, err := s.rd.ReadString('\n')
			if err != nil {
				ch <- res{b.String(), err}
				return
			}
			b.WriteString(line)
			if line == "\n" {
				ch <- res{b.String(), nil}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		return r.ev, r.err
	case <-time.After(doortest.Wait):
		s.t.Fatal("no event in time")
		return "", nil
	}
}

func (s *sse) want(ev string) {
	s.t.Helper()
	got, err := s.event()
	if err != nil || got != ev {
		s.t.Fatalf("event %q, %v; want %q", got, err, ev)
	}
}

func TestStreamEvents(t *testing.T) {
	td := newTestDoor(t, Config{Heartbeat: -1})
	srv := td.streamServer(t)
	want(t, td.call("PATCH", "/v1/inputs/in", `[["a",[1]]]`), 200, "OK")
	want(t, td.call("POST", "/v1/streams/echo", `{}`), 201, "uuid-1")

	// An Accept that does not allow event streams: 406; unknown uuid: 404.
	if resp, _ := openStream(t, srv, "uuid-1", "application/json"); resp.StatusCode != 406 {
		t.Errorf("Accept: application/json answered %d", resp.StatusCode)
	}
	if resp, _ := openStream(t, srv, "uuid-1", "text/event-stream;q=0, application/json"); resp.StatusCode != 406 {
		t.Errorf("Accept with q=0 answered %d", resp.StatusCode)
	}
	if resp, _ := openStream(t, srv, "nope", "text/event-stream"); resp.StatusCode != 404 {
		t.Errorf("unknown uuid answered %d", resp.StatusCode)
	}

	// No Accept at all is fine.
	resp, s := openStream(t, srv, "uuid-1", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream answered %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s.want("event: init\nid: run/1\ndata: [[\"a\",[1]]]\n\n")
	if resp2, _ := openStream(t, srv, "uuid-1", "text/event-stream"); resp2.StatusCode != 409 {
		t.Errorf("a second subscriber answered %d", resp2.StatusCode)
	}
	want(t, td.call("PATCH", "/v1/inputs/in", `[["b",[true,"x"]],["a",[]]]`), 200, "OK")
	s.want("event: update\nid: run/2\ndata: [[\"b\",[true,\"x\"]],[\"a\",[]]]\n\n")

	// DELETE ends the stream.
	want(t, td.call("DELETE", "/v1/streams/uuid-1", ``), 200, "OK")
	if ev, err := s.event(); err != io.EOF {
		t.Errorf("after DELETE: %q, %v", ev, err)
	}
}

func TestStreamClientGoneDetaches(t *testing.T) {
	td := newTestDoor(t, Config{Heartbeat: -1})
	srv := td.streamServer(t)
	want(t, td.call("POST", "/v1/streams/echo", `{}`), 201, "uuid-1")
	resp, s := openStream(t, srv, "uuid-1", "text/event-stream")
	s.want("event: init\nid: run/0\ndata: []\n\n")
	resp.Body.Close()
	waitFor(t, "the sink to be detached", func() bool { return !td.svc.subscribed("uuid-1") })
	// The uuid lives on: a new client may subscribe.
	_, s = openStream(t, srv, "uuid-1", "text/event-stream")
	s.want("event: init\nid: run/0\ndata: []\n\n")
}

func TestHeartbeat(t *testing.T) {
	td := newTestDoor(t, Config{Heartbeat: 20 * time.Millisecond})
	srv := td.streamServer(t)
	want(t, td.call("POST", "/v1/streams/echo", `{}`), 201, "uuid-1")
	_, s := openStream(t, srv, "uuid-1", "text/event-stream")
	s.want("event: init\nid: run/0\ndata: []\n\n")
	s.want("event: update\ndata: []\n\n")
	s.want("event: update\ndata: []\n\n")
}

func TestSlowClientDropped(t *testing.T) {
	td := newTestDoor(t, Config{Heartbeat: -1, SSEBuffer: 4})
	srv := td.streamServer(t)
	want(t, td.call("POST", "/v1/streams/echo", `{}`), 201, "uuid-1")
	// A client that reads nothing after the headers.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /v1/streams/uuid-1 HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
	waitFor(t, "the subscription", func() bool { return td.svc.subscribed("uuid-1") })
	big := Update{RunID: "run", Tick: 1, Entries: []Entry{{Key: []byte(`"k"`), Values: []json.RawMessage{json.RawMessage(`"` + strings.Repeat("x", 64<<10) + `"`)}}}}
	refused := false
	// The socket's buffers take a few megabytes; then the writer blocks,
	// and the updates pile up past the buffer.
	for i := 0; i < 100_000 && !refused; i++ {
		refused = !td.svc.push("uuid-1", big)
	}
	if !refused {
		t.Fatal("a client that reads nothing was never refused an update")
	}
	waitFor(t, "the drop to be counted", func() bool { return td.metrics.Dropped() == 1 })
	// Its connection is closed: reading it through ends.
	conn.SetReadDeadline(time.Now().Add(doortest.Wait))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Errorf("the slow client's connection: %v", err)
	}
}

// TestSlowClientDroppedByBytes: a client that reads nothing is dropped
// once the bytes of the events waiting for it pass SSEBufferBytes, long
// before their number reaches SSEBuffer.
func TestSlowClientDroppedByBytes(t *testing.T) {
	td := newTestDoor(t, Config{Heartbeat: -1, SSEBuffer: 100_000, SSEBufferBytes: 1 << 20})
	srv := td.streamServer(t)
	want(t, td.call("POST", "/v1/streams/echo", `{}`), 201, "uuid-1")
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /v1/streams/uuid-1 HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
	waitFor(t, "the subscription", func() bool { return td.svc.subscribed("uuid-1") })
	big := Update{RunID: "run", Tick: 1, Entries: []Entry{{Key: []byte(`"k"`), Values: []json.RawMessage{json.RawMessage(`"` + strings.Repeat("x", 64<<10) + `"`)}}}}
	// 4096 events of 64 KiB are 256 MiB: past the socket's buffers and
	// the bytes bound, and far within the count bound.
	for i := 0; i < 4096 && td.svc.push("uuid-1", big); i++ {
	}
	waitFor(t, "the drop to be counted", func() bool { return td.metrics.Dropped() == 1 })
	conn.SetReadDeadline(time.Now().Add(doortest.Wait))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Errorf("the slow client's connection: %v", err)
	}
}

func TestDrain(t *testing.T) {
	td := newTestDoor(t, Config{Heartbeat: -1})
	srv := td.streamServer(t)
	want(t, td.call("POST", "/v1/streams/echo", `{}`), 201, "uuid-1")
	_, s := openStream(t, srv, "uuid-1", "text/event-stream")
	s.want("event: init\nid: run/0\ndata: []\n\n")
	td.Drain()
	if ev, err := s.event(); err != io.EOF {
		t.Errorf("after Drain: %q, %v", ev, err)
	}
	wantError(t, td.call("PATCH", "/v1/inputs/in", `[]`), 503, "shutting down")
	want(t, td.call("GET", "/healthz", ``), 200, "OK")
}

func TestMaxSessions(t *testing.T) {
	td := newTestDoor(t, Config{Heartbeat: -1, MaxSessions: 1})
	srv := td.streamServer(t)
	want(t, td.call("POST", "/v1/streams/echo", `{}`), 201, "uuid-1")
	want(t, td.call("POST", "/v1/streams/echo", `{}`), 201, "uuid-2")
	_, s := openStream(t, srv, "uuid-1", "text/event-stream")
	s.want("event: init\nid: run/0\ndata: []\n\n")
	if resp, _ := openStream(t, srv, "uuid-2", "text/event-stream"); resp.StatusCode != 503 {
		t.Errorf("a stream past the limit answered %d", resp.StatusCode)
	}
}

func TestAcceptsEventStream(t *testing.T) {
	for accept, ok := range map[string]bool{
		"text/event-stream":                   true,
		"*/*":                                 true,
		"text/*;q=0.5":                        true,
		"application/json, text/event-stream": true,
		"application/json":                    false,
		"text/event-stream;q=0":               false,
		"text/html":                           false,
	} {
		if got := acceptsEventStream([]string{accept}); got != ok {
			t.Errorf("Accept %q: %v", accept, got)
		}
	}
	if !acceptsEventStream(nil) {
		t.Error("no Accept header was refused")
	}
}

// streamServer serves the streaming door on a real listener. The door is
// drained before the server closes: Close waits for the streams to end.
func (td *testDoor) streamServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(td.Streaming())
	t.Cleanup(srv.Close)
	t.Cleanup(td.Drain)
	return srv
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(doortest.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited in vain for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNoCORS: runService's no_cors opens the streaming API to pages of any
// origin, preflights included, as Skip's server; without it no CORS header
// is sent.
func TestNoCORS(t *testing.T) {
	serve := func(td *testDoor, method, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		req.RemoteAddr = "127.0.0.1:40000"
		rec := httptest.NewRecorder()
		td.Streaming().ServeHTTP(rec, req)
		return rec
	}
	open := newTestDoor(t, Config{NoCORS: true})
	rec := serve(open, "OPTIONS", "/v1/streams")
	if rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Origin") != "*" || rec.Body.Len() != 0 {
		t.Fatalf("preflight: %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
	rec = serve(open, "GET", "/v1/streams/nope")
	h := rec.Header()
	if rec.Code != 404 || h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Access-Control-Allow-Credentials") != "true" ||
		h.Get("Access-Control-Allow-Methods") != "GET,OPTIONS" {
		t.Fatalf("GET: %d %v", rec.Code, h)
	}
	closed := newTestDoor(t, Config{})
	if rec := serve(closed, "GET", "/v1/streams/nope"); rec.Code != 404 || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("without no_cors: %d %v", rec.Code, rec.Header())
	}
}
