package synap

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/troupe-run/troupe/messages"
)

func TestAdminStats(t *testing.T) {
	ts := newTestServer(t, insecure())
	ts.admin.stats = Stats{
		Uptime: 86400*time.Second + 500*time.Millisecond, Role: "master",
		MemoryUsed: 536870912, MemoryLimit: 4294967296,
		TotalKeys: 1000000, OpsPerSec: 50000.5,
		Queues: 50, QueueMessages: 5000, Rooms: 100, RoomSubs: 500, Topics: 200, TopicSubs: 1000,
	}
	r := decodeReply(t, postCommand(ts, `{"command":"admin.stats","request_id":"s"}`))
	want := `{"server":{"version":"0.1.0","uptime_secs":86400,"role":"master"},` +
		`"memory":{"used_bytes":536870912,"limit_bytes":4294967296},` +
		`"kv":{"total_keys":1000000,"operations_per_sec":50000.5},` +
		`"queues":{"total_queues":50,"total_messages":5000},` +
		`"streams":{"total_rooms":100,"total_subscribers":500},` +
		`"pubsub":{"total_topics":200,"total_subscribers":1000}}`
	if string(r.Payload) != want {
		t.Errorf("admin.stats\n got %s\nwant %s", r.Payload, want)
	}

	// Two gets, one finding its key, and a set.
	ts.ks.reply = func(req *messages.DataRequest) (*messages.DataReply, error) {
		return &messages.DataReply{Ok: true, Found: req.Key == "here", Value: []byte(`1`)}, nil
	}
	for _, cmd := range []string{`{"command":"kv.get","payload":{"key":"here"}}`,
		`{"command":"kv.get","payload":{"key":"gone"}}`, `{"command":"kv.set","payload":{"key":"k","value":1}}`} {
		postCommand(ts, cmd)
	}
	rec := serve(ts, "GET", "/kv/stats", "")
	if got := rec.Body.String(); got != `{"total_keys":1000000,"total_memory_bytes":536870912,`+
		`"operations":{"gets":2,"sets":1,"dels":0,"hits":1,"misses":1},"hit_rate":0.5}` {
		t.Errorf("GET /kv/stats = %d %s", rec.Code, got)
	}

	ts.admin.statsErr = errors.New("data/shard-2 did not answer")
	wantError(t, postCommand(ts, `{"command":"admin.stats"}`), 503, messages.CodeUnavailable, "shard-2")
}

func TestAdminConfigHealthShutdown(t *testing.T) {
	ts := newTestServer(t, insecure())

	r := decodeReply(t, postCommand(ts, `{"command":"admin.config","payload":{}}`))
	if string(r.Payload) != `{"data_addr":":15500","shards":8}` {
		t.Errorf("admin.config = %s", r.Payload)
	}

	r = decodeReply(t, postCommand(ts, `{"command":"admin.health"}`))
	want := `{"status":"healthy","version":"0.1.0","role":"master","uptime_secs":90,` +
		`"components":{"kv_store":"operational","pubsub":"operational"}}`
	if string(r.Payload) != want {
		t.Errorf("admin.health\n got %s\nwant %s", r.Payload, want)
	}

	r = decodeReply(t, postCommand(ts, `{"command":"admin.shutdown"}`))
	if string(r.Payload) != `{"success":true,"message":"shutting down"}` || ts.admin.shutdowns != 1 {
		t.Errorf("admin.shutdown = %s, shutdowns %d", r.Payload, ts.admin.shutdowns)
	}

	ts.admin.config = map[string]any{"bad": func() {}}
	wantError(t, postCommand(ts, `{"command":"admin.config"}`), 500, codeInternal)
}

