package kv

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
)

// pipeBatch carries a pipe's commands for one shard, sent as one message:
// the shard applies them in order, commits their writes as one batch and
// sends the same pipeBatch back, its replies filled, as one message. A
// pipelining client's commands thus cost one message each way per shard
// rather than per command. It never leaves the process; the shard owns it
// from the send to the reply, the pipe before and after.
type pipeBatch struct {
	reqs    []*messages.DataRequest
	replies []*messages.DataReply
	// lent are the pipe's replies the shard may answer the commands with
	// (Shard.reply), one per command: reused from batch to batch.
	lent []*messages.DataReply
	// next is the first command not applied yet: a batch that meets a key
	// reserved by a cross-shard msetnx waits in the stash from there.
	next int
	// partFailed is set when the writes committed before such a wait
	// could not be stored (written by the journal's pipeline).
	partFailed atomic.Bool

	// The pipe's side.
	seq    uint32     // the pipe's number for it once sent; 0 while filling
	sender *actor.PID // the pipe under that number (see Pipe.flush)
	result any        // what came back: the batch itself, or a failure
}

// handleBatch applies a pipe's batch from its next command on.
func (a *shardActor) handleBatch(sender *actor.PID, b *pipeBatch) {
	now := time.Now()
	for ; b.next < len(b.reqs); b.next++ {
		req := b.reqs[b.next]
		var watched []watchedKey
		if a.watch.active() {
			watched = a.watchedBefore(req, now.UnixMilli())
		}
		a.shard.lent = b.lent[b.next]
		reply := a.shard.Apply(now, req, &a.log)
		a.shard.lent = nil
		if reply.ErrorCode == messages.CodeKeyReserved {
			// The rest waits for the reservation, in order; what was
			// applied before goes to the journal now.
			a.log.Then(func(err error) {
				if err != nil {
					b.partFailed.Store(true)
				}
			})
			a.stash = append(a.stash, stashed{sender: sender, batch: b})
			return
		}
		if len(watched) > 0 {
			a.notifyChanges(watched, req, reply, now)
		}
		b.replies[b.next] = reply
	}
	a.log.Then(func(err error) {
		if err == nil && b.partFailed.Load() {
			err = errPartNotStored
		}
		if err != nil {
			// Which commands wrote is not kept: every one is answered
			// with the failure (the shard restarts from the journal).
			b.failAll(storeFailed(err).(*messages.DataReply))
		}
		if sender != nil {
			a.sys.Root.Send(sender, b)
		}
	})
}

var errPartNotStored = errors.New("the writes of the batch's first commands were not stored")

// failAll answers every command of the batch with reply.
func (b *pipeBatch) failAll(reply *messages.DataReply) {
	for i := range b.replies {
		b.replies[i] = reply
	}
}
