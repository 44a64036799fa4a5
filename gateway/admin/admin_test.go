package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/systemtest"
)

// fake is a Source whose sample the test sets.
type fake struct {
	mu      sync.Mutex
	s       Sample
	crashed []string
}

func (f *fake) Sample(context.Context) Sample {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s
}

func (f *fake) set(fn func(*Sample)) {
	f.mu.Lock()
	fn(&f.s)
	f.mu.Unlock()
}

func (f *fake) Crash(actor string) error {
	if !strings.HasPrefix(actor, "queues/") {
		return fmt.Errorf("%w: %s", system.ErrNoActor, actor)
	}
	f.mu.Lock()
	f.crashed = append(f.crashed, actor)
	f.mu.Unlock()
	return nil
}

// newDoor makes a door that samples only when the test calls sample.
func newDoor(t *testing.T, cfg Config) (*Door, *fake) {
	t.Helper()
	src := &fake{s: Sample{Tree: system.Tree{Domains: []system.DomainNode{{Name: "queues", Children: []system.ActorNode{
		{Name: "tasks", Stats: system.ActorStats{Mailbox: 2, Restarts: 1, LastCrash: &system.Crash{Reason: "boom"}}}}}}},
		Queues: []Queue{{Name: "tasks", Ready: [10]int{0, 1, 0, 0, 0, 3}, InFlight: 1, Published: 10, Consumed: 4}},
		Doors:  map[string]system.Latencies{},
	}}
	cfg.Interval = time.Hour
	if cfg.History == 0 {
		cfg.History = 1000 * time.Hour
	}
	cfg.Version = "test"
	d := New(cfg, src, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(d.Close)
	return d, src
}

func get(t *testing.T, h http.Handler, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.RemoteAddr = "127.0.0.1:5000"
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// The tree's JSON: the tree with each actor's stats, the kinds with the
// figures derived from the totals (depth, rates), and the chart series.
func TestTreeJSON(t *testing.T) {
	d, src := newDoor(t, Config{})
	src.set(func(s *Sample) {
		s.Queues = []Queue{{Name: "tasks", Ready: [10]int{0, 1, 0, 0, 0, 3}, InFlight: 1, Published: 20, Consumed: 4}}
		s.Doors["data"] = system.Latencies{Count: 5}
		s.Sessions = map[string]int{"data": 2}
	})
	d.sample()
	w := get(t, d, "/admin/api/tree")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d %s: %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"at", "uptime_s", "version", "chaos", "history_s", "tree", "queues", "rooms", "views", "instances", "reactive", "store", "doors", "series", "point"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("no %q in %s", k, w.Body)
		}
	}
	var st struct {
		Tree struct {
			Domains []struct {
				Name     string
				Children []struct {
					Name  string
					Stats struct {
						Restarts, Mailbox int64
						LastCrash         *struct{ Reason string } `json:"last_crash"`
					}
				}
			}
		}
		Queues []map[string]any
		Doors  []map[string]any
		Series map[string][]float64
		Point  map[string]float64
	}
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	c := st.Tree.Domains[0].Children[0]
	if st.Tree.Domains[0].Name != "queues" || c.Name != "tasks" || c.Stats.Mailbox != 2 || c.Stats.Restarts != 1 || c.Stats.LastCrash.Reason != "boom" {
		t.Fatalf("tree %+v", st.Tree)
	}
	q := st.Queues[0]
	if q["name"] != "tasks" || q["depth"] != 4.0 || q["in_flight"] != 1.0 || q["dlq"] != 0.0 || q["consumers"] != 0.0 {
		t.Fatalf("queue %v", q)
	}
	if ready := q["ready"].([]any); len(ready) != 10 || ready[5] != 3.0 {
		t.Fatalf("ready by priority %v", ready)
	}
	if _, ok := q["published_total"]; ok {
		t.Fatal("totals are not part of the JSON")
	}
	if len(st.Doors) != 1 || st.Doors[0]["door"] != "data" || st.Doors[0]["sessions"] != 2.0 {
		t.Fatalf("doors %v", st.Doors)
	}
	// Two samples: one chart point each (the first of New, and this one).
	if len(st.Series["t"]) != 2 || len(st.Series["queue_depth"]) != 2 || st.Point["queue_depth"] != 4 || st.Point["mailbox"] != 2 || st.Point["restarts"] != 1 {
		t.Fatalf("series %v point %v", st.Series, st.Point)
	}
}

