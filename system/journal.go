package system

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/store"
)

// Commit hands b to the journal and sends reply to sender once b is
// durable, or at once when b holds nothing (sender may be nil: no reply).
// When the write fails, sender gets errReply(err) instead.
func (s *System) Commit(self, sender *actor.PID, b store.Batch, reply any, errReply func(error) any) {
	s.AfterCommit(self, b, func(err error) {
		if err != nil {
			reply = errReply(err)
		}
		if sender != nil {
			s.Root.Send(sender, reply)
		}
	})
}

// AfterCommit hands b to the journal and calls then once b is durable, or
// at once when b holds nothing. then runs on the journal's pipeline, in
// commit order; it may only send messages. When the write fails, self gets
// messages.StoreFailed: its memory no longer matches the journal, so it
// must crash and rebuild.
func (s *System) AfterCommit(self *actor.PID, b store.Batch, then func(err error)) {
	if b == nil || b.Empty() {
		then(nil)
		return
	}
	s.Store.Commit(b, func(err error) {
		if err != nil {
			s.Root.Send(self, &messages.StoreFailed{Reason: err.Error()})
		}
		then(err)
	})
}
