package ssp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"

	"github.com/troupe-run/troupe/gateway/internal/doortest"
	"github.com/troupe-run/troupe/messages"
)

// startWS serves ts on a real listener and returns its WebSocket URL.
func startWS(t *testing.T, ts *testServer) string {
	hs := httptest.NewServer(ts)
	t.Cleanup(hs.Close)
	return "ws" + strings.TrimPrefix(hs.URL, "http") + wsPath
}

// dial connects with the secret.
func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), doortest.Wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + secret}}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(8 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// expect reads the next frames and checks them, exactly.
func expect(t *testing.T, c *websocket.Conn, frames ...string) {
	t.Helper()
	for _, want := range frames {
		if got := doortest.Recv(t, c); got != want {
			t.Fatalf("got frame\n  %s\nwant\n  %s", got, want)
		}
	}
}

// initial is the frame of a view's initial result, as the fake sends it.
func initial(view, additions string) string {
	return `{"type":"delta","view_id":"` + view + `","hash":"h0","generation":0,"initial":true,"additions":[` +
		additions + `],"removals":[],"updates":[],"order":[]}`
}

const pong = `{"type":"pong"}`

func TestWSSubscribeInitialThenDeltasInOrder(t *testing.T) {
	ts := newTestServer(t, withSecret())
	ts.views.results["v1"] = []*messages.ViewRecord{{Id: "user:1", Version: 1, Record: []byte(`{"n":1}`)}}
	c := dial(t, startWS(t, ts))

	doortest.Send(t, c, `{"type":"subscribe","ids":["v1","nope","v1"]}`)
	expect(t, c, `{"type":"subscribed","ids":["v1"],"unknown":["nope"]}`,
		initial("v1", `{"id":"user:1","version":1,"record":{"n":1}}`))
	for i := 1; i <= 50; i++ {
		ts.views.emit(&messages.ViewDelta{ViewId: "v1", Hash: fmt.Sprint("h", i), Generation: uint64(i),
			Additions: []*messages.ViewRecord{{Id: fmt.Sprint("user:", i+1), Version: 1, Record: []byte(`{}`)}},
			Removals:  []*messages.ViewRecord{{Id: fmt.Sprint("user:", i), Version: 1}},
			Updates:   []*messages.ViewRecord{{Id: "user:0", Version: int64(i + 1), Record: []byte(`{"v":2}`)}},
			Order:     []*messages.ViewPosition{{Id: fmt.Sprint("user:", i+1), Index: 0}}})
	}
	for i := 1; i <= 50; i++ {
		expect(t, c, fmt.Sprintf(`{"type":"delta","view_id":"v1","hash":"h%d","generation":%d,"initial":false,`+
			`"additions":[{"id":"user:%d","version":1,"record":{}}],"removals":[{"id":"user:%d","version":1}],`+
			`"updates":[{"id":"user:0","version":%d,"record":{"v":2}}],"order":[{"id":"user:%d","index":0}]}`,
			i, i, i+1, i, i+1, i+1))
	}
	calls := ts.views.callList()
	if len(calls) != 1 || calls[0].method != "subscribe" || fmt.Sprint(calls[0].arg) != "[v1 nope]" {
		t.Errorf("the views got %v", calls)
	}
}

// TestWSHoldsDeltasDuringSubscribe: a delta of a view subscribed to
// earlier that comes while a subscribe runs is written after the
// subscribe's answer, and in its order with the initial result.
func TestWSHoldsDeltasDuringSubscribe(t *testing.T) {
	ts := newTestServer(t, withSecret())
	ts.views.results["v1"] = nil
	ts.views.results["v2"] = nil
	c := dial(t, startWS(t, ts))
	doortest.Send(t, c, `{"type":"subscribe","ids":["v1"]}`)
	expect(t, c, `{"type":"subscribed","ids":["v1"],"unknown":[]}`, initial("v1", ""))

	ts.views.onSubcall = func(*actor.PID) { ts.views.emit(&messages.ViewDelta{ViewId: "v1", Hash: "during"}) }
	doortest.Send(t, c, `{"type":"subscribe","ids":["v2"]}`)
	expect(t, c, `{"type":"subscribed","ids":["v2"],"unknown":[]}`,
		`{"type":"delta","view_id":"v1","hash":"during","generation":0,"initial":false,"additions":[],"removals":[],"updates":[],"order":[]}`,
		initial("v2", ""))
}

// TestWSDropsDeltasBeforeTheInitialResult: a delta that reaches the
// session before the view's initial result is stale, and dropped.
func TestWSDropsDeltasBeforeTheInitialResult(t *testing.T) {
	ts := newTestServer(t, withSecret())
	ts.views.results["v1"] = nil
	ts.views.onSubcall = func(sub *actor.PID) {
		ts.sessions.Send(sub, &messages.ViewDelta{ViewId: "v1", Hash: "stale"})
	}
	c := dial(t, startWS(t, ts))
	doortest.Send(t, c, `{"type":"subscribe","ids":["v1"]}`)
	doortest.Send(t, c, `{"type":"ping"}`)
	expect(t, c, `{"type":"subscribed","ids":["v1"],"unknown":[]}`, initial("v1", ""), pong)
}

// Subscribing again asks the views again: the view sends its result again,
// and a view unregistered meanwhile is reported unknown.
func TestWSResubscribeAsksAgain(t *testing.T) {
	ts := newTestServer(t, withSecret())
	ts.views.results["v1"] = nil
	c := dial(t, startWS(t, ts))
	doortest.Send(t, c, `{"type":"subscribe","ids":["v1"]}`)
	expect(t, c, `{"type":"subscribed","ids":["v1"],"unknown":[]}`, initial("v1", ""))
	doortest.Send(t, c, `{"type":"subscribe","ids":["v1"]}`)
	expect(t, c, `{"type":"subscribed","ids":["v1"],"unknown":[]}`, initial("v1", ""))
	ts.views.emit(&messages.ViewDelta{ViewId: "v1", Hash: "h1", Generation: 1})
	expect(t, c, `{"type":"delta","view_id":"v1","hash":"h1","generation":1,"initial":false,"additions":[],"removals":[],"updates":[],"order":[]}`)
	if n := len(ts.views.callList()); n != 2 {
		t.Errorf("the views were asked %d times, want twice", n)
	}
	ts.views.mu.Lock()
	delete(ts.views.results, "v1")
	ts.views.mu.Unlock()
	doortest.Send(t, c, `{"type":"subscribe","ids":["v1"]}`)
	expect(t, c, `{"type":"subscribed","ids":[],"unknown":["v1"]}`)
}

func TestWSUnsubscribe(t *testing.T) {
	ts := newTestServer(t, withSecret())
	ts.views.results["v1"] = nil
	ts.views.results["v2"] = nil
	c := dial(t, startWS(t, ts))
	doortest.Send(t, c, `{"type":"subscribe","ids":["v1","v2"]}`)
	expect(t, c, `{"type":"subscribed","ids":["v1","v2"],"unknown":[]}`, initial("v1", ""), initial("v2", ""))

	doortest.Send(t, c, `{"action":"unsubscribe","ids":["v1"]}`)
	expect(t, c, `{"type":"unsubscribed","ids":["v1"]}`)
	if got := <-ts.views.unsubs; fmt.Sprint(got) != "[v1]" {
		t.Errorf("unsubscribed from %v", got)
	}
	// A delta of v1 still on its way is dropped: the pong comes next.
	ts.sessions.Send(ts.views.subscriber(), &messages.ViewDelta{ViewId: "v1", Hash: "late"})
	doortest.Send(t, c, `{"type":"ping"}`)
	expect(t, c, pong)
	// v2 still streams.
	ts.views.emit(&messages.ViewDelta{ViewId: "v2", Hash: "h1"})
	expect(t, c, `{"type":"delta","view_id":"v2","hash":"h1","generation":0,"initial":false,"additions":[],"removals":[],"updates":[],"order":[]}`)
}

func TestWSCloseUnsubscribes(t *testing.T) {
	ts := newTestServer(t, withSecret())
	ts.views.results["v1"] = nil
	ts.views.results["v2"] = nil
	c := dial(t, startWS(t, ts))
	doortest.Send(t, c, `{"type":"subscribe","ids":["v2","v1","nope"]}`)
	expect(t, c, `{"type":"subscribed","ids":["v2","v1"],"unknown":["nope"]}`, initial("v2", ""), initial("v1", ""))
	c.Close(websocket.StatusNormalClosure, "bye")
	select {
	case got := <-ts.views.unsubs:
		if fmt.Sprint(got) != "[v1 v2]" {
			t.Errorf("unsubscribed from %v, want [v1 v2]", got)
		}
	case <-time.After(doortest.Wait):
		t.Fatal("closing the connection did not unsubscribe")
	}
}

func TestWSFrameErrors(t *testing.T) {
	ts := newTestServer(t, withSecret())
	c := dial(t, startWS(t, ts))
	tests := []struct{ frame, reply string }{
		{`{"type":"ping"}`, pong},
		{`{"action":"PING"}`, pong},
		{`nonsense`, `{"type":"error","message":"the frame is not valid JSON: invalid character 'o' in literal null (expecting 'u')"}`},
		{`[]`, `{"type":"error","message":"the frame must be a JSON object, not array"}`},
		{`{}`, `{"type":"error","message":"missing field 'type': subscribe, unsubscribe or ping"}`},
		{`{"type":"Dance"}`, `{"type":"error","message":"unknown type \"Dance\": use subscribe, unsubscribe or ping"}`},
		{`{"type":"subscribe"}`, `{"type":"error","message":"subscribe: 'ids' must list at least one view id"}`},
		{`{"type":"unsubscribe","ids":["a",""]}`, `{"type":"error","message":"unsubscribe: 'ids' holds an empty id"}`},
		{`{"type":"subscribe","ids":"v1"}`, `{"type":"error","message":"'ids' must be an array, not string"}`},
	}
	for _, tc := range tests {
		doortest.Send(t, c, tc.frame)
		expect(t, c, tc.reply)
	}
	if calls := ts.views.callList(); len(calls) != 0 {
		t.Errorf("bad frames reached the views: %v", calls)
	}
}

// TestWSSubscribeFails: a failed subscribe is undone, and may be retried.
func TestWSSubscribeFails(t *testing.T) {
	ts := newTestServer(t, withSecret())
	ts.views.results["v1"] = nil
	c := dial(t, startWS(t, ts))
	ts.views.fail(errors.New("engine stopped"))
	doortest.Send(t, c, `{"type":"subscribe","ids":["v1"]}`)
	expect(t, c, `{"type":"error","message":"subscribe: the views service cannot answer: engine stopped"}`)
	if got := <-ts.views.unsubs; fmt.Sprint(got) != "[v1]" {
		t.Errorf("undid %v", got)
	}
	ts.views.fail(nil)
	doortest.Send(t, c, `{"type":"subscribe","ids":["v1"]}`)
	expect(t, c, `{"type":"subscribed","ids":["v1"],"unknown":[]}`, initial("v1", ""))
}

func TestWSHandshake(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		setup  func(*fakeViews)
		query  string
		header http.Header
		status int
	}{
		{"secret", withSecret(), nil, "", http.Header{"Authorization": {"Bearer " + secret}}, 101},
		{"token in the query", withSecret(), nil, "?access_token=" + secret, nil, 101},
		{"no token", withSecret(), nil, "", nil, 401},
		{"wrong token in the query", withSecret(), nil, "?access_token=nope", nil, 401},
		{"no secret, any bearer", Config{}, nil, "", http.Header{"Authorization": {"Bearer x"}}, 101},
		{"not ready", withSecret(), func(f *fakeViews) { f.ready.Store(false) }, "",
			http.Header{"Authorization": {"Bearer " + secret}}, 503},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, tc.cfg)
			if tc.setup != nil {
				tc.setup(ts.views)
			}
			ctx, cancel := context.WithTimeout(context.Background(), doortest.Wait)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, startWS(t, ts)+tc.query, &websocket.DialOptions{HTTPHeader: tc.header})
			if c != nil {
				defer c.CloseNow()
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("dial: %v, %v; want status %d", resp, err, tc.status)
			}
		})
	}
}

