package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// End-to-end tests of the views door's job tables: the binary runs the jobs
// of SPKY_JOB_CONFIG / --ssp-job-config against a backend double
// (views_jobs_backend_test.go) and writes each status back to the rows.

// jobsView is the view over the job table the tests read rows through.
const jobsView = "query:jobs"

// jobRow reads row id of table through a view registered over the whole
// table ("" when absent).
func jobRow(v *viewsAPI, view, id string) map[string]any {
	v.t.Helper()
	for _, r := range v.debug(view).Cache {
		if r.ID == id {
			var m map[string]any
			if err := json.Unmarshal(r.Record, &m); err != nil {
				v.t.Fatalf("row %s: %v: %s", id, err, r.Record)
			}
			return m
		}
	}
	return nil
}

// waitJob waits until row id's status is want, and returns the row.
func waitJob(v *viewsAPI, view, id, want string) map[string]any {
	v.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		row := jobRow(v, view, id)
		if row != nil && row["status"] == want {
			return row
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("job %s: status %v after 60s, want %s (row %v)", id, row["status"], want, row)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// versionsSeen lists the versions of row id that a WebSocket replica of
// view held after each delta, without repeats.
func (c *viewsWS) versionsSeen(view, id string) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return versionsIn(c.views[view], id)
}

// versionsIn is versionsSeen with c.mu held (in a waitFor condition).
func versionsIn(rep *viewReplica, id string) []int64 {
	var out []int64
	if rep == nil {
		return nil
	}
	for _, result := range rep.history {
		for _, key := range result {
			var v int64
			if rid, ver, ok := strings.Cut(key, "@"); ok && rid == id {
				fmt.Sscan(ver, &v)
				if len(out) == 0 || out[len(out)-1] != v {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

func jobEnv(config string) []string {
	return []string{"SPKY_AUTH_SECRET=" + viewsSecret, "SPKY_JOB_CONFIG=" + config}
}

// jobsInfo is GET /info's "jobs".
func jobsInfo(t *testing.T, s *server) map[string]map[string]any {
	t.Helper()
	v := newViewsAPI(t, s, viewsSecret)
	status, out, _ := v.raw("GET", "/info", nil)
	var list []struct {
		Jobs map[string]map[string]any `json:"jobs"`
	}
	if status != 200 || json.Unmarshal(out, &list) != nil || len(list) != 1 {
		t.Fatalf("GET /info: %d %s", status, out)
	}
	return list[0].Jobs
}

// TestViewsJobs runs jobs of the original's config form through success,
// retries then failure, and a timeout; a view over the job table sees every
// status change; /info and /metrics count them.
func TestViewsJobs(t *testing.T) {
	b := newJobBackend(t)
	config := fmt.Sprintf(`[{"name":"api","table":"job","base_url":%q,"auth_token":"tok","timeout":1,"timeout_overridable":true}]`, b.URL)
	s := startViewsServer(t, jobEnv(config))
	v := newViewsAPI(t, s, viewsSecret)
	v.register(jobsView, "SELECT * FROM job", nil)
	ws := dialViews(t, s, "Bearer "+viewsSecret)
	ws.subscribe([]string{jobsView})

	// Rows that make no job: not pending, or not a CREATE.
	v.ingest("job", "CREATE", "job:done", map[string]any{"status": "success", "path": "/ok", "payload": map[string]any{"job": "job:done"}})
	v.ingest("job", "UPDATE", "job:done", map[string]any{"status": "pending", "path": "/ok", "payload": map[string]any{"job": "job:done"}})
	v.ingest("other", "CREATE", "other:1", map[string]any{"status": "pending", "path": "/ok", "payload": map[string]any{"job": "other:1"}})

	// Success; the payload is a string holding JSON, sent parsed.
	v.ingest("job", "CREATE", "job:ok", map[string]any{"status": "pending", "path": "/ok", "payload": `{"job":"job:ok"}`, "owner": "ann"})
	row := waitJob(v, jobsView, "job:ok", "success")
	if row["owner"] != "ann" || row["retries"] != 0.0 || fmt.Sprint(row["errors"]) != "[]" {
		t.Errorf("job:ok's row %v", row)
	}
	calls := b.callsTo("/ok")
	if len(calls) != 1 || string(calls[0].Body) != `{"job":"job:ok"}` || calls[0].Auth != "Bearer tok" || calls[0].ContentType != "application/json" {
		t.Errorf("the backend got %+v", calls)
	}
	// The view saw the row created (1), processing (2) and succeeded (3).
	ws.waitFor("job:ok's three versions", func() bool { return len(versionsIn(ws.views[jobsView], "job:ok")) == 3 })
	if got := ws.versionsSeen(jobsView, "job:ok"); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("versions of job:ok seen by the view: %v", got)
	}

	// Retries, then failed: two calls, each error kept.
	v.ingest("job", "CREATE", "job:fail", map[string]any{"status": "pending", "path": "/fail", "payload": map[string]any{"job": "job:fail"},
		"max_retries": 2, "retry_strategy": "exponential"})
	row = waitJob(v, jobsView, "job:fail", "failed")
	if row["retries"] != 2.0 || fmt.Sprint(row["errors"]) != "[map[code:500 reason:boom\n] map[code:500 reason:boom\n]]" {
		t.Errorf("job:fail's row %v", row)
	}
	if n := b.callsFor("job:fail"); n != 2 {
		t.Errorf("job:fail called %d times, want 2", n)
	}
	// created, processing, processing with the error, pending, processing, failed
	ws.waitFor("job:fail's six versions", func() bool { return len(versionsIn(ws.views[jobsView], "job:fail")) == 6 })
	if got := ws.versionsSeen(jobsView, "job:fail"); !slices.Equal(got, []int64{1, 2, 3, 4, 5, 6}) {
		t.Errorf("versions of job:fail seen by the view: %v", got)
	}

	// A call that never answers ends at the row's timeout, with code 0.
	v.ingest("job", "CREATE", "job:hang", map[string]any{"status": "pending", "path": "/hang", "payload": map[string]any{"job": "job:hang"},
		"max_retries": 1, "timeout": 1})
	row = waitJob(v, jobsView, "job:hang", "failed")
	if fmt.Sprint(row["errors"]) != "[map[code:0 reason:timed out after 1s]]" || row["retries"] != 1.0 {
		t.Errorf("job:hang's row %v", row)
	}

	if n := b.callsFor("job:done") + b.callsFor("other:1"); n != 0 {
		t.Errorf("%d calls for rows that are no pending job", n)
	}
	if row := jobRow(v, jobsView, "job:done"); row["status"] != "pending" || row["retries"] != nil {
		t.Errorf("an UPDATE to pending is no job: the row is as ingested: %v", row)
	}

	// A row shows its final status a moment before the runner lets the job
	// go: wait for the figures to settle.
	want := fmt.Sprint(map[string]any{"backend": "api", "pending": 0.0, "processing": 0.0, "success": 1.0, "failed": 2.0, "retried": 1.0})
	jobsWait(t, "/info jobs.job = "+want, func() bool { return fmt.Sprint(jobsInfo(t, s)["job"]) == want })
	_, metrics := s.do("GET", "/metrics", nil)
	for _, series := range []string{
		`troupe_ssp_jobs_ended_total{backend="api",status="success",table="job"} 1`,
		`troupe_ssp_jobs_ended_total{backend="api",status="failed",table="job"} 2`,
		`troupe_ssp_job_retries_total{backend="api",table="job"} 1`,
		`troupe_ssp_jobs{backend="api",status="pending",table="job"} 0`,
		`troupe_ssp_jobs{backend="api",status="processing",table="job"} 0`,
	} {
		if !strings.Contains(string(metrics), series+"\n") {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}

// TestViewsJobsConfigForms configures one job table with the spec's object
// in SPKY_JOB_CONFIG and another in a YAML file (--ssp-job-config): both
// run, each with its own backend's token.
func TestViewsJobsConfigForms(t *testing.T) {
	b := newJobBackend(t)
	file := filepath.Join(t.TempDir(), "sp00ky.yml")
	// job_tables as the spec writes it, and a backend app as the original
	// CLI's sp00ky.yml does.
	yml := fmt.Sprintf("apps:\n  notifier:\n    type: backend\n    baseUrl: %q\n    method: {type: outbox, table: notify}\n"+
		"    auth: {type: token, token: n-token}\n  web:\n    type: frontend\n"+
		"job_tables:\n  mail:\n    name: mailer\n    base_url: %q\n    auth_token: m-token\n", b.URL, b.URL)
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := jobEnv(fmt.Sprintf(`{"job_tables":{"task":{"name":"tasks","base_url":%q}}}`, b.URL))
	s := startViewsServer(t, env, "--ssp-job-config="+file, "--ssp-job-max-pending=1")
	v := newViewsAPI(t, s, viewsSecret)
	v.register("query:task", "SELECT * FROM task", nil)
	v.register("query:mail", "SELECT * FROM mail", nil)
	v.register("query:notify", "SELECT * FROM notify", nil)
	v.ingest("notify", "CREATE", "notify:1", map[string]any{"status": "pending", "path": "/hook", "payload": map[string]any{"job": "notify:1"},
		"max_retries": 1})
	v.ingest("task", "CREATE", "task:1", map[string]any{"status": "pending", "path": "/created", "payload": map[string]any{"job": "task:1"}})
	v.ingest("mail", "CREATE", "mail:1", map[string]any{"status": "pending", "path": "/ok", "payload": map[string]any{"job": "mail:1"}})
	waitJob(v, "query:task", "task:1", "success")
	waitJob(v, "query:mail", "mail:1", "success")
	if c := b.callsTo("/created"); len(c) != 1 || c[0].Auth != "" {
		t.Errorf("task's backend (no token) got %+v", c)
	}
	if c := b.callsTo("/ok"); len(c) != 1 || c[0].Auth != "Bearer m-token" {
		t.Errorf("mail's backend got %+v", c)
	}
	// The backend double has no /hook: 404, the job fails.
	if row := waitJob(v, "query:notify", "notify:1", "failed"); fmt.Sprint(row["errors"]) != "[map[code:404 reason:404 page not found\n]]" {
		t.Errorf("notify:1's row %v", row)
	}
	if c := b.callsTo("/hook"); len(c) != 1 || c[0].Auth != "Bearer n-token" {
		t.Errorf("notifier's backend got %+v", c)
	}
	jobsWait(t, "/info counting both jobs", func() bool {
		jobs := jobsInfo(t, s)
		return jobs["task"]["backend"] == "tasks" && jobs["mail"]["backend"] == "mailer" && jobs["task"]["success"] == 1.0 && jobs["mail"]["success"] == 1.0
	})

	// A full job queue refuses the next job: 507, naming the limit.
	v.ingest("mail", "CREATE", "mail:2", map[string]any{"status": "pending", "path": "/gate", "payload": map[string]any{"job": "mail:2"}})
	status, out := v.do("POST", "/ingest", map[string]any{"table": "mail", "op": "CREATE", "id": "mail:3",
		"record": map[string]any{"status": "pending", "path": "/ok", "payload": map[string]any{"job": "mail:3"}}})
	if status != 507 || !strings.Contains(string(out), "--ssp-job-max-pending") {
		t.Errorf("a job past --ssp-job-max-pending: %d %s, want 507 naming the flag", status, out)
	}
	b.openGate()
	waitJob(v, "query:mail", "mail:2", "success")
	if n := b.callsFor("mail:3"); n != 0 {
		t.Errorf("the refused job was called %d times", n)
	}
}

// TestViewsJobsBadConfig: a config mistake stops the start with an error
// that names the field.
func TestViewsJobsBadConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "jobs.yml")
	if err := os.WriteFile(file, []byte("job_tables:\n  job:\n    base_url: http://h\n    timeout: 10s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env string
		args      []string
		want      string
	}{
		{"array entry without base_url", `[{"name":"api","table":"job"}]`, nil, "SPKY_JOB_CONFIG[0].base_url: missing"},
		{"object with a bad timeout", `{"job_tables":{"job":{"base_url":"http://h","timeout":"10"}}}`, nil,
			"SPKY_JOB_CONFIG.job_tables.job.timeout must be a number of seconds"},
		{"not JSON", `job_tables: {}`, nil, "SPKY_JOB_CONFIG is not valid JSON"},
		{"YAML file", "", []string{"--ssp-job-config=" + file}, file + ": job_tables.job.timeout must be a number of seconds, not a string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			args := append([]string{"--data-dir=" + t.TempDir(), "--data-addr=127.0.0.1:0", "--ssp-addr=127.0.0.1:0", "--hub-addr=off", "--resp-addr=off", "--synap-rpc-addr=off", "--admin-addr=off",
				"--skip-control-addr=off", "--skip-streaming-addr=off"}, tc.args...)
			cmd := exec.CommandContext(ctx, binary, args...)
			cmd.Env = append(os.Environ(), "SPKY_JOB_CONFIG="+tc.env)
			out, err := cmd.CombinedOutput()
			if err == nil || ctx.Err() != nil {
				t.Fatalf("troupe started (or hung) with a bad job config: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("the error does not say %q:\n%s", tc.want, out)
			}
		})
	}
}

// TestViewsJobsKill9 kills the server while one job's call is in flight and
// two wait in the queue: after the restart the in-flight job is called
// again (at least once) and the waiting ones run, once each. Then the
// runner actor crashes while it holds the job, and the restarted runner
// calls it again.
func TestViewsJobsKill9(t *testing.T) {
	b := newJobBackend(t)
	config := fmt.Sprintf(`[{"name":"api","table":"job","base_url":%q}]`, b.URL)
	s := startViewsServer(t, jobEnv(config), "--fsync=always", "--ssp-job-concurrency=1", "--chaos")
	v := newViewsAPI(t, s, viewsSecret)
	v.register(jobsView, "SELECT * FROM job", nil)
	for _, id := range []string{"job:g1", "job:g2", "job:g3"} {
		v.ingest("job", "CREATE", id, map[string]any{"status": "pending", "path": "/gate", "payload": map[string]any{"job": id}})
	}
	jobsWait(t, "the first call", func() bool { return len(b.callsTo("/gate")) == 1 })
	first := ""
	for _, id := range []string{"job:g1", "job:g2", "job:g3"} {
		if b.callsFor(id) == 1 {
			first = id
		}
	}
	s.kill9()

	s.restart()
	v.waitReady()
	jobsWait(t, "the job in flight at the kill called again", func() bool { return b.callsFor(first) == 2 })

	// The runner crashes (an injected panic at its next message, which the
	// next job's wake-up brings): its supervisor restarts it, and the new
	// runner hands the job it held back to the queue and calls it again.
	if status, out := s.do("POST", "/admin/chaos", []byte(`{"target":"jobs/job","fault":"panic"}`)); status != 200 {
		t.Fatalf("chaos: %d %s", status, out)
	}
	v.ingest("job", "CREATE", "job:g4", map[string]any{"status": "pending", "path": "/gate", "payload": map[string]any{"job": "job:g4"}})
	jobsWait(t, "the job held by the crashed runner called again", func() bool { return b.callsFor(first) == 3 })
	b.openGate()
	for _, id := range []string{"job:g1", "job:g2", "job:g3", "job:g4"} {
		waitJob(v, jobsView, id, "success")
	}
	for _, id := range []string{"job:g1", "job:g2", "job:g3", "job:g4"} {
		want := 1
		if id == first {
			want = 3
		}
		if n := b.callsFor(id); n != want {
			t.Errorf("%s called %d times, want %d", id, n, want)
		}
		// Calls cut short by the kill or the crash are no failures.
		if row := jobRow(v, jobsView, id); row["retries"] != 0.0 || fmt.Sprint(row["errors"]) != "[]" {
			t.Errorf("%s's row %v", id, row)
		}
	}
	jobsWait(t, "/info: four jobs done since the restart", func() bool {
		jobs := jobsInfo(t, s)["job"]
		return jobs["success"] == 4.0 && jobs["pending"] == 0.0 && jobs["processing"] == 0.0
	})
}

// jobsWait polls cond for up to 60 s.
func jobsWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