func TestHealth(t *testing.T) {
	tests := []struct {
		name   string
		health Health
		drain  bool
		status int
		body   string
	}{
		{"healthy", Health{Status: Healthy, Role: "master", Uptime: 86400 * time.Second,
			Components: map[string]string{"kv_store": "operational", "queue_system": "operational",
				"event_stream": "operational", "pubsub": "operational", "replication": "operational"}},
			false, 200,
			`{"status":"healthy","version":"0.1.0","role":"master","uptime_secs":86400,"components":` +
				`{"event_stream":"operational","kv_store":"operational","pubsub":"operational",` +
				`"queue_system":"operational","replication":"operational"}}`},
		{"degraded", Health{Status: "degraded", Role: "master", Components: map[string]string{"kv_store": "restarting"}},
			false, 503,
			`{"status":"degraded","version":"0.1.0","role":"master","uptime_secs":0,"components":{"kv_store":"restarting"}}`},
		{"draining", Health{Status: Healthy, Role: "master"}, true, 503,
			`{"status":"draining","version":"0.1.0","role":"master","uptime_secs":0,"components":{}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, Config{APIKeys: []string{"k"}, Version: "0.1.0"})
			ts.admin.health = tc.health
			if tc.drain {
				ts.Drain()
			}
			rec := serve(ts, "GET", "/health", "") // no key: /health is public
			if rec.Code != tc.status || rec.Body.String() != tc.body {
				t.Errorf("GET /health = %d %s\nwant %d %s", rec.Code, rec.Body, tc.status, tc.body)
			}
		})
	}
}

func TestChaos(t *testing.T) {
	t.Run("disabled", func(t *testing.T) {
		ts := newTestServer(t, insecure())
		wantError(t, serve(ts, "POST", "/admin/chaos", `{"target":"data/*","fault":"panic"}`), 404, codeNotFound)
		if len(ts.admin.faults) != 0 {
			t.Errorf("faults injected without --chaos: %v", ts.admin.faults)
		}
	})

	cfg := Config{APIKeys: []string{"secret"}, Chaos: true}
	tests := []struct {
		name   string
		body   string
		armed  int
		err    error
		status int
		out    string
	}{
		{"injected", `{"target":"data/*","fault":"panic"}`, 8, nil, 200,
			`{"target":"data/*","fault":"panic","affected":8}`},
		{"no target", `{"fault":"panic"}`, 1, nil, 422, "target is required"},
		{"no fault", `{"target":"data/shard-3"}`, 1, nil, 422, "fault is required"},
		{"malformed", `{"target":`, 1, nil, 400, "target"},
		{"unknown fault", `{"target":"data/*","fault":"hang"}`, 0, errors.New(`unknown fault "hang"`), 422, `unknown fault \"hang\"`},
		{"no such actor", `{"target":"data/shard-99","fault":"panic"}`, 0, nil, 404, "data/shard-99"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, cfg)
			ts.admin.armed, ts.admin.faultErr = tc.armed, tc.err
			rec := serve(ts, "POST", "/admin/chaos", tc.body, "X-API-Key", "secret")
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.out) {
				t.Errorf("POST /admin/chaos = %d %s\nwant %d with %s", rec.Code, rec.Body, tc.status, tc.out)
			}
		})
	}

	t.Run("needs a key", func(t *testing.T) {
		ts := newTestServer(t, cfg)
		wantError(t, serve(ts, "POST", "/admin/chaos", `{"target":"data/*","fault":"panic"}`), 401, codeUnauthorized)
		if len(ts.admin.faults) != 0 {
			t.Errorf("faults injected without a key: %v", ts.admin.faults)
		}
	})
}

func TestMetricsRoute(t *testing.T) {
	ts := newTestServer(t, Config{APIKeys: []string{"k"}})
	rec := serve(ts, "GET", "/metrics", "") // no key: /metrics is public
	if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), "# HELP") {
		t.Errorf("GET /metrics = %d %s", rec.Code, rec.Body)
	}

	s := New(insecure(), Backends{Keyspace: &fakeKeyspace{}, Admin: &fakeAdmin{}}, ts.log)
	wantError(t, serve(s, "GET", "/metrics", ""), http.StatusNotFound, codeNotFound)
}