func TestWSMaxSessions(t *testing.T) {
	ts := newTestServer(t, Config{Secret: secret, MaxSessions: 1})
	url := startWS(t, ts)
	dial(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), doortest.Wait)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + secret}}})
	if resp == nil || resp.StatusCode != 503 {
		t.Fatalf("a second session past the limit: %v, %v", resp, err)
	}
}

func TestWSDrainCloses(t *testing.T) {
	ts := newTestServer(t, withSecret())
	c := dial(t, startWS(t, ts))
	doortest.Send(t, c, `{"type":"ping"}`)
	expect(t, c, pong)
	ts.Drain()
	if ce := doortest.CloseStatus(t, c); ce.Code != websocket.StatusGoingAway || ce.Reason != "the server is shutting down" {
		t.Errorf("closed with %v", ce)
	}
}

// TestWSSlowClientClosed: two clients subscribe to a view; the test sends
// each delta once the fast one has read the one before, while the slow one
// reads nothing. Once TCP and the slow one's queue are full it is closed
// with 1008, and the fast one goes on.
func TestWSSlowClientClosed(t *testing.T) {
	ts := newTestServer(t, Config{Secret: secret, WSBuffer: 4})
	ts.views.results["v1"] = nil
	url := startWS(t, ts)
	fast, slow := dial(t, url), dial(t, url)
	for _, c := range []*websocket.Conn{fast, slow} {
		doortest.Send(t, c, `{"type":"subscribe","ids":["v1"]}`)
		expect(t, c, `{"type":"subscribed","ids":["v1"],"unknown":[]}`, initial("v1", ""))
	}
	big := []byte(`{"x":"` + strings.Repeat("x", 64<<10) + `"}`)
	var gen uint64
	next := func() {
		gen++
		ts.views.emit(&messages.ViewDelta{ViewId: "v1", Generation: gen,
			Updates: []*messages.ViewRecord{{Id: "t:1", Version: int64(gen), Record: big}}})
		var d struct{ Generation uint64 }
		if err := json.Unmarshal([]byte(doortest.Recv(t, fast)), &d); err != nil || d.Generation != gen {
			t.Fatalf("the fast client got generation %d (%v), want %d", d.Generation, err, gen)
		}
	}
	// 64 KiB a delta: 4096 of them are 256 MiB, far past any socket buffer.
	for ts.metrics.Dropped() == 0 && gen < 4096 {
		next()
	}
	if ts.metrics.Dropped() != 1 {
		t.Fatalf("after %d deltas, %d clients dropped; want the slow one", gen, ts.metrics.Dropped())
	}
	next()
	ce := doortest.CloseStatus(t, slow)
	if ce.Code != websocket.StatusPolicyViolation || !strings.HasPrefix(ce.Reason, "subscriber too slow: 4 messages") {
		t.Errorf("the slow client was closed with %v", ce)
	}
	next()
}
