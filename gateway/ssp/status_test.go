package ssp

import (
	"errors"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/troupe-run/troupe/messages"
)

func TestHealth(t *testing.T) {
	ts := newTestServer(t, withSecret())
	wantJSON(t, ts.serve("GET", "/health", ""), 200, `{"status":"ready"}`)
	ts.views.ready.Store(false)
	wantJSON(t, ts.serve("GET", "/health", ""), 503, `{"status":"bootstrapping"}`)
	ts.views.ready.Store(true)
	ts.Drain()
	wantJSON(t, ts.serve("GET", "/health", ""), 503, `{"status":"draining"}`)
}

func TestVersion(t *testing.T) {
	ts := newTestServer(t, Config{Secret: secret, Version: "1.2.3"})
	wantJSON(t, ts.serve("GET", "/version", ""), 200, `{"version":"1.2.3","mode":"streaming"}`)
	ts = newTestServer(t, withSecret())
	wantJSON(t, ts.serve("GET", "/version", ""), 200, `{"version":"dev","mode":"streaming"}`)
}

func TestInfo(t *testing.T) {
	ts := newTestServer(t, Config{Secret: secret, Version: "1.2.3", SSPID: "ssp-primary-01", RefMode: "single"})
	ts.views.info = &messages.ViewsInfoReply{Views: 5,
		CircuitTables: map[string]int64{"user": 3, "thread": 12},
		CircuitHashes: map[string]string{"user": "cd34", "thread": "ab12"}}
	rec := ts.serve("GET", "/info", "")
	// uptime_seconds is whatever time has passed: match it, not its value.
	re := regexp.MustCompile(`^\[\{"entity":"ssp","id":"ssp-primary-01","status":"ready","views":5,"ref_mode":"single",` +
		`"version":"1.2.3","uptime_seconds":\d+,"circuit_tables":\{"thread":12,"user":3\},` +
		`"circuit_hashes":\{"thread":"ab12","user":"cd34"\}\}\]$`)
	if rec.Code != 200 || !re.MatchString(rec.Body.String()) {
		t.Errorf("GET /info = %d %s", rec.Code, rec.Body)
	}

	ts = newTestServer(t, withSecret())
	ts.views.info = &messages.ViewsInfoReply{}
	ts.views.ready.Store(false)
	re = regexp.MustCompile(`^\[\{"entity":"ssp","id":"ssp-troupe","status":"bootstrapping","views":0,"ref_mode":"dedicated",` +
		`"version":"dev","uptime_seconds":\d+,"circuit_tables":\{\},"circuit_hashes":\{\}\}\]$`)
	if rec := ts.serve("GET", "/info", ""); rec.Code != 200 || !re.MatchString(rec.Body.String()) {
		t.Errorf("GET /info while bootstrapping = %d %s", rec.Code, rec.Body)
	}

	ts.views.err = errors.New("gone")
	wantJSON(t, ts.serve("GET", "/info", ""), 503, `{"code":"SERVICE_UNAVAILABLE","message":"the views service cannot answer: gone"}`)
}

func TestInfoJobs(t *testing.T) {
	ts := newTestServer(t, withSecret())
	ts.views.info = &messages.ViewsInfoReply{Jobs: []*messages.JobBackendInfo{
		{Table: "job", Backend: "api", Pending: 2, Processing: 1, Success: 7, Failed: 1, Retried: 3},
		{Table: "outbox", Backend: "mail", Pending: -1}}}
	re := regexp.MustCompile(`"circuit_hashes":\{\},"jobs":\{"job":\{"backend":"api","pending":2,"processing":1,"success":7,"failed":1,"retried":3\},` +
		`"outbox":\{"backend":"mail","pending":-1,"processing":0,"success":0,"failed":0,"retried":0\}\}\}\]$`)
	if rec := ts.serve("GET", "/info", ""); rec.Code != 200 || !re.MatchString(rec.Body.String()) {
		t.Errorf("GET /info with job tables = %d %s", rec.Code, rec.Body)
	}
}

