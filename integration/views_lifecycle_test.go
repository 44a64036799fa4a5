package integration

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestViewsTTL: with TTL_CLEANUP_INTERVAL_SECS=1 in the environment, a view
// registered with ttl "1s" is removed by the sweep (404 on /debug/view),
// while one registered again and again keeps living; once no longer
// refreshed it goes too. (The one kept has ttl "2s", refreshed every 200
// ms: a slow machine has 1.8 s of slack.)
func TestViewsTTL(t *testing.T) {
	s := startViewsServer(t, []string{"SPKY_AUTH_SECRET=" + viewsSecret, "TTL_CLEANUP_INTERVAL_SECS=1"})
	api := newViewsAPI(t, s, viewsSecret)
	api.ingest("user", "CREATE", "user:1", map[string]any{"name": "ann"})
	reg := func(id, ttl string) viewsResult {
		return api.registerBody(map[string]any{"id": id, "surql": "SELECT * FROM user", "clientId": "c", "ttl": ttl})
	}
	reg("ttl:gone", "1s")
	kept := reg("ttl:kept", "2s")
	reg("ttl:long", "1h")

	// Refresh ttl:kept every 200 ms until ttl:gone has been swept.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if r := reg("ttl:kept", "2s"); r.Hash != kept.Hash || !sameViewRows(r.Records, kept.Records) {
			t.Fatalf("refreshing ttl:kept changed its result: %+v", r)
		}
		status, out := api.debugStatus("ttl:gone")
		if status == http.StatusNotFound {
			break
		}
		if status != http.StatusOK {
			t.Fatalf("debug ttl:gone: %d %s", status, out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("ttl:gone (ttl 1s, a sweep every 1s) still there after 20s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Three more sweeps with ttl:kept refreshed: it lives on.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		reg("ttl:kept", "2s")
		if status, out := api.debugStatus("ttl:kept"); status != http.StatusOK {
			t.Fatalf("ttl:kept (ttl 2s), registered again every 200ms, was removed: %d %s", status, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if info := api.info(); info.Views != 2 {
		t.Fatalf("views after the sweeps: %d, want 2 (ttl:kept, ttl:long)", info.Views)
	}
	deps := api.mustDo("GET", "/debug/deps", nil)
	if !jsonEqual(deps, []byte(`{"dependency_map":{"user":["ttl:kept","ttl:long"]},"tables_in_store":["user"],"view_count":2}`)) {
		t.Fatalf("deps after the sweep: %s", deps)
	}
	// An expired view is unregistered without complaint, and registered
	// anew with its result.
	api.mustDo("POST", "/view/unregister", map[string]any{"id": "ttl:gone"})
	if r := reg("ttl:gone", "1h"); !slices.Equal(viewIDs(r.Records), []string{"user:1"}) {
		t.Fatalf("ttl:gone registered again: %+v", r)
	}
	// Left alone, ttl:kept goes as well; ttl:long stays.
	for deadline := time.Now().Add(20 * time.Second); ; {
		status, _ := api.debugStatus("ttl:kept")
		if status == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ttl:kept not removed within 20s of its last refresh")
		}
		time.Sleep(100 * time.Millisecond)
	}
	api.debug("ttl:long")
	api.debug("ttl:gone")
}

// TestViewsTTLFlag: --ttl-cleanup-interval=200ms, the flag form.
func TestViewsTTLFlag(t *testing.T) {
	s := startViewsServer(t, nil, "--ttl-cleanup-interval=200ms")
	api := newViewsAPI(t, s, "tok")
	api.registerBody(map[string]any{"id": "short", "surql": "SELECT * FROM t", "clientId": "c", "ttl": "300ms"})
	api.registerBody(map[string]any{"id": "long", "surql": "SELECT * FROM t", "clientId": "c", "ttl": "1h"})
	for deadline := time.Now().Add(20 * time.Second); ; {
		if status, _ := api.debugStatus("short"); status == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a view with ttl 300ms still there after 20s of 200ms sweeps")
		}
		time.Sleep(50 * time.Millisecond)
	}
	api.debug("long")
}

// TestViewsKill9 ingests records and registers views (one with a subquery
// whose generation has moved, one replaced, one with params, one grouped,
// one of format ids), kills the server with -9 under --fsync=always and
// restarts it: /info's tables and hashes and every view's /debug/view are
// as before, and the views go on from there.
func TestViewsKill9(t *testing.T) {
	s := startViewsServer(t, []string{"SPKY_AUTH_SECRET=" + viewsSecret}, "--fsync=always")
	api := newViewsAPI(t, s, viewsSecret)

	for i := 1; i <= 5; i++ {
		api.ingest("user", "CREATE", fmt.Sprint("user:", i), map[string]any{"name": fmt.Sprint("u", i), "_00_rv": i})
	}
	for i := 1; i <= 12; i++ {
		api.ingest("thread", "CREATE", fmt.Sprint("thread:", i), map[string]any{"title": fmt.Sprint("t", i),
			"author": fmt.Sprint("user:", 1+i%5), "created_at": fmt.Sprintf("2024-01-%02d", i)})
	}
	views := map[string]struct {
		surql  string
		params any
		format string
	}{
		"dur:mine":     {"SELECT * FROM thread WHERE author = $auth.id", map[string]any{"auth": map[string]any{"id": "user:2"}}, ""},
		"dur:recent":   {"SELECT *, (SELECT * FROM user WHERE id = $parent.author LIMIT 1)[0] AS author FROM thread ORDER BY created_at DESC LIMIT 10", nil, ""},
		"dur:comments": {"SELECT *, (SELECT * FROM comment WHERE thread = $parent.id) AS comments FROM thread", nil, ""},
		"dur:names":    {"SELECT * FROM user ORDER BY name DESC LIMIT 3", nil, "ids"},
		"dur:groups":   {"SELECT author, count() AS n FROM thread GROUP BY author", nil, ""},
		"dur:replaced": {"SELECT * FROM user WHERE name = 'u1'", nil, ""},
		"dur:dropped":  {"SELECT * FROM user", nil, ""},
	}
	for id, v := range views {
		body := map[string]any{"id": id, "surql": v.surql, "clientId": "c", "ttl": "1h"}
		if v.params != nil {
			body["params"] = v.params
		}
		if v.format != "" {
			body["format"] = v.format
		}
		api.registerBody(body)
	}
	api.register("dur:replaced", "SELECT * FROM user WHERE name != 'u1' ORDER BY name DESC", nil)
	api.mustDo("POST", "/view/unregister", map[string]any{"id": "dur:dropped"})
	// Changes after the registrations: comments (a table read only in a
	// subquery: the generation moves), updates and deletes.
	for i := 1; i <= 6; i++ {
		api.ingest("comment", "CREATE", fmt.Sprint("comment:", i), map[string]any{"thread": fmt.Sprint("thread:", 1+i%3), "text": fmt.Sprint("c", i)})
	}
	api.ingest("comment", "DELETE", "comment:2", nil)
	api.ingest("user", "UPDATE", "user:3", map[string]any{"name": "zz", "_00_rv": 9})
	api.ingest("thread", "DELETE", "thread:12", nil)
	api.ingest("thread", "UPDATE", "thread:4", map[string]any{"title": "t4b", "author": "user:2", "created_at": "2024-02-01", "_00_rv": 2})

	before := map[string]viewsDebug{}
	for id := range views {
		if id == "dur:dropped" {
			continue
		}
		before[id] = api.debug(id)
	}
	if g := before["dur:comments"].ContentGeneration; g == 0 {
		t.Fatalf("dur:comments: the generation did not move with the comments: %s", before["dur:comments"].raw)
	}
	if g := before["dur:replaced"].ContentGeneration; g == 0 {
		t.Fatalf("dur:replaced: generation 0 after a replacement")
	}
	infoBefore := api.info()
	depsBefore := api.mustDo("GET", "/debug/deps", nil)

	s.kill9()
	s.restart()
	api.waitReady()

	infoAfter := api.info()
	if infoAfter.Views != infoBefore.Views || !viewsMapsEqual(infoAfter.CircuitTables, infoBefore.CircuitTables) ||
		!viewsMapsEqual(infoAfter.CircuitHashes, infoBefore.CircuitHashes) {
		t.Fatalf("/info after kill -9:\n got  %+v\n want %+v", infoAfter, infoBefore)
	}
	for id, d := range before {
		after := api.debug(id)
		if !jsonEqual(after.raw, d.raw) {
			t.Fatalf("%s after kill -9:\n got  %s\n want %s", id, after.raw, d.raw)
		}
	}
	if status, _ := api.debugStatus("dur:dropped"); status != http.StatusNotFound {
		t.Fatalf("an unregistered view came back after kill -9: %d", status)
	}
	if deps := api.mustDo("GET", "/debug/deps", nil); !jsonEqual(deps, depsBefore) {
		t.Fatalf("deps after kill -9:\n got  %s\n want %s", deps, depsBefore)
	}

	// The views go on: subscribers get the restored result, then deltas;
	// the generation continues from where it was.
	c := dialViews(t, s, api.auth)
	c.subscribe([]string{"dur:comments", "dur:recent"})
	if rep := c.replica("dur:comments"); rep.hash != before["dur:comments"].LastHash || !sameViewRows(rep.rows, before["dur:comments"].Cache) {
		t.Fatalf("initial result after the restart: %+v", rep)
	}
	api.ingest("comment", "CREATE", "comment:99", map[string]any{"thread": "thread:1", "text": "after"})
	api.ingest("thread", "CREATE", "thread:20", map[string]any{"title": "new", "author": "user:1", "created_at": "2025-01-01"})
	d := c.converge(api, "dur:comments")
	if d.ContentGeneration <= before["dur:comments"].ContentGeneration {
		t.Fatalf("generation after the restart: %d, before %d", d.ContentGeneration, before["dur:comments"].ContentGeneration)
	}
	if ids := viewIDs(c.converge(api, "dur:recent").Cache); len(ids) != 10 || ids[0] != "thread:20" {
		t.Fatalf("dur:recent after the restart: %v", ids)
	}
	c.checkErrs()
}

// TestViewsChaos: with --chaos, view actors are made to panic (POST
// /admin/chaos on the data door) while records are ingested. Each is
// restarted and rebuilt; a WebSocket subscriber's deltas, replayed, pass
// only through results the view really had, in order, and end at its final
// result: nothing lost, nothing repeated.
func TestViewsChaos(t *testing.T) {
	s := startViewsServer(t, []string{"SPKY_AUTH_SECRET=" + viewsSecret}, "--chaos", "--restart-max=1000", "--restart-backoff-max=50ms")
	api := newViewsAPI(t, s, viewsSecret)
	num := func(r map[string]any) int { return r["n"].(int) }
	type modelView struct {
		id, surql string
		keep      func(map[string]any) bool
		less      func(a, b map[string]any) int
		limit     int
	}
	views := []modelView{
		{"chaos:filter", "SELECT * FROM item WHERE n >= 50", func(r map[string]any) bool { return num(r) >= 50 }, nil, -1},
		{"chaos:top", "SELECT * FROM item ORDER BY n DESC LIMIT 5", func(map[string]any) bool { return true },
			func(a, b map[string]any) int { return num(b) - num(a) }, 5},
	}
	for _, v := range views {
		api.register(v.id, v.surql, nil)
	}
	c := dialViews(t, s, api.auth)
	c.subscribe([]string{"chaos:filter", "chaos:top"})

	var (
		stop      atomic.Bool
		injected  atomic.Int64
		wg        sync.WaitGroup
		chaosErrs = make(chan string, 100)
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		targets := []string{"views/chaos:filter", "views/chaos:top", "views/chaos:*"}
		for i := 0; !stop.Load(); i++ {
			target := targets[i%len(targets)]
			body, _ := json.Marshal(map[string]any{"target": target, "fault": "panic"})
			resp, err := http.Post(s.data+"/admin/chaos", "application/json", bytesReader(body))
			if err != nil {
				chaosErrs <- err.Error()
				return
			}
			var out struct {
				Affected int `json:"affected"`
			}
			json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			want := 1
			if target == "views/chaos:*" {
				want = 2
			}
			if resp.StatusCode != http.StatusOK || out.Affected != want {
				chaosErrs <- fmt.Sprintf("chaos %s: %d, affected %d, want 200 and %d", target, resp.StatusCode, out.Affected, want)
				return
			}
			injected.Add(1)
			time.Sleep(40 * time.Millisecond)
		}
	}()

	table := map[string]map[string]any{}
	states := make([][][]string, len(views))
	for i, v := range views {
		states[i] = [][]string{viewsModel(table, v.keep, v.less, 0, v.limit)}
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for step := 0; step < 300; step++ {
		id := fmt.Sprintf("item:%02d", rng.IntN(20))
		old, exists := table[id]
		rec := map[string]any{"n": rng.IntN(100)}
		switch {
		case !exists:
			api.ingest("item", "CREATE", id, rec)
		case rng.IntN(3) == 0:
			api.ingest("item", "DELETE", id, nil)
			rec = nil
		default:
			rec["_00_rv"] = int(viewsModelVersion(old)) + 1
			api.ingest("item", "UPDATE", id, rec)
		}
		if rec == nil {
			delete(table, id)
		} else {
			table[id] = rec
		}
		for i, v := range views {
			states[i] = viewsAppendState(states[i], viewsModel(table, v.keep, v.less, 0, v.limit))
		}
	}
	stop.Store(true)
	wg.Wait()
	close(chaosErrs)
	for e := range chaosErrs {
		t.Fatal(e)
	}

	for i, v := range views {
		final := states[i][len(states[i])-1]
		d := c.converge(api, v.id)
		if !slices.Equal(viewKeys(d.Cache), final) {
			t.Fatalf("%s after the chaos: /debug/view %v, model %v", v.id, viewKeys(d.Cache), final)
		}
		got := c.replica(v.id).history
		if ok, k := viewsSubsequence(got, states[i]); !ok {
			t.Fatalf("%s: delta %d of %d gives %v, a result the view never had after the one before (deltas: %v)",
				v.id, k+1, len(got), got[k], got)
		}
		t.Logf("%s: %d deltas for %d distinct results", v.id, len(got), len(states[i])-1)
	}
	c.checkErrs()
	_, metrics := s.do("GET", "/metrics", nil)
	if !containsMetric(string(metrics), `troupe_actor_restarts_total{kind="views",outcome="restarted"}`) {
		t.Fatalf("no view actor restart counted after %d injections", injected.Load())
	}
	t.Logf("%d faults injected", injected.Load())
}

// TestViewsEngineRestart: the engine actor (views/$engine) is made to panic
// (POST /admin/chaos). Meanwhile the views door answers 503
// {"code":"SSP_NOT_READY"|...}, never a 500, and no acknowledged ingest is
// lost; once it is rebuilt, subscribers of a view get its deltas again.
func TestViewsEngineRestart(t *testing.T) {
	s := startViewsServer(t, []string{"SPKY_AUTH_SECRET=" + viewsSecret}, "--chaos", "--request-timeout=2s")
	api := newViewsAPI(t, s, viewsSecret)
	api.register("eng:big", "SELECT * FROM rec WHERE n >= 10", nil)
	c := dialViews(t, s, api.auth)
	c.quiet = 5 * time.Second
	c.subscribe([]string{"eng:big"})
	for i := 0; i < 20; i++ {
		api.ingest("rec", "CREATE", fmt.Sprint("rec:", i), map[string]any{"n": i})
	}
	c.converge(api, "eng:big")

	status, out := s.do("POST", "/admin/chaos", []byte(`{"target":"views/$engine","fault":"panic"}`))
	if status != http.StatusOK || !jsonEqual(out, []byte(`{"target":"views/$engine","fault":"panic","affected":1}`)) {
		t.Fatalf("chaos on the engine: %d %s", status, out)
	}
	// Ingest until every record is acknowledged; a refused one is 503 with
	// a code, and is sent again.
	refused := 0
	for i := 20; i < 40; i++ {
		for attempt := 0; ; attempt++ {
			status, out := api.do("POST", "/ingest", map[string]any{"table": "rec", "op": "CREATE", "id": fmt.Sprint("rec:", i), "record": map[string]any{"n": i}})
			if status == http.StatusOK {
				break
			}
			var e struct{ Code, Message string }
			if status != http.StatusServiceUnavailable || json.Unmarshal(out, &e) != nil || e.Message == "" ||
				!slices.Contains([]string{"SSP_NOT_READY", "SERVICE_UNAVAILABLE", "TIMEOUT"}, e.Code) {
				t.Fatalf("ingest while the engine restarts: %d %s, want 200 or 503 {code, message}", status, out)
			}
			refused++
			if attempt == 100 {
				t.Fatalf("ingest refused 100 times in a row: %s", out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	api.waitReady()
	if _, metrics := s.do("GET", "/metrics", nil); !containsMetric(string(metrics), `troupe_actor_restarts_total{kind="views",outcome="restarted"}`) {
		t.Fatalf("the engine was not restarted (%d ingests refused)", refused)
	}
	d := api.debug("eng:big")
	if len(d.Cache) != 30 {
		t.Fatalf("eng:big after the engine restart: %d rows, want 30: %v", len(d.Cache), viewIDs(d.Cache))
	}
	if info := api.info(); info.CircuitTables["rec"] != 40 {
		t.Fatalf("rec after the engine restart: %v", info.CircuitTables)
	}
	// The subscriber, which stayed connected, follows the view again.
	c.converge(api, "eng:big")
	api.ingest("rec", "UPDATE", "rec:15", map[string]any{"n": 1, "_00_rv": 2})
	api.ingest("rec", "CREATE", "rec:99", map[string]any{"n": 99})
	c.converge(api, "eng:big")
	// A new subscriber too.
	c2 := dialViews(t, s, api.auth)
	c2.quiet = 5 * time.Second
	c2.subscribe([]string{"eng:big"})
	api.ingest("rec", "DELETE", "rec:99", nil)
	c2.converge(api, "eng:big")
	c.converge(api, "eng:big")
	c.checkErrs()
	c2.checkErrs()
}
