package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestViewsWSProtocol: subscribe answers "subscribed" with the unknown ids
// apart, then the current result of each view; ping, unsubscribe and bad
// frames are answered in order.
func TestViewsWSProtocol(t *testing.T) {
	s := startViewsServer(t, nil)
	api := newViewsAPI(t, s, "any-token") // no secret: any bearer token
	api.ingest("user", "CREATE", "user:1", map[string]any{"name": "ann", "age": 31})
	api.ingest("user", "CREATE", "user:2", map[string]any{"name": "bob", "age": 17})
	a := api.register("query:a", "SELECT * FROM user WHERE age >= 18", nil)
	b := api.register("query:b", "SELECT name FROM user ORDER BY name DESC", nil)

	c := dialViews(t, s, api.auth)
	c.subscribe([]string{"query:a", "nope:1", "query:b", "nope:2"}, "nope:1", "nope:2")
	for _, r := range []viewsResult{a, b} {
		rep := c.replica(r.ID)
		if rep.hash != r.Hash || rep.generation != r.Generation || !sameViewRows(rep.rows, r.Records) || rep.initials != 1 {
			t.Fatalf("initial result of %s: %+v, want the registered %+v", r.ID, rep, r)
		}
	}
	// Only unknown ids: nothing subscribed.
	c.send(map[string]any{"type": "subscribe", "ids": []string{"ghost"}})
	if f := c.next(); f.Type != "subscribed" || len(f.IDs) != 0 || !slices.Equal(f.Unknown, []string{"ghost"}) {
		t.Fatalf("subscribe to an unknown view: %s", f.raw)
	}
	// Subscribing again sends the current result again.
	c.send(map[string]any{"type": "subscribe", "ids": []string{"query:a"}})
	if f := c.next(); f.Type != "subscribed" || !slices.Equal(f.IDs, []string{"query:a"}) {
		t.Fatalf("second subscribe: %s", f.raw)
	}
	c.send(map[string]any{"type": "ping"})
	if f := c.next(); f.Type != "pong" {
		t.Fatalf("ping: %s", f.raw)
	}
	c.send(map[string]any{"action": "ping"})
	if f := c.next(); f.Type != "pong" {
		t.Fatalf("ping as action: %s", f.raw)
	}
	for _, bad := range []struct {
		frame any
		want  string
	}{
		{"not json", "JSON"},
		{map[string]any{"ids": []string{"query:a"}}, "type"},
		{map[string]any{"type": "dance"}, "dance"},
		{map[string]any{"type": "subscribe"}, "ids"},
		{map[string]any{"type": "subscribe", "ids": []string{""}}, "empty"},
		{map[string]any{"type": "subscribe", "ids": "query:a"}, "ids"},
	} {
		if str, ok := bad.frame.(string); ok {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c.conn.Write(ctx, websocket.MessageText, []byte(str))
			cancel()
		} else {
			c.send(bad.frame)
		}
		if f := c.next(); f.Type != "error" || !strings.Contains(strings.ToLower(f.Message), strings.ToLower(bad.want)) {
			t.Fatalf("bad frame %v: %s, want an error naming %q", bad.frame, f.raw, bad.want)
		}
	}
	// The connection survived the bad frames: deltas still come.
	api.ingest("user", "UPDATE", "user:2", map[string]any{"name": "bob", "age": 18, "_00_rv": 2})
	c.converge(api, "query:a")
	c.converge(api, "query:b")
	if h := c.replica("query:a").history; len(h) != 1 || !slices.Equal(h[0], []string{"user:1@1", "user:2@2"}) {
		t.Fatalf("query:a deltas: %v", h)
	}

	// Unsubscribe, then subscribe again: a fresh initial result.
	c.send(map[string]any{"type": "unsubscribe", "ids": []string{"query:a"}})
	if f := c.next(); f.Type != "unsubscribed" || !slices.Equal(f.IDs, []string{"query:a"}) {
		t.Fatalf("unsubscribe: %s", f.raw)
	}
	api.ingest("user", "DELETE", "user:1", nil)
	c.converge(api, "query:b")
	c.subscribe([]string{"query:a"})
	if rep := c.replica("query:a"); rep.initials != 3 || !slices.Equal(viewKeys(rep.rows), []string{"user:2@2"}) {
		t.Fatalf("query:a after re-subscribing: %+v", rep)
	}
	c.converge(api, "query:a")

	// A view unregistered while subscribed is reported gone, and is
	// unknown to a later subscribe; registered again, it can be subscribed
	// to again.
	api.mustDo("POST", "/view/unregister", map[string]any{"id": "query:b"})
	if f := c.next(); f.Type != "gone" || !slices.Equal(f.IDs, []string{"query:b"}) {
		t.Fatalf("unregister of a subscribed view: %s, want a gone frame", f.raw)
	}
	c.send(map[string]any{"type": "subscribe", "ids": []string{"query:b"}})
	if f := c.next(); f.Type != "subscribed" || len(f.IDs) != 0 || !slices.Equal(f.Unknown, []string{"query:b"}) {
		t.Errorf("subscribe to a view unregistered meanwhile: %s, want it reported unknown", f.raw)
	}
	b = api.register("query:b", "SELECT name FROM user ORDER BY name DESC", nil)
	c.send(map[string]any{"type": "unsubscribe", "ids": []string{"query:b"}})
	if f := c.next(); f.Type != "unsubscribed" {
		t.Fatalf("unsubscribe: %s", f.raw)
	}
	c.subscribe([]string{"query:b"})
	if rep := c.replica("query:b"); !sameViewRows(rep.rows, b.Records) {
		t.Fatalf("query:b registered again: %+v, want %+v", rep, b)
	}
	c.checkErrs()

	// Two clients of one view see the same deltas.
	c2 := dialViews(t, s, api.auth)
	c2.subscribe([]string{"query:a"})
	for i := 3; i < 8; i++ {
		api.ingest("user", "CREATE", fmt.Sprint("user:", i), map[string]any{"name": fmt.Sprint("u", i), "age": 15 + i})
	}
	c.converge(api, "query:a")
	c2.converge(api, "query:a")
	h1, h2 := c.replica("query:a").history, c2.replica("query:a").history
	if len(h2) != 5 || !slices.EqualFunc(h1[len(h1)-5:], h2, slices.Equal) {
		t.Fatalf("two subscribers saw different deltas:\n%v\n%v", h1, h2)
	}
	c2.checkErrs()

	// A plain GET on the WebSocket route is refused, not a crash.
	if status, _ := api.do("GET", "/view/ws", nil); status < 400 || status >= 500 {
		t.Fatalf("GET /view/ws without upgrade: %d", status)
	}
}

