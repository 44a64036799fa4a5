package synap

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troupe-run/troupe/gateway/internal/doortest"
)

var t0 = time.Unix(1_700_000_000, 0)

// clock is a settable time source.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func TestRateLimiter(t *testing.T) {
	type step struct {
		at        time.Duration // since t0
		client    string
		ok        bool
		remaining int64
		reset     int64 // unix seconds, relative to t0
		retry     int64
	}
	tests := []struct {
		name  string
		rate  float64
		burst int
		limit int64
		steps []step
	}{
		{"burst, refusal, refill", 1, 2, 2, []step{
			{0, "a", true, 1, 1, 0},
			{0, "a", true, 0, 2, 0},
			{0, "a", false, 0, 2, 1},
			{500 * time.Millisecond, "a", false, 0, 2, 1},
			{time.Second, "a", true, 0, 3, 0},
			{time.Second, "b", true, 1, 2, 0}, // another client, another bucket
			{10 * time.Second, "a", true, 1, 11, 0},
		}},
		{"slow rate, default burst of one", 0.5, 0, 1, []step{
			{0, "a", true, 0, 2, 0},
			{time.Second, "a", false, 0, 2, 1},
			{2 * time.Second, "a", true, 0, 4, 0},
		}},
		{"default burst of a second's worth, reset rounded up", 10, 0, 10, []step{
			{0, "a", true, 9, 1, 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{}
			l := newRateLimiter(tc.rate, tc.burst, 1<<16, clk.Now)
			for i, st := range tc.steps {
				clk.now = t0.Add(st.at)
				v := l.take(st.client)
				want := rateVerdict{ok: st.ok, limit: tc.limit, remaining: st.remaining, reset: t0.Unix() + st.reset, retryAfter: st.retry}
				if v != want {
					t.Errorf("step %d: %+v, want %+v", i, v, want)
				}
			}
		})
	}
	if newRateLimiter(0, 10, 1<<16, time.Now) != nil {
		t.Error("a rate of 0 makes a limiter; want none")
	}
}

// TestRateLimiterMemory checks that the buckets are bounded, and that the
// ones forgotten first are those that are full, which change nothing.
func TestRateLimiterMemory(t *testing.T) {
	clk := &clock{now: t0}
	const maxBuckets = 1 << 12
	l := newRateLimiter(1, 1, maxBuckets, clk.Now)
	for i := range maxBuckets {
		l.take("old-" + strconv.Itoa(i))
	}
	clk.now = t0.Add(5 * time.Second) // every old bucket is full again
	if v := l.take("x"); !v.ok {
		t.Fatal("x refused at once")
	}
	for i := range maxBuckets / 2 {
		l.take("new-" + strconv.Itoa(i))
	}
	if v := l.take("x"); v.ok {
		t.Error("x's empty bucket was forgotten while full ones were kept")
	}
	n := 0
	for i := range l.shards {
		n += len(l.shards[i].buckets)
	}
	if n > maxBuckets {
		t.Errorf("%d buckets kept; the bound is %d", n, maxBuckets)
	}
}

// limited returns a server limited to 1 request a second with bursts of 2,
// on a clock that does not move.
func limited(t *testing.T, cfg Config) *testServer {
	cfg.RateLimit, cfg.RateBurst = 1, 2
	ts := newTestServer(t, cfg)
	ts.limiter.now = func() time.Time { return t0 }
	return ts
}

