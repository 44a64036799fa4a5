package access

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestMatch(t *testing.T) {
	g := NewGate([]string{"k1", "", "key_2"}, false)
	for key, want := range map[string]int{"k1": 0, "key_2": 1, "": -1, "k": -1, "k1x": -1, "key_3": -1} {
		if got := g.Match(key); got != want {
			t.Errorf("Match(%q) = %d, want %d", key, got, want)
		}
	}
	if empty := NewGate([]string{""}, false); !g.Keyed() || empty.Keyed() {
		t.Error("an empty key counts as configured")
	}
}

func TestPresented(t *testing.T) {
	tests := []struct {
		header, value, query, param, want string
	}{
		{"X-API-Key", " k1 ", "", "", "k1"},
		{"Authorization", "Bearer  k2", "", "", "k2"},
		{"Authorization", "BEARER k3", "", "", "k3"},
		{"Authorization", "Bearer", "", "", ""},
		{"Authorization", "Token k4", "", "", ""},
		{"", "", "?api_key=k5", "", ""},
		{"", "", "?api_key=k5", "api_key", "k5"},
		{"Authorization", "Basic eDp5", "?api_key=k6", "api_key", "k6"},
		{"X-API-Key", "k7", "?api_key=k6", "api_key", "k7"},
		{"Authorization", "Bearer k8", "?api_key=k6", "api_key", "k8"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/"+tc.query, nil)
		if tc.header != "" {
			r.Header.Set(tc.header, tc.value)
		}
		if got := Presented(r, tc.param); got != tc.want {
			t.Errorf("%s: %q, %s (param %q) -> %q, want %q", tc.header, tc.value, tc.query, tc.param, got, tc.want)
		}
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:50000": true, "127.8.9.10:50000": true, "[::1]:50000": true, "[::ffff:127.0.0.1]:50000": true,
		"127.0.0.1": true, "192.0.2.7:50000": false, "[2001:db8::1]:50000": false, "": false, "garbage": false,
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
	if got := RemoteIP("[2001:db8::1]:50000"); got != "2001:db8::1" {
		t.Errorf("RemoteIP = %q", got)
	}
}

func TestCheck(t *testing.T) {
	const local, remote = "127.0.0.1:1", "192.0.2.7:1"
	tests := []struct {
		name     string
		keys     []string
		insecure bool
		remote   string
		key      string // sent as X-API-Key
		index    int
		verdict  Verdict
	}{
		{"keyed, right key, remote", []string{"a", "b"}, false, remote, "b", 1, Allowed},
		{"keyed, no key, loopback", []string{"a"}, false, local, "", -1, NoKey},
		{"keyed, wrong key", []string{"a"}, true, local, "x", -1, WrongKey},
		{"no key, loopback", nil, false, local, "", -1, Allowed},
		{"no key, remote", nil, false, remote, "whatever", -1, Protected},
		{"no key, remote, insecure", nil, true, remote, "", -1, Allowed},
	}
	for _, tc := range tests {
		g := NewGate(tc.keys, tc.insecure)
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.key != "" {
			r.Header = http.Header{"X-Api-Key": {tc.key}}
		}
		if i, v := g.Check(r, ""); i != tc.index || v != tc.verdict {
			t.Errorf("%s: Check = %d, %d; want %d, %d", tc.name, i, v, tc.index, tc.verdict)
		}
	}
}
