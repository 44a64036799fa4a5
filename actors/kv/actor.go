package kv

import (
	"fmt"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/durable"
	"github.com/troupe-run/troupe/system/store"
)

// sweepBatch bounds the expired keys one Tick removes, so a shard with many
// keys expiring at once stays responsive; the rest go on the next Tick (and
// are invisible to reads meanwhile).
const sweepBatch = 1000

// shardActor owns one Shard. It applies each command to memory, hands the
// writes to the journal through its durable.Log and replies once they are
// durable, without waiting for the fsync itself.
type shardActor struct {
	sys       *system.System
	log       durable.Log
	prefix    []byte
	mem       *Memory
	txnExpiry time.Duration
	self      *actor.PID
	shard     *Shard

	// stash holds requests that met a key reserved by a cross-shard msetnx;
	// they are applied again, in order, when the reservation ends.
	stash []stashed
	txns  map[uint64]time.Time // reservations held, to abort abandoned ones

	watch    *watchers // shared by the shard's incarnations
	watchBuf []watchedKey
	maxWatch int // patterns per subscriber
}

type stashed struct {
	sender *actor.PID
	req    *messages.DataRequest
	batch  *pipeBatch // instead of req: a pipe's batch, from its next command
}

func (a *shardActor) Receive(ctx actor.Context) {
	a.log.Receive(ctx, a.sys, a)
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		// A new incarnation watches the subscribers the registry kept.
		for _, sub := range a.watch.subs {
			ctx.Watch(sub.pid)
		}
	case *messages.KeyWatch:
		a.keyWatch(ctx, msg)
	case *actor.Terminated:
		a.watch.remove(msg.Who, nil)
	case *actor.Restarting:
		// The next incarnation rebuilds from the store: give back what this
		// one charged to the shared memory budget.
		a.shard.Release()
		a.failStash("the shard is restarting")
	case *actor.Stopping:
		a.failStash("the shard is stopping")
	case *messages.DataRequest:
		a.handle(ctx.Sender(), msg)
	case *pipeBatch:
		a.handleBatch(ctx.Sender(), msg)
	case *messages.Tick:
		a.tick()
	case *system.Withdraw:
		// A client that went away no longer waits (AskOrWithdraw): its
		// stashed command is dropped rather than applied when the
		// reservation ends.
		a.stash = slices.DeleteFunc(a.stash, func(s stashed) bool { return s.sender == ctx.Sender() })
		a.sys.AnswerWithdraw(ctx.Sender())
	}
}

// Recover loads the shard from the journal (durable.State): its keys are
// those under the shard's prefix.
func (a *shardActor) Recover(r store.Reader) error {
	start := time.Now()
	a.self = a.log.Self()
	a.shard = NewShard(a.prefix, a.mem)
	a.shard.expiredHook = a.expired
	a.txns = map[uint64]time.Time{}
	if err := r.Scan(a.prefix, a.shard.Restore); err != nil {
		return err
	}
	if a.shard.Len() > 0 {
		a.sys.Log.Debug("shard rebuilt", "actor", a.self.Id, "keys", a.shard.Len(), "took", time.Since(start))
	}
	return nil
}

func (a *shardActor) handle(sender *actor.PID, req *messages.DataRequest) {
	now := time.Now()
	var watched []watchedKey
	if a.watch.active() {
		watched = a.watchedBefore(req, now.UnixMilli())
	}
	reply := a.shard.Apply(now, req, &a.log)
	if reply.ErrorCode == messages.CodeKeyReserved {
		a.log.Discard()
		a.stash = append(a.stash, stashed{sender: sender, req: req})
		return
	}
	if len(watched) > 0 {
		a.notifyChanges(watched, req, reply, now)
	}
	// Nothing of req or reply is read past the reply: the sender may reuse
	// the request once answered (the Redis door does).
	ended := false
	switch req.Op {
	case messages.DataOp_TXN_RESERVE, messages.DataOp_TXN_HOLD:
		if _, had := a.txns[req.Txn]; reply.Ok && !had {
			a.txns[req.Txn] = now
		}
	case messages.DataOp_TXN_COMMIT, messages.DataOp_TXN_ABORT:
		delete(a.txns, req.Txn)
		ended = true
	}
	a.commit(sender, reply)
	if ended {
		a.replay()
	}
}

// commit replies at once when the command wrote nothing, else once its
// writes are durable. Replies to writes leave in commit order. A read may
// see a write whose commit is still in flight (as with Redis's AOF).
func (a *shardActor) commit(sender *actor.PID, reply *messages.DataReply) {
	a.log.Reply(sender, reply, storeFailed)
}

