package job

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-run/troupe/actors/job/jobconfig"
	"github.com/troupe-run/troupe/actors/queue"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/systemtest"
)

// rows is a Tables double: it keeps every row written, in order.
type rows struct {
	mu     sync.Mutex
	writes map[string][]map[string]any // by id
}

func (r *rows) Ingest(_ context.Context, req *messages.IngestRequest) (*messages.IngestReply, error) {
	var m map[string]any
	if err := json.Unmarshal(req.Record, &m); err != nil || req.Op != "UPDATE" {
		return &messages.IngestReply{ErrorCode: messages.CodeInvalid, ErrorMessage: fmt.Sprintf("%s %s", req.Op, req.Record)}, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes[req.Id] = append(r.writes[req.Id], m)
	return &messages.IngestReply{}, nil
}

func (r *rows) of(id string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.writes[id]...)
}

func (r *rows) statuses(id string) []string {
	var out []string
	for _, w := range r.of(id) {
		out = append(out, fmt.Sprint(w["status"]))
	}
	return out
}

func (r *rows) last(id string) map[string]any {
	w := r.of(id)
	if len(w) == 0 {
		return nil
	}
	return w[len(w)-1]
}

// backend is a backend double: /ok answers 200, /fail 500 "boom", /hang
// never answers (until the call gives up), /gate waits for release.
type backend struct {
	*httptest.Server
	mu          sync.Mutex
	calls       map[string]int
	bodies      []string
	auth        []string
	inflight    int
	maxInflight int
	release     chan struct{}
}

func newBackend(t testing.TB) *backend {
	b := &backend{calls: map[string]int{}, release: make(chan struct{})}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.calls[r.URL.Path]++
		b.bodies = append(b.bodies, string(body))
		b.auth = append(b.auth, r.Header.Get("Authorization"))
		b.inflight++
		b.maxInflight = max(b.maxInflight, b.inflight)
		b.mu.Unlock()
		defer func() {
			b.mu.Lock()
			b.inflight--
			b.mu.Unlock()
		}()
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusCreated)
		case "/fail":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "/hang":
			<-r.Context().Done()
		case "/gate":
			select {
			case <-b.release:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(func() {
		b.CloseClientConnections()
		b.Close()
	})
	return b
}

func (b *backend) count(path string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[path]
}

