package kv

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// A Pipe carries one client's pipelined single-key commands (the Redis
// door's pipelining): Send puts a command in the batch of the shard owning
// its key, without waiting; the first wait sends every batch filled so far,
// one message per shard, and each shard answers its batch with one message.
// Commands sent through one pipe reach a shard in the order sent, so each
// key sees a client's commands in its order, while shards work side by side.
//
// The replies come back to one process registered for the pipe's life,
// each under its batch's number, rather than to a protoactor future per
// request, whose registration and timer cost more than the round trip.
// A pipe is used by one goroutine at a time; Close it when done.
//
// A batch whose replies were all waited for is used again, with its
// replies, by a later Send: a reply is valid until the pipe's next Send.
type Pipe struct {
	k        *Keyspace
	pid      *actor.PID // as registered
	replies  chan pipeReply
	next     uint32
	filling  []*pipeBatch          // by shard: the batch being filled (nil: none)
	unsent   []int                 // the shards of the batches being filled
	inflight map[uint32]*pipeBatch // sent, not answered
	waited   []*pipeBatch          // answered, every reply waited for: reused by the next Send
	spare    []*pipeBatch          // ready for reuse
	timer    *time.Timer
	once     sync.Once
}

type pipeReply struct {
	seq uint32
	msg any
}

// pipeDepth bounds the replies a pipe buffers: past it a reply would be
// dropped, so a caller keeps fewer batches than this in flight.
const pipeDepth = 1024

// NewPipe registers a pipe.
func (k *Keyspace) NewPipe() *Pipe {
	p := &Pipe{k: k, replies: make(chan pipeReply, pipeDepth), filling: make([]*pipeBatch, len(k.shards)),
		inflight: map[uint32]*pipeBatch{}, timer: time.NewTimer(time.Hour)}
	p.timer.Stop()
	reg := k.sys.Actors.ProcessRegistry
	p.pid, _ = reg.Add(p, "pipe"+reg.NextID())
	return p
}

// SendUserMessage receives a shard's reply (on the shard's goroutine, or
// the journal's).
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

// Send adds a single-key command (one that Do hands to one shard: not a
// fanned-out or transaction op) to its shard's batch and returns what
// waits for its reply, with Do's errors, until ctx ends (at most
// --request-timeout). The waits must be called in the order of the sends.
func (p *Pipe) Send(ctx context.Context, req *messages.DataRequest) Pending {
	if len(p.waited) > 0 {
		p.reuse()
	}
	i := p.k.shardOf(req.Key)
	b := p.filling[i]
	if b == nil {
		b = p.batch()
		p.filling[i] = b
		p.unsent = append(p.unsent, i)
	}
	n := len(b.reqs)
	b.reqs = append(b.reqs, req)
	if n == len(b.lent) {
		b.lent = append(b.lent, &messages.DataReply{})
	}
	return Pending{p: p, ctx: ctx, b: b, n: n, shard: i}
}

// maxSpare bounds the batches a pipe keeps for reuse.
const maxSpare = 64

// batch returns an empty batch: a spare one when there is one.
func (p *Pipe) batch() *pipeBatch {
	if n := len(p.spare); n > 0 {
		b := p.spare[n-1]
		p.spare = p.spare[:n-1]
		return b
	}
	return &pipeBatch{}
}

// reuse readies the batches whose replies were all waited for, their lent
// replies emptied (they keep no value alive meanwhile).
func (p *Pipe) reuse() {
	for _, b := range p.waited {
		if len(p.spare) == maxSpare {
			break
		}
		for i, r := range b.lent[:len(b.reqs)] {
			*r = messages.DataReply{} // not Reset: see Shard.reply
			b.replies[i] = nil
			b.reqs[i] = nil
		}
		b.reqs, b.replies = b.reqs[:0], b.replies[:0]
		b.next, b.seq, b.result = 0, 0, nil
		b.partFailed.Store(false)
		p.spare = append(p.spare, b)
	}
	clear(p.waited)
	p.waited = p.waited[:0]
}

// Pending is a command sent through a pipe (a value, not a closure: a
// pipeline allocates nothing per command for it).
type Pending struct {
	p     *Pipe
	ctx   context.Context
	b     *pipeBatch
	n     int // the command's place in b
	shard int
}

// Wait returns the command's reply; see Send.
func (w Pending) Wait() (*messages.DataReply, error) {
	return w.p.wait(w.ctx, w.b, w.n, w.p.k.shards[w.shard])
}

