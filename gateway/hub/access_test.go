package hub

import (
	"net/http"
	"testing"

	"github.com/troupe-run/troupe/gateway/internal/access"
)

func TestProtectedMode(t *testing.T) {
	s := &Server{gate: access.NewGate(nil, false)}
	for addr, want := range map[string]bool{"127.0.0.1:5000": true, "[::1]:5000": true, "10.0.0.2:5000": false} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		if got := s.refusal(r) == ""; got != want {
			t.Errorf("client %s served = %v, want %v", addr, got, want)
		}
	}
	insecure := &Server{gate: access.NewGate(nil, true)}
	r, _ := http.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.2:5000"
	if insecure.refusal(r) != "" {
		t.Errorf("--insecure refused a remote client")
	}
}
