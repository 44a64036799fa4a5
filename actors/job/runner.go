package job

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/actors/job/jobconfig"
	"github.com/troupe-run/troupe/messages"
)

// callDone is sent to a runner by the goroutine of one call, and retryDue
// by the timer of one backoff. They never leave the process (the goroutine
// and the timer belong to the runner), so they are plain Go values rather
// than protobuf messages. Each names the job's running, so that one sent
// to a runner's earlier incarnation (its mailbox outlives a restart) is
// told apart from the new incarnation's running of the same job.
type callDone struct {
	msgID string
	run   *running
	res   Result
}

type retryDue struct {
	msgID string
	run   *running
}

// refill asks a runner to look at its queue again after a failed attempt.
type refill struct{}

// maxLateAcks bounds the ids of messages a runner could not ack (its queue
// restarted under it) and acks when they come back.
const maxLateAcks = 10_000

// runner runs the jobs of one table. It holds at most Concurrency jobs; each
// is a queue message held in flight until the job ends (acked) or waits for
// a retry (published again with its retries and errors, then acked).
type runner struct {
	svc   *Service
	be    jobconfig.Backend
	track *track
	self  *actor.PID
	log   *slog.Logger

	ctx    context.Context // cancelled when the runner stops: ends its calls
	cancel context.CancelFunc
	calls  sync.WaitGroup
	client *http.Client

	active    map[string]*running // by queue message id
	lateAcks  map[string]bool
	refilling *time.Timer
}

type running struct {
	job   *Job
	timer *time.Timer // the backoff before a retry
}

func (r *runner) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		r.start(ctx.Self())
		r.fill()
	case *actor.Stopping, *actor.Restarting:
		r.stop()
	case *messages.Tick, refill:
		r.fill()
	case *callDone:
		r.done(msg)
		r.fill()
	case *retryDue:
		r.retry(msg)
		r.fill()
	}
}

func (r *runner) start(self *actor.PID) {
	r.self = self
	r.log = r.svc.sys.Log.With("actor", self.Id, "backend", r.be.Name)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.client = r.svc.newClient()
	r.active = map[string]*running{}
	r.lateAcks = map[string]bool{}
	// The jobs an earlier incarnation held are still in flight in the
	// queue, under the same message ids: run them again first, in the
	// order they were taken.
	ids, raws := r.track.takeHeld()
	for i, id := range ids {
		r.take(id, raws[i])
	}
}

// stop ends the runner's calls and timers and waits for its goroutines. The
// jobs it held stay in flight in the queue; the next incarnation, or the
// next process, runs them again.
func (r *runner) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	for _, run := range r.active {
		if run.timer != nil {
			run.timer.Stop()
		}
	}
	if r.refilling != nil {
		r.refilling.Stop()
	}
	r.calls.Wait()
	r.client.CloseIdleConnections()
}

// fill takes jobs from the queue while the runner has room.
func (r *runner) fill() {
	recreated := false
	for len(r.active) < r.svc.opts.Concurrency {
		rep, err := r.queueOp(&messages.QueueRequest{Op: messages.QueueOp_QUEUE_CONSUME, Consumer: consumer,
			AckDeadlineMs: ackDeadline.Milliseconds()})
		if err == nil && rep.ErrorCode == messages.CodeQueueNotFound && !recreated {
			recreated = true
			if err = r.svc.createQueue(r.be.Table); err == nil { // deleted through the data door
				continue
			}
		}
		if err == nil && rep.ErrorCode != "" {
			err = fmt.Errorf("%s: %s", rep.ErrorCode, rep.ErrorMessage)
		}
		if err != nil {
			r.log.Warn("job queue unavailable; trying again in a second", "err", err)
			r.refillLater()
			return
		}
		m := rep.GetMessage()
		if m == nil {
			return
		}
		if _, ok := r.active[m.MessageId]; ok {
			continue // held past its ack deadline and handed back: still ours
		}
		if r.lateAcks[m.MessageId] {
			delete(r.lateAcks, m.MessageId)
			r.ack(m.MessageId)
			continue
		}
		r.take(m.MessageId, m.Message)
	}
}

// take starts the job of queue message id, whose content is raw. A message
// that holds no job of this table can never run: it is dropped.
func (r *runner) take(id string, raw []byte) {
	var q queued
	err := json.Unmarshal(raw, &q)
	var job *Job
	if err == nil {
		job, err = Parse(q.Table, q.ID, q.Record)
	}
	if err != nil || q.Table != r.be.Table {
		r.log.Error("dropping a message of the job queue that is no job of this table", "message_id", id, "err", err)
		r.ack(id)
		return
	}
	run := &running{job: job}
	r.active[id] = run
	r.track.hold(id, raw)
	r.run(id, run)
}

func (r *runner) refillLater() {
	if r.refilling != nil {
		r.refilling.Stop()
	}
	self, root := r.self, r.svc.sys.Root
	r.refilling = time.AfterFunc(time.Second, func() { root.Send(self, refill{}) })
}

// run starts a call of run's job, held as queue message id.
func (r *runner) run(id string, run *running) {
	job := run.job
	job.Start()
	r.write(job)
	url := r.be.BaseURL + job.Path
	payload := []byte(job.Payload)
	timeout := r.be.CallTimeout(job.TimeoutSecs)
	ctx, self, root, client, token := r.ctx, r.self, r.svc.sys.Root, r.client, r.be.AuthToken
	r.calls.Add(1)
	go func() {
		defer r.calls.Done()
		res := call(ctx, client, r.svc.opts.UserAgent, url, token, payload, timeout)
		root.Send(self, &callDone{msgID: id, run: run, res: res})
	}()
}

