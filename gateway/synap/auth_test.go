package synap

import (
	"net/http/httptest"
	"strings"
	"testing"
)

const getA = `{"command":"kv.get","payload":{"key":"a"}}`

func TestAPIKeys(t *testing.T) {
	cfg := Config{APIKeys: []string{"synap_key_1", "synap_key_2"}}
	tests := []struct {
		name   string
		header []string
		status int
		msg    string
	}{
		{"X-API-Key", []string{"X-API-Key", "synap_key_1"}, 200, ""},
		{"second key", []string{"X-API-Key", "synap_key_2"}, 200, ""},
		{"bearer", []string{"Authorization", "Bearer synap_key_2"}, 200, ""},
		{"bearer in lower case", []string{"Authorization", "bearer synap_key_1"}, 200, ""},
		{"no key", nil, 401, "X-API-Key"},
		{"wrong key", []string{"X-API-Key", "synap_key_3"}, 401, "not valid"},
		{"prefix of a key", []string{"X-API-Key", "synap_key_"}, 401, "not valid"},
		{"key with a suffix", []string{"Authorization", "Bearer synap_key_1x"}, 401, "not valid"},
		{"basic auth", []string{"Authorization", "Basic c3luYXA6a2V5"}, 401, "X-API-Key"},
		{"empty bearer", []string{"Authorization", "Bearer "}, 401, "X-API-Key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, cfg)
			rec := postCommand(ts, getA, tc.header...)
			if tc.status == 200 {
				if rec.Code != 200 {
					t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
				}
				return
			}
			wantError(t, rec, tc.status, codeUnauthorized, tc.msg)
			if rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("a 401 without WWW-Authenticate")
			}
			if n := len(ts.ks.requests()); n != 0 {
				t.Errorf("an unauthenticated request reached the backend")
			}
			if obs := ts.metrics.Last(); obs.Command != "unauthorized" || obs.Status != 401 {
				t.Errorf("metrics observed %+v", obs)
			}
		})
	}
}

func TestAPIKeysGuardEveryRouteButHealthAndMetrics(t *testing.T) {
	ts := newTestServer(t, Config{APIKeys: []string{"k"}})
	for _, rt := range restRoutes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = strings.NewReplacer("{key}", "a", "{field}", "f", "{member}", "m", "{index}", "0").Replace(path)
		wantError(t, serve(ts, method, path, ""), 401, codeUnauthorized)
	}
	wantError(t, serve(ts, "GET", "/no/such/route", ""), 401, codeUnauthorized)
	for _, path := range []string{"/health", "/metrics"} {
		if rec := serve(ts, "GET", path, ""); rec.Code != 200 {
			t.Errorf("GET %s without a key = %d", path, rec.Code)
		}
	}
}

func TestProtectedMode(t *testing.T) {
	tests := []struct {
		name     string
		insecure bool
		remote   string
		path     string
		status   int
	}{
		{"IPv4 loopback", false, "127.0.0.1:50000", commandPath, 200},
		{"other IPv4 loopback", false, "127.8.9.10:50000", commandPath, 200},
		{"IPv6 loopback", false, "[::1]:50000", commandPath, 200},
		{"IPv4-mapped loopback", false, "[::ffff:127.0.0.1]:50000", commandPath, 200},
		{"remote client", false, "192.0.2.7:50000", commandPath, 403},
		{"remote IPv6 client", false, "[2001:db8::1]:50000", commandPath, 403},
		{"remote client on a REST route", false, "192.0.2.7:50000", "/kv/get/a", 403},
		{"remote client on /health", false, "192.0.2.7:50000", "/health", 200},
		{"remote client on /metrics", false, "192.0.2.7:50000", "/metrics", 200},
		{"remote client, insecure", true, "192.0.2.7:50000", commandPath, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, Config{Insecure: tc.insecure})
			method, body := "GET", ""
			if tc.path == commandPath {
				method, body = "POST", getA
			}
			req := httptest.NewRequest(method, tc.path, strings.NewReader(body))
			req.RemoteAddr = tc.remote
			rec := httptest.NewRecorder()
			ts.ServeHTTP(rec, req)
			if tc.status == 403 {
				wantError(t, rec, 403, codeForbidden, "--api-keys", "--insecure")
				return
			}
			if rec.Code != tc.status {
				t.Errorf("status = %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
		})
	}
}

func TestStartupWarning(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "loopback clients only"},
		{Config{Insecure: true}, "every client is served unauthenticated"},
		{Config{APIKeys: []string{"k"}}, ""},
	}
	for _, tc := range tests {
		ts := newTestServer(t, tc.cfg)
		logs := ts.logs.String()
		if tc.want == "" && logs != "" || tc.want != "" && !strings.Contains(logs, tc.want) {
			t.Errorf("config %+v logged %q, want %q", tc.cfg, logs, tc.want)
		}
	}
}
