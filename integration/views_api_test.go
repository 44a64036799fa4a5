package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestViewsSpecExamples sends the spec's curl examples verbatim (method,
// headers and body; only the host differs), with SPKY_AUTH_SECRET set in
// the server's environment, and checks each answer; then /log's lines in
// the server's log.
func TestViewsSpecExamples(t *testing.T) {
	s := startViewsServer(t, []string{"SPKY_AUTH_SECRET=" + viewsSecret, "SPKY_SSP_ID=ssp-primary-01"})
	api := newViewsAPI(t, s, viewsSecret)
	curl := func(method, path, body string, headers ...string) (int, []byte) {
		t.Helper()
		var b any
		if body != "" {
			b = body
		}
		status, out, _ := api.raw(method, path, b, headers...)
		return status, out
	}
	const (
		ct      = "Content-Type"
		appJSON = "application/json"
		auth    = "Authorization"
		bear    = "Bearer your-secret-token"
	)

	// POST /ingest
	status, out := curl("POST", "/ingest", `{
"table": "users",
"op": "CREATE",
"id": "user:alice",
"record": {"name": "Alice", "email": "alice@example.com"}
}`, ct, appJSON, auth, bear)
	if status != http.StatusOK || len(out) != 0 {
		t.Fatalf("ingest example: %d %q, want 200 and no body", status, out)
	}

	// POST /view/register: alice has no active field, so the view is empty
	// until an active user comes.
	status, out = curl("POST", "/view/register", `{
"id": "query:abc123",
"surql": "SELECT * FROM users WHERE active = true",
"clientId": "client-456",
"ttl": "30s"
}`, ct, appJSON, auth, bear)
	var reg viewsResult
	if status != http.StatusOK || json.Unmarshal(out, &reg) != nil || reg.ID != "query:abc123" || reg.Hash == "" ||
		reg.Generation != 0 || reg.Records == nil || len(reg.Records) != 0 {
		t.Fatalf("register example: %d %s, want 200 {id, hash, generation: 0, records: []}", status, out)
	}
	api.ingest("users", "CREATE", "user:bob", map[string]any{"name": "Bob", "email": "bob@example.com", "active": true})
	d := api.debug("query:abc123")
	if len(d.Cache) != 1 || d.Cache[0].ID != "user:bob" || d.Cache[0].Version != 1 ||
		!jsonEqual(d.Cache[0].Record, []byte(`{"id":"user:bob","name":"Bob","email":"bob@example.com","active":true}`)) {
		t.Fatalf("query:abc123 after an active user: %s", d.raw)
	}
	if d.LastHash == reg.Hash {
		t.Fatalf("the hash did not change with the result: %s", d.LastHash)
	}

	// The full registration body of the spec's field list.
	status, out = curl("POST", "/view/register", `{
"id": "users_view",
"surql": "SELECT * FROM users WHERE active = true",
"clientId": "client-456",
"ttl": "30s",
"params": null,
"lastActiveAt": "2099-01-01T00:00:00Z",
"format": null
}`, ct, appJSON, auth, bear)
	if status != http.StatusOK || json.Unmarshal(out, &reg) != nil || len(reg.Records) != 1 {
		t.Fatalf("register with every field: %d %s", status, out)
	}

	// GET /debug/view/:view_id: the spec's shape.
	status, out = curl("GET", "/debug/view/users_view", "", auth, bear)
	var dv map[string]any
	if status != http.StatusOK || json.Unmarshal(out, &dv) != nil {
		t.Fatalf("debug view example: %d %s", status, out)
	}
	for _, k := range []string{"view_id", "cache_size", "last_hash", "format", "cache", "subquery_tables",
		"referenced_tables", "content_generation", "subquery_cache"} {
		if _, ok := dv[k]; !ok {
			t.Fatalf("debug view example: no %q in %s", k, out)
		}
	}
	if dv["view_id"] != "users_view" || dv["cache_size"] != 1.0 || dv["format"] != nil ||
		!slices.Equal(viewsStrings(dv["referenced_tables"]), []string{"users"}) || dv["content_generation"] != 0.0 ||
		len(viewsStrings(dv["subquery_tables"])) != 0 || dv["last_hash"] != reg.Hash {
		t.Fatalf("debug view example: %s", out)
	}

	// GET /debug/deps
	status, out = curl("GET", "/debug/deps", "", auth, bear)
	if status != http.StatusOK || !jsonEqual(out, []byte(`{"dependency_map":{"users":["query:abc123","users_view"]},"tables_in_store":["users"],"view_count":2}`)) {
		t.Fatalf("deps example: %d %s", status, out)
	}

	// GET /health, /version, /info: public.
	status, out = curl("GET", "/health", "")
	if status != http.StatusOK || !jsonEqual(out, []byte(`{"status":"ready"}`)) {
		t.Fatalf("health example: %d %s", status, out)
	}
	status, out = curl("GET", "/version", "")
	var ver map[string]any
	if status != http.StatusOK || json.Unmarshal(out, &ver) != nil || ver["mode"] != "streaming" || ver["version"] == "" || len(ver) != 2 {
		t.Fatalf("version example: %d %s", status, out)
	}
	info := api.info()
	if info.ID != "ssp-primary-01" || info.Status != "ready" || info.Views != 2 || info.RefMode != "dedicated" ||
		info.Version != ver["version"] || *info.Uptime < 0 || !viewsMapsEqual(info.CircuitTables, map[string]int{"users": 2}) ||
		len(info.CircuitHashes) != 1 || info.CircuitHashes["users"] == "" {
		t.Fatalf("info example: %+v", info)
	}
	before := info.CircuitHashes["users"]
	api.ingest("users", "UPDATE", "user:alice", map[string]any{"name": "Alice", "_00_rv": 2})
	if h := api.info().CircuitHashes["users"]; h == before {
		t.Fatalf("circuit_hashes[users] unchanged by a version bump: %s", h)
	}

	// POST /log
	status, out = curl("POST", "/log", `{
"message": "User logged in",
"level": "info",
"data": {"user_id": "alice"}
}`, ct, appJSON, auth, bear)
	if status != http.StatusOK || len(out) != 0 {
		t.Fatalf("log example: %d %q", status, out)
	}
	api.mustDo("POST", "/log", map[string]any{"message": "disk nearly full", "level": "error", "data": map[string]any{"free_mb": 12}})
	api.mustDo("POST", "/log", map[string]any{"message": "tracing a click", "level": "trace"})
	api.mustDo("POST", "/log", map[string]any{"message": "no level given"})

	// POST /view/unregister: users_view goes; the spec's example id is
	// answered 200 again although it is gone.
	for i := 0; i < 2; i++ {
		status, out = curl("POST", "/view/unregister", `{"id": "users_view"}`, ct, appJSON, auth, bear)
		if status != http.StatusOK || len(out) != 0 {
			t.Fatalf("unregister example (%d): %d %q", i, status, out)
		}
	}
	if status, out := api.debugStatus("users_view"); status != http.StatusNotFound || !jsonEqual(out, []byte(`{"error":"View not found"}`)) {
		t.Fatalf("debug view of an unregistered view: %d %s, want 404 {\"error\":\"View not found\"}", status, out)
	}

	// POST /reset: every view and table goes.
	status, out = curl("POST", "/reset", "", auth, bear)
	if status != http.StatusOK {
		t.Fatalf("reset example: %d %s", status, out)
	}
	info = api.info()
	if info.Views != 0 || len(info.CircuitTables) != 0 || len(info.CircuitHashes) != 0 {
		t.Fatalf("info after reset: %+v", info)
	}
	if status, _ := api.debugStatus("query:abc123"); status != http.StatusNotFound {
		t.Fatalf("debug view after reset: %d, want 404", status)
	}
	api.restJSONViews("GET", "/debug/deps", `{"dependency_map":{},"tables_in_store":[],"view_count":0}`)
	// The tables are gone too: a new view over users starts empty.
	if r := api.register("after:reset", "SELECT * FROM users", nil); len(r.Records) != 0 {
		t.Fatalf("users after reset: %s", showViewRows(r.Records))
	}

	// The log lines, read once the process is gone.
	if err := s.stop(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	want := map[string]struct {
		level string
		data  string
	}{
		"User logged in":   {"INFO", `{"user_id":"alice"}`},
		"disk nearly full": {"ERROR", `{"free_mb":12}`},
		"tracing a click":  {"DEBUG", ""},
		"no level given":   {"INFO", ""},
	}
	sc := bufio.NewScanner(strings.NewReader(s.log.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		msg, _ := line["msg"].(string)
		w, ok := want[msg]
		if !ok {
			continue
		}
		data, _ := json.Marshal(line["data"])
		if line["level"] != w.level || line["remote"] != true || w.data != "" && !jsonEqual(data, []byte(w.data)) ||
			w.data == "" && line["data"] != nil {
			t.Errorf("log line of %q: %s, want level %s, remote true, data %s", msg, sc.Bytes(), w.level, w.data)
		}
		delete(want, msg)
	}
	if len(want) > 0 {
		t.Errorf("client log lines missing from the server log: %v", want)
	}
}

// TestViewsAuth: with SPKY_AUTH_SECRET set, every route but /health,
// /version and /info answers 401 unless the header is exactly Bearer
// <secret>, the WebSocket handshake included.
func TestViewsAuth(t *testing.T) {
	s := startViewsServer(t, []string{"SPKY_AUTH_SECRET=" + viewsSecret})
	api := newViewsAPI(t, s, viewsSecret)
	api.register("query:auth", "SELECT * FROM users", nil)

	routes := []struct{ method, path, body string }{
		{"POST", "/ingest", `{"table":"users","op":"CREATE","id":"user:x","record":{}}`},
		{"POST", "/view/register", `{"id":"q","surql":"SELECT * FROM users","clientId":"c","ttl":"30s"}`},
		{"POST", "/view/unregister", `{"id":"query:auth"}`},
		{"POST", "/reset", ""},
		{"GET", "/debug/view/query:auth", ""},
		{"GET", "/debug/deps", ""},
		{"POST", "/log", `{"message":"m"}`},
		{"GET", "/view/ws", ""},
	}
	wrong := [][]string{
		nil,
		{"Authorization", "Bearer wrong-token"},
		{"Authorization", "bearer " + viewsSecret},
		{"Authorization", "BEARER " + viewsSecret},
		{"Authorization", "Bearer  " + viewsSecret},
		{"Authorization", viewsSecret},
		{"Authorization", "Bearer"},
		{"Authorization", "Bearer " + viewsSecret + "x"},
		{"Authorization", "Basic dXNlcjp5b3VyLXNlY3JldC10b2tlbg=="},
		{"Authorization", "Token " + viewsSecret},
	}
	for _, r := range routes {
		for _, h := range wrong {
			headers := append([]string{"Content-Type", "application/json"}, h...)
			var body any
			if r.body != "" {
				body = r.body
			}
			status, out, hdr := api.raw(r.method, r.path, body, headers...)
			if status != http.StatusUnauthorized {
				t.Fatalf("%s %s with %q: %d %s, want 401", r.method, r.path, h, status, out)
			}
			if !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("%s %s: 401 without WWW-Authenticate: Bearer", r.method, r.path)
			}
		}
	}
	if _, err := dialViewsConn(s, "Bearer nope", nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("ws dial with a wrong token: %v, want 401", err)
	}
	// Nothing was changed by the refused requests.
	d := api.debug("query:auth")
	if len(d.Cache) != 0 {
		t.Fatalf("a refused ingest was applied: %s", d.raw)
	}
	// Public routes need no header, and ignore a wrong one.
	for _, path := range []string{"/health", "/version", "/info"} {
		for _, h := range [][]string{nil, {"Authorization", "Bearer wrong"}} {
			if status, out, _ := api.raw("GET", path, nil, h...); status != http.StatusOK {
				t.Fatalf("GET %s with %q: %d %s, want 200 (public)", path, h, status, out)
			}
		}
	}
	// The right header everywhere, and the token as ?access_token= on the
	// WebSocket only.
	api.ingest("users", "CREATE", "user:x", map[string]any{})
	c := dialViews(t, s, "Bearer "+viewsSecret)
	c.subscribe([]string{"query:auth"})
	if rows := c.replica("query:auth").rows; len(rows) != 1 || rows[0].ID != "user:x" {
		t.Fatalf("initial result over ws: %s", showViewRows(rows))
	}
	conn, err := dialViewsConnURL(s, "/view/ws?access_token="+viewsSecret)
	if err != nil {
		t.Fatalf("ws with ?access_token=: %v", err)
	}
	conn.CloseNow()
	if status, _ := api.do("GET", "/debug/deps?access_token="+viewsSecret, nil); status != http.StatusOK {
		t.Fatalf("deps with the header: %d", status)
	}
	if status, _, _ := api.raw("GET", "/debug/deps?access_token="+viewsSecret, nil); status != http.StatusUnauthorized {
		t.Fatalf("?access_token= on a plain route: %d, want 401", status)
	}
}

// TestViewsBadRequests: 400 with a plain-text reason for a malformed body, a
// missing field (named) and a query outside the subset (the message names
// the unsupported part); nothing is registered or ingested.
func TestViewsBadRequests(t *testing.T) {
	s := startViewsServer(t, []string{"SPKY_AUTH_SECRET=" + viewsSecret})
	api := newViewsAPI(t, s, viewsSecret)
	bad := func(path string, body any, wantInMsg ...string) {
		t.Helper()
		status, out, hdr := api.raw("POST", path, body, "Content-Type", "application/json", "Authorization", api.auth)
		if status != http.StatusBadRequest || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
			t.Fatalf("POST %s %v: %d (%s) %s, want 400 text/plain", path, body, status, hdr.Get("Content-Type"), out)
		}
		msg := strings.ToLower(string(out))
		for _, w := range wantInMsg {
			if !strings.Contains(msg, strings.ToLower(w)) {
				t.Fatalf("POST %s %v: message %q does not name %q", path, body, out, w)
			}
		}
	}
	rec := map[string]any{"name": "x"}
	bad("/ingest", `{"op":"CREATE","id":"user:1","record":{}}`, "table")
	bad("/ingest", `{"table":"user","id":"user:1","record":{}}`, "op")
	bad("/ingest", `{"table":"user","op":"CREATE","record":{}}`, "id")
	bad("/ingest", `{"table":"user","op":"CREATE","id":"user:1"}`, "record")
	bad("/ingest", `{"table":"user","op":"UPDATE","id":"user:1","record":null}`, "record")
	bad("/ingest", map[string]any{"table": "user", "op": "UPSERT", "id": "user:1", "record": rec}, "UPSERT")
	bad("/ingest", map[string]any{"table": "user", "op": "MERGE", "id": "user:1", "record": rec}, "MERGE")
	bad("/ingest", `{"table":"user","op":"CREATE","id":"user:1","record":[1,2]}`, "record")
	bad("/ingest", `{"table":"user","op":"CREATE","id":"user:1","record":"text"}`, "record")
	bad("/ingest", `{"table":"user","op":"CREATE","id":"user:1","record":{}`, "JSON")
	bad("/ingest", `not json`, "JSON")
	bad("/ingest", ``, "empty")
	bad("/ingest", `{"table":1,"op":"CREATE","id":"user:1","record":{}}`, "table")

	reg := func(surql string) map[string]any {
		return map[string]any{"id": "query:bad", "surql": surql, "clientId": "c", "ttl": "30s"}
	}
	bad("/view/register", `{"surql":"SELECT * FROM user","clientId":"c","ttl":"30s"}`, "'id'")
	bad("/view/register", `{"id":"q","clientId":"c","ttl":"30s"}`, "surql")
	bad("/view/register", `{"id":"q","surql":"SELECT * FROM user","ttl":"30s"}`, "clientId")
	bad("/view/register", `{"id":"q","surql":"SELECT * FROM user","clientId":"c"}`, "ttl")
	bad("/view/register", `{"id":"q","surql":"SELECT * FROM user","clientId":"c","ttl":"soon"}`, "ttl")
	bad("/view/register", `{"id":"q","surql":"SELECT * FROM user","clientId":"c","ttl":"30s","lastActiveAt":"yesterday"}`, "lastActiveAt")
	bad("/view/register", `{"id":"q","surql":"SELECT * FROM user","clientId":"c","ttl":"30s","params":[1]}`, "params")
	bad("/view/register", `{"id":"q","surql":"SELECT * FROM user","clientId":"c","ttl":"30s","format":"xml"}`, "format")
	bad("/view/register", `[]`)
	// Unsupported queries: the message names what is not supported.
	for _, c := range []struct{ surql, names string }{
		{"SELECT * FROM user FETCH author", "FETCH"},
		{"SELECT * FROM user WHERE n = 5 FETCH author", "FETCH"},
		{"SELECT * FROM user LIMIT 5 START 2 FETCH author", "FETCH"},
		{"SELECT * FROM user SPLIT tags", "SPLIT"},
		{"SELECT * FROM user TIMEOUT 5s", "TIMEOUT"},
		{"SELECT * FROM user PARALLEL", "PARALLEL"},
		{"SELECT * FROM user WITH INDEX idx", "WITH"},
		{"SELECT * FROM user EXPLAIN", "EXPLAIN"},
		{"SELECT * FROM user WHERE name LIKE 'a'", "LIKE"},
		{"SELECT * FROM user WHERE n + 1 = 2", "+"},
		{"SELECT math::max(age) AS m FROM user GROUP BY city", "math::max"},
		{"SELECT city, count() FROM user GROUP BY", "GROUP BY"},
		{"SELECT * FROM user GROUP BY city", "GROUP BY"},
		{"SELECT count() FROM user", "GROUP"},
		{"SELECT * FROM user garbage", "garbage"},
		{"SELECT * FROM user WHERE active = true trailing words", "trailing"},
		{"SELECT * FROM user LIMIT 5 nonsense", "nonsense"},
		{"SELECT * FROM user ORDER BY name DESC 7", "7"},
		{"SELECT * FROM user LIMIT 2 ORDER BY name", "ORDER BY"},
		{"SELECT * FROM user START 1 LIMIT 2", "LIMIT"},
		{"SELECT * FROM user; DELETE user", "statement"},
		{"DELETE user", "DELETE"},
		{"SELECT * FROM user WHERE", "end of query"},
		{"SELECT * FROM user ORDER BY name COLLATE", "COLLATE"},
		{"SELECT * FROM user WHERE string::levenshtein(name, 'x') > 3", "string::levenshtein"}, // the whole name, not "string"
		{"SELECT * FROM user WHERE NOT name = 'x'", "NOT"},
		{"SELECT * FROM user WHERE name NOT INSIDE ['x']", "NOT"},
		{"SELECT * FROM user WHERE time::now() > at", "time::now"},
	} {
		bad("/view/register", reg(c.surql), c.names)
	}
	bad("/view/unregister", `{}`, "id")
	bad("/view/unregister", `{"id":5}`, "id")
	bad("/log", `{"level":"info"}`, "message")
	bad("/log", `{"message":"m","data":`, "JSON")

	// None of it left a trace.
	info := api.info()
	if info.Views != 0 || len(info.CircuitTables) != 0 {
		t.Fatalf("rejected requests changed the state: %+v", info)
	}
}

