package ssp

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/troupe-run/troupe/gateway/internal/doortest"
)

func TestAuthWithSecret(t *testing.T) {
	tests := []struct {
		name   string
		header string // Authorization; "" for none
		status int
		body   string
	}{
		{"exact header", "Bearer " + secret, 200, ""},
		{"no header", "", 401, plain("an Authorization: Bearer <token> header is required")},
		{"wrong secret", "Bearer nope", 401, plain("the Authorization header is not Bearer <SPKY_AUTH_SECRET>")},
		{"prefix of the secret", "Bearer s3cre", 401, plain("the Authorization header is not Bearer <SPKY_AUTH_SECRET>")},
		{"lower-case scheme", "bearer " + secret, 401, plain("the Authorization header is not Bearer <SPKY_AUTH_SECRET>")},
		{"two spaces", "Bearer  " + secret, 401, plain("the Authorization header is not Bearer <SPKY_AUTH_SECRET>")},
		{"trailing space", "Bearer " + secret + " ", 401, plain("the Authorization header is not Bearer <SPKY_AUTH_SECRET>")},
		{"secret alone", secret, 401, plain("the Authorization header is not Bearer <SPKY_AUTH_SECRET>")},
		{"basic", "Basic czNjcmV0", 401, plain("the Authorization header is not Bearer <SPKY_AUTH_SECRET>")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, withSecret())
			var rec *httptest.ResponseRecorder
			if tc.header == "" {
				rec = ts.serve("POST", "/reset", "")
			} else {
				rec = ts.serve("POST", "/reset", "", "Authorization", tc.header)
			}
			want(t, rec, tc.status, tc.body)
			if tc.status == 200 {
				return
			}
			if rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("a 401 without WWW-Authenticate")
			}
			if n := len(ts.views.callList()); n != 0 {
				t.Error("an unauthenticated request reached the views")
			}
			if obs := ts.metrics.Last(); obs != (doortest.Observation{Door: "views", Command: "unauthorized", Status: 401}) {
				t.Errorf("metrics observed %+v", obs)
			}
		})
	}
}

// TestAuthWithoutSecret: with no secret any bearer token is accepted, as
// the spec says, from loopback clients only unless Insecure is set.
func TestAuthWithoutSecret(t *testing.T) {
	const protected = "protected mode: no SPKY_AUTH_SECRET is set, so only loopback clients are served; " +
		"set the secret, or start the server with --insecure to serve every client"
	tests := []struct {
		name     string
		insecure bool
		remote   string
		header   string
		status   int
		body     string
	}{
		{"any token", false, "127.0.0.1:1", "Bearer whatever", 200, ""},
		{"empty token", false, "127.0.0.1:1", "Bearer ", 200, ""},
		{"IPv6 loopback", false, "[::1]:1", "Bearer x", 200, ""},
		{"lower-case scheme", false, "127.0.0.1:1", "bearer x", 200, ""},
		{"no header", false, "127.0.0.1:1", "", 401, plain("an Authorization: Bearer <token> header is required")},
		{"basic", false, "127.0.0.1:1", "Basic eDp5", 401, plain("the Authorization header must be Bearer <token>")},
		{"scheme glued to the token", false, "127.0.0.1:1", "Bearerx", 401, plain("the Authorization header must be Bearer <token>")},
		{"remote client", false, "203.0.113.9:1", "Bearer x", 403, plain(protected)},
		{"remote client, insecure", true, "203.0.113.9:1", "Bearer x", 200, ""},
		{"remote client, insecure, no header", true, "203.0.113.9:1", "", 401, plain("an Authorization: Bearer <token> header is required")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, Config{Insecure: tc.insecure})
			req := httptest.NewRequest("POST", "/reset", nil)
			req.RemoteAddr = tc.remote
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			ts.ServeHTTP(rec, req)
			want(t, rec, tc.status, tc.body)
		})
	}
}

func TestAuthGuardsEveryRouteButHealthVersionInfo(t *testing.T) {
	routes := []struct {
		method, path string
		public       bool
	}{
		{"GET", "/health", true},
		{"GET", "/version", true},
		{"GET", "/info", true},
		{"POST", "/ingest", false},
		{"POST", "/view/register", false},
		{"POST", "/view/unregister", false},
		{"POST", "/reset", false},
		{"GET", "/debug/view/query:a", false},
		{"GET", "/debug/deps", false},
		{"POST", "/log", false},
		{"GET", "/view/ws", false},
	}
	for _, rt := range routes {
		ts := newTestServer(t, withSecret())
		rec := ts.serve(rt.method, rt.path, "{}")
		if rt.public {
			if rec.Code == 401 {
				t.Errorf("%s %s: 401 on a public route", rt.method, rt.path)
			}
			continue
		}
		if rec.Code != 401 {
			t.Errorf("%s %s without a token: %d", rt.method, rt.path, rec.Code)
		}
		if calls := ts.views.callList(); len(calls) != 0 {
			t.Errorf("%s %s without a token reached the views: %v", rt.method, rt.path, calls)
		}
	}
}

// TestProtectedModeCoversInfo: /info names the tables, so in protected
// mode a remote client does not get it; /health and /version it does
// (probes come from elsewhere).
func TestProtectedModeCoversInfo(t *testing.T) {
	ts := newTestServer(t, Config{})
	for _, tc := range []struct {
		path   string
		status int
	}{{"/health", 200}, {"/version", 200}, {"/info", 403}} {
		req := httptest.NewRequest("GET", tc.path, nil)
		req.RemoteAddr = "198.51.100.7:5000"
		rec := httptest.NewRecorder()
		ts.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("GET %s from a remote client: %d, want %d", tc.path, rec.Code, tc.status)
		}
	}
	if !strings.Contains(ts.logs.String(), "serving loopback clients only") {
		t.Errorf("protected mode was not logged at start: %s", ts.logs)
	}
}
