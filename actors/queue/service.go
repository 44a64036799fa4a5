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
	switch {
	case !exists && !creates:
		return fail(messages.CodeQueueNotFound, "queue %q does not exist", req.Queue), nil
	case !exists && s.opts.MaxQueues > 0 && count >= s.opts.MaxQueues:
		return fail(messages.CodeLimit, "there are already %d queues, the limit (--max-queues)", count), nil
	}

	timeout := s.sys.Config.RequestTimeout
	if req.Op == messages.QueueOp_QUEUE_CONSUME {
		if wait := time.Duration(req.TimeoutMs) * time.Millisecond; wait > s.opts.MaxWait {
			req.TimeoutMs = s.opts.MaxWait.Milliseconds()
		}
		// The actor answers a wait that ends empty by itself; the future
		// only has to outlast it.
		timeout += time.Duration(req.TimeoutMs) * time.Millisecond
	} else if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	pid, err := s.sys.Registry.Get("queues/" + req.Queue)
	if err != nil {
		return nil, err
	}
	res, err := s.sys.Request(pid, req, timeout)
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
			if err := s.sys.Registry.Forget("queues/" + req.Queue); err != nil {
				s.sys.Log.Warn("stopping a deleted queue's actor", "queue", req.Queue, "err", err)
			}
		}
	}
	return reply, nil
}

// List returns the names of the queues, sorted.
func (s *Service) List(context.Context) ([]string, error) { return s.names.Sorted(), nil }
