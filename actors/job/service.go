package job

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/troupe-run/troupe/actors/job/jobconfig"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// Queues is the messaging service's queues, where the jobs wait.
type Queues interface {
	Do(ctx context.Context, req *messages.QueueRequest) (*messages.QueueReply, error)
}

// Tables is the views service, where each change of a job's status is
// written back to its row.
type Tables interface {
	Ingest(ctx context.Context, req *messages.IngestRequest) (*messages.IngestReply, error)
}

// Options are the runner's limits and identity.
type Options struct {
	// Concurrency is how many jobs of one job table (one backend) run at
	// once, calls and waits before a retry included: a slow backend holds
	// only its own slots.
	Concurrency int
	// MaxPending bounds the jobs a table's queue holds; a job created past
	// it is refused (507).
	MaxPending int
	// UserAgent is sent with every call.
	UserAgent string
}

// QueuePrefix starts the name of a job table's queue.
const QueuePrefix = "_jobs."

// QueueName is the queue of a job table's jobs.
func QueueName(table string) string { return QueuePrefix + table }

// consumer names the runner to its queue.
const consumer = "troupe-job-runner"

// ackDeadline is how long a job's queue message may stay unacked. A job is
// acked when it ends, so this outlasts a call (at most jobconfig.MaxTimeout)
// and a backoff; a runner that holds a job longer (retries in place) takes
// the redelivered message back as its own.
const ackDeadline = 2*jobconfig.MaxTimeout + BackoffMax

// Service is the job runner: one actor per job table, "jobs/<table>".
type Service struct {
	sys    *system.System
	cfg    jobconfig.Config
	queues Queues
	tables Tables
	opts   Options
	tracks map[string]*track // by table; fixed after Start
}

// track is what outlives a runner's incarnations: its figures, and the
// queue messages it holds, which a restarted runner takes over.
type track struct {
	backend                  string
	held                     atomic.Int64
	success, failed, retried atomic.Int64
	writeFailures            atomic.Int64

	mu   sync.Mutex
	msgs map[string]heldMsg // by id: the messages held in flight
	seq  uint64
}

type heldMsg struct {
	seq uint64 // the order they were taken in
	raw []byte
}

// hold records that the runner holds message id (raw is its content), or
// with raw nil, that it let it go.
func (t *track) hold(id string, raw []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if raw != nil {
		t.seq++
		t.msgs[id] = heldMsg{seq: t.seq, raw: raw}
	} else {
		delete(t.msgs, id)
	}
	t.held.Store(int64(len(t.msgs)))
}

// takeHeld returns the held messages, in the order they were taken, and
// forgets them.
func (t *track) takeHeld() (ids []string, raws [][]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range slices.SortedFunc(maps.Keys(t.msgs), func(a, b string) int { return cmp.Compare(t.msgs[a].seq, t.msgs[b].seq) }) {
		ids = append(ids, id)
		raws = append(raws, t.msgs[id].raw)
	}
	clear(t.msgs)
	t.held.Store(0)
	return ids, raws
}

// Start creates each job table's queue (kept when it exists: it holds the
// jobs of an earlier run) and starts the runners, which begin with the jobs
// left from that run. With no job tables it starts nothing.
func Start(sys *system.System, cfg jobconfig.Config, queues Queues, tables Tables, opts Options) (*Service, error) {
	if opts.Concurrency < 1 {
		return nil, fmt.Errorf("--ssp-job-concurrency %d: want at least 1", opts.Concurrency)
	}
	if opts.MaxPending < 1 {
		return nil, fmt.Errorf("--ssp-job-max-pending %d: want at least 1", opts.MaxPending)
	}
	s := &Service{sys: sys, cfg: cfg, queues: queues, tables: tables, opts: opts, tracks: map[string]*track{}}
	if len(cfg.Tables) == 0 {
		return s, nil
	}
	for _, be := range cfg.Sorted() {
		s.tracks[be.Table] = &track{backend: be.Name, msgs: map[string]heldMsg{}}
		if err := s.createQueue(be.Table); err != nil {
			return nil, err
		}
	}
	err := sys.Registry.Domain("jobs", func(table string) actor.Producer {
		return func() actor.Actor { return &runner{svc: s, be: s.cfg.Tables[table], track: s.tracks[table]} }
	})
	if err != nil {
		return nil, err
	}
	for table := range cfg.Tables {
		if _, err := sys.Registry.Get("jobs/" + table); err != nil {
			return nil, fmt.Errorf("start the job runner of %s: %w", table, err)
		}
	}
	s.warnOrphans()
	if err := sys.Metrics.Registry().Register(&collector{svc: s}); err != nil {
		return nil, fmt.Errorf("job metrics: %w", err)
	}
	return s, nil
}

func (s *Service) createQueue(table string) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.sys.Config.RequestTimeout)
	defer cancel()
	rep, err := s.queues.Do(ctx, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_CREATE, Queue: QueueName(table),
		Config: &messages.QueueConfig{
			MaxDepth:      proto.Int64(int64(s.opts.MaxPending)),
			AckDeadlineMs: proto.Int64(ackDeadline.Milliseconds()),
			// The runner decides when a job has failed; the queue never
			// gives up on one.
			MaxRetries: proto.Int32(math.MaxInt32),
			DeadLetter: proto.Bool(true),
		}})
	switch {
	case err != nil:
		return fmt.Errorf("create the job queue of %s: %w", table, err)
	case rep.ErrorCode != "" && rep.ErrorCode != messages.CodeQueueExists:
		return fmt.Errorf("create the job queue of %s: %s", table, rep.ErrorMessage)
	}
	return nil
}