func startJobs(t testing.TB, be *backend, concurrency int) (*Service, *queue.Service, *rows, *system.System) {
	t.Helper()
	sys := systemtest.Boot(t, "--chaos")
	qs, err := queue.Start(sys, queue.Options{Defaults: queue.DefaultConfig(), MaxQueues: 100, MaxWait: time.Minute, MaxMessage: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := jobconfig.ParseEnv(fmt.Sprintf(`[{"name":"api","table":"job","base_url":%q,"auth_token":"tok","timeout_overridable":true}]`, be.URL))
	if err != nil {
		t.Fatal(err)
	}
	tables := &rows{writes: map[string][]map[string]any{}}
	svc, err := Start(sys, cfg, qs, tables, Options{Concurrency: concurrency, MaxPending: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	return svc, qs, tables, sys
}

func submit(t testing.TB, svc *Service, id, record string) {
	t.Helper()
	req := &messages.IngestRequest{Table: "job", Op: "CREATE", Id: id, Record: []byte(record)}
	if !svc.Takes(req, "") {
		t.Fatalf("%s is no job", record)
	}
	if err := svc.Submit(context.Background(), req); err != nil {
		t.Fatal(err)
	}
}

func queueDepth(t *testing.T, qs *queue.Service) int64 {
	rep, err := qs.Do(context.Background(), &messages.QueueRequest{Op: messages.QueueOp_QUEUE_STATS, Queue: QueueName("job")})
	if err != nil || rep.ErrorCode != "" {
		t.Fatalf("stats: %v %v", err, rep)
	}
	return rep.Stats.Depth
}

func TestJobSuccess(t *testing.T) {
	be := newBackend(t)
	svc, qs, tables, _ := startJobs(t, be, 4)
	submit(t, svc, "job:1", `{"status":"pending","path":"/ok","payload":"{\"n\":1}","owner":"ann"}`)
	systemtest.Eventually(t, "success", func() bool { return tables.last("job:1")["status"] == "success" })
	if got := strings.Join(tables.statuses("job:1"), ","); got != "processing,success" {
		t.Errorf("statuses %s", got)
	}
	last := tables.last("job:1")
	if last["owner"] != "ann" || last["retries"] != 0.0 || last["_00_rv"] != 3.0 {
		t.Errorf("the row keeps its fields and gets a new version: %v", last)
	}
	be.mu.Lock()
	if be.bodies[0] != `{"n":1}` || be.auth[0] != "Bearer tok" {
		t.Errorf("the backend got %q with %q", be.bodies[0], be.auth[0])
	}
	be.mu.Unlock()
	systemtest.Eventually(t, "the job acked", func() bool { return queueDepth(t, qs) == 0 })
	info := svc.Info(context.Background())
	if len(info) != 1 || info[0].Success != 1 || info[0].Failed != 0 || info[0].Backend != "api" || info[0].Pending != 0 || info[0].Processing != 0 {
		t.Errorf("info %v", info)
	}
}

func TestJobRetriesThenFailed(t *testing.T) {
	be := newBackend(t)
	svc, qs, tables, _ := startJobs(t, be, 4)
	submit(t, svc, "job:2", `{"status":"pending","path":"/fail","max_retries":3,"retry_strategy":"exponential"}`)
	systemtest.Eventually(t, "failed", func() bool { return tables.last("job:2")["status"] == "failed" })
	want := "processing,processing,pending,processing,processing,pending,processing,failed"
	if got := strings.Join(tables.statuses("job:2"), ","); got != want {
		t.Errorf("statuses %s\nwant     %s", got, want)
	}
	last := tables.last("job:2")
	errs, _ := last["errors"].([]any)
	if last["retries"] != 3.0 || len(errs) != 3 || fmt.Sprint(errs[0]) != "map[code:500 reason:boom\n]" {
		t.Errorf("final row %v", last)
	}
	if n := be.count("/fail"); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
	systemtest.Eventually(t, "the job acked", func() bool { return queueDepth(t, qs) == 0 })
	if info := svc.Info(context.Background()); info[0].Failed != 1 || info[0].Retried != 2 {
		t.Errorf("info %v", info)
	}
}

func TestJobTimeout(t *testing.T) {
	be := newBackend(t)
	svc, _, tables, _ := startJobs(t, be, 4)
	submit(t, svc, "job:3", `{"status":"pending","path":"/hang","max_retries":1,"timeout":0.2}`)
	systemtest.Eventually(t, "failed", func() bool { return tables.last("job:3")["status"] == "failed" })
	errs, _ := tables.last("job:3")["errors"].([]any)
	if len(errs) != 1 || fmt.Sprint(errs[0]) != "map[code:0 reason:timed out after 200ms]" {
		t.Errorf("errors %v", errs)
	}
}

func TestJobTransportError(t *testing.T) {
	be := newBackend(t)
	svc, _, tables, _ := startJobs(t, be, 4)
	be.Close() // nothing listens any more
	submit(t, svc, "job:4", `{"status":"pending","path":"/ok","max_retries":1}`)
	systemtest.Eventually(t, "failed", func() bool { return tables.last("job:4")["status"] == "failed" })
	errs, _ := tables.last("job:4")["errors"].([]any)
	if len(errs) != 1 || errs[0].(map[string]any)["code"] != 0.0 || !strings.Contains(fmt.Sprint(errs[0]), "connect") {
		t.Errorf("errors %v", errs)
	}
}

// TestJobConcurrency holds every call until released: the runner never has
// more than its limit of calls at once, and runs the rest after.
func TestJobConcurrency(t *testing.T) {
	be := newBackend(t)
	svc, _, tables, _ := startJobs(t, be, 2)
	for i := range 6 {
		submit(t, svc, fmt.Sprint("job:c", i), `{"status":"pending","path":"/gate"}`)
	}
	systemtest.Eventually(t, "two calls", func() bool { return be.count("/gate") >= 2 })
	systemtest.Eventually(t, "info: 2 processing, 4 pending", func() bool {
		info := svc.Info(context.Background())
		return info[0].Processing == 2 && info[0].Pending == 4
	})
	close(be.release)
	for i := range 6 {
		systemtest.Eventually(t, "success", func() bool { return tables.last(fmt.Sprint("job:c", i))["status"] == "success" })
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	if be.maxInflight > 2 {
		t.Errorf("%d calls at once, the limit is 2", be.maxInflight)
	}
}

// TestRunnerRestart makes the runner crash while it holds a call: the
// restarted runner takes the job back from the queue and runs it.
func TestRunnerRestart(t *testing.T) {
	be := newBackend(t)
	svc, qs, tables, sys := startJobs(t, be, 2)
	submit(t, svc, "job:r", `{"status":"pending","path":"/gate"}`)
	systemtest.Eventually(t, "the first call", func() bool { return be.count("/gate") == 1 })
	if _, err := sys.InjectFault("jobs/job", "panic"); err != nil {
		t.Fatal(err)
	}
	svc.wake("job") // the next message makes it panic
	systemtest.Eventually(t, "the call again", func() bool { return be.count("/gate") == 2 })
	close(be.release)
	systemtest.Eventually(t, "success", func() bool { return tables.last("job:r")["status"] == "success" })
	systemtest.Eventually(t, "the job acked", func() bool { return queueDepth(t, qs) == 0 })
	// The call the crash cut short is no failure of the job: its result,
	// which reaches the restarted runner, is ignored.
	if last := tables.last("job:r"); last["retries"] != 0.0 || fmt.Sprint(last["errors"]) != "[]" {
		t.Errorf("the row after the restart %v", last)
	}
	if n := be.count("/gate"); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

// TestQueueDeleted: a job queue deleted through the data door is made
// again, with the runner's config, by the next job.
func TestQueueDeleted(t *testing.T) {
	be := newBackend(t)
	svc, qs, tables, _ := startJobs(t, be, 2)
	if rep, err := qs.Do(context.Background(), &messages.QueueRequest{Op: messages.QueueOp_QUEUE_DELETE, Queue: QueueName("job")}); err != nil || rep.ErrorCode != "" {
		t.Fatalf("delete: %v %v", err, rep)
	}
	submit(t, svc, "job:d", `{"status":"pending","path":"/ok"}`)
	systemtest.Eventually(t, "success", func() bool { return tables.last("job:d")["status"] == "success" })
	rep, err := qs.Do(context.Background(), &messages.QueueRequest{Op: messages.QueueOp_QUEUE_STATS, Queue: QueueName("job")})
	if err != nil || rep.ErrorCode != "" {
		t.Fatalf("stats: %v %v", err, rep)
	}
}

func TestStartLimits(t *testing.T) {
	sys := systemtest.Boot(t)
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Concurrency: 0, MaxPending: 1}, "--ssp-job-concurrency 0: want at least 1"},
		{Options{Concurrency: 1, MaxPending: 0}, "--ssp-job-max-pending 0: want at least 1"},
	} {
		if _, err := Start(sys, jobconfig.Config{}, nil, nil, tc.opts); err == nil || err.Error() != tc.want {
			t.Errorf("%+v: %v, want %q", tc.opts, err, tc.want)
		}
	}
}

func TestTakes(t *testing.T) {
	cfg, _ := jobconfig.ParseEnv(`[{"table":"job","base_url":"http://h"}]`)
	svc := &Service{cfg: cfg}
	tests := []struct {
		name                 string
		req                  *messages.IngestRequest
		standalone, assigned bool
	}{
		{"pending create", &messages.IngestRequest{Table: "job", Op: "CREATE", Record: []byte(`{"status":"pending"}`)}, true, false},
		{"assigned to us", &messages.IngestRequest{Table: "job", Op: "CREATE", Record: []byte(`{"status":"pending"}`), JobAssignee: "ssp-a"}, true, true},
		{"assigned to another", &messages.IngestRequest{Table: "job", Op: "CREATE", Record: []byte(`{"status":"pending"}`), JobAssignee: "ssp-b"}, true, false},
		{"not a job table", &messages.IngestRequest{Table: "user", Op: "CREATE", Record: []byte(`{"status":"pending"}`), JobAssignee: "ssp-a"}, false, false},
		{"update", &messages.IngestRequest{Table: "job", Op: "UPDATE", Record: []byte(`{"status":"pending"}`), JobAssignee: "ssp-a"}, false, false},
		{"not pending", &messages.IngestRequest{Table: "job", Op: "CREATE", Record: []byte(`{"status":"success"}`), JobAssignee: "ssp-a"}, false, false},
		{"no status", &messages.IngestRequest{Table: "job", Op: "CREATE", Record: []byte(`{}`), JobAssignee: "ssp-a"}, false, false},
	}
	for _, tc := range tests {
		if got := svc.Takes(tc.req, ""); got != tc.standalone {
			t.Errorf("%s, standalone: %v", tc.name, got)
		}
		if got := svc.Takes(tc.req, "ssp-a"); got != tc.assigned {
			t.Errorf("%s, scheduler mode: %v", tc.name, got)
		}
	}
}
