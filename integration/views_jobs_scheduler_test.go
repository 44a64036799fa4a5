package integration

import (
	"fmt"
	"testing"
)

// TestViewsJobsSchedulerAssignee runs the views door in scheduler mode (the
// scheduler double of views_scheduler_helpers_test.go): only a CREATE whose
// job_assignee is this SSP's id makes a job; rows assigned to other SSPs,
// replayed events (no assignee) and bootstrapped rows do not.
func TestViewsJobsSchedulerAssignee(t *testing.T) {
	b := newJobBackend(t)
	d := newSchedDouble(t, viewsSecret)
	pending := func(id string) map[string]any {
		return map[string]any{"status": "pending", "path": "/ok", "payload": map[string]any{"job": id}}
	}
	d.put("job", "job:old", pending("job:old"))
	config := fmt.Sprintf(`[{"name":"api","table":"job","base_url":%q}]`, b.URL)
	s := startViewsServer(t, d.env("SPKY_SSP_ID=ssp-me", "SPKY_JOB_CONFIG="+config))
	v := newViewsAPI(t, s, viewsSecret)
	jobsWait(t, "the scheduler double promoting the SSP", func() bool {
		_, _, _, _, _, ready := d.state()
		return ready
	})
	v.register(jobsView, "SELECT * FROM job", nil)

	d.write("job", "CREATE", "job:someone", pending("job:someone")) // a live event, assigned to another SSP
	for id, assignee := range map[string]any{"job:other": "ssp-other", "job:replayed": nil} {
		v.mustDo("POST", "/ingest", map[string]any{"table": "job", "op": "CREATE", "id": id, "record": pending(id), "job_assignee": assignee})
	}
	v.mustDo("POST", "/ingest", map[string]any{"table": "job", "op": "CREATE", "id": "job:mine", "record": pending("job:mine"), "job_assignee": "ssp-me"})
	waitJob(v, jobsView, "job:mine", "success")

	for _, id := range []string{"job:old", "job:someone", "job:other", "job:replayed"} {
		if n := b.callsFor(id); n != 0 {
			t.Errorf("%s, not this SSP's job, was called %d times", id, n)
		}
		if row := jobRow(v, jobsView, id); row["status"] != "pending" {
			t.Errorf("%s's row: %v, want it as ingested", id, row)
		}
	}
	if n := b.callsFor("job:mine"); n != 1 {
		t.Errorf("job:mine called %d times", n)
	}
}
