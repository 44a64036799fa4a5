package system

import (
	"runtime"
	"sync"
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
// messages on the goroutine that sends them, when it finds the child idle,
// for at most --caller-runs-batch messages (its own and those queued behind
// it meanwhile); a message that finds the child busy waits in the mailbox
// for the goroutine already running it, as any message does. The child is still an
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

// newCallerRuns returns the props options of such an actor: its mailbox,
// whose caller runs at most batch messages; mailbox are further middlewares
// of it.
func newCallerRuns(batch int, mailbox ...actor.MailboxMiddleware) []actor.PropsOption {
	return []actor.PropsOption{actor.WithMailbox(func() actor.Mailbox {
		return &callerMailbox{batch: max(batch, 1), middlewares: mailbox}
	})}
}

// callerMailbox is the mailbox of a CallerRuns actor. It does what
// protoactor's default mailbox does (system messages first, suspension,
// middlewares), and runs itself: a goroutine that posts a message to it
// while it is idle, and no lifecycle message is pending, runs it, for at
// most batch messages (--caller-runs-batch). Past those, or when a
// lifecycle message comes, it hands what is left to a goroutine of the
// mailbox's own and returns: a caller never runs the work of other callers
// for long, and never goes back in once it has handed over (the default
// mailbox's run loops until it finds the mailbox empty, so a caller could
// be kept serving a busy actor indefinitely).
type callerMailbox struct {
	batch       int
	invoker     actor.MessageInvoker
	middlewares []actor.MailboxMiddleware

	mu        sync.Mutex
	system    []any
	user      []any
	head      int  // user[head:] are waiting
	running   bool // a run holds the mailbox (inline or on its goroutine)
	suspended bool
	lifecycle int // lifecycle messages posted and not yet handled

	userCount atomic.Int32
}

// yieldEvery is how many messages a run on the mailbox's goroutine handles
// between yields of the processor, as protoactor's default dispatcher.
const yieldEvery = 300

func (m *callerMailbox) PostUserMessage(msg any) {
	if batch, ok := msg.(actor.MessageBatch); ok {
		for _, b := range batch.GetMessages() {
			m.PostUserMessage(b)
		}
	}
	if env, ok := msg.(*actor.MessageEnvelope); ok {
		if batch, ok := env.Message.(actor.MessageBatch); ok {
			for _, b := range batch.GetMessages() {
				m.PostUserMessage(b)
			}
		}
	}
	for _, mw := range m.middlewares {
		mw.MessagePosted(msg)
	}
	m.userCount.Add(1)
	m.mu.Lock()
	m.user = append(m.user, msg)
	m.post(lifecycle(msg))
}

func (m *callerMailbox) PostSystemMessage(msg any) {
	for _, mw := range m.middlewares {
		mw.MessagePosted(msg)
	}
	m.mu.Lock()
	m.system = append(m.system, msg)
	m.post(true)
}

// post starts a run for a message just queued, with mu held (it unlocks
// it): in the caller when that is allowed, else on a goroutine.
func (m *callerMailbox) post(isLifecycle bool) {
	if isLifecycle {
		m.lifecycle++
	}
	if m.running || (m.suspended && len(m.system) == 0) {
		m.mu.Unlock()
		return
	}
	m.running = true
	inline := m.lifecycle == 0
	m.mu.Unlock()
	if inline {
		m.run(m.batch)
		return
	}
	go m.run(0)
}

func (m *callerMailbox) RegisterHandlers(invoker actor.MessageInvoker, _ actor.Dispatcher) {
	m.invoker = invoker
}

func (m *callerMailbox) Start() {
	for _, mw := range m.middlewares {
		mw.MailboxStarted()
	}
}

func (m *callerMailbox) UserMessageCount() int { return int(m.userCount.Load()) }

// run handles messages until the mailbox is empty (or suspended); limit,
// when not 0, is the most a caller handles before it hands the rest over.
func (m *callerMailbox) run(limit int) {
	for n := 0; ; n++ {
		m.mu.Lock()
		if limit > 0 && (n >= limit || m.lifecycle > 0) && m.pending() {
			// The caller's share is done, or a lifecycle message waits:
			// the mailbox's own goroutine takes over, still running.
			m.mu.Unlock()
			go m.run(0)
			return
		}
		msg, system := m.next()
		if msg == nil {
			m.running = false
			empty := len(m.user) == m.head && !m.suspended
			m.mu.Unlock()
			if empty {
				for _, mw := range m.middlewares {
					mw.MailboxEmpty()
				}
			}
			return
		}
		m.mu.Unlock()
		if limit == 0 && n > 0 && n%yieldEvery == 0 {
			runtime.Gosched()
		}
		m.invoke(msg, system)
	}
}

// pending reports whether a message waits that a run would handle now.
func (m *callerMailbox) pending() bool {
	return len(m.system) > 0 || (!m.suspended && len(m.user) > m.head)
}

// next takes the next message to handle, with mu held: a system message
// first; a user message unless suspended; nil when there is none.
func (m *callerMailbox) next() (msg any, system bool) {
	if len(m.system) > 0 {
		msg = m.system[0]
		m.system[0] = nil
		m.system = m.system[1:]
		return msg, true
	}
	if m.suspended || len(m.user) == m.head {
		return nil, false
	}
	msg = m.user[m.head]
	m.user[m.head] = nil
	m.head++
	if m.head == len(m.user) {
		m.user, m.head = m.user[:0], 0
	} else if m.head >= 1024 && m.head*2 >= len(m.user) {
		// Slide the waiting messages down rather than let the slice grow.
		m.user = m.user[:copy(m.user, m.user[m.head:])]
		m.head = 0
	}
	return msg, false
}

// invoke handles one message. A panic is the actor's failure, escalated to
// its supervisor (which suspends the mailbox and restarts the actor), as
// the default mailbox does.
func (m *callerMailbox) invoke(msg any, system bool) {
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, msg)
		}
		for _, mw := range m.middlewares {
			mw.MessageReceived(msg)
		}
		if system || lifecycle(msg) {
			m.mu.Lock()
			m.lifecycle--
			m.mu.Unlock()
		}
	}()
	if !system {
		m.userCount.Add(-1)
		m.invoker.InvokeUserMessage(msg)
		return
	}
	switch msg.(type) {
	case *actor.SuspendMailbox:
		m.mu.Lock()
		m.suspended = true
		m.mu.Unlock()
	case *actor.ResumeMailbox:
		m.mu.Lock()
		m.suspended = false
		m.mu.Unlock()
	default:
		m.invoker.InvokeSystemMessage(msg)
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
