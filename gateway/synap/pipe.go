package synap

import (
	"context"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/messages"
)

// Pipelining a WebSocket session's queue commands.
//
// A client that sends publishes (or acks, or nacks) one after another
// without waiting for their replies would otherwise have them run one at a
// time, each waiting for its commit before the next is even read: one
// commit and one reply write per command. Instead the runner starts each
// such command on a goroutine of its own and goes on with the next one as
// soon as its request is handed to the queue's actor, so that the commands
// of a connection share the store's commits and the connection's writes.
//
// What stays as before: the queue's actor gets the requests in the order
// the client sent them (each is handed over before the next starts), the
// replies are written in that order, and every reply still waits for its
// command's commit. A command to another queue than the ones in flight
// waits until those are answered, and any other command waits for every
// pipelined one: a client never sees a later command take effect before an
// earlier one of another queue, or anything else, has.

// wsPipeWorkers bounds the goroutines of a session that run its pipelined
// commands, and so the commands it has in flight.
const wsPipeWorkers = 16

// pipelined are the commands that may be pipelined.
var pipelined = map[string]bool{"queue.publish": true, "queue.ack": true, "queue.nack": true}

// pipeSlot is one pipelined command, from its start on its own goroutine
// until the runner writes its reply. The runner keeps the slots it is done
// with for the next commands (free): a slot and its three channels made
// per command were a ninth of the bytes a queue's message made the server
// allocate.
type pipeSlot struct {
	f      *wsFrame
	ctx    context.Context
	sender QueueSender
	// queue is where the commands in flight before this one went; empty
	// when none is in flight.
	queue string
	// step tells the runner that the command handed its request over (or
	// ended without one), or that it waits for the earlier ones (barrier),
	// which resume then releases.
	step   chan pipeStep
	resume chan struct{}
	out    *jsonw.Writer // the reply, once done has signalled
	// done signals once that the command is answered and its worker is
	// done with the slot; finished notes that the runner took the signal.
	done     chan struct{}
	finished bool
	// args are the command's arguments, when decodeFast took them.
	args msgArgs
}

type pipeStep struct {
	queue   string // the queue the request goes to
	barrier bool   // another queue: the earlier commands finish first
	ended   bool   // the command ended without sending a request
}

// send hands req to its queue, lets the runner go on, and waits for the
// reply.
func (p *pipeSlot) send(ctx context.Context, req *messages.QueueRequest) (*messages.QueueReply, error) {
	if p.queue != "" && p.queue != req.Queue {
		p.step <- pipeStep{queue: req.Queue, barrier: true}
		<-p.resume
	}
	wait := p.sender.Send(ctx, req)
	p.step <- pipeStep{queue: req.Queue}
	return wait()
}

// pipelines tells whether f may be pipelined.
func (r *wsRunner) pipelines(f *wsFrame) bool {
	return r.s.sender != nil && f.err == nil && !f.holds && f.welcome == nil && f.env.Type != "batch" &&
		pipelined[f.env.Command]
}

// runPiped starts f and returns once its request is handed over (or it
// ended without one); its reply is written later, in order (flush).
func (r *wsRunner) runPiped(f *wsFrame) {
	p := r.slot()
	p.f, p.ctx, p.sender = f, r.deadline(), r.s.sender
	if r.inFlight() {
		p.queue = r.pipeQueue
	}
	select {
	case r.work <- p:
	default:
		if r.workers < wsPipeWorkers {
			r.workers++
			go r.worker(p)
		} else {
			r.work <- p // waits for a worker to be done with its command
		}
	}
	for {
		st := <-p.step
		if st.barrier {
			r.drain()
			p.resume <- struct{}{}
			continue
		}
		if !st.ended {
			r.pipeQueue = st.queue
		}
		break
	}
	r.pending = append(r.pending, p)
}

// worker runs pipelined commands, p first, until the session ends. The
// workers last as long as their session: a goroutine started per command
// grew its stack anew each time (a seventh of the server's time).
func (r *wsRunner) worker(p *pipeSlot) {
	for ok := true; ok; p, ok = <-r.work {
		p.out = r.execute(p.f, nil, p)
		select {
		case p.step <- pipeStep{ended: true}:
		default: // the runner has had its step
		}
		p.done <- struct{}{} // the last use of p: the runner may reuse it
	}
}

// slot returns a free pipeSlot, or a new one.
func (r *wsRunner) slot() *pipeSlot {
	if n := len(r.free); n > 0 {
		p := r.free[n-1]
		r.free = r.free[:n-1]
		return p
	}
	return &pipeSlot{step: make(chan pipeStep, 1), resume: make(chan struct{}), done: make(chan struct{}, 1)}
}

// recycle keeps an answered slot for a later command. The step its worker
// may have left in the channel, unread, is dropped.
func (r *wsRunner) recycle(p *pipeSlot) {
	select {
	case <-p.step:
	default:
	}
	*p = pipeSlot{step: p.step, resume: p.resume, done: p.done}
	r.free = append(r.free, p)
}

// inFlight tells whether pipelined commands are not yet answered.
func (r *wsRunner) inFlight() bool { return r.head < len(r.pending) }

// next returns the next frame to run, writing meanwhile the replies of the
// pipelined commands as they come, in order; false once the session ends.
func (r *wsRunner) next() (*wsFrame, bool) {
	for {
		r.flush(false)
		if !r.inFlight() {
			f, ok := <-r.jobs
			return f, ok
		}
		select {
		case f, ok := <-r.jobs:
			return f, ok
		case <-r.pending[r.head].done:
			r.pending[r.head].finished = true
		}
	}
}

// drain waits for every pipelined command and writes their replies.
func (r *wsRunner) drain() { r.flush(true) }

// flush writes the replies of the pipelined commands that are done, in
// order, stopping at the first one that is not (or waiting for each, with
// wait).
func (r *wsRunner) flush(wait bool) {
	for r.inFlight() {
		p := r.pending[r.head]
		switch {
		case p.finished:
		case wait:
			<-p.done
		default:
			select {
			case <-p.done:
			default:
				return
			}
		}
		r.pending[r.head] = nil
		r.head++
		r.answer(p.f, p.out)
		r.release()
		r.recycle(p)
	}
	r.pending, r.head = r.pending[:0], 0
	for _, cancel := range r.stale {
		cancel()
	}
	r.stale = r.stale[:0]
}