// TestViewsWSDeltasInOrder: after a burst of 200 random ingests the deltas a
// subscriber got are, one for one, the successive results of each view
// (the test's own model): none lost, none repeated, none out of order; and
// replayed they give /debug/view's cache and hash exactly, records and a
// subquery view included.
func TestViewsWSDeltasInOrder(t *testing.T) {
	s := startViewsServer(t, []string{"SPKY_AUTH_SECRET=" + viewsSecret})
	api := newViewsAPI(t, s, viewsSecret)

	type modelView struct {
		id, surql    string
		keep         func(map[string]any) bool
		less         func(a, b map[string]any) int
		start, limit int
	}
	num := func(r map[string]any) int { return r["n"].(int) }
	views := []modelView{
		{id: "burst:filter", surql: "SELECT * FROM item WHERE n >= 50",
			keep: func(r map[string]any) bool { return num(r) >= 50 }, limit: -1},
		{id: "burst:top", surql: "SELECT * FROM item ORDER BY n DESC LIMIT 5",
			keep: func(map[string]any) bool { return true }, less: func(a, b map[string]any) int { return num(b) - num(a) }, limit: 5},
		{id: "burst:window", surql: "SELECT id, n, tag FROM item WHERE tag IN ['a', 'b'] ORDER BY tag ASC, n DESC LIMIT 4 START 2",
			keep: func(r map[string]any) bool { return r["tag"] == "a" || r["tag"] == "b" },
			less: func(a, b map[string]any) int {
				if c := strings.Compare(a["tag"].(string), b["tag"].(string)); c != 0 {
					return c
				}
				return num(b) - num(a)
			}, start: 2, limit: 4},
		{id: "burst:ids", surql: "SELECT * FROM item WHERE tag != 'c' AND n < 70",
			keep: func(r map[string]any) bool { return r["tag"] != "c" && num(r) < 70 }, limit: -1},
	}
	for _, v := range views[:3] {
		api.register(v.id, v.surql, nil)
	}
	api.registerBody(map[string]any{"id": "burst:ids", "surql": views[3].surql, "clientId": "c", "ttl": "1h", "format": "ids"})
	const subq = "burst:owners"
	api.register(subq, "SELECT id, n, (SELECT name FROM owner WHERE id = $parent.owner LIMIT 1)[0] AS owner FROM item WHERE n < 30", nil)

	c := dialViews(t, s, api.auth)
	ids := []string{subq}
	for _, v := range views {
		ids = append(ids, v.id)
	}
	c.subscribe(ids)

	table := map[string]map[string]any{}
	states := make([][][]string, len(views))
	for i, v := range views {
		states[i] = [][]string{viewsModel(table, v.keep, v.less, v.start, v.limit)}
	}
	rng := rand.New(rand.NewPCG(4, 2))
	tags := []string{"a", "b", "c"}
	for step := 0; step < 200; step++ {
		if rng.IntN(7) == 0 {
			k := rng.IntN(4)
			op := []string{"CREATE", "UPDATE"}[rng.IntN(2)]
			api.ingest("owner", op, fmt.Sprint("owner:", k), map[string]any{"name": fmt.Sprintf("o%d-%d", k, step)})
			continue
		}
		id := fmt.Sprintf("item:%02d", rng.IntN(24))
		old, exists := table[id]
		rec := map[string]any{"n": rng.IntN(100), "tag": tags[rng.IntN(3)], "owner": fmt.Sprint("owner:", rng.IntN(5))}
		switch {
		case !exists && rng.IntN(4) == 0:
			// An UPDATE of a record not yet known is a create.
			rec["_00_rv"] = 1
			api.ingest("item", "UPDATE", id, rec)
			table[id] = rec
		case !exists:
			if rng.IntN(2) == 0 {
				rec["_00_rv"] = 1
			}
			api.ingest("item", "CREATE", id, rec)
			table[id] = rec
		case rng.IntN(3) == 0:
			api.ingest("item", "DELETE", id, nil)
			delete(table, id)
		default:
			rec["_00_rv"] = int(viewsModelVersion(old)) + 1
			api.ingest("item", "UPDATE", id, rec)
			table[id] = rec
		}
		for i, v := range views {
			states[i] = viewsAppendState(states[i], viewsModel(table, v.keep, v.less, v.start, v.limit))
		}
	}

	for i, v := range views {
		want := states[i][1:]
		c.waitFor(fmt.Sprintf("%d deltas of %s", len(want), v.id), func() bool {
			return len(c.views[v.id].history) >= len(want)
		})
		got := c.replica(v.id).history
		for k := range want {
			if !slices.Equal(got[k], want[k]) {
				t.Fatalf("%s: delta %d of %d gives %v, want %v\n(the deltas: %v)", v.id, k+1, len(want), got[k], want[k], got)
			}
		}
		d := c.converge(api, v.id)
		if !slices.Equal(viewKeys(d.Cache), states[i][len(states[i])-1]) {
			t.Fatalf("%s: /debug/view %v, model %v", v.id, viewKeys(d.Cache), states[i][len(states[i])-1])
		}
		if got := c.replica(v.id).history; len(got) != len(want) {
			t.Fatalf("%s: %d deltas, want %d", v.id, len(got), len(want))
		}
		t.Logf("%s: %d deltas, %d rows", v.id, len(want), len(d.Cache))
	}
	d := c.converge(api, subq)
	if d.ContentGeneration == 0 {
		t.Fatalf("%s: the owners changed, the generation did not: %s", subq, d.raw)
	}
	c.checkErrs()
}

