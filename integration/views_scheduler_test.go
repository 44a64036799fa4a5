package integration

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The views door's scheduler mode, end to end: the built binary against
// the scheduler double (views_scheduler_helpers_test.go).

// schedFixture fills a double with two tables and two views: user holds
// 25 numeric ids and 2 string ones (27 rows: three pages of 10), thread 7.
func schedFixture(d *schedDouble) {
	for i := 1; i <= 25; i++ {
		d.put("user", fmt.Sprintf("user:%d", i), map[string]any{"name": fmt.Sprintf("u%02d", i), "active": i%2 == 0, "age": 20 + i})
	}
	d.put("user", "user:alice", map[string]any{"name": "alice", "active": true, "tags": []any{"a", "b"}, "address": map[string]any{"zip": "1000", "city": "X"}})
	d.put("user", "user:bob", map[string]any{"name": "bob", "active": false})
	for i := 1; i <= 7; i++ {
		d.put("thread", fmt.Sprintf("thread:%d", i), map[string]any{"title": fmt.Sprintf("t%d", i), "author": fmt.Sprintf("user:%d", i)})
	}
	d.putView(map[string]any{"id": "_00_query:v1", "surql": "SELECT * FROM user WHERE active = true", "clientId": "c1",
		"ttl": "1h", "lastActiveAt": time.Now().UTC().Format(time.RFC3339), "params": map[string]any{}})
	// No clientId, ttl or params: the original's defaults ("", 30m, {}).
	d.putView(map[string]any{"id": "_00_query:v2", "surql": "SELECT * FROM thread"})
}