// flush sends the batches being filled.
func (p *Pipe) flush() {
	// Counted once per flush: the counter is shared by every connection,
	// and an atomic add per command kept its cache line moving between
	// the cores (1.6% of the server's CPU with 16-deep pipelines).
	sent := 0
	for _, i := range p.unsent {
		b := p.filling[i]
		p.filling[i] = nil
		sent += len(b.reqs)
		b.replies = slices.Grow(b.replies[:0], len(b.reqs))[:len(b.reqs)]
		p.next++
		if p.next == 0 { // 0 marks a batch not sent
			p.next++
		}
		b.seq = p.next
		p.inflight[b.seq] = b
		// The batch's own PID value, kept with it from one use to the next:
		// protoactor caches the process a PID value resolves to, so the
		// shard's reply reaches the pipe without a registry lookup. A batch
		// is used again only once answered, and its reply read here (the
		// channel orders that read before this write).
		if b.sender == nil {
			b.sender = &actor.PID{Address: p.pid.Address, Id: p.pid.Id}
		}
		b.sender.RequestId = b.seq
		p.k.sys.Root.RequestWithCustomSender(p.k.shards[i], b, b.sender)
	}
	p.unsent = p.unsent[:0]
	p.k.ops.Add(int64(sent))
}

// wait returns the reply to the n-th command of b, sending b first if it is
// still being filled.
func (p *Pipe) wait(ctx context.Context, b *pipeBatch, n int, shard *actor.PID) (*messages.DataReply, error) {
	if b.seq == 0 {
		p.flush()
	}
	// A batch its shard ran on this goroutine (system.CallerRuns) is
	// answered already: no timer for it.
	for b.result == nil {
		select {
		case r := <-p.replies:
			p.take(r)
			continue
		default:
		}
		break
	}
	if b.result == nil {
		timeout := p.k.sys.Config.RequestTimeout
		p.timer.Reset(timeout)
		defer p.timer.Stop()
		for b.result == nil {
			select {
			case r := <-p.replies:
				p.take(r)
			case <-p.timer.C:
				p.withdraw(b, shard, fmt.Errorf("%s did not answer within %s", shard.Id, timeout))
			case <-ctx.Done():
				p.withdraw(b, shard, fmt.Errorf("%s: %w", shard.Id, ctx.Err()))
			}
		}
	}
	switch r := b.result.(type) {
	case error:
		return nil, r
	case *pipeBatch:
		if n == len(r.reqs)-1 {
			p.waited = append(p.waited, r)
		}
		return r.replies[n], nil
	case *messages.Failure:
		return nil, fmt.Errorf("%w: %s: %s", system.ErrFailed, r.Actor, r.Reason)
	case *actor.DeadLetterResponse:
		return nil, fmt.Errorf("%s: %w", shard.Id, actor.ErrDeadLetter)
	}
	return nil, fmt.Errorf("%s: unexpected reply %T", shard.Id, b.result)
}

// take records a reply to the batch it answers; a reply to a batch given
// up on is dropped.
func (p *Pipe) take(r pipeReply) {
	if got := p.inflight[r.seq]; got != nil {
		delete(p.inflight, r.seq)
		got.result = r.msg
	}
}

// withdraw gives up on b with err, taking it back from its shard: a batch
// the shard holds behind an msetnx's reservation would otherwise be
// applied when the reservation ends, after its client has gone (and its
// requests, which a connection reuses, may hold other commands by then).
// The shard drops the batch from its stash and answers the withdrawal
// behind every reply it has handed to the journal (system.AnswerWithdraw),
// so the batch's own reply, when it was applied meanwhile, comes first and
// is kept: its commands did run. Past --request-timeout without either,
// the batch is forgotten.
func (p *Pipe) withdraw(b *pipeBatch, shard *actor.PID, err error) {
	p.k.sys.Root.RequestWithCustomSender(shard, &system.Withdraw{}, b.sender)
	p.timer.Reset(p.k.sys.Config.RequestTimeout)
	for b.result == nil {
		select {
		case r := <-p.replies:
			if r.seq != b.seq {
				p.take(r)
				continue
			}
			if _, applied := r.msg.(*pipeBatch); applied {
				p.take(r)
				continue
			}
			p.forget(b, err) // withdrawn, or the shard failed
		case <-p.timer.C:
			p.forget(b, err)
		}
	}
}

// forget gives up on b with err: its later commands fail at once with it
// rather than each waiting out the timeout, and its reply, should it come,
// is dropped.
func (p *Pipe) forget(b *pipeBatch, err error) {
	delete(p.inflight, b.seq)
	b.result = err
}
