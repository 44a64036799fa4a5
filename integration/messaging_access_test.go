package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// request sends a request to the data door and returns the response's
// status, headers and body.
func (s *server) request(method, path, body string, headers ...string) (int, http.Header, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.data+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

// TestMessagingRateLimit: with --rate-limit=5 --rate-burst=5 every
// response carries the X-RateLimit headers; past the burst a client gets
// 429 RATE_LIMIT_EXCEEDED, on the command endpoint, on REST routes and on
// WebSocket frames; each API key has its own bucket.
func TestMessagingRateLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--api-keys=k1,k2", "--rate-limit=5", "--rate-burst=5")
	stats := `{"command":"pubsub.stats","payload":{}}`
	intHeader := func(h http.Header, name string) int64 {
		t.Helper()
		n, err := strconv.ParseInt(h.Get(name), 10, 64)
		if err != nil {
			t.Fatalf("header %s: %q (headers %v)", name, h.Get(name), h)
		}
		return n
	}
	now := time.Now().Unix()
	// The burst: five requests pass, each with the headers.
	for i := range 5 {
		status, h, raw := s.request("POST", "/api/v1/command", stats, "X-API-Key", "k1")
		if status != http.StatusOK {
			t.Fatalf("request %d of the burst: %d %s", i+1, status, raw)
		}
		if intHeader(h, "X-RateLimit-Limit") != 5 || intHeader(h, "X-RateLimit-Remaining") > 4 ||
			intHeader(h, "X-RateLimit-Reset") < now {
			t.Fatalf("request %d: rate-limit headers %v", i+1, h)
		}
	}
	// Then, at this pace, 429 (tokens come back at 5 a second).
	limited := false
	for i := 0; i < 200 && !limited; i++ {
		status, h, raw := s.request("POST", "/api/v1/command", stats, "X-API-Key", "k1")
		if status == http.StatusOK {
			continue
		}
		limited = true
		var r reply
		if status != http.StatusTooManyRequests || json.Unmarshal(raw, &r) != nil || r.Status != "error" || r.Error == nil ||
			r.Error.Code != "RATE_LIMIT_EXCEEDED" || !strings.Contains(r.Error.Message, "Rate limit exceeded") {
			t.Fatalf("past the burst: %d %s, want 429 RATE_LIMIT_EXCEEDED", status, raw)
		}
		if intHeader(h, "X-RateLimit-Limit") != 5 || intHeader(h, "X-RateLimit-Remaining") != 0 ||
			intHeader(h, "X-RateLimit-Reset") < now || intHeader(h, "Retry-After") < 1 {
			t.Fatalf("429 headers: %v", h)
		}
	}
	if !limited {
		t.Fatal("205 requests in a row were all served at --rate-limit=5 --rate-burst=5")
	}
	// REST routes share the bucket.
	status, h, raw := s.request("GET", "/queue/list", "", "X-API-Key", "k1")
	if status != http.StatusTooManyRequests || h.Get("X-RateLimit-Limit") != "5" {
		t.Fatalf("GET /queue/list with k1 exhausted: %d %s %v", status, raw, h)
	}
	// Another key has its own bucket.
	status, h, raw = s.request("GET", "/queue/list", "", "X-API-Key", "k2")
	if status != http.StatusOK || h.Get("X-RateLimit-Limit") != "5" {
		t.Fatalf("GET /queue/list with k2: %d %s %v", status, raw, h)
	}
	// /health is not limited.
	for range 10 {
		if status, _, raw := s.request("GET", "/health", ""); status != http.StatusOK {
			t.Fatalf("/health: %d %s", status, raw)
		}
	}
	// Over the WebSocket each frame takes a token: a burst of frames gets
	// some refused, with the request_id echoed; the connection stays up.
	c := s.dialWS("", http.Header{"X-API-Key": {"k2"}})
	var ids []string
	for range 12 {
		ids = append(ids, c.send("pubsub.stats", map[string]any{}))
	}
	refused := 0
	for _, id := range ids {
		f := c.response(id)
		switch {
		case f.Status == "success":
		case f.Error != nil && f.Error.Code == "RATE_LIMIT_EXCEEDED" && f.RequestID == id:
			refused++
		default:
			t.Fatalf("frame %s: %+v %+v", id, f, f.Error)
		}
	}
	if refused == 0 {
		t.Fatal("12 frames at once, on a key with at most 5 tokens, were all served")
	}
	msgEventually(t, "a frame to be served again", func() bool { return c.call("pubsub.stats", map[string]any{}).Status == "success" })
}

// TestMessagingWSAuth: with --api-keys the WebSocket handshake needs a key,
// sent as X-API-Key, as a bearer token, or as the api_key query parameter.
func TestMessagingWSAuth(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--api-keys=secret,other")
	for _, tc := range []struct {
		name   string
		query  string
		header http.Header
	}{
		{"no key", "", nil},
		{"wrong header", "", http.Header{"X-Api-Key": {"nope"}}},
		{"wrong query", "?api_key=nope", nil},
		{"key in another parameter", "?key=secret", nil},
	} {
		conn, status, err := tryDialWS(s.wsURL()+tc.query, tc.header)
		if err == nil {
			conn.CloseNow()
		}
		if status != http.StatusUnauthorized {
			t.Errorf("%s: handshake answered %d (%v), want 401", tc.name, status, err)
		}
	}
	byHeader := s.dialWS("", http.Header{"X-API-Key": {"secret"}})
	byQuery := s.dialWS("?api_key=other", nil)
	byBearer := s.dialWS("", http.Header{"Authorization": {"Bearer secret"}})
	for _, c := range []*wsClient{byHeader, byQuery, byBearer} {
		c.ok("pubsub.subscribe", map[string]any{"topics": []string{"auth.*"}}, nil)
	}
	// HTTP needs the key too.
	if status, _ := s.command("pubsub.publish", map[string]any{"topic": "auth.x", "message": 1}); status != http.StatusUnauthorized {
		t.Fatalf("publish without a key: %d, want 401", status)
	}
	status, r := s.command("pubsub.publish", map[string]any{"topic": "auth.x", "message": 1}, "X-API-Key", "other")
	if status != http.StatusOK || !strings.Contains(string(r.Payload), `"subscribers_notified":3`) {
		t.Fatalf("publish with a key: %d %s", status, r.Payload)
	}
	for _, c := range []*wsClient{byHeader, byQuery, byBearer} {
		if f := c.next(); f.Topic != "auth.x" || string(f.Message) != "1" {
			t.Fatalf("subscriber got %+v", f)
		}
	}
}