// activeUsers is v1's result as the double's dataset has it, as sorted ids.
func activeUsers(d *schedDouble) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for id, rec := range d.live["user"] {
		if rec["active"] == true {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func sortedIDs(rows []viewsRow) []string {
	out := viewIDs(rows)
	slices.Sort(out)
	return out
}

func startScheduled(t *testing.T, d *schedDouble, extraEnv []string, args ...string) (*server, *viewsAPI) {
	t.Helper()
	env := d.env(append([]string{"HEARTBEAT_INTERVAL_MS=200", "SPKY_SSP_BOOTSTRAP_PAGE_SIZE=10"}, extraEnv...)...)
	s := startViewsServer(t, env, args...)
	return s, newViewsAPI(t, s, d.secret)
}

func TestSchedulerBootstrap(t *testing.T) {
	d := newSchedDouble(t, viewsSecret)
	schedFixture(d)
	gated := d.closeGate() // the bootstrap waits after its first page
	s, api := startScheduled(t, d, nil)

	<-gated
	// Bootstrapping: /health says so, ingests and view requests get 503.
	if code, st := sspHealth(t, s); code != 503 || st != "bootstrapping" {
		t.Fatalf("/health while bootstrapping: %d %q", code, st)
	}
	for path, body := range map[string]any{
		"/ingest":        map[string]any{"table": "user", "op": "CREATE", "id": "user:x", "record": map[string]any{}},
		"/view/register": map[string]any{"id": "v9", "surql": "SELECT * FROM user", "clientId": "c", "ttl": "1h"},
	} {
		code, out := api.do("POST", path, body)
		if code != 503 || !strings.Contains(string(out), `"code":"SSP_NOT_READY"`) {
			t.Fatalf("POST %s while bootstrapping: %d %s", path, code, out)
		}
	}
	if info := api.info(); info.Status != "bootstrapping" {
		t.Fatalf("/info status %q while bootstrapping", info.Status)
	}
	// Writes at the source meanwhile are buffered, then replayed.
	d.write("user", "CREATE", "user:100", map[string]any{"name": "new", "active": true})
	d.write("user", "DELETE", "user:2", nil)
	d.write("user", "UPDATE", "user:5", map[string]any{"name": "u05", "active": true, "age": 99})
	d.openGate()

	checks := d.waitChecks(1)
	if checks[0] != "ok" {
		t.Fatalf("the scheduler's post-replay check: %s", checks[0])
	}
	if code, st := sspHealth(t, s); code != 200 || st != "ready" {
		t.Fatalf("/health once ready: %d %q", code, st)
	}
	regs, _, queries, _, replays, _ := d.state()
	if len(regs) != 1 || replays != 3 {
		t.Fatalf("%d registrations, %d replays; want 1 and 3", len(regs), replays)
	}

	// The registration body.
	reg := regs[0]
	if id, _ := reg["ssp_id"].(string); !regexp.MustCompile(`^ssp-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(id) {
		t.Fatalf("ssp_id %q is not ssp-<uuid>", reg["ssp_id"])
	}
	if reg["url"] != s.views || reg["version"] == "" {
		t.Fatalf("registration %v: want url %s and a version", reg, s.views)
	}
	if env, _ := reg["env"].(map[string]any); env["SPKY_SCHEDULER_URL"] != d.srv.URL || env["SPKY_SSP_BOOTSTRAP_PAGE_SIZE"] != nil {
		t.Fatalf("registration env %v: want the original's variables that are set", reg["env"])
	}

	// The queries, exactly the original's, paging user over three pages.
	want := []string{
		"INFO FOR DB",
		"SELECT * FROM thread ORDER BY id LIMIT 10",
		"SELECT * FROM user ORDER BY id LIMIT 10",
		"SELECT * FROM user WHERE id > user:10 ORDER BY id LIMIT 10",
		"SELECT * FROM user WHERE id > user:20 ORDER BY id LIMIT 10",
		"SELECT * FROM _00_query",
	}
	if !slices.Equal(queries, want) {
		t.Fatalf("proxy queries:\n%s\nwant:\n%s", strings.Join(queries, "\n"), strings.Join(want, "\n"))
	}

	// Views re-registered from _00_query, with the replay applied.
	v1 := api.debug("v1")
	if got, want := sortedIDs(v1.Cache), activeUsers(d); !slices.Equal(got, want) {
		t.Fatalf("v1 = %v, want %v", got, want)
	}
	if v1.ClientID != "c1" || v1.TTLMs != 3600_000 || v1.Surql != "SELECT * FROM user WHERE active = true" {
		t.Fatalf("v1 registration: %s", v1.raw)
	}
	v2 := api.debug("v2")
	if len(v2.Cache) != 7 || v2.ClientID != "" || v2.TTLMs != 30*60_000 {
		t.Fatalf("v2 (the original's defaults): %s", v2.raw)
	}

	// The content hashes are the scheduler's.
	info := api.info()
	if live := d.liveHashes(); !mapsEqualStr(info.CircuitHashes, live) || info.Status != "ready" {
		t.Fatalf("/info %+v, want hashes %v", info, live)
	}
	if info.CircuitTables["user"] != 27 || info.CircuitTables["thread"] != 7 {
		t.Fatalf("circuit_tables %v", info.CircuitTables)
	}

	// Live events, forwarded with job_assignee, apply at once.
	d.write("user", "UPDATE", "user:4", map[string]any{"name": "u04", "active": false})
	if got, want := sortedIDs(api.debug("v1").Cache), activeUsers(d); !slices.Equal(got, want) {
		t.Fatalf("v1 after a live update = %v, want %v", got, want)
	}
	if h := api.info().CircuitHashes; !mapsEqualStr(h, d.liveHashes()) {
		t.Fatalf("hashes after a live update %v, want %v", h, d.liveHashes())
	}

	// Heartbeats: counted, not timed.
	var hbs []schedHeartbeat
	d.waitFor("3 heartbeats", func() bool {
		_, hbs, _, _, _, _ = d.state()
		return len(hbs) >= 3
	})
	for _, hb := range hbs {
		switch {
		case hb.SSPID != reg["ssp_id"]:
			t.Fatalf("heartbeat ssp_id %q, want %q", hb.SSPID, reg["ssp_id"])
		case hb.Timestamp == nil || *hb.Timestamp < time.Now().Add(-time.Hour).Unix() || *hb.Timestamp > time.Now().Add(time.Hour).Unix():
			t.Fatalf("heartbeat timestamp %v is not Unix seconds of now", hb.Timestamp)
		case hb.Views == nil || *hb.Views != 2:
			t.Fatalf("heartbeat views %v, want 2", hb.Views)
		case hb.CPUUsage == nil || *hb.CPUUsage < 0 || hb.MemoryUsage == nil || *hb.MemoryUsage < 1 || *hb.MemoryUsage > 1<<20:
			t.Fatalf("heartbeat cpu %v memory %v MiB: want real process figures", hb.CPUUsage, hb.MemoryUsage)
		case hb.Version == "":
			t.Fatalf("heartbeat without a version")
		}
	}

	// /metrics (data door) shows the lifecycle.
	_, metrics := s.do("GET", "/metrics", nil)
	for _, series := range []string{`troupe_ssp_lifecycle_state{state="ready"}`, `troupe_ssp_registrations_total{result="ok"}`,
		`troupe_ssp_bootstraps_total{result="ok"}`, `troupe_ssp_heartbeats_total{status="200"}`} {
		if !containsMetric(string(metrics), series) {
			t.Fatalf("/metrics has no %s", series)
		}
	}

	// The id is kept across a restart on the same data dir.
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	s.restart()
	d.waitChecks(2)
	regs, _, _, _, _, _ = d.state()
	if len(regs) != 2 || regs[1]["ssp_id"] != reg["ssp_id"] {
		t.Fatalf("after a restart the SSP registered as %v, want %v", regs[len(regs)-1]["ssp_id"], reg["ssp_id"])
	}
	if got, want := sortedIDs(api.debug("v1").Cache), activeUsers(d); !slices.Equal(got, want) {
		t.Fatalf("v1 after a restart = %v, want %v", got, want)
	}
}

func TestSchedulerHeartbeat404And409(t *testing.T) {
	d := newSchedDouble(t, viewsSecret)
	schedFixture(d)
	s, api := startScheduled(t, d, nil)
	d.waitChecks(1)

	// 404: the scheduler forgot us; register again, in process.
	d.answerHeartbeats(404)
	if checks := d.waitChecks(2); checks[1] != "ok" {
		t.Fatalf("check after re-registering: %s", checks[1])
	}

	// A subscriber of v1 follows the re-bootstrap through its deltas.
	ws := dialViews(t, s, "Bearer "+d.secret)
	ws.subscribe([]string{"v1"})

	// 409 after changes the scheduler never sent (its buffer overflowed):
	// bootstrap again; the changes show and nothing stale stays.
	d.mutateSilently("user", "user:2", nil)                                                   // was active
	d.mutateSilently("user", "user:alice", nil)                                               // was active
	d.mutateSilently("user", "user:3", map[string]any{"name": "u03", "active": true})         // now active
	d.mutateSilently("user", "user:500", map[string]any{"name": "fresh", "active": true})     // new
	d.mutateSilently("thread", "thread:1", nil)                                               // v2 loses it
	d.mutateSilently("user", "user:4", map[string]any{"name": "u04", "active": true, "x": 1}) // changed record
	d.answerHeartbeats(409)
	if checks := d.waitChecks(3); checks[2] != "ok" {
		t.Fatalf("check after the 409 re-bootstrap: %s", checks[2])
	}
	regs, _, _, _, _, _ := d.state()
	if len(regs) != 3 {
		t.Fatalf("%d registrations, want 3 (start, 404, 409)", len(regs))
	}
	v1 := api.debug("v1")
	if got, want := sortedIDs(v1.Cache), activeUsers(d); !slices.Equal(got, want) {
		t.Fatalf("v1 after the re-bootstrap = %v, want %v", got, want)
	}
	for _, r := range v1.Cache {
		if r.ID == "user:4" && !strings.Contains(string(r.Record), `"x":1`) {
			t.Fatalf("user:4 is stale in v1: %s", r.Record)
		}
	}
	if v2 := api.debug("v2"); len(v2.Cache) != 6 {
		t.Fatalf("v2 after the re-bootstrap holds %d rows, want 6: %v", len(v2.Cache), viewIDs(v2.Cache))
	}
	info := api.info()
	if !mapsEqualStr(info.CircuitHashes, d.liveHashes()) || info.CircuitTables["user"] != 26 {
		t.Fatalf("/info after the re-bootstrap: %+v, want hashes %v and 26 users", info, d.liveHashes())
	}
	ws.converge(api, "v1")
	ws.checkErrs()
}

func TestSchedulerRegistration(t *testing.T) {
	t.Run("retried", func(t *testing.T) {
		d := newSchedDouble(t, viewsSecret)
		schedFixture(d)
		d.answerRegistrations(500, 503)
		_, api := startScheduled(t, d, nil)
		d.waitChecks(1)
		regs, _, _, _, _, _ := d.state()
		if len(regs) != 3 {
			t.Fatalf("%d registrations, want 3 (500, 503, 202)", len(regs))
		}
		if got, want := sortedIDs(api.debug("v1").Cache), activeUsers(d); !slices.Equal(got, want) {
			t.Fatalf("v1 = %v, want %v", got, want)
		}
	})
	t.Run("refused", func(t *testing.T) {
		d := newSchedDouble(t, viewsSecret)
		d.answerRegistrations(400)
		s, api := startScheduled(t, d, nil)
		d.waitFor("a failed lifecycle", func() bool {
			code, st := sspHealth(t, s)
			return code == 503 && st == "failed"
		})
		// Fatal for the lifecycle, not for the process.
		resp, err := http.Get(s.data + "/health")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("the data door after a refused registration: %v %v", resp, err)
		}
		resp.Body.Close()
		code, out := api.do("POST", "/ingest", map[string]any{"table": "user", "op": "CREATE", "id": "user:1", "record": map[string]any{}})
		if code != 503 || !strings.Contains(string(out), "SSP_NOT_READY") {
			t.Fatalf("ingest with a failed lifecycle: %d %s", code, out)
		}
		if info := api.info(); info.Status != "failed" {
			t.Fatalf("/info status %q", info.Status)
		}
		regs, _, _, _, _, _ := d.state()
		if len(regs) != 1 {
			t.Fatalf("%d registrations after a 400, want 1", len(regs))
		}
		if err := s.stop(); err != nil { // the log is read once the process is gone
			t.Fatalf("SIGTERM: %v", err)
		}
		if !strings.Contains(s.log.String(), "planned 400") {
			t.Fatalf("the log does not carry the scheduler's body")
		}
	})
}

// The lifecycle actor panics mid-bootstrap: it restarts into a clean
// registration, and the views it holds serve reads meanwhile.
func TestSchedulerLifecyclePanicMidBootstrap(t *testing.T) {
	d := newSchedDouble(t, viewsSecret)
	schedFixture(d)
	s, api := startScheduled(t, d, nil, "--chaos")
	d.waitChecks(1)
	before := api.debug("v1")

	gated := d.closeGate()
	d.mutateSilently("user", "user:6", nil)
	d.answerHeartbeats(409)
	<-gated // bootstrapping again, stuck after a page

	// The views keep serving reads.
	if during := api.debug("v1"); !sameViewRows(during.Cache, before.Cache) {
		t.Fatalf("v1 changed while bootstrapping: %v, was %v", viewIDs(during.Cache), viewIDs(before.Cache))
	}
	if code, st := sspHealth(t, s); code != 503 || st != "bootstrapping" {
		t.Fatalf("/health: %d %s", code, st)
	}
	status, raw := s.do("POST", "/admin/chaos", []byte(`{"target":"lifecycle/ssp","fault":"panic"}`))
	if status != http.StatusOK {
		t.Fatalf("chaos: %d %s", status, raw)
	}
	// The restarted actor registers again.
	d.waitFor("a registration after the panic", func() bool {
		regs, _, _, _, _, _ := d.state()
		return len(regs) >= 3
	})
	if during := api.debug("v1"); !sameViewRows(during.Cache, before.Cache) {
		t.Fatalf("v1 changed before a bootstrap committed: %v", viewIDs(during.Cache))
	}
	d.openGate()
	if checks := d.waitChecks(3); checks[len(checks)-1] != "ok" {
		t.Fatalf("check after the restart: %v", checks)
	}
	if got, want := sortedIDs(api.debug("v1").Cache), activeUsers(d); !slices.Equal(got, want) || slices.Contains(got, "user:6") {
		t.Fatalf("v1 after the restart = %v, want %v", got, want)
	}
	if code, st := sspHealth(t, s); code != 200 || st != "ready" {
		t.Fatalf("/health: %d %s", code, st)
	}
	if err := s.stop(); err != nil { // the log is read once the process is gone
		t.Fatalf("SIGTERM: %v", err)
	}
	if !strings.Contains(s.log.String(), "injected panic in lifecycle/ssp") {
		t.Fatalf("no panic of the lifecycle actor in the log")
	}
}

// Without SPKY_SCHEDULER_URL nothing registers, the door is ready at once,
// and the id is ssp-<uuid>, kept across restarts.
func TestStandaloneSSPID(t *testing.T) {
	s := startViewsServer(t, []string{"SPKY_AUTH_SECRET=" + viewsSecret})
	api := newViewsAPI(t, s, viewsSecret)
	api.waitReady()
	first := api.info()
	if !regexp.MustCompile(`^ssp-[0-9a-f-]{36}$`).MatchString(first.ID) || first.Status != "ready" {
		t.Fatalf("/info %+v", first)
	}
	api.ingest("user", "CREATE", "user:1", map[string]any{"name": "a"})
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s.restart()
	api.waitReady()
	if again := api.info(); again.ID != first.ID || again.CircuitTables["user"] != 1 {
		t.Fatalf("after a restart /info %+v, want id %s and the row", again, first.ID)
	}
}