// TestViewsRegisterSemantics: the same id and query return the current
// result unchanged; a different query (or params) replaces the view, and
// its subscribers get the difference; format "ids" leaves out record.
func TestViewsRegisterSemantics(t *testing.T) {
	s := startViewsServer(t, []string{"SPKY_AUTH_SECRET=" + viewsSecret})
	api := newViewsAPI(t, s, viewsSecret)
	for i, name := range []string{"ann", "bob", "cid", "dee"} {
		api.ingest("user", "CREATE", "user:"+name, map[string]any{"name": name, "age": 20 + 10*i, "_00_rv": i + 1})
	}
	first := api.register("query:r", "SELECT * FROM user WHERE age >= 30", nil)
	if !slices.Equal(viewKeys(first.Records), []string{"user:bob@2", "user:cid@3", "user:dee@4"}) || first.Generation != 0 {
		t.Fatalf("first registration: %+v", first)
	}
	c := dialViews(t, s, api.auth)
	c.subscribe([]string{"query:r"})

	// Same id, same query: unchanged, whatever the other fields say.
	again := api.registerBody(map[string]any{"id": "query:r", "surql": "SELECT * FROM user WHERE age >= 30",
		"clientId": "other-client", "ttl": "5m"})
	if again.Hash != first.Hash || again.Generation != first.Generation || !sameViewRows(again.Records, first.Records) {
		t.Fatalf("re-registration changed the result:\n first %+v\n again %+v", first, again)
	}
	if d := api.debug("query:r"); d.ClientID != "other-client" || d.TTLMs != 300000 {
		t.Fatalf("re-registration did not refresh client and ttl: %s", d.raw)
	}

	// A different query replaces the view; its hash and generation move
	// on, and the subscriber gets the new result whole, as an initial
	// delta that replaces what it held (no delta is patched onto it).
	repl := api.register("query:r", "SELECT * FROM user WHERE age < 40 ORDER BY age DESC", nil)
	if !slices.Equal(viewKeys(repl.Records), []string{"user:bob@2", "user:ann@1"}) || repl.Generation <= first.Generation ||
		repl.Hash == first.Hash {
		t.Fatalf("replacement: %+v", repl)
	}
	d := api.debug("query:r")
	if d.Surql != "SELECT * FROM user WHERE age < 40 ORDER BY age DESC" || !sameViewRows(d.Cache, repl.Records) ||
		d.LastHash != repl.Hash || d.ContentGeneration != repl.Generation {
		t.Fatalf("debug view after replacement: %s", d.raw)
	}
	c.converge(api, "query:r")
	if rep := c.replica("query:r"); len(rep.history) != 0 || rep.initials != 2 {
		t.Fatalf("the replacement reached the subscriber as %d deltas and %d initial results: %v", len(rep.history), rep.initials, rep.history)
	}
	// The replaced view follows ingests under its new query only.
	api.ingest("user", "CREATE", "user:eve", map[string]any{"name": "eve", "age": 35})
	if ids := viewIDs(api.debug("query:r").Cache); !slices.Equal(ids, []string{"user:eve", "user:bob", "user:ann"}) {
		t.Fatalf("replaced view after an ingest: %v", ids)
	}
	c.converge(api, "query:r")
	if deps := api.mustDo("GET", "/debug/deps", nil); !jsonEqual(deps, []byte(`{"dependency_map":{"user":["query:r"]},"tables_in_store":["user"],"view_count":1}`)) {
		t.Fatalf("deps after replacement: %s", deps)
	}

	// Different params replace too.
	p1 := api.register("query:p", "SELECT * FROM user WHERE name = $n", map[string]any{"n": "ann"})
	p1again := api.register("query:p", "SELECT * FROM user WHERE name = $n", map[string]any{"n": "ann"})
	p2 := api.register("query:p", "SELECT * FROM user WHERE name = $n", map[string]any{"n": "bob"})
	if !slices.Equal(viewIDs(p1.Records), []string{"user:ann"}) || p1again.Hash != p1.Hash || p1again.Generation != p1.Generation ||
		!slices.Equal(viewIDs(p2.Records), []string{"user:bob"}) || p2.Generation <= p1.Generation {
		t.Fatalf("params: %+v / %+v / %+v", p1, p1again, p2)
	}

	// The same params written otherwise (key order, spaces, as the JSON
	// string the sp00ky clients send) are the same params: the view is
	// returned unchanged, not replaced.
	q := map[string]any{"id": "query:pp", "surql": "SELECT * FROM user WHERE name = $a OR name = $b", "clientId": "c", "ttl": "30s"}
	var pp []viewsResult
	for _, params := range []string{`{"a":"ann","b":"cid"}`, `{"b":"cid","a":"ann"}`, `{ "a": "ann", "b": "cid" }`,
		`"{\"a\":\"ann\",\"b\":\"cid\"}"`} {
		body := fmt.Sprintf(`{"id":"query:pp","surql":%q,"clientId":"c","ttl":"30s","params":%s}`, q["surql"], params)
		var r viewsResult
		if err := json.Unmarshal(api.mustDo("POST", "/view/register", body), &r); err != nil {
			t.Fatal(err)
		}
		pp = append(pp, r)
	}
	for i, r := range pp {
		if !slices.Equal(viewIDs(r.Records), []string{"user:ann", "user:cid"}) || r.Hash != pp[0].Hash || r.Generation != pp[0].Generation {
			t.Errorf("registration %d of query:pp with the same params written otherwise: generation %d hash %s, want the first's %d %s (unchanged, not replaced)",
				i, r.Generation, r.Hash, pp[0].Generation, pp[0].Hash)
		}
	}

	// format "ids": ids and versions only, on register, debug view and
	// the WebSocket.
	ids := api.registerBody(map[string]any{"id": "query:ids", "surql": "SELECT * FROM user WHERE age > 25 ORDER BY age",
		"clientId": "c", "ttl": "30s", "format": "ids"})
	out := api.mustDo("POST", "/view/register", map[string]any{"id": "query:ids", "surql": "SELECT * FROM user WHERE age > 25 ORDER BY age",
		"clientId": "c", "ttl": "30s", "format": "ids"})
	if strings.Contains(string(out), `"record"`) || !slices.Equal(viewKeys(ids.Records), []string{"user:bob@2", "user:eve@1", "user:cid@3", "user:dee@4"}) {
		t.Fatalf("format ids: %s", out)
	}
	full := api.register("query:full", "SELECT * FROM user WHERE age > 25 ORDER BY age", nil)
	if full.Hash != ids.Hash {
		t.Fatalf("the format changed the hash: %s vs %s", full.Hash, ids.Hash)
	}
	for _, r := range full.Records {
		if r.Record == nil {
			t.Fatalf("default format without record: %s", showViewRows(full.Records))
		}
	}
	dv := api.debug("query:ids")
	if dv.Format == nil || *dv.Format != "ids" || strings.Contains(string(dv.raw), `"record"`) {
		t.Fatalf("debug view of an ids view: %s", dv.raw)
	}
	c.subscribe([]string{"query:ids"})
	api.ingest("user", "UPDATE", "user:ann", map[string]any{"name": "ann", "age": 99, "_00_rv": 7})
	api.ingest("user", "UPDATE", "user:bob", map[string]any{"name": "bob", "age": 98, "_00_rv": 8})
	c.converge(api, "query:ids")
	for _, r := range c.replica("query:ids").rows {
		if r.Record != nil {
			t.Fatalf("format ids: a delta carried a record: %+v", r)
		}
	}
	if keys := viewKeys(api.debug("query:ids").Cache); !slices.Equal(keys, []string{"user:eve@1", "user:cid@3", "user:dee@4", "user:bob@8", "user:ann@7"}) {
		t.Fatalf("ids view after updates: %v", keys)
	}
	c.checkErrs()
}

// restJSONViews sends an authenticated request that must answer 200 with
// the JSON document want.
func (v *viewsAPI) restJSONViews(method, path, want string) {
	v.t.Helper()
	status, out := v.do(method, path, nil)
	if status != http.StatusOK || !jsonEqual(out, []byte(want)) {
		v.t.Fatalf("%s %s: %d %s, want 200 %s", method, path, status, out, want)
	}
}

func viewsStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

func viewsMapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
