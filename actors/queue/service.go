package queue

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// configPrefix holds one record per queue: its config. Its presence is what
// makes a queue exist across restarts.
const configPrefix = "qc/"

// Options are the queue service's limits and the defaults of a queue
// created without a config (by its first publish).
type Options struct {
	Defaults   Config
	MaxQueues  int
	MaxWait    time.Duration // longest queue.consume wait
	MaxMessage int           // bytes of one message
}

// Service is the queues domain: one actor per queue, "queues/<name>".
type Service struct {
	sys      *system.System
	defaults Config
	opts     Options

	names  *system.Names // queues that exist
	mu     sync.Mutex
	pushed map[string]*pushed // each queue's subscribers, kept across its actor's restarts
}

func (s *Service) pushedTo(queue string) *pushed {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pushed[queue]
	if p == nil {
		p = &pushed{}
		s.pushed[queue] = p
	}
	return p
}

// Start registers the queues domain and learns which queues exist.
func Start(sys *system.System, opts Options) (*Service, error) {
	if err := opts.Defaults.Validate(); err != nil {
		return nil, fmt.Errorf("queue defaults: %w", err)
	}
	names, err := system.LoadNames(sys.Store, configPrefix)
	if err != nil {
		return nil, err
	}
	s := &Service{sys: sys, defaults: opts.Defaults, opts: opts, names: names, pushed: map[string]*pushed{}}
	// A queue's commands are a few microseconds of work each: run on the
	// goroutine of the session that sends them when the queue is idle
	// (system.CallerRuns), they skip two goroutine hand-offs apiece.
	err = sys.Registry.Domain("queues", func(name string) actor.Producer {
		p := s.pushedTo(name)
		return func() actor.Actor { return &queueActor{svc: s, name: name, pushed: p} }
	}, system.CallerRuns(func(string) bool { return true }))
	return s, err
}

// Do runs one queue command on the queue's actor.
func (s *Service) Do(ctx context.Context, req *messages.QueueRequest) (*messages.QueueReply, error) {
	if rep := s.admit(req); rep != nil {
		return rep, nil
	}
	res, err := s.ask(ctx, req)
	if err != nil {
		return nil, err
	}
	reply := res.(*messages.QueueReply)
	s.after(req, reply)
	return reply, nil
}

// admit checks req before it goes to the queue's actor: a reply when it
// is refused, nil when it may go.
func (s *Service) admit(req *messages.QueueRequest) *messages.QueueReply {
	if err := system.CheckName("queue", req.Queue); err != nil {
		return fail(messages.CodeInvalid, "%v", err)
	}
	if s.opts.MaxMessage > 0 && len(req.Message) > s.opts.MaxMessage {
		return fail(messages.CodeInvalid, "message of %d bytes: the limit is %d", len(req.Message), s.opts.MaxMessage)
	}
	exists, count := s.names.Has(req.Queue)
	if !exists && s.sys.Placement != nil { // another member may have created it
		var err error
		if exists, count, err = s.names.Recheck(s.sys.Store, configPrefix, req.Queue); err != nil {
			return fail(messages.CodeUnavailable, "%v", err)
		}
	}
	switch {
	case !exists && !creates(req):
		return fail(messages.CodeQueueNotFound, "queue %q does not exist", req.Queue)
	case !exists && s.opts.MaxQueues > 0 && count >= s.opts.MaxQueues:
		return fail(messages.CodeLimit, "there are already %d queues, the limit (--max-queues)", count)
	}
	return nil
}

// creates tells whether req makes its queue exist.
func creates(req *messages.QueueRequest) bool {
	return req.Op == messages.QueueOp_QUEUE_CREATE || (req.Op == messages.QueueOp_QUEUE_PUBLISH && req.Create)
}

// after keeps the names of the queues up to date with a command's reply.
func (s *Service) after(req *messages.QueueRequest, reply *messages.QueueReply) {
	if reply.ErrorCode != "" {
		return
	}
	switch {
	case creates(req):
		s.names.Add(req.Queue)
	case req.Op == messages.QueueOp_QUEUE_DELETE:
		s.names.Remove(req.Queue)
		s.mu.Lock()
		delete(s.pushed, req.Queue)
		s.mu.Unlock()
		if s.sys.Placement != nil {
			return // the queue's actor lives on whichever member holds it; it stays until it is handed over
		}
		if err := s.sys.Registry.Forget("queues/" + req.Queue); err != nil {
			s.sys.Log.Warn("stopping a deleted queue's actor", "queue", req.Queue, "err", err)
		}
	}
}

