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
	if err := system.CheckName("queue", req.Queue); err != nil {
		return fail(messages.CodeInvalid, "%v", err), nil
	}
	if s.opts.MaxMessage > 0 && len(req.Message) > s.opts.MaxMessage {
		return fail(messages.CodeInvalid, "message of %d bytes: the limit is %d", len(req.Message), s.opts.MaxMessage), nil
	}
	creates := req.Op == messages.QueueOp_QUEUE_CREATE || (req.Op == messages.QueueOp_QUEUE_PUBLISH && req.Create)
	exists, count := s.names.Has(req.Queue)
	if !exists && s.sys.Placement != nil { // another member may have created it
		var err error
		if exists, count, err = s.names.Recheck(s.sys.Store, configPrefix, req.Queue); err != nil {
			return nil, err
		}
	}
	switch {
	case !exists && !creates:
		return fail(messages.CodeQueueNotFound, "queue %q does not exist", req.Queue), nil
	case !exists && s.opts.MaxQueues > 0 && count >= s.opts.MaxQueues:
		return fail(messages.CodeLimit, "there are already %d queues, the limit (--max-queues)", count), nil
	}

	res, err := s.ask(ctx, req)
	if err != nil {
		return nil, err
	}
	reply := res.(*messages.QueueReply)
	if reply.ErrorCode == "" {
		switch {
		case creates:
			s.names.Add(req.Queue)
		case req.Op == messages.QueueOp_QUEUE_DELETE:
			s.names.Remove(req.Queue)
			s.mu.Lock()
			delete(s.pushed, req.Queue)
			s.mu.Unlock()
			if s.sys.Placement != nil {
				break // the queue's actor lives on whichever member holds it; it stays until it is handed over
			}
			if err := s.sys.Registry.Forget("queues/" + req.Queue); err != nil {
				s.sys.Log.Warn("stopping a deleted queue's actor", "queue", req.Queue, "err", err)
			}
		}
	}
	return reply, nil
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
func (s *Service) List(context.Context) ([]string, error) { return s.names.Sorted(), nil }
