package system

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
)

// A DomainOption changes how a domain makes its children.
type DomainOption func(*domainOptions)

type domainOptions struct {
	callerRuns func(name string) bool
}

// CallerRuns makes each child for which run returns true handle its
// messages on the goroutine that sends them, when it finds the child idle;
// a message that finds the child busy waits in the mailbox for the
// goroutine already running it, as any message does. The child is still an
// actor: one message at a time, in order, under its supervisor.
//
// protoactor's default dispatcher starts a goroutine each time an idle
// mailbox gets a message, and the reply wakes the sender's goroutine again:
// for a request that is a few microseconds of work (an ingest into the views
// engine), the hand-offs, and the stack the new goroutine grows and copies,
// cost as much as the work. Run in the caller, a request costs its work.
//
// Lifecycle messages (start, restart, stop, and a failed store write, which
// makes the actor crash) still run on a goroutine of their own, so that a
// restart that rebuilds state from the store never runs inside a sender:
// the store's commit pipeline, say, or a supervisor spawning the actor.
func CallerRuns(run func(name string) bool) DomainOption {
	return func(o *domainOptions) { o.callerRuns = run }
}

// callerRuns is the dispatcher of one such actor, and a middleware of its
// mailbox that counts the lifecycle messages posted and not yet handled.
type callerRuns struct {
	lifecycle atomic.Int32
}

// newCallerRuns returns the props options of such an actor; mailbox are
// further middlewares of its mailbox.
func newCallerRuns(mailbox ...actor.MailboxMiddleware) []actor.PropsOption {
	c := &callerRuns{}
	return []actor.PropsOption{actor.WithDispatcher(c), actor.WithMailbox(actor.Unbounded(append([]actor.MailboxMiddleware{c}, mailbox...)...))}
}

// Schedule runs the mailbox. The mailbox calls it when a message finds it
// idle, on the goroutine that posted the message.
func (c *callerRuns) Schedule(run func()) {
	if c.lifecycle.Load() > 0 {
		go run()
		return
	}
	run()
}

// Throughput is the messages a run handles before it yields the processor,
// as protoactor's default dispatcher does.
func (c *callerRuns) Throughput() int { return 300 }

func (c *callerRuns) MailboxStarted() {}
func (c *callerRuns) MailboxEmpty()   {}

func (c *callerRuns) MessagePosted(msg any) {
	if lifecycle(msg) {
		c.lifecycle.Add(1)
	}
}

func (c *callerRuns) MessageReceived(msg any) {
	if lifecycle(msg) {
		c.lifecycle.Add(-1)
	}
}

func lifecycle(msg any) bool {
	_, msg, _ = actor.UnwrapEnvelope(msg)
	switch msg.(type) {
	case actor.SystemMessage, *actor.SuspendMailbox, *actor.ResumeMailbox, *messages.StoreFailed:
		return true
	}
	return false
}
