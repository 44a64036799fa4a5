package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDataEnvelope: request_id is echoed (or generated), and a batch runs
// its commands in order, one result each, failures included.
func TestDataEnvelope(t *testing.T) {
	s := startServer(t)
	status, r := s.rawCommand(`{"command":"kv.set","request_id":"req-42","payload":{"key":"user:1","value":"data1"}}`)
	if status != http.StatusOK || r.Type != "response" || r.RequestID != "req-42" || r.Status != "success" {
		t.Fatalf("kv.set with a request_id: %d %+v", status, r)
	}
	// The raw reply also carries "success" and nothing unexpected.
	_, raw := s.do("POST", "/api/v1/command", []byte(`{"command":"kv.get","request_id":"req-43","payload":{"key":"user:1"}}`))
	if !jsonEqual(raw, []byte(`{"type":"response","request_id":"req-43","status":"success","success":true,"payload":{"found":true,"value":"data1","ttl":null}}`)) {
		t.Fatalf("kv.get reply: %s", raw)
	}
	// An error reply echoes the id too.
	_, raw = s.do("POST", "/api/v1/command", []byte(`{"command":"kv.incr","request_id":"req-44","payload":{"key":"user:1"}}`))
	var er reply
	json.Unmarshal(raw, &er)
	if er.RequestID != "req-44" || er.Status != "error" || er.Error == nil || er.Error.Code != "NOT_AN_INTEGER" || er.Error.Details == nil {
		t.Fatalf("error reply: %s", raw)
	}
	// Without a request_id the server makes one up (a UUID), fresh each time.
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	_, r1 := s.command("kv.get", map[string]any{"key": "user:1"})
	_, r2 := s.command("kv.get", map[string]any{"key": "user:1"})
	if !uuid.MatchString(r1.RequestID) || !uuid.MatchString(r2.RequestID) || r1.RequestID == r2.RequestID {
		t.Fatalf("generated request ids: %q %q", r1.RequestID, r2.RequestID)
	}
	status, r = s.rawCommand(`{"command":"kv.get","request_id":7,"payload":{"key":"user:1"}}`)
	checkErrorReply(t, "numeric request_id", status, r, http.StatusBadRequest, "BAD_REQUEST")

	// The spec's batch, then a batch mixing successes and every kind of failure.
	status, raw = s.do("POST", "/api/v1/command", []byte(`{
		"type": "batch", "request_id": "batch-001",
		"commands": [
			{"command": "kv.set", "payload": {"key": "user:1", "value": "data1"}},
			{"command": "kv.set", "payload": {"key": "user:2", "value": "data2"}},
			{"command": "kv.get", "payload": {"key": "user:1"}}
		]}`))
	if status != http.StatusOK || !jsonEqual(raw, []byte(`{"type":"batch_response","request_id":"batch-001","results":[
		{"status":"success","success":true,"payload":{"key":"user:1","success":true,"previous":"data1"}},
		{"status":"success","success":true,"payload":{"key":"user:2","success":true,"previous":null}},
		{"status":"success","success":true,"payload":{"found":true,"value":"data1","ttl":null}}]}`)) {
		t.Fatalf("the spec's batch: %d %s", status, raw)
	}
	status, raw = s.do("POST", "/api/v1/command", []byte(`{
		"type": "batch", "request_id": "batch-002",
		"commands": [
			{"command": "kv.set", "payload": {"key": "n", "value": 1}},
			{"command": "kv.incr", "payload": {"key": "user:2"}},
			{"command": "kv.incr", "payload": {"key": "n", "amount": 4}},
			{"command": "no.such.command", "payload": {}},
			{"command": "hash.set", "payload": {"key": "n", "field": "f", "value": 1}},
			{"command": "kv.set", "payload": {"value": 1}},
			{"payload": {"key": "n"}},
			{"command": "list.rpush", "payload": {"key": "l", "values": ["a"]}},
			{"command": "kv.get", "payload": {"key": "n"}},
			{"command": "list.range", "payload": {"key": "l"}}
		]}`))
	var batch struct {
		Type      string  `json:"type"`
		RequestID string  `json:"request_id"`
		Results   []reply `json:"results"`
	}
	if status != http.StatusOK || json.Unmarshal(raw, &batch) != nil || batch.Type != "batch_response" || batch.RequestID != "batch-002" {
		t.Fatalf("mixed batch: %d %s", status, raw)
	}
	want := []struct{ status, codeOrPayload string }{
		{"success", `{"key":"n","success":true,"previous":null}`},
		{"error", "NOT_AN_INTEGER"},
		{"success", `{"value":5}`},
		{"error", "UNKNOWN_COMMAND"},
		{"error", "WRONG_TYPE"},
		{"error", "INVALID_ARGUMENT"},
		{"error", "BAD_REQUEST"},
		{"success", `{"key":"l","length":1}`},
		{"success", `{"found":true,"value":5,"ttl":null}`},
		{"success", `{"key":"l","values":["a"]}`},
	}
	if len(batch.Results) != len(want) {
		t.Fatalf("mixed batch: %d results for %d commands: %s", len(batch.Results), len(want), raw)
	}
	for i, w := range want {
		got := batch.Results[i]
		switch w.status {
		case "success":
			if got.Status != "success" || !jsonEqual(got.Payload, []byte(w.codeOrPayload)) {
				t.Errorf("result %d: %s %s, want %s", i, got.Status, got.Payload, w.codeOrPayload)
			}
		default:
			if got.Status != "error" || got.Error == nil || got.Error.Code != w.codeOrPayload || got.Error.Message == "" {
				t.Errorf("result %d: %s %+v, want error %s", i, got.Status, got.Error, w.codeOrPayload)
			}
		}
	}
	// An empty batch has no results; a batch without commands is malformed.
	status, raw = s.do("POST", "/api/v1/command", []byte(`{"type":"batch","request_id":"b3","commands":[]}`))
	if status != http.StatusOK || !jsonEqual(raw, []byte(`{"type":"batch_response","request_id":"b3","results":[]}`)) {
		t.Fatalf("empty batch: %d %s", status, raw)
	}
	status, r = s.rawCommand(`{"type":"batch","request_id":"b4"}`)
	checkErrorReply(t, "batch without commands", status, r, http.StatusBadRequest, "BAD_REQUEST")
	s.stopClean()
}