func TestDebugView(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		reply  *messages.DebugViewReply
		id     string
		status int
		resp   string
	}{
		{"a view", "/debug/view/users_view", &messages.DebugViewReply{
			ViewId:            "users_view",
			CacheSize:         2,
			LastHash:          "abc123",
			Cache:             []*messages.ViewRecord{{Id: "users:1", Version: 1, Record: []byte(`{"a":1}`)}, {Id: "users:2", Version: 3}},
			SubqueryTables:    []string{"posts"},
			ReferencedTables:  []string{"users", "posts"},
			ContentGeneration: 5,
			Surql:             "SELECT * FROM users",
			ClientId:          "c",
			TtlMs:             30000,
			LastActiveMs:      1704067200000,
		},
			"users_view", 200,
			`{"view_id":"users_view","cache_size":2,"last_hash":"abc123","format":null,` +
				`"cache":[{"id":"users:1","version":1,"record":{"a":1}},{"id":"users:2","version":3}],` +
				`"subquery_tables":["posts"],"referenced_tables":["users","posts"],"content_generation":5,"subquery_cache":{},` +
				`"surql":"SELECT * FROM users","client_id":"c","ttl_ms":30000,"last_active_at":"2024-01-01T00:00:00Z"}`},
		{"format ids, an id with a colon and an escaped slash", "/debug/view/query:a%2Fb", &messages.DebugViewReply{ViewId: "query:a/b", Format: "ids"},
			"query:a/b", 200,
			`{"view_id":"query:a/b","cache_size":0,"last_hash":"","format":"ids","cache":[],"subquery_tables":[],` +
				`"referenced_tables":[],"content_generation":0,"subquery_cache":{},"surql":"","client_id":"","ttl_ms":0,"last_active_at":null}`},
		{"unknown view", "/debug/view/nope", &messages.DebugViewReply{ErrorCode: messages.CodeNotFound, ErrorMessage: "no view nope"},
			"nope", 404, `{"error":"View not found"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, withSecret())
			ts.views.debug = tc.reply
			wantJSON(t, ts.call("GET", tc.path, ""), tc.status, tc.resp)
			if calls := ts.views.callList(); len(calls) != 1 || calls[0] != (call{"debug", tc.id}) {
				t.Errorf("the views got %v", calls)
			}
		})
	}
}

func TestDebugDeps(t *testing.T) {
	ts := newTestServer(t, withSecret())
	ts.views.deps = &messages.DebugDepsReply{
		DependencyMap: map[string]*messages.TableViews{"users": {Views: []string{"v1", "v2"}}, "posts": {Views: []string{"v2"}}},
		TablesInStore: []string{"posts", "users"}, ViewCount: 2}
	wantJSON(t, ts.call("GET", "/debug/deps", ""), 200,
		`{"dependency_map":{"posts":["v2"],"users":["v1","v2"]},"tables_in_store":["posts","users"],"view_count":2}`)
	ts.views.deps = &messages.DebugDepsReply{}
	wantJSON(t, ts.call("GET", "/debug/deps", ""), 200, `{"dependency_map":{},"tables_in_store":[],"view_count":0}`)
}

// fakeLifecycle is a scheduler lifecycle in a given state.
type fakeLifecycle struct{ state atomic.Value }

func (f *fakeLifecycle) State() string { return f.state.Load().(string) }

// In scheduler mode /health, /info and the 503s follow the lifecycle;
// reads (/info, /debug) are served whatever its state.
func TestLifecycleStates(t *testing.T) {
	lc := &fakeLifecycle{}
	cfg := withSecret()
	cfg.Lifecycle = lc
	ts := newTestServer(t, cfg)
	ingest := `{"table":"user","op":"CREATE","id":"user:1","record":{}}`
	register := `{"id":"v1","surql":"SELECT * FROM user","clientId":"c","ttl":"1h"}`
	for _, tc := range []struct {
		state, health string
		code          int
	}{
		{"registering", "bootstrapping", 503},
		{"bootstrapping", "bootstrapping", 503},
		{"failed", "failed", 503},
		{"ready", "ready", 200},
	} {
		lc.state.Store(tc.state)
		wantJSON(t, ts.serve("GET", "/health", ""), tc.code, `{"status":"`+tc.health+`"}`)
		if rec := ts.serve("GET", "/info", ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"status":"`+tc.health+`"`) {
			t.Errorf("%s: /info %d %s", tc.state, rec.Code, rec.Body)
		}
		for _, path := range []string{"/ingest", "/view/register", "/view/unregister"} {
			body := ingest
			if path != "/ingest" {
				body = register
			}
			rec := ts.call("POST", path, body)
			if tc.code == 200 {
				if rec.Code == 503 { // the fake views answer the rest as they may
					t.Errorf("%s: POST %s = %d %s", tc.state, path, rec.Code, rec.Body)
				}
				continue
			}
			if rec.Code != 503 || !strings.Contains(rec.Body.String(), `"code":"SSP_NOT_READY"`) {
				t.Errorf("%s: POST %s = %d %s, want 503 SSP_NOT_READY", tc.state, path, rec.Code, rec.Body)
			}
		}
	}
	// The engine rebuilding from the store comes first, whatever the
	// lifecycle says.
	ts.views.ready.Store(false)
	wantJSON(t, ts.serve("GET", "/health", ""), 503, `{"status":"bootstrapping"}`)
	want(t, ts.call("POST", "/ingest", ingest), 503, notReadyBody)
}

func TestDecodeStoredView(t *testing.T) {
	v, err := DecodeStoredView([]byte(`{"id":"abc","surql":"SELECT * FROM user","clientId":"","ttl":"30m","lastActiveAt":"","params":{"b":1}}`))
	if err != nil || v.Id != "abc" || v.ClientId != "" || v.TtlMs != 30*60*1000 || v.LastActiveMs != 0 || string(v.Params) != `{"b":1}` {
		t.Fatalf("DecodeStoredView = %v, %v", v, err)
	}
	if _, err := DecodeStoredView([]byte(`{"id":"abc","surql":"SELECT * FROM user","ttl":"soon"}`)); err == nil ||
		!strings.Contains(err.Error(), "ttl") {
		t.Fatalf("a bad ttl: %v", err)
	}
}