// done applies the result of a call.
func (r *runner) done(msg *callDone) {
	run := r.active[msg.msgID]
	if run == nil || run != msg.run {
		return // from before a restart
	}
	job := run.job
	step := job.Finish(msg.res)
	r.write(job)
	if step.Final {
		r.log.Info("job ended", "job", job.ID, "status", job.Status, "retries", job.Retries, "code", msg.res.Code)
		if job.Status == Success {
			r.track.success.Add(1)
		} else {
			r.track.failed.Add(1)
		}
		r.ack(msg.msgID)
		r.release(msg.msgID)
		return
	}
	r.track.retried.Add(1)
	r.log.Info("job call failed; retrying", "job", job.ID, "code", msg.res.Code, "reason", job.Errors[len(job.Errors)-1].Reason,
		"retries", job.Retries, "max_retries", job.MaxRetries, "backoff", step.Backoff)
	self, root, due := r.self, r.svc.sys.Root, &retryDue{msgID: msg.msgID, run: run}
	run.timer = time.AfterFunc(step.Backoff, func() { root.Send(self, due) })
}

// retry makes a job pending again after its backoff. It goes back through
// the queue carrying its retries and errors, so that a crash from now on
// resumes from them; the new message is in the queue before the old one is
// acked, so a crash between the two runs the job twice, never zero times.
// When the queue has no room for the copy, the runner keeps the job and
// calls again itself.
func (r *runner) retry(msg *retryDue) {
	id, run := msg.msgID, r.active[msg.msgID]
	if run == nil || run != msg.run {
		return // from before a restart
	}
	job := run.job
	job.Retry()
	ctx, cancel := context.WithTimeout(context.Background(), r.svc.sys.Config.RequestTimeout)
	err := r.svc.publish(ctx, job.Table, job.ID, job.Record())
	cancel()
	if err != nil {
		r.log.Warn("job not queued again; retrying it in place", "job", job.ID, "err", err)
		run.timer = nil
		r.write(job)
		r.run(id, run)
		return
	}
	r.write(job)
	r.ack(id)
	r.release(id)
}

func (r *runner) release(id string) {
	delete(r.active, id)
	r.track.hold(id, nil)
}

// ack removes an ended job from the queue. When the queue no longer has the
// message in flight (it restarted and made it ready again), the runner acks
// it when it comes back.
func (r *runner) ack(id string) {
	rep, err := r.queueOp(&messages.QueueRequest{Op: messages.QueueOp_QUEUE_ACK, MessageId: id})
	if err == nil && rep.ErrorCode == "" {
		return
	}
	r.log.Warn("job message not acked; it is acked when it comes back", "message_id", id, "err", err, "error", rep.GetErrorMessage())
	if len(r.lateAcks) < maxLateAcks {
		r.lateAcks[id] = true
	}
}

func (r *runner) queueOp(req *messages.QueueRequest) (*messages.QueueReply, error) {
	req.Queue = QueueName(r.be.Table)
	ctx, cancel := context.WithTimeout(context.Background(), r.svc.sys.Config.RequestTimeout)
	defer cancel()
	return r.svc.queues.Do(ctx, req)
}

// write applies the job's row to its table as an UPDATE, so that views over
// the table see each status. A failed write is logged and counted: the
// job's own state is in the queue, and the next change writes the row
// whole.
func (r *runner) write(job *Job) {
	ctx, cancel := context.WithTimeout(context.Background(), r.svc.sys.Config.RequestTimeout)
	defer cancel()
	rep, err := r.svc.tables.Ingest(ctx, &messages.IngestRequest{Table: job.Table, Op: "UPDATE", Id: job.ID, Record: job.Record()})
	if err == nil && rep.ErrorCode != "" {
		err = fmt.Errorf("%s: %s", rep.ErrorCode, rep.ErrorMessage)
	}
	if err != nil {
		r.track.writeFailures.Add(1)
		r.log.Warn("job status not written to its row", "job", job.ID, "status", job.Status, "err", err)
	}
}

// maxBody bounds what is read of a backend's answer (its start becomes the
// error's reason).
const maxBody = 64 << 10

// call POSTs payload to url, with the bearer token when there is one, and
// says how it went. Every call ends by timeout at the latest.
func call(parent context.Context, client *http.Client, userAgent, url, token string, payload []byte, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeoutCause(parent, timeout, errTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return Result{Reason: fmt.Sprintf("bad request to %s: %v", url, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Result{Reason: callFailure(ctx, timeout, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return Result{OK: true, Code: resp.StatusCode}
	}
	reason := string(body)
	if err != nil {
		reason = callFailure(ctx, timeout, err)
	}
	if reason == "" {
		reason = http.StatusText(resp.StatusCode)
	}
	return Result{Code: resp.StatusCode, Reason: reason}
}

func callFailure(ctx context.Context, timeout time.Duration, err error) string {
	if errors.Is(context.Cause(ctx), errTimeout) {
		return fmt.Sprintf("timed out after %v", timeout)
	}
	return err.Error()
}