// Send hands req to the queue's actor and returns at once, with the
// function that waits for its reply (until ctx ends). Requests sent one
// after another from one goroutine reach the actor in that order, so a
// client may have several of its commands in flight, in order, and their
// writes share commits: a connection's publishes and acks are pipelined.
// A queue.consume (which may wait), and every request in cluster mode,
// runs to its end before Send returns.
func (s *Service) Send(ctx context.Context, req *messages.QueueRequest) func() (*messages.QueueReply, error) {
	answered := func(rep *messages.QueueReply, err error) func() (*messages.QueueReply, error) {
		return func() (*messages.QueueReply, error) { return rep, err }
	}
	if req.Op == messages.QueueOp_QUEUE_CONSUME || s.sys.Placement != nil {
		return answered(s.Do(ctx, req))
	}
	if rep := s.admit(req); rep != nil {
		return answered(rep, nil)
	}
	if err := ctx.Err(); err != nil {
		return answered(nil, fmt.Errorf("queues/%s: %w", req.Queue, err))
	}
	pid, err := s.sys.Registry.Get("queues/" + req.Queue)
	if err != nil {
		return answered(nil, err)
	}
	wait := s.sys.Send(ctx, pid, req)
	return func() (*messages.QueueReply, error) {
		res, err := wait()
		if err != nil {
			return nil, err
		}
		r, ok := res.(*messages.QueueReply)
		if !ok {
			return nil, fmt.Errorf("%s: unexpected reply %T", pid.Id, res)
		}
		s.after(req, r)
		return r, nil
	}
}

// ask runs req on the queue's actor: through the registry on one node,
// through sys.Placement in cluster mode.
func (s *Service) ask(ctx context.Context, req *messages.QueueRequest) (any, error) {
	if req.Op == messages.QueueOp_QUEUE_CONSUME {
		return s.consume(ctx, req)
	}
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > s.sys.Config.RequestTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.sys.Config.RequestTimeout)
		defer cancel()
	}
	if s.sys.Placement != nil {
		return s.sys.Placement.Ask(ctx, "queues/"+req.Queue, req)
	}
	pid, err := s.sys.Registry.Get("queues/" + req.Queue)
	if err != nil {
		return nil, err
	}
	return s.sys.Ask(ctx, pid, req)
}

// consume runs a queue.consume, which may wait for a message: the actor
// answers a wait that ends empty by itself, and the request's deadline only
// has to outlast it. A consumer that goes away first (its client hung up)
// withdraws its wait; a message the queue had already handed it is put back
// at once (a nack: it counts as a failed delivery, as an ack deadline that
// passed would), instead of staying in flight until its ack deadline. In
// cluster mode a wait is not withdrawn: a message handed to a consumer that
// went away meanwhile comes back when its ack deadline passes.
func (s *Service) consume(ctx context.Context, req *messages.QueueRequest) (any, error) {
	if wait := time.Duration(req.TimeoutMs) * time.Millisecond; wait > s.opts.MaxWait {
		req.TimeoutMs = s.opts.MaxWait.Milliseconds()
	}
	timeout := s.sys.Config.RequestTimeout + time.Duration(req.TimeoutMs)*time.Millisecond
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > timeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if s.sys.Placement != nil {
		return s.sys.Placement.Ask(ctx, "queues/"+req.Queue, req)
	}
	pid, err := s.sys.Registry.Get("queues/" + req.Queue)
	if err != nil {
		return nil, err
	}
	res, err := s.sys.AskOrWithdraw(ctx, pid, req)
	if err != nil {
		if rep, ok := res.(*messages.QueueReply); ok && rep.Message != nil {
			nack := &messages.QueueRequest{Op: messages.QueueOp_QUEUE_NACK, Queue: req.Queue,
				MessageId: rep.Message.MessageId, Requeue: true}
			if _, nerr := s.sys.Request(pid, nack, s.sys.Config.RequestTimeout); nerr != nil {
				s.sys.Log.Warn("putting back a message its consumer left", "queue", req.Queue, "err", nerr)
			}
		}
		return nil, err
	}
	return res, nil
}

// List returns the names of the queues, sorted.
func (s *Service) List(context.Context) ([]string, error) {
	if s.sys.Placement != nil { // the queues of every member, from the journal they share
		if err := s.names.Reload(s.sys.Store, configPrefix); err != nil {
			return nil, err
		}
	}
	return s.names.Sorted(), nil
}
