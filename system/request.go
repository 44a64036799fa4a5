package system

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
)

// ErrFailed wraps a messages.Failure reply: the actor crashed while handling
// the request and was restarted; the request's outcome is unknown.
var ErrFailed = errors.New("actor failed while handling the request")

// idleInboxes bounds the inboxes kept for reuse; past it an inbox is
// unregistered when its request is done. It is the number of requests in
// flight at once that reuse an inbox, not a limit on requests.
const idleInboxes = 1024

// Request sends msg to pid and waits for the reply, at most timeout.
//
// The reply comes back to an inbox: a process registered once and reused
// request after request. A protoactor future registers a new process and
// starts a timer for every request, which costs more than the round trip
// itself (a request to an idle actor takes about 2.3 µs instead of 6 on
// the 2-core machine of the benchmarks; BenchmarkRequest in this package).
func (s *System) Request(pid *actor.PID, msg any, timeout time.Duration) (any, error) {
	in := s.takeInbox()
	res, ok := in.ask(s.Root, pid, msg, timeout)
	s.returnInbox(in)
	if !ok {
		return nil, &requestTimeoutError{actor: pid.Id, after: timeout}
	}
	switch r := res.(type) {
	case *actor.DeadLetterResponse:
		return nil, fmt.Errorf("%s: %w", pid.Id, actor.ErrDeadLetter)
	case *messages.Failure:
		return nil, fmt.Errorf("%w: %s: %s", ErrFailed, r.Actor, r.Reason)
	}
	return res, nil
}

// An inbox receives the replies to one request at a time.
//
// Every request goes out under a PID value of its own (the inbox's id, a new
// pointer), and the actor's reply comes back through that same value, so the
// inbox knows which request a reply answers: a reply that comes too late, or
// a second reply (an actor that answered, then crashed and reported the
// failure), is dropped instead of answering the inbox's next request.
type inbox struct {
	pid     *actor.PID // as registered
	replies chan reply
	timer   *time.Timer
}

type reply struct {
	to  *actor.PID // the PID value the reply was sent to
	msg any
}

func (in *inbox) SendUserMessage(to *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	select {
	case in.replies <- reply{to, msg}:
	default: // full of stale replies: the awaited one cannot be among them
	}
}

// SendSystemMessage drops the message: nobody watches an inbox.
func (in *inbox) SendSystemMessage(*actor.PID, any) {}

// Stop does nothing: the inbox outlives its requests.
func (in *inbox) Stop(*actor.PID) {}

// ask sends msg under a fresh PID value and waits for the reply sent to it;
// ok is false when timeout passed first.
func (in *inbox) ask(root *actor.RootContext, pid *actor.PID, msg any, timeout time.Duration) (res any, ok bool) {
	for len(in.replies) > 0 { // stale replies to earlier requests
		<-in.replies
	}
	to := &actor.PID{Address: in.pid.Address, Id: in.pid.Id}
	root.RequestWithCustomSender(pid, msg, to)
	in.timer.Reset(timeout)
	defer in.timer.Stop()
	for {
		select {
		case r := <-in.replies:
			if r.to == to {
				return r.msg, true
			}
		case <-in.timer.C:
			// A reply that is already here counts: a request handled on
			// this goroutine (CallerRuns) is answered before the wait, which
			// a deadline already past would otherwise win half the time.
			for {
				select {
				case r := <-in.replies:
					if r.to == to {
						return r.msg, true
					}
				default:
					return nil, false
				}
			}
		}
	}
}

func (s *System) takeInbox() *inbox {
	select {
	case in := <-s.inboxes:
		return in
	default:
	}
	in := &inbox{replies: make(chan reply, 4), timer: time.NewTimer(time.Hour)}
	in.timer.Stop()
	in.pid, _ = s.Actors.ProcessRegistry.Add(in, "inbox"+s.Actors.ProcessRegistry.NextID())
	return in
}

func (s *System) returnInbox(in *inbox) {
	select {
	case s.inboxes <- in:
	default:
		s.Actors.ProcessRegistry.Remove(in.pid)
	}
}

// requestTimeoutError is returned when an actor did not answer in time.
type requestTimeoutError struct {
	actor string
	after time.Duration
}

func (e *requestTimeoutError) Error() string {
	return fmt.Sprintf("%s did not answer within %s", e.actor, e.after)
}

func (e *requestTimeoutError) Timeout() bool { return true }