// A second sample turns totals into rates.
func TestRates(t *testing.T) {
	d, src := newDoor(t, Config{})
	src.set(func(s *Sample) {
		s.Doors["data"] = system.Latencies{Count: 100}
		s.Store.Commits = system.Latencies{Count: 50}
		s.Store.Syncs = 4
	})
	d.sample()
	d.mu.Lock()
	d.prevAt = d.prevAt.Add(-2 * time.Second) // as if two seconds had passed
	d.mu.Unlock()
	src.set(func(s *Sample) {
		s.Queues = []Queue{{Name: "tasks", Published: 30, Consumed: 14}} // a source reads anew each time
		l := system.Latencies{Count: 300}
		l.Buckets[3] = 200
		s.Doors = map[string]system.Latencies{"data": l}
		s.Store.Commits = system.Latencies{Count: 70, Sum: 20 * time.Millisecond}
		s.Store.Commits.Buckets[5] = 20
		s.Store.Syncs = 10
	})
	d.sample()
	d.mu.Lock()
	st := d.state
	d.mu.Unlock()
	near := func(got, want float64) bool { return got > want*0.9 && got < want*1.1 }
	q := st.Queues[0]
	if !near(q.PublishRate, 10) || !near(q.ConsumeRate, 5) {
		t.Fatalf("publish %v/s consume %v/s, want 10 and 5", q.PublishRate, q.ConsumeRate)
	}
	if !near(st.Doors[0].RequestRate, 100) || st.Doors[0].P99 != ms(system.LatencyBound(3)) || !near(st.Point.RequestRate, 100) {
		t.Fatalf("door %+v point %+v", st.Doors[0], st.Point)
	}
	if !near(st.Store.CommitRate, 10) || !near(st.Store.SyncRate, 3) || !near(st.Point.SyncRate, 3) ||
		st.Store.CommitMean != 1 || st.Store.CommitP99 != ms(system.LatencyBound(5)) {
		t.Fatalf("store %+v", st.Store)
	}
}

// A view's last delta is when the door first saw its content hash: a view
// registered after the door started has one at once, and it moves only
// with the hash.
func TestViewLastDelta(t *testing.T) {
	d, src := newDoor(t, Config{})
	src.set(func(s *Sample) { s.Views = []View{{ID: "v", Hash: "a"}} })
	d.sample()
	first := d.state.Views[0].LastDelta
	if first == nil {
		t.Fatal("a new view has no last delta")
	}
	d.sample()
	if got := d.state.Views[0].LastDelta; got == nil || !got.Equal(*first) {
		t.Fatalf("last delta moved without a delta: %v, was %v", got, first)
	}
	d.mu.Lock()
	d.viewSeen["v"] = viewSeen{hash: "a", at: &time.Time{}} // as if seen long ago
	d.mu.Unlock()
	src.set(func(s *Sample) { s.Views = []View{{ID: "v", Hash: "b"}} })
	d.sample()
	if got := d.state.Views[0].LastDelta; got == nil || got.IsZero() {
		t.Fatalf("last delta after a delta: %v", got)
	}
}

// The chart history keeps the last points, oldest first.
func TestHistory(t *testing.T) {
	h := newHistory(3)
	for i := range 5 {
		h.add(Point{T: int64(i)})
	}
	if s := h.series(); fmt.Sprint(s.T) != "[2 3 4]" || len(s.Mailbox) != 3 {
		t.Fatalf("series %v", s.T)
	}
}

// readFrame reads one server-sent event.
func readFrame(t *testing.T, r *bufio.Reader) (event string, data []byte) {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the event stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && event != "":
			return event, data
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data = []byte(line[len("data: "):])
		}
	}
}

// The stream starts with a resync frame holding the charts' series, then
// has a state frame a sample, with only its own point.
func TestEvents(t *testing.T) {
	d, _ := newDoor(t, Config{SSEBuffer: 4, SSEClients: 2})
	srv := httptest.NewServer(d)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/admin/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(resp.Body)
	event, data := readFrame(t, r)
	var st State
	if err := json.Unmarshal(data, &st); err != nil || event != "resync" || st.Series == nil || len(st.Series.T) != 1 {
		t.Fatalf("first frame %s %s (%v)", event, data, err)
	}
	systemtest.Eventually(t, "the stream's client", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.clients) == 1
	})
	d.sample()
	event, data = readFrame(t, r)
	st = State{}
	if err := json.Unmarshal(data, &st); err != nil || event != "state" || st.Series != nil || st.Point.QueueDepth != 4 {
		t.Fatalf("second frame %s %s (%v)", event, data, err)
	}

	// Past --admin-sse-clients, a stream is refused.
	second, err := http.Get(srv.URL + "/admin/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer second.Body.Close()
	systemtest.Eventually(t, "the second client", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.clients) == 2
	})
	w := get(t, d, "/admin/api/events")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "--admin-sse-clients") {
		t.Fatalf("third stream: %d %s", w.Code, w.Body)
	}

	// Close ends the streams.
	d.Close()
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatalf("the stream did not end cleanly: %v", err)
	}
}

// A client that does not read holds at most --admin-sse-buffer frames;
// the sampler never waits for it, and when it reads again it gets one
// resync frame, with the whole state, instead of the stale updates.
func TestSlowClientResync(t *testing.T) {
	d, _ := newDoor(t, Config{SSEBuffer: 3, SSEClients: 1})
	c, ok := d.subscribe()
	if !ok {
		t.Fatal("no room for a client")
	}
	for range 50 {
		d.sample() // would block if the door waited for the client
	}
	if n := len(c.frames); n != 3 {
		t.Fatalf("%d frames queued, want the buffer of 3", n)
	}
	event, data, ok := c.next(d.resync, d.stop, nil)
	var st State
	if !ok || event != "resync" || json.Unmarshal(data, &st) != nil || st.Series == nil || len(st.Series.T) != 51 {
		t.Fatalf("after falling behind: %s ok=%v series %v", event, ok, st.Series)
	}
	if len(c.frames) != 0 {
		t.Fatal("stale updates were kept after the resync")
	}
	d.sample()
	if event, _, ok := c.next(d.resync, d.stop, nil); !ok || event != "state" {
		t.Fatalf("after the resync: %s", event)
	}
	d.unsubscribe(c)
}