// TestViewsWSSlowClient: a client that stops reading is closed with 1008
// once its buffer (--ws-buffer=16) is full, the drop is counted, and the
// server and other clients go on.
func TestViewsWSSlowClient(t *testing.T) {
	s := startViewsServer(t, nil, "--ws-buffer=16")
	api := newViewsAPI(t, s, "any-token")
	api.register("query:blobs", "SELECT * FROM blob", nil)

	// A small receive buffer, so that the kernel holds little for the
	// client that does not read.
	client := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		Control: func(_, _ string, rc syscall.RawConn) error {
			var err error
			rc.Control(func(fd uintptr) {
				err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
			return err
		},
	}).DialContext}}
	slow, err := dialViewsConn(s, api.auth, client)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.CloseNow()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	slow.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","ids":["query:blobs"]}`))
	for _, want := range []string{`"type":"subscribed"`, `"initial":true`} {
		_, data, err := slow.Read(ctx)
		if err != nil || !strings.Contains(string(data), want) {
			t.Fatalf("slow client before it stops reading: %s %v, want %s", data, err, want)
		}
	}
	fast := dialViews(t, s, api.auth)
	fast.subscribe([]string{"query:blobs"})

	// The slow client reads nothing more while large records come.
	big := strings.Repeat("x", 100<<10)
	dropped := func() bool {
		_, text := s.do("GET", "/metrics", nil)
		return containsMetric(string(text), `troupe_subscribers_dropped_total{door="views"}`)
	}
	n := 0
	for ; n < 600 && (n < 20 || n%4 != 0 || !dropped()); n++ {
		api.ingest("blob", "CREATE", fmt.Sprint("blob:", n), map[string]any{"data": big, "n": n})
	}
	if n == 600 {
		t.Fatalf("600 deltas of 100 KiB queued for a client that does not read, and it was not dropped")
	}
	// Now it reads: what was queued, then the close, 1008.
	frames := 0
	for {
		_, _, err := slow.Read(ctx)
		if err != nil {
			if code := websocket.CloseStatus(err); code != websocket.StatusPolicyViolation {
				t.Fatalf("slow client ended with %v (status %d), want 1008", err, code)
			}
			break
		}
		frames++
	}
	if frames >= n {
		t.Fatalf("the slow client got all %d deltas before its close", n)
	}
	t.Logf("dropped after %d ingests; it had %d deltas to read", n, frames)

	// The fast client got every delta; the server goes on.
	api.ingest("blob", "CREATE", "blob:last", map[string]any{"data": "small"})
	d := fast.converge(api, "query:blobs")
	if len(d.Cache) != n+1 || len(fast.replica("query:blobs").history) != n+1 {
		t.Fatalf("fast client: %d rows, %d deltas, want %d", len(d.Cache), len(fast.replica("query:blobs").history), n+1)
	}
	fast.checkErrs()
	again := dialViews(t, s, api.auth)
	again.subscribe([]string{"query:blobs"})
	if rows := again.replica("query:blobs").rows; len(rows) != n+1 {
		t.Fatalf("a new client after the drop: %d rows", len(rows))
	}
}