// dataHealth is the body of GET /health and admin.health.
type dataHealth struct {
	Status     string            `json:"status"`
	Version    string            `json:"version"`
	Role       string            `json:"role"`
	UptimeSecs *int64            `json:"uptime_secs"`
	Components map[string]string `json:"components"`
}

// TestDataAdmin: admin.stats with real figures, admin.config, admin.health,
// GET /health and GET /metrics.
func TestDataAdmin(t *testing.T) {
	s := startServer(t, "--shards=4", "--max-memory=8MiB", "--max-body=64KiB", "--fsync=always")

	var st dataStats
	s.ok("admin.stats", nil, &st)
	if st.Server.Version == "" || st.Server.Role != "master" || st.Server.UptimeSecs < 0 ||
		st.KV.TotalKeys != 0 || st.Memory.LimitBytes != 8<<20 || st.Memory.UsedBytes != 0 {
		t.Fatalf("admin.stats of a fresh server: %+v", st)
	}
	raw := s.payload("admin.stats", map[string]any{})
	var shape map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &shape); err != nil {
		t.Fatalf("admin.stats: %s: %v", raw, err)
	}
	for section, fields := range map[string][]string{
		"server": {"version", "uptime_secs", "role"}, "memory": {"used_bytes", "limit_bytes"},
		"kv": {"total_keys", "operations_per_sec"}, "queues": {"total_queues", "total_messages"},
		"streams": {"total_rooms", "total_subscribers"}, "pubsub": {"total_topics", "total_subscribers"},
	} {
		for _, f := range fields {
			if _, ok := shape[section][f]; !ok {
				t.Errorf("admin.stats has no %s.%s: %s", section, f, raw)
			}
		}
	}

	// total_keys and used_bytes follow writes and deletes, of every type.
	value := strings.Repeat("v", 10000)
	for i := range 10 {
		s.ok("kv.set", map[string]any{"key": fmt.Sprint("k", i), "value": value}, nil)
	}
	s.ok("hash.set", map[string]any{"key": "h", "field": "f", "value": value}, nil)
	s.ok("list.rpush", map[string]any{"key": "l", "values": []string{value}}, nil)
	var after dataStats
	s.ok("admin.stats", nil, &after)
	if after.KV.TotalKeys != 12 || after.Memory.UsedBytes < 12*10000 {
		t.Fatalf("admin.stats after 12 keys of 10 KB: total_keys %d, used_bytes %d", after.KV.TotalKeys, after.Memory.UsedBytes)
	}
	s.okJSON("kv.del", map[string]any{"keys": []string{"k0", "k1", "k2", "h"}}, `{"deleted":4}`)
	var fewer dataStats
	s.ok("admin.stats", nil, &fewer)
	if fewer.KV.TotalKeys != 8 || fewer.Memory.UsedBytes >= after.Memory.UsedBytes-4*10000 {
		t.Fatalf("admin.stats after deleting 4 keys: total_keys %d, used_bytes %d (was %d)", fewer.KV.TotalKeys, fewer.Memory.UsedBytes, after.Memory.UsedBytes)
	}
	s.ok("kv.del", map[string]any{"keys": []string{"k3", "k4", "k5", "k6", "k7", "k8", "k9", "l"}}, nil)
	var empty dataStats
	s.ok("admin.stats", nil, &empty)
	if empty.KV.TotalKeys != 0 || empty.Memory.UsedBytes != 0 {
		t.Fatalf("admin.stats after deleting everything: %+v", empty)
	}

	// admin.config reports the flags the server runs with.
	var cfg map[string]any
	s.ok("admin.config", nil, &cfg)
	for k, want := range map[string]any{
		"shards": 4.0, "max_memory": float64(8 << 20), "max_body": float64(64 << 10), "fsync": "always",
		"data_dir": s.dataDir, "chaos": false, "auth_enabled": false,
	} {
		if cfg[k] != want {
			t.Errorf("admin.config %s = %v, want %v (%v)", k, cfg[k], want, cfg)
		}
	}
	for _, secret := range []string{"api_keys", "APIKeys"} {
		if _, ok := cfg[secret]; ok {
			t.Errorf("admin.config exposes %s", secret)
		}
	}

	// GET /health and admin.health: the spec's shape, real components.
	status, body := s.do("GET", "/health", nil)
	var h dataHealth
	if status != http.StatusOK || json.Unmarshal(body, &h) != nil {
		t.Fatalf("GET /health: %d %s", status, body)
	}
	if h.Status != "healthy" || h.Version == "" || h.Version != st.Server.Version || h.Role != "master" || h.UptimeSecs == nil ||
		h.Components["kv_store"] != "operational" || h.Components["store"] != "operational" {
		t.Fatalf("GET /health: %s", body)
	}
	var ah dataHealth
	s.ok("admin.health", nil, &ah)
	if ah.Status != h.Status || ah.Version != h.Version || ah.Role != h.Role || fmt.Sprint(ah.Components) != fmt.Sprint(h.Components) {
		t.Fatalf("admin.health %+v differs from GET /health %+v", ah, h)
	}

	// GET /metrics counts the requests made, by command and status.
	s.command("no.such.command", nil)
	s.rest("GET", "/hash/h/getall", nil)
	s.rest("GET", "/no/such/route", nil)
	status, body = s.do("GET", "/metrics", nil)
	text := string(body)
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d", status)
	}
	for series, want := range map[string]string{
		`troupe_requests_total{command="kv.set",door="data",status="200"}`:         "10",
		`troupe_requests_total{command="kv.del",door="data",status="200"}`:         "2",
		`troupe_requests_total{command="admin.stats",door="data",status="200"}`:    "5",
		`troupe_requests_total{command="unknown",door="data",status="400"}`:        "1",
		`troupe_requests_total{command="hash.getall",door="data",status="200"}`:    "1",
		`troupe_requests_total{command="not_found",door="data",status="404"}`:      "1",
		`troupe_request_duration_seconds_count{command="kv.set",door="data"}`:      "10",
		`troupe_request_duration_seconds_count{command="list.rpush",door="data"}`:  "1",
		`troupe_requests_total{command="admin.config",door="data",status="200"}`:   "1",
		`troupe_requests_total{command="admin.health",door="data",status="200"}`:   "1",
		`troupe_requests_total{command="hash.set",door="data",status="200"}`:       "1",
		`troupe_actor_restarts_total{kind="data",outcome="restarted"}`:             "",
		`troupe_requests_total{command="kv.get",door="data",status="200"}`:         "",
		`troupe_requests_total{command="sortedset.zadd",door="data",status="200"}`: "",
	} {
		got, ok := metricValue(text, series)
		switch {
		case want == "" && ok:
			t.Errorf("/metrics has %s %s, want none", series, got)
		case want != "" && got != want:
			t.Errorf("/metrics: %s = %q, want %s", series, got, want)
		}
	}
	if !strings.Contains(text, "# TYPE troupe_requests_total counter") || !strings.Contains(text, "go_goroutines") {
		t.Errorf("/metrics is not the Prometheus exposition:\n%s", tail(text, 2000))
	}
	// operations_per_sec is a real rate: it shows the commands just run.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var now dataStats
		s.ok("admin.stats", nil, &now)
		if now.KV.OperationsPerSec > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("operations_per_sec still 0 after all these commands")
		}
		s.ok("kv.exists", map[string]any{"key": "k1"}, nil)
		time.Sleep(100 * time.Millisecond)
	}
	s.stopClean()
}