// The page and its embedded assets; errors are JSON with the right status.
func TestRoutes(t *testing.T) {
	d, _ := newDoor(t, Config{})
	for _, tc := range []struct {
		target, ctype string
		status        int
		body          string
	}{
		{"/dashboard", "text/html; charset=utf-8", 200, "<title>Troupe dashboard</title>"},
		{"/dashboard/assets/dashboard.js", "text/javascript; charset=utf-8", 200, "EventSource"},
		{"/dashboard/assets/uPlot.iife.min.js", "text/javascript; charset=utf-8", 200, "uPlot"},
		{"/dashboard/assets/uPlot.min.css", "text/css; charset=utf-8", 200, ".uplot"},
		{"/", "text/html; charset=utf-8", http.StatusFound, "/dashboard"},
		{"/nothing", "application/json", 404, `{"error":"no such page: /nothing"}`},
		{"/dashboard/assets/nothing.js", "text/plain; charset=utf-8", 404, "not found"},
	} {
		w := get(t, d, tc.target)
		if w.Code != tc.status || w.Header().Get("Content-Type") != tc.ctype || !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("GET %s: %d %s %.80q", tc.target, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/admin/api/tree", nil)
	w := httptest.NewRecorder()
	d.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET" || !strings.Contains(w.Body.String(), `"error"`) {
		t.Fatalf("POST tree: %d %s", w.Code, w.Body)
	}
}

// With API keys, every route but the static assets wants one (a header,
// or ?key= for the page and its event stream); with none, only loopback
// clients are served unless --insecure.
func TestAccess(t *testing.T) {
	d, _ := newDoor(t, Config{APIKeys: []string{"sesame"}})
	for _, tc := range []struct {
		target string
		hdr    []string
		status int
	}{
		{"/admin/api/tree", nil, 401},
		{"/admin/api/tree", []string{"X-API-Key", "wrong"}, 401},
		{"/admin/api/tree", []string{"X-API-Key", "sesame"}, 200},
		{"/admin/api/tree", []string{"Authorization", "Bearer sesame"}, 200},
		{"/dashboard?key=sesame", nil, 200},
		{"/dashboard", nil, 401},
		{"/dashboard/assets/dashboard.css", nil, 200},
	} {
		if w := get(t, d, tc.target, tc.hdr...); w.Code != tc.status {
			t.Errorf("GET %s %v: %d, want %d: %s", tc.target, tc.hdr, w.Code, tc.status, w.Body)
		}
	}
	open, _ := newDoor(t, Config{})
	r := httptest.NewRequest(http.MethodGet, "/admin/api/tree", nil) // from 192.0.2.1
	w := httptest.NewRecorder()
	open.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "loopback") {
		t.Fatalf("remote client without keys: %d %s", w.Code, w.Body)
	}
	insecure, _ := newDoor(t, Config{Insecure: true})
	w = httptest.NewRecorder()
	insecure.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("remote client with --insecure: %d %s", w.Code, w.Body)
	}
}

func post(t *testing.T, h http.Handler, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.RemoteAddr = "127.0.0.1:5000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// POST /admin/api/chaos crashes the named actor with --chaos, and says why
// not otherwise.
func TestChaos(t *testing.T) {
	off, _ := newDoor(t, Config{})
	if w := post(t, off, "/admin/api/chaos", `{"actor":"queues/tasks"}`); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "--chaos") {
		t.Fatalf("chaos off: %d %s", w.Code, w.Body)
	}
	d, src := newDoor(t, Config{Chaos: true})
	for _, tc := range []struct {
		body   string
		status int
		answer string
	}{
		{`{"actor":"queues/tasks"}`, 200, `{"actor":"queues/tasks","fault":"panic"}`},
		{`{"actor":"rooms/none"}`, 404, `no such actor`},
		{`{"actor":""}`, 400, `actor is required`},
		{`not json`, 400, `the body must be`},
		{strings.Repeat("x", 5000), 400, `at most 4 KiB`},
	} {
		if w := post(t, d, "/admin/api/chaos", tc.body); w.Code != tc.status || !strings.Contains(w.Body.String(), tc.answer) {
			t.Errorf("POST %.20s: %d %s", tc.body, w.Code, w.Body)
		}
	}
	if fmt.Sprint(src.crashed) != "[queues/tasks]" {
		t.Fatalf("crashed %v", src.crashed)
	}
	if w := get(t, d, "/admin/api/chaos"); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET chaos: %d", w.Code)
	}
}
