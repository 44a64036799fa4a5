package kv

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// A Pipe carries one client's pipelined single-key commands (the Redis
// door's pipelining): Send hands a command to the shard owning its key
// without waiting, and the command's Wait returns its reply. Commands sent
// through one pipe reach a shard in the order sent, so each key sees a
// client's commands in its order while commands on other shards run side
// by side.
//
// The replies come back to one process registered for the pipe's life,
// each under its request's number, rather than to a protoactor future per
// request, whose registration and timer cost more than the round trip.
// A pipe is used by one goroutine at a time; Close it when done.
type Pipe struct {
	k       *Keyspace
	pid     *actor.PID // as registered
	replies chan pipeReply
	next    uint32
	early   map[uint32]any // replies that came before the one awaited
	timer   *time.Timer
	once    sync.Once
}

type pipeReply struct {
	seq uint32
	msg any
}

// pipeDepth bounds the replies a pipe buffers: past it a reply would be
// dropped, so a caller keeps fewer commands than this in flight.
const pipeDepth = 1024

// NewPipe registers a pipe.
func (k *Keyspace) NewPipe() *Pipe {
	p := &Pipe{k: k, replies: make(chan pipeReply, pipeDepth), early: map[uint32]any{}, timer: time.NewTimer(time.Hour)}
	p.timer.Stop()
	reg := k.sys.Actors.ProcessRegistry
	p.pid, _ = reg.Add(p, "pipe"+reg.NextID())
	return p
}

// SendUserMessage receives a shard's reply (on the shard's goroutine).
func (p *Pipe) SendUserMessage(to *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	select {
	case p.replies <- pipeReply{to.RequestId, msg}:
	default: // only stale replies can fill it (see pipeDepth)
	}
}

// SendSystemMessage drops the message: nobody watches a pipe.
func (p *Pipe) SendSystemMessage(*actor.PID, any) {}

// Stop does nothing: Close unregisters the pipe.
func (p *Pipe) Stop(*actor.PID) {}

// Close unregisters the pipe; replies still due are dropped.
func (p *Pipe) Close() {
	p.once.Do(func() { p.k.sys.Actors.ProcessRegistry.Remove(p.pid) })
}

// Send starts a single-key command (one that Do hands to one shard: not a
// fanned-out or transaction op) and returns the function that waits for
// its reply, with Do's errors, until ctx ends (at most --request-timeout).
// The waits must be called in the order of the sends.
func (p *Pipe) Send(ctx context.Context, req *messages.DataRequest) func() (*messages.DataReply, error) {
	p.k.ops.Add(1)
	p.next++
	seq := p.next
	shard := p.k.shards[p.k.shardOf(req.Key)]
	p.k.sys.Root.RequestWithCustomSender(shard, req, &actor.PID{Address: p.pid.Address, Id: p.pid.Id, RequestId: seq})
	return func() (*messages.DataReply, error) { return p.wait(ctx, seq, shard) }
}

func (p *Pipe) wait(ctx context.Context, seq uint32, shard *actor.PID) (*messages.DataReply, error) {
	msg, ok := p.early[seq]
	if ok {
		delete(p.early, seq)
	} else {
		timeout := p.k.sys.Config.RequestTimeout
		p.timer.Reset(timeout)
		defer p.timer.Stop()
	loop:
		for {
			select {
			case r := <-p.replies:
				if r.seq == seq {
					msg = r.msg
					break loop
				}
				if int32(r.seq-seq) > 0 { // a later request's; older ones are stale
					p.early[r.seq] = r.msg
				}
			case <-p.timer.C:
				return nil, fmt.Errorf("%s did not answer within %s", shard.Id, timeout)
			case <-ctx.Done():
				return nil, fmt.Errorf("%s: %w", shard.Id, ctx.Err())
			}
		}
	}
	switch r := msg.(type) {
	case *messages.DataReply:
		return r, nil
	case *messages.Failure:
		return nil, fmt.Errorf("%w: %s: %s", system.ErrFailed, r.Actor, r.Reason)
	case *actor.DeadLetterResponse:
		return nil, fmt.Errorf("%s: %w", shard.Id, actor.ErrDeadLetter)
	}
	return nil, fmt.Errorf("%s: unexpected reply %T", shard.Id, msg)
}
