package ssp

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/troupe-run/troupe/gateway/internal/doortest"
)

func TestBodyLimit(t *testing.T) {
	cfg := Config{Secret: secret, MaxBody: 64}
	big := `{"table":"t","op":"CREATE","id":"t:1","record":{"x":"` + strings.Repeat("x", 64) + `"}}`
	tests := []struct {
		name   string
		path   string
		length int64 // -1: unknown, as with chunked encoding
	}{
		{"ingest, declared length", "/ingest", int64(len(big))},
		{"ingest, chunked", "/ingest", -1},
		{"register", "/view/register", -1},
		{"unregister", "/view/unregister", -1},
		{"log", "/log", int64(len(big))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, cfg)
			req := httptest.NewRequest("POST", tc.path, io.MultiReader(strings.NewReader(big)))
			req.ContentLength = tc.length
			req.RemoteAddr = "127.0.0.1:1"
			req.Header.Set("Authorization", "Bearer "+secret)
			rec := httptest.NewRecorder()
			ts.ServeHTTP(rec, req)
			want(t, rec, 413, plain("the request body is larger than the limit of 64 bytes"))
			if calls := ts.views.callList(); len(calls) != 0 {
				t.Errorf("an oversized request reached the views: %v", calls)
			}
		})
	}
	ts := newTestServer(t, cfg)
	want(t, ts.call("POST", "/ingest", `{"table":"t","op":"DELETE","id":"t:1"}`), 200, "")
}

func TestDrain(t *testing.T) {
	ts := newTestServer(t, withSecret())
	ts.Drain()
	const draining = `{"code":"SERVICE_UNAVAILABLE","message":"the server is shutting down"}`
	for _, tc := range []struct{ method, path string }{
		{"POST", "/ingest"}, {"POST", "/view/register"}, {"GET", "/version"}, {"GET", "/info"}, {"GET", "/view/ws"},
	} {
		rec := ts.call(tc.method, tc.path, "{}")
		wantJSON(t, rec, 503, draining)
		if rec.Header().Get("Connection") != "close" {
			t.Errorf("%s %s while draining keeps the connection open", tc.method, tc.path)
		}
	}
	if calls := ts.views.callList(); len(calls) != 0 {
		t.Errorf("the views got %v while draining", calls)
	}
}

func TestPanicRecovery(t *testing.T) {
	ts := newTestServer(t, withSecret())
	ts.views.panicOn = "reset"
	want(t, ts.call("POST", "/reset", ""), 500, plain("internal error; the server log has the details"))
	if !strings.Contains(ts.logs.String(), "the views exploded") {
		t.Errorf("the panic was not logged: %s", ts.logs)
	}
	if obs := ts.metrics.Last(); obs != (doortest.Observation{Door: "views", Command: "panic", Status: 500}) {
		t.Errorf("metrics observed %+v", obs)
	}
	want(t, ts.call("POST", "/ingest", `{"table":"t","op":"DELETE","id":"t:1"}`), 200, "")
}

func TestMetricsNameTheRoute(t *testing.T) {
	tests := []struct {
		method, path, body string
		obs                doortest.Observation
	}{
		{"GET", "/health", "", doortest.Observation{Door: "views", Command: "health", Status: 200}},
		{"POST", "/ingest", `{}`, doortest.Observation{Door: "views", Command: "ingest", Status: 400}},
		{"POST", "/view/register", `{}`, doortest.Observation{Door: "views", Command: "view.register", Status: 400}},
		{"POST", "/view/unregister", `{"id":"q"}`, doortest.Observation{Door: "views", Command: "view.unregister", Status: 200}},
		{"GET", "/debug/deps", ``, doortest.Observation{Door: "views", Command: "debug.deps", Status: 200}},
		{"POST", "/log", `{"message":"m"}`, doortest.Observation{Door: "views", Command: "log", Status: 200}},
	}
	for _, tc := range tests {
		ts := newTestServer(t, withSecret())
		ts.call(tc.method, tc.path, tc.body)
		if got := ts.metrics.Last(); got != tc.obs {
			t.Errorf("%s %s: observed %+v, want %+v", tc.method, tc.path, got, tc.obs)
		}
	}
}

func TestUnknownRoutes(t *testing.T) {
	ts := newTestServer(t, withSecret())
	if rec := ts.call("GET", "/nope", ""); rec.Code != 404 {
		t.Errorf("GET /nope = %d", rec.Code)
	}
	if rec := ts.call("GET", "/ingest", ""); rec.Code != 405 {
		t.Errorf("GET /ingest = %d", rec.Code)
	}
}