func storeFailed(err error) any {
	return &messages.DataReply{ErrorCode: messages.CodeStore, ErrorMessage: "write not stored: " + err.Error()}
}

func (a *shardActor) respond(sender *actor.PID, reply *messages.DataReply) {
	if sender != nil {
		a.sys.Root.Send(sender, reply)
	}
}

// replay applies the stashed requests again, in arrival order; those that
// meet another reservation go back to the stash.
func (a *shardActor) replay() {
	pending := a.stash
	a.stash = nil
	for _, s := range pending {
		if s.batch != nil {
			a.handleBatch(s.sender, s.batch)
		} else {
			a.handle(s.sender, s.req)
		}
	}
}

func (a *shardActor) failStash(why string) {
	for _, s := range a.stash {
		reply := &messages.DataReply{ErrorCode: messages.CodeUnavailable, ErrorMessage: why}
		if s.batch != nil {
			for i := s.batch.next; i < len(s.batch.replies); i++ {
				s.batch.replies[i] = reply
			}
			if s.sender != nil {
				a.sys.Root.Send(s.sender, s.batch)
			}
			continue
		}
		a.respond(s.sender, reply)
	}
	a.stash = nil
}

// tick sweeps expired keys and aborts reservations whose coordinator is gone.
func (a *shardActor) tick() {
	now := time.Now()
	for txn, at := range a.txns {
		if now.Sub(at) > a.txnExpiry {
			a.sys.Log.Warn("aborting abandoned msetnx reservation", "actor", a.self.Id, "txn", txn)
			a.handle(nil, &messages.DataRequest{Op: messages.DataOp_TXN_ABORT, Txn: txn})
		}
	}
	if a.shard.Sweep(now, &a.log, sweepBatch) > 0 {
		a.commit(nil, nil)
	}
}

// keyWatch adds or removes a subscriber's watch patterns.
func (a *shardActor) keyWatch(ctx actor.Context, msg *messages.KeyWatch) {
	reply := &messages.DataReply{Ok: true}
	switch {
	case msg.GetSubscriber() == nil:
		reply = &messages.DataReply{ErrorCode: messages.CodeInvalid, ErrorMessage: "a watch needs a subscriber"}
	case msg.GetRemove():
		reply.Integer = int64(a.watch.remove(msg.Subscriber, msg.Patterns))
	default:
		n, fresh, ok := a.watch.add(msg.Subscriber, msg.Patterns, a.maxWatch)
		if !ok {
			reply = &messages.DataReply{ErrorCode: messages.CodeLimit,
				ErrorMessage: fmt.Sprintf("a subscriber may watch at most %d patterns (--max-subscriptions)", a.maxWatch)}
			break
		}
		if fresh {
			ctx.Watch(msg.Subscriber)
		}
		reply.Integer = int64(n)
	}
	a.respond(ctx.Sender(), reply)
}

// watchedBefore notes the state of the watched keys req names, before it
// runs.
func (a *shardActor) watchedBefore(req *messages.DataRequest, ms int64) []watchedKey {
	out := a.watchBuf[:0]
	namedKeys(req, func(key string) {
		for _, w := range out {
			if w.key == key {
				return
			}
		}
		if subs := a.watch.matching(key, nil); len(subs) > 0 {
			out = append(out, watchedKey{key: key, before: a.shard.peek(key, ms), subs: subs})
		}
	})
	a.watchBuf = out
	return out
}

// notifyChanges pushes what req changed of the watched keys.
func (a *shardActor) notifyChanges(watched []watchedKey, req *messages.DataRequest, reply *messages.DataReply, now time.Time) {
	ms := now.UnixMilli()
	for i, w := range watched {
		after := a.shard.peek(w.key, ms)
		event, withValue := change(w.before, after, req.GetOp(), req.GetAmount(), reply.GetOk())
		if event != "" {
			c := &messages.KeyChange{Key: w.key, Event: event, TimestampMs: ms,
				Version: a.watch.next(w.key, event == "del" || event == "expired")}
			if withValue {
				c.Value, c.HasValue = after.value, true
			}
			for _, pid := range w.subs {
				a.sys.Root.Send(pid, c)
			}
		}
		watched[i] = watchedKey{}
	}
}

// expired pushes the "expired" event of a string key the sweep removed.
func (a *shardActor) expired(key string) {
	if !a.watch.active() {
		return
	}
	subs := a.watch.matching(key, nil)
	if len(subs) == 0 {
		return
	}
	c := &messages.KeyChange{Key: key, Event: "expired", TimestampMs: time.Now().UnixMilli(), Version: a.watch.next(key, true)}
	for _, pid := range subs {
		a.sys.Root.Send(pid, c)
	}
}