func TestRateLimitHTTP(t *testing.T) {
	ts := limited(t, insecure())
	reset := strconv.FormatInt(t0.Unix()+2, 10)
	for i, want := range []struct {
		status    int
		remaining string
	}{{200, "1"}, {200, "0"}, {429, "0"}} {
		rec := postCommand(ts, getA)
		h := rec.Header()
		if rec.Code != want.status || h.Get("X-RateLimit-Limit") != "2" || h.Get("X-RateLimit-Remaining") != want.remaining {
			t.Errorf("request %d: status %d, headers %v", i, rec.Code, h)
		}
		if i == 0 && h.Get("X-RateLimit-Reset") != strconv.FormatInt(t0.Unix()+1, 10) ||
			i > 0 && h.Get("X-RateLimit-Reset") != reset {
			t.Errorf("request %d: X-RateLimit-Reset %s", i, h.Get("X-RateLimit-Reset"))
		}
		if want.status == 429 {
			const body = `{"type":"response","request_id":null,"status":"error","success":false,"error":` +
				`{"code":"RATE_LIMIT_EXCEEDED","message":"Rate limit exceeded. Try again in 1 seconds.","details":{"retry_after_secs":1}}}`
			if rec.Body.String() != body || h.Get("Retry-After") != "1" {
				t.Errorf("refusal: Retry-After %q, body %s", h.Get("Retry-After"), rec.Body)
			}
		}
	}
	if n := len(ts.ks.requests()); n != 2 {
		t.Errorf("%d requests reached the backend, want 2", n)
	}
	if obs := ts.metrics.Last(); obs.Command != "rate_limited" || obs.Status != 429 {
		t.Errorf("metrics observed %+v", obs)
	}
	if rec := serve(ts, "GET", "/health", ""); rec.Code != 200 || rec.Header().Get("X-RateLimit-Limit") != "" {
		t.Errorf("/health is rate limited: %d %v", rec.Code, rec.Header())
	}
}

func TestRateLimitClients(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		a, b   func(*http.Request)
		shared bool
	}{
		{"by API key", Config{APIKeys: []string{"k1", "k2"}},
			func(r *http.Request) { r.Header.Set("X-API-Key", "k1") },
			func(r *http.Request) { r.Header.Set("Authorization", "Bearer k2") }, false},
		{"one key from two addresses", Config{APIKeys: []string{"k1"}},
			func(r *http.Request) { r.Header.Set("X-API-Key", "k1"); r.RemoteAddr = "10.0.0.1:1" },
			func(r *http.Request) { r.Header.Set("X-API-Key", "k1"); r.RemoteAddr = "10.0.0.2:1" }, true},
		{"by IP without keys", insecure(),
			func(r *http.Request) { r.RemoteAddr = "10.0.0.1:1" },
			func(r *http.Request) { r.RemoteAddr = "10.0.0.2:1" }, false},
		{"one IP, two ports", insecure(),
			func(r *http.Request) { r.RemoteAddr = "10.0.0.1:1" },
			func(r *http.Request) { r.RemoteAddr = "10.0.0.1:2" }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := limited(t, tc.cfg)
			do := func(from func(*http.Request)) int {
				req := httptest.NewRequest("POST", commandPath, strings.NewReader(getA))
				from(req)
				rec := httptest.NewRecorder()
				ts.ServeHTTP(rec, req)
				return rec.Code
			}
			do(tc.a)
			do(tc.a)
			want := 200
			if tc.shared {
				want = 429
			}
			if got := do(tc.b); got != want {
				t.Errorf("the other client's request after two: %d, want %d", got, want)
			}
		})
	}
}

func TestRateLimitOff(t *testing.T) {
	ts := newTestServer(t, insecure())
	for range 10 {
		if rec := postCommand(ts, getA); rec.Code != 200 || rec.Header().Get("X-RateLimit-Limit") != "" {
			t.Fatalf("without a rate limit: %d %v", rec.Code, rec.Header())
		}
	}
}

func TestRateLimitWebSocket(t *testing.T) {
	cfg := insecure()
	cfg.RateLimit, cfg.RateBurst = 1, 2
	w := startWS(t, cfg)
	w.limiter.now = func() time.Time { return t0 }
	c := w.dial(t, "", nil) // the handshake takes a token
	doortest.Send(t, c, `{"request_id":"1","command":"queue.list"}`)
	if got := doortest.Recv(t, c); got != `{"type":"response","request_id":"1","status":"success","success":true,"payload":{"queues":[]}}` {
		t.Errorf("first command: %s", got)
	}
	doortest.Send(t, c, `{"request_id":"2","command":"queue.list"}`)
	want := `{"type":"response","request_id":"2","status":"error","success":false,"error":{"code":"RATE_LIMIT_EXCEEDED",` +
		`"message":"Rate limit exceeded. Try again in 1 seconds.","details":{"retry_after_secs":1}}}`
	if got := doortest.Recv(t, c); got != want {
		t.Errorf("second command\n got %s\nwant %s", got, want)
	}
}