// TestDataAdminShutdown: admin.shutdown answers, then the process drains,
// flushes and exits 0, keeping what it was sent.
func TestDataAdminShutdown(t *testing.T) {
	s := startServer(t, "--fsync=none")
	for i := range 50 {
		s.ok("kv.set", map[string]any{"key": fmt.Sprint("s", i), "value": i}, nil)
	}
	s.okJSON("admin.shutdown", nil, `{"success":true,"message":"shutting down"}`)
	select {
	case err := <-s.exited:
		s.exited <- err
		if err != nil {
			t.Fatalf("after admin.shutdown: exit %v, want 0\n%s", err, s.log)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("still running 60s after admin.shutdown\n%s", s.log)
	}
	s.restart()
	for i := range 50 {
		s.okJSON("kv.get", map[string]any{"key": fmt.Sprint("s", i)}, fmt.Sprintf(`{"found":true,"value":%d,"ttl":null}`, i))
	}
	s.stopClean()
}

// TestDataAuth: with --api-keys, every route but /health and /metrics needs
// a valid key, sent either way; others get 401 with the spec's error body.
func TestDataAuth(t *testing.T) {
	s := startServer(t, "--api-keys=k1,k2")
	cmd := []byte(`{"command":"kv.set","payload":{"key":"a","value":1}}`)
	denied := []struct {
		name    string
		headers []string
	}{
		{"no key", nil},
		{"wrong X-API-Key", []string{"X-API-Key", "k3"}},
		{"wrong bearer", []string{"Authorization", "Bearer nope"}},
		{"prefix of a key", []string{"X-API-Key", "k"}},
		{"key with a suffix", []string{"X-API-Key", "k1x"}},
		{"both keys in one", []string{"X-API-Key", "k1,k2"}},
		{"basic auth", []string{"Authorization", "Basic azE6azE="}},
		{"bearer without a token", []string{"Authorization", "Bearer "}},
	}
	for _, d := range denied {
		status, raw := s.do("POST", "/api/v1/command", cmd, d.headers...)
		var r reply
		json.Unmarshal(raw, &r)
		checkErrorReply(t, d.name, status, r, http.StatusUnauthorized, "UNAUTHORIZED")
		s.restFails("GET", "/kv/get/a", nil, http.StatusUnauthorized, "UNAUTHORIZED", d.headers...)
		s.restFails("POST", "/hash/h/set", `{"field":"f","value":1}`, http.StatusUnauthorized, "UNAUTHORIZED", d.headers...)
	}
	// A 401 asks for a bearer token.
	req, _ := http.NewRequest("GET", s.data+"/kv/get/a", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("401 without WWW-Authenticate: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// Nothing was written by the refused requests.
	status, raw := s.do("POST", "/api/v1/command", []byte(`{"command":"kv.exists","payload":{"key":"a"}}`), "X-API-Key", "k1")
	if status != http.StatusOK || !strings.Contains(string(raw), `"exists":false`) {
		t.Fatalf("kv.exists after refused writes: %d %s", status, raw)
	}

	allowed := [][]string{
		{"X-API-Key", "k1"},
		{"X-API-Key", "k2"},
		{"Authorization", "Bearer k1"},
		{"Authorization", "Bearer k2"},
		{"Authorization", "bearer k2"},
	}
	for i, h := range allowed {
		status, raw := s.do("POST", "/api/v1/command", []byte(`{"command":"kv.incr","payload":{"key":"counter"}}`), h...)
		if status != http.StatusOK || !jsonEqual(mustPayload(t, raw), []byte(fmt.Sprintf(`{"value":%d}`, i+1))) {
			t.Fatalf("%v: %d %s", h, status, raw)
		}
		status, raw = s.do("GET", "/kv/get/counter", nil, h...)
		if status != http.StatusOK || !jsonEqual(raw, []byte(fmt.Sprintf(`{"found":true,"value":%d,"ttl":null}`, i+1))) {
			t.Fatalf("GET /kv/get/counter with %v: %d %s", h, status, raw)
		}
	}
	// /health and /metrics need no key.
	for _, path := range []string{"/health", "/metrics"} {
		if status, raw := s.do("GET", path, nil); status != http.StatusOK {
			t.Fatalf("GET %s without a key: %d %s", path, status, raw)
		}
	}
	var cfg map[string]any
	status, raw = s.do("POST", "/api/v1/command", []byte(`{"command":"admin.config"}`), "X-API-Key", "k2")
	if status != http.StatusOK || json.Unmarshal(mustPayload(t, raw), &cfg) != nil || cfg["auth_enabled"] != true {
		t.Fatalf("admin.config with a key: %d %s", status, raw)
	}
	if strings.Contains(string(raw), "k1") {
		t.Fatalf("admin.config shows the keys: %s", raw)
	}
	_, metrics := s.do("GET", "/metrics", nil)
	if v, _ := metricValue(string(metrics), `troupe_requests_total{command="unauthorized",door="data",status="401"}`); v != fmt.Sprint(3*len(denied)+1) {
		t.Errorf("401s counted in /metrics: %q, want %d", v, 3*len(denied)+1)
	}
	s.stopClean()
}

func mustPayload(t *testing.T, raw []byte) json.RawMessage {
	t.Helper()
	var r reply
	if err := json.Unmarshal(raw, &r); err != nil || r.Status != "success" {
		t.Fatalf("not a success reply: %s", raw)
	}
	return r.Payload
}

// TestDataStatusCodes: 400 malformed, 400 unknown command, 404 unknown
// route, 413 past --max-body, 422 invalid data, 404 for /admin/chaos
// without --chaos; never a 500.
func TestDataStatusCodes(t *testing.T) {
	s := startServer(t, "--max-body=2KiB")
	big := strings.Repeat("x", 3000)
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"malformed JSON", "POST", "/api/v1/command", `{"command": "kv.get", "payload": {`, 400, "BAD_REQUEST"},
		{"not JSON", "POST", "/api/v1/command", `command=kv.get`, 400, "BAD_REQUEST"},
		{"empty body", "POST", "/api/v1/command", ``, 400, "BAD_REQUEST"},
		{"an array", "POST", "/api/v1/command", `[{"command":"kv.get"}]`, 400, "BAD_REQUEST"},
		{"a string", "POST", "/api/v1/command", `"kv.get"`, 400, "BAD_REQUEST"},
		{"no command", "POST", "/api/v1/command", `{"payload":{"key":"a"}}`, 400, "BAD_REQUEST"},
		{"command not a string", "POST", "/api/v1/command", `{"command":5}`, 400, "BAD_REQUEST"},
		{"trailing garbage", "POST", "/api/v1/command", `{"command":"kv.get","payload":{"key":"a"}} x`, 400, "BAD_REQUEST"},
		{"unknown command", "POST", "/api/v1/command", `{"command":"kv.frobnicate","payload":{}}`, 400, "UNKNOWN_COMMAND"},
		{"command of another door", "POST", "/api/v1/command", `{"command":"GET","payload":{}}`, 400, "UNKNOWN_COMMAND"},
		{"over the body limit", "POST", "/api/v1/command", `{"command":"kv.set","payload":{"key":"a","value":"` + big + `"}}`, 413, "PAYLOAD_TOO_LARGE"},
		{"REST over the body limit", "POST", "/hash/h/set", `{"field":"f","value":"` + big + `"}`, 413, "PAYLOAD_TOO_LARGE"},
		{"missing key", "POST", "/api/v1/command", `{"command":"kv.get","payload":{}}`, 422, "INVALID_ARGUMENT"},
		{"key of the wrong type", "POST", "/api/v1/command", `{"command":"kv.get","payload":{"key":["a"]}}`, 422, "INVALID_ARGUMENT"},
		{"payload not an object", "POST", "/api/v1/command", `{"command":"kv.get","payload":"a"}`, 422, "INVALID_ARGUMENT"},
		{"ttl of the wrong type", "POST", "/api/v1/command", `{"command":"kv.set","payload":{"key":"a","value":1,"ttl":"soon"}}`, 422, "INVALID_ARGUMENT"},
		{"values not an array", "POST", "/api/v1/command", `{"command":"list.rpush","payload":{"key":"a","values":{}}}`, 422, "INVALID_ARGUMENT"},
		{"REST body not an object", "POST", "/list/l/rpush", `"values"`, 422, "INVALID_ARGUMENT"},
		{"REST malformed body", "POST", "/list/l/rpush", `{"values":[1,}`, 400, "BAD_REQUEST"},
		{"unknown route", "GET", "/nope", ``, 404, "NOT_FOUND"},
		{"unknown REST op", "POST", "/hash/h/frobnicate", `{}`, 404, "NOT_FOUND"},
		{"wrong method", "GET", "/api/v1/command", ``, 404, "NOT_FOUND"},
		{"chaos without --chaos", "POST", "/admin/chaos", `{"target":"data/*","fault":"panic"}`, 404, "NOT_FOUND"},
	}
	for _, c := range cases {
		var body any
		if c.body != "" {
			body = c.body
		}
		s.restFails(c.method, c.path, body, c.status, c.code)
	}
	// The messages name what was wrong.
	_, r := s.rawCommand(`{"command":"kv.set","payload":{"key":"a","value":1,"ttl":"soon"}}`)
	if !strings.Contains(r.Error.Message, "ttl") {
		t.Errorf("422 message %q does not name the field", r.Error.Message)
	}
	_, r = s.rawCommand(`{"command":"kv.frobnicate"}`)
	if !strings.Contains(r.Error.Message, "kv.frobnicate") {
		t.Errorf("unknown command message %q does not name it", r.Error.Message)
	}
	// A body over the limit sent without a Content-Length (chunked) is 413 too.
	req, _ := http.NewRequest("POST", s.data+"/api/v1/command", io.MultiReader(
		strings.NewReader(`{"command":"kv.set","payload":{"key":"a","value":"`), strings.NewReader(big), strings.NewReader(`"}}`)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked body over the limit: %d, want 413", resp.StatusCode)
	}
	// A body just under the limit is served, and nothing refused was written.
	s.okJSON("kv.set", map[string]any{"key": "b", "value": strings.Repeat("y", 1800)}, `{"key":"b","success":true,"previous":null}`)
	s.okJSON("kv.exists", map[string]any{"keys": []string{"a"}}, `{"exists":false,"count":0}`)
	s.okJSON("hash.len", map[string]any{"key": "h"}, `{"key":"h","length":0}`)
	s.stopClean()
}

// TestDataMemoryLimit: with --max-memory, writes past the budget get 507
// MEMORY_LIMIT_EXCEEDED and change nothing; deletes still work and free room.
func TestDataMemoryLimit(t *testing.T) {
	s := startServer(t, "--max-memory=64KiB")
	value := strings.Repeat("m", 1000)
	written := 0
	for ; ; written++ {
		if written > 200 {
			t.Fatal("200 writes of 1 KB fit in 64 KiB")
		}
		status, r := s.command("kv.set", map[string]any{"key": fmt.Sprint("fill:", written), "value": value})
		if status == http.StatusOK {
			continue
		}
		checkErrorReply(t, "kv.set past the limit", status, r, http.StatusInsufficientStorage, "MEMORY_LIMIT_EXCEEDED")
		break
	}
	if written < 40 {
		t.Fatalf("only %d writes of 1 KB fit in 64 KiB", written)
	}
	var st dataStats
	s.ok("admin.stats", nil, &st)
	if st.Memory.LimitBytes != 64<<10 || st.Memory.UsedBytes > st.Memory.LimitBytes || st.KV.TotalKeys != int64(written) {
		t.Fatalf("admin.stats when full after %d writes: %+v", written, st)
	}
	// Every kind of growth is refused, and the refused key does not exist.
	s.fails("kv.set", map[string]any{"key": "more", "value": value}, http.StatusInsufficientStorage, "MEMORY_LIMIT_EXCEEDED")
	s.fails("kv.mset", map[string]any{"pairs": map[string]any{"more1": value, "more2": value}}, http.StatusInsufficientStorage, "MEMORY_LIMIT_EXCEEDED")
	s.fails("hash.set", map[string]any{"key": "mh", "field": "f", "value": value}, http.StatusInsufficientStorage, "MEMORY_LIMIT_EXCEEDED")
	s.fails("list.rpush", map[string]any{"key": "ml", "values": []string{value}}, http.StatusInsufficientStorage, "MEMORY_LIMIT_EXCEEDED")
	s.fails("kv.set", map[string]any{"key": "fill:0", "value": value + value + value}, http.StatusInsufficientStorage, "MEMORY_LIMIT_EXCEEDED")
	s.restFails("POST", "/set/ms/add", map[string]any{"members": []string{value}}, http.StatusInsufficientStorage, "MEMORY_LIMIT_EXCEEDED")
	s.okJSON("kv.exists", map[string]any{"keys": []string{"more", "more1", "more2", "mh", "ml", "ms"}}, `{"exists":false,"count":0}`)
	s.okJSON("kv.get", map[string]any{"key": "fill:0"}, fmt.Sprintf(`{"found":true,"value":%q,"ttl":null}`, value))
	// Shrinking a value is allowed when full.
	s.okJSON("kv.set", map[string]any{"key": "fill:1", "value": "small"}, fmt.Sprintf(`{"key":"fill:1","success":true,"previous":%q}`, value))
	// Deletes work, and free room for new writes.
	var keys []string
	for i := 2; i < 12; i++ {
		keys = append(keys, fmt.Sprint("fill:", i))
	}
	s.okJSON("kv.del", map[string]any{"keys": keys}, `{"deleted":10}`)
	var freed dataStats
	s.ok("admin.stats", nil, &freed)
	if freed.Memory.UsedBytes > st.Memory.UsedBytes-10*1000 {
		t.Fatalf("used_bytes %d after deleting 10 KB, %d before", freed.Memory.UsedBytes, st.Memory.UsedBytes)
	}
	for i := range 5 {
		s.ok("kv.set", map[string]any{"key": fmt.Sprint("again:", i), "value": value}, nil)
	}
	s.ok("list.rpush", map[string]any{"key": "ml", "values": []string{value}}, nil)
	s.okJSON("list.len", map[string]any{"key": "ml"}, `{"key":"ml","length":1}`)
	s.stopClean()
}

// TestDataMemoryOnly: --data-dir= keeps everything in memory: nothing is
// written to disk, and a restart starts empty, by design.
func TestDataMemoryOnly(t *testing.T) {
	s := startServer(t, "--data-dir=")
	s.okJSON("kv.set", map[string]any{"key": "volatile", "value": "v"}, `{"key":"volatile","success":true,"previous":null}`)
	s.ok("hash.set", map[string]any{"key": "vh", "field": "f", "value": 1}, nil)
	s.okJSON("kv.get", map[string]any{"key": "volatile"}, `{"found":true,"value":"v","ttl":null}`)
	var h dataHealth
	s.ok("admin.health", nil, &h)
	if h.Status != "healthy" || h.Components["store"] != "memory-only" || h.Components["kv_store"] != "operational" {
		t.Fatalf("admin.health with --data-dir=: %+v", h)
	}
	status, body := s.do("GET", "/health", nil)
	if status != http.StatusOK || json.Unmarshal(body, &h) != nil || h.Components["store"] != "memory-only" {
		t.Fatalf("GET /health with --data-dir=: %d %s", status, body)
	}
	var cfg map[string]any
	s.ok("admin.config", nil, &cfg)
	if cfg["data_dir"] != "" {
		t.Fatalf("admin.config data_dir = %v, want empty", cfg["data_dir"])
	}
	if err := s.stop(); err != nil {
		t.Fatalf("SIGTERM: exit %v, want 0", err)
	}
	if entries, _ := os.ReadDir(s.dataDir); len(entries) != 0 {
		t.Fatalf("memory-only server wrote to %s: %v", s.dataDir, entries)
	}
	if _, err := os.Stat("troupe-data"); err == nil {
		t.Fatalf("memory-only server created ./troupe-data")
	}
	s.restart()
	s.okJSON("kv.get", map[string]any{"key": "volatile"}, `{"found":false,"value":null,"ttl":null}`)
	s.okJSON("hash.len", map[string]any{"key": "vh"}, `{"key":"vh","length":0}`)
	var st dataStats
	s.ok("admin.stats", nil, &st)
	if st.KV.TotalKeys != 0 {
		t.Fatalf("total_keys %d after restarting a memory-only server", st.KV.TotalKeys)
	}
	s.stopClean()
}

// TestDataMemoryLimitMsetnx: kv.msetnx is held to --max-memory like every
// other write, whether its keys live on one shard or on many.
func TestDataMemoryLimitMsetnx(t *testing.T) {
	s := startServer(t, "--max-memory=64KiB")
	value := strings.Repeat("m", 1000)
	for i := 0; ; i++ {
		if i > 200 {
			t.Fatal("200 writes of 1 KB fit in 64 KiB")
		}
		if status, _ := s.command("kv.set", map[string]any{"key": fmt.Sprint("fill:", i), "value": value}); status != http.StatusOK {
			break
		}
	}
	// One key: one shard.
	s.fails("kv.msetnx", map[string]any{"pairs": map[string]any{"one": value}}, http.StatusInsufficientStorage, "MEMORY_LIMIT_EXCEEDED")
	// Fifty keys: every shard.
	var pairs []map[string]any
	var keys []string
	for i := range 50 {
		keys = append(keys, fmt.Sprint("nx:", i))
		pairs = append(pairs, map[string]any{"key": keys[i], "value": value})
	}
	status, r := s.command("kv.msetnx", map[string]any{"pairs": pairs})
	if status != http.StatusInsufficientStorage || r.Error == nil || r.Error.Code != "MEMORY_LIMIT_EXCEEDED" {
		t.Errorf("kv.msetnx of 50 KB over 16 shards when full: %d %s %+v, want 507 MEMORY_LIMIT_EXCEEDED", status, r.Payload, r.Error)
	}
	var ex struct {
		Count int `json:"count"`
	}
	s.ok("kv.exists", map[string]any{"keys": append(keys, "one")}, &ex)
	var st dataStats
	s.ok("admin.stats", nil, &st)
	if ex.Count != 0 || st.Memory.UsedBytes > st.Memory.LimitBytes {
		t.Errorf("after kv.msetnx when full: %d of its keys exist, used_bytes %d of limit_bytes %d", ex.Count, st.Memory.UsedBytes, st.Memory.LimitBytes)
	}
	s.stopClean()
}
