// Package durable is the lifecycle every durable actor shares, in the
// spirit of Proto.Actor's persistence mixin: the actor is a state machine
// over the journal (store.Journal), and a Log kept in the actor owns the
// rest.
//
//   - Recovery: when an incarnation starts, the Log waits until every write
//     an earlier incarnation handed the journal is in (Barrier), then has
//     the state rebuild itself from the journal (State.Recover, which scans
//     the actor's own prefix).
//   - Commits: a command applies itself to memory and records its writes
//     in the Log; Reply or Then hands them to the journal as one batch and
//     answers once it is durable. The journal runs callbacks in commit
//     order, so the replies to writes leave in the order the actor took the
//     commands; a command that wrote nothing is answered at once.
//   - Failure: a write the journal could not make leaves memory ahead of
//     the journal. The actor then gets messages.StoreFailed, and the Log
//     panics on it, so that the supervisor restarts the actor and the new
//     incarnation recovers what the journal holds.
package durable

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/store"
)

// State is the in-memory state of a durable actor.
type State interface {
	// Recover rebuilds the state from what the journal holds, dropping
	// whatever the state held before. Every write of an earlier
	// incarnation is in the journal when it runs.
	Recover(r store.Reader) error
}

// Log is a durable actor's side of the journal. The zero value is ready;
// the actor passes every message to Receive first. Between two commits the
// Log collects one batch of writes: it is the journal the actor's state
// writes through (Set, Delete, DeleteRange).
type Log struct {
	sys   *system.System
	self  *actor.PID
	batch store.Batch // the writes since the last commit; nil: none yet
}

// Receive does the lifecycle's part of a message, before the actor's own:
// on Started it recovers s, so the actor's Started handling finds its
// state rebuilt; on StoreFailed it panics (see the package comment).
func (l *Log) Receive(ctx actor.Context, sys *system.System, s State) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		l.sys, l.self, l.batch = sys, ctx.Self(), nil
		l.recover(s)
	case *messages.StoreFailed:
		panic(fmt.Sprintf("%s: a journal write failed: %s", l.self.Id, msg.Reason))
	}
}

// recover panics when the journal cannot be read: the supervisor retries
// the start, and a journal that stays unreadable escalates to the domain.
func (l *Log) recover(s State) {
	if err := l.sys.Store.Barrier(); err != nil {
		panic(fmt.Sprintf("%s: journal barrier: %v", l.self.Id, err))
	}
	if err := s.Recover(l.sys.Store); err != nil {
		panic(fmt.Sprintf("%s: recovering from the journal: %v", l.self.Id, err))
	}
}

// Self is the actor's PID, known from Started on (Recover may use it).
func (l *Log) Self() *actor.PID { return l.self }

func (l *Log) current() store.Batch {
	if l.batch == nil {
		l.batch = l.sys.Store.NewBatch()
	}
	return l.batch
}

// Set records key = value in the current batch.
func (l *Log) Set(key, value []byte) { l.current().Set(key, value) }

// Delete records the removal of key in the current batch.
func (l *Log) Delete(key []byte) { l.current().Delete(key) }

// DeleteRange records the removal of every key in [start, end) in the
// current batch.
func (l *Log) DeleteRange(start, end []byte) { l.current().DeleteRange(start, end) }

// Empty reports whether the current batch holds no write.
func (l *Log) Empty() bool { return l.batch == nil || l.batch.Empty() }

// Get reads one key from the journal (not from the current batch).
func (l *Log) Get(key []byte) ([]byte, bool, error) { return l.sys.Store.Get(key) }

// Reply commits the current batch and sends reply to sender (nil: no one)
// once it is durable, or errReply(err) when it could not be written.
func (l *Log) Reply(sender *actor.PID, reply any, errReply func(error) any) {
	b := l.batch
	l.batch = nil
	l.sys.Commit(l.self, sender, b, reply, errReply)
}

// Then commits the current batch and calls then once it is durable, or
// with the error that kept it from being. then runs on the journal's
// pipeline, in commit order: it may only send messages.
func (l *Log) Then(then func(err error)) {
	b := l.batch
	l.batch = nil
	l.sys.AfterCommit(l.self, b, then)
}

// Discard drops the current batch: its command was not taken.
func (l *Log) Discard() { l.batch = nil }