// warnOrphans logs the job queues of tables that are no longer job tables
// and still hold jobs: nothing runs them until the table is configured
// again.
func (s *Service) warnOrphans() {
	lister, ok := s.queues.(interface {
		List(context.Context) ([]string, error)
	})
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.sys.Config.RequestTimeout)
	defer cancel()
	names, err := lister.List(ctx)
	if err != nil {
		return
	}
	for _, name := range names {
		table, ok := strings.CutPrefix(name, QueuePrefix)
		if _, configured := s.cfg.Tables[table]; !ok || configured {
			continue
		}
		rep, err := s.queues.Do(ctx, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_STATS, Queue: name})
		if err == nil && rep.GetStats().GetDepth() > 0 {
			s.sys.Log.Warn("a job queue holds jobs of a table that is no longer a job table; they run when it is configured again",
				"queue", name, "jobs", rep.GetStats().GetDepth())
		}
	}
}

// Enabled reports whether any table is a job table.
func (s *Service) Enabled() bool { return len(s.cfg.Tables) > 0 }

// Takes reports whether an ingest makes a job this SSP runs: a CREATE into a
// job table of a row with status "pending", assigned by the scheduler to
// self, this SSP's id. In standalone mode (no scheduler) self is "" and the
// SSP runs every job.
func (s *Service) Takes(req *messages.IngestRequest, self string) bool {
	if _, ok := s.cfg.Tables[req.Table]; !ok || req.Op != "CREATE" {
		return false
	}
	if self != "" && req.JobAssignee != self {
		return false
	}
	var row struct {
		Status any `json:"status"`
	}
	return json.Unmarshal(req.Record, &row) == nil && row.Status == string(Pending)
}

// SubmitError is a job that could not be queued for a reason the client
// can act on: Code is a messages code (LIMIT when the queue is full).
type SubmitError struct {
	Code, Message string
}

func (e *SubmitError) Error() string { return e.Message }

// queued is a job's queue message.
type queued struct {
	Table  string          `json:"table"`
	ID     string          `json:"id"`
	Record json.RawMessage `json:"record"`
}

// Submit queues the job an ingest made, durably, and wakes its runner. It
// returns once the job is in the queue under the store's fsync policy.
func (s *Service) Submit(ctx context.Context, req *messages.IngestRequest) error {
	if _, ok := s.tracks[req.Table]; !ok {
		return &SubmitError{Code: messages.CodeInvalid, Message: fmt.Sprintf("%s is not a job table", req.Table)}
	}
	if err := s.publish(ctx, req.Table, req.Id, req.Record); err != nil {
		return err
	}
	s.wake(req.Table)
	return nil
}

func (s *Service) publish(ctx context.Context, table, id string, record []byte) error {
	msg, err := json.Marshal(queued{Table: table, ID: id, Record: record})
	if err != nil {
		return &SubmitError{Code: messages.CodeInvalid, Message: fmt.Sprintf("job %s: the record is not JSON", id)}
	}
	pub := &messages.QueueRequest{Op: messages.QueueOp_QUEUE_PUBLISH, Queue: QueueName(table), Message: msg, Priority: 5}
	rep, err := s.queues.Do(ctx, pub)
	if err == nil && rep.ErrorCode == messages.CodeQueueNotFound {
		// Someone deleted the queue through the data door: make it again,
		// with the runner's config, rather than lose the job.
		if err := s.createQueue(table); err != nil {
			return err
		}
		rep, err = s.queues.Do(ctx, pub)
	}
	switch {
	case err != nil:
		return err
	case rep.ErrorCode == messages.CodeQueueFull:
		return &SubmitError{Code: messages.CodeLimit, Message: fmt.Sprintf(
			"job table %s has %d jobs waiting, the limit (--ssp-job-max-pending): job %s not queued", table, s.opts.MaxPending, id)}
	case rep.ErrorCode != "":
		return &SubmitError{Code: rep.ErrorCode, Message: fmt.Sprintf("job %s not queued: %s", id, rep.ErrorMessage)}
	}
	return nil
}

// wake tells a table's runner that a job is waiting.
func (s *Service) wake(table string) {
	if pid, err := s.sys.Registry.Get("jobs/" + table); err == nil {
		s.sys.Root.Send(pid, &messages.Tick{})
	}
}

// Info returns each job table's figures, in table order.
func (s *Service) Info(ctx context.Context) []*messages.JobBackendInfo {
	out := make([]*messages.JobBackendInfo, 0, len(s.tracks))
	for _, be := range s.cfg.Sorted() {
		t := s.tracks[be.Table]
		held := t.held.Load()
		info := &messages.JobBackendInfo{Table: be.Table, Backend: be.Name, Processing: held,
			Success: t.success.Load(), Failed: t.failed.Load(), Retried: t.retried.Load()}
		if rep, err := s.queues.Do(ctx, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_STATS, Queue: QueueName(be.Table)}); err == nil && rep.Stats != nil {
			info.Pending = rep.Stats.Depth // ready messages: the held ones are not counted
		} else {
			info.Pending = -1 // unknown: the queue did not answer
		}
		out = append(out, info)
	}
	return out
}

// newClient is a runner's HTTP client: its own connections to its one
// backend, at most Concurrency of them kept idle, closed when the runner
// stops.
func (s *Service) newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   s.opts.Concurrency,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

// errTimeout names a call that ran out of time.
var errTimeout = errors.New("timed out")
