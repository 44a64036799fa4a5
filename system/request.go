package system

import (
	"context"
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
	to := in.send(s.Root, pid, msg)
	res, ok := in.await(to, timeout, nil)
	s.returnInbox(in)
	if !ok {
		return nil, &requestTimeoutError{actor: pid.Id, after: timeout}
	}
	return result(pid, res)
}

// Ask sends msg to pid and waits for the reply until ctx ends (a context
// without a deadline waits at most --request-timeout). Once ctx has ended
// the request is not sent; when it ends during the wait, the error wraps
// ctx.Err(): context.Canceled for a client that went away,
// context.DeadlineExceeded for one whose deadline passed.
func (s *System) Ask(ctx context.Context, pid *actor.PID, msg any) (any, error) {
	return s.ask(ctx, pid, msg, false)
}

// AskOrWithdraw is Ask for a request the actor may hold, answering it
// later (a queue.consume that waits for a message): when ctx ends first,
// the actor is sent a *Withdraw from the same sender, so that it forgets
// the request at once instead of answering nobody later.
//
// The actor may have answered already, its reply on the way: then that
// reply is returned along with the context's error, and the caller undoes
// what it did (puts the message it took back). A nil reply with the error
// means the request was withdrawn, or the actor did not say within
// --request-timeout.
func (s *System) AskOrWithdraw(ctx context.Context, pid *actor.PID, msg any) (any, error) {
	return s.ask(ctx, pid, msg, true)
}

// Send sends msg to pid at once and returns the function that waits for
// its reply, as Ask does (the wait starts when it is called). Requests sent
// one after another from one goroutine reach pid in that order, so a caller
// may keep several in flight and wait for their replies in turn. The
// returned function must be called once: it gives the inbox back.
func (s *System) Send(ctx context.Context, pid *actor.PID, msg any) func() (any, error) {
	if err := ctx.Err(); err != nil {
		err = fmt.Errorf("%s: %w", pid.Id, err)
		return func() (any, error) { return nil, err }
	}
	in := s.takeInbox()
	to := in.send(s.Root, pid, msg)
	return func() (any, error) {
		defer s.returnInbox(in)
		res, err := s.wait(ctx, pid, in, to)
		if err != nil {
			return nil, err
		}
		return result(pid, res)
	}
}

func (s *System) ask(ctx context.Context, pid *actor.PID, msg any, withdraw bool) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", pid.Id, err)
	}
	in := s.takeInbox()
	defer s.returnInbox(in)
	to := in.send(s.Root, pid, msg)
	res, err := s.wait(ctx, pid, in, to)
	if err == nil {
		return result(pid, res)
	}
	if !withdraw {
		return nil, err
	}
	s.Root.RequestWithCustomSender(pid, &Withdraw{}, to)
	res, ok := in.await(to, s.Config.RequestTimeout, nil)
	if _, withdrawn := res.(withdrawn); !ok || withdrawn {
		return nil, err
	}
	if res, rerr := result(pid, res); rerr == nil {
		return res, err
	}
	return nil, err
}

// wait waits on in for the reply to the request sent as to, until ctx ends
// (at most --request-timeout for a context without a deadline); the error
// says why it came to nothing.
func (s *System) wait(ctx context.Context, pid *actor.PID, in *inbox, to *actor.PID) (any, error) {
	timeout := s.Config.RequestTimeout
	d, hasDeadline := ctx.Deadline()
	if hasDeadline {
		timeout = time.Until(d)
	}
	if res, ok := in.await(to, timeout, ctx.Done()); ok {
		return res, nil
	}
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s: %w", pid.Id, ctx.Err())
	case hasDeadline: // the timer fired a moment before the context's own
		return nil, fmt.Errorf("%s: %w", pid.Id, context.DeadlineExceeded)
	}
	return nil, &requestTimeoutError{actor: pid.Id, after: timeout}
}

// result turns the replies that report a failure into errors.
func result(pid *actor.PID, res any) (any, error) {
	switch r := res.(type) {
	case *actor.DeadLetterResponse:
		return nil, fmt.Errorf("%s: %w", pid.Id, actor.ErrDeadLetter)
	case *messages.Failure:
		return nil, fmt.Errorf("%w: %s: %s", ErrFailed, r.Actor, r.Reason)
	}
	return res, nil
}

// Withdraw tells an actor that the sender of a request it holds (see
// AskOrWithdraw) no longer waits for the answer: the actor forgets the
// request, then calls AnswerWithdraw. It never leaves the process.
type Withdraw struct{}

// withdrawn is the answer to a Withdraw.
type withdrawn struct{}

// AnswerWithdraw answers the Withdraw that sender sent, behind every reply
// the actor has handed to the store's commit pipeline before: a reply to
// the withdrawn request, if it was on its way, reaches the sender first.
func (s *System) AnswerWithdraw(sender *actor.PID) {
	s.Store.Commit(s.Store.NewBatch(), func(error) { s.Root.Send(sender, withdrawn{}) })
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

// send sends msg under a fresh PID value, the one its reply comes back
// to; stale replies to earlier requests are dropped first.
func (in *inbox) send(root *actor.RootContext, pid *actor.PID, msg any) *actor.PID {
	for len(in.replies) > 0 {
		<-in.replies
	}
	to := &actor.PID{Address: in.pid.Address, Id: in.pid.Id}
	root.RequestWithCustomSender(pid, msg, to)
	return to
}

// await waits for the reply sent to to; ok is false when timeout passed,
// or done was closed, first.
func (in *inbox) await(to *actor.PID, timeout time.Duration, done <-chan struct{}) (res any, ok bool) {
	// A request handled on this goroutine (CallerRuns) is answered before
	// the wait: it needs no timer (arming and stopping one takes about
	// 0.3 µs on the 2-core machine of the benchmarks, a tenth of such a
	// request).
	if res, ok := in.already(to); ok {
		return res, true
	}
	in.timer.Reset(timeout)
	defer in.timer.Stop()
	for {
		select {
		case r := <-in.replies:
			if r.to == to {
				return r.msg, true
			}
		case <-in.timer.C:
			return in.already(to)
		case <-done:
			return in.already(to)
		}
	}
}

// already returns the reply to to if it is here. A reply that is already
// here counts: a request handled on this goroutine (CallerRuns) is
// answered before the wait, which a deadline already past would otherwise
// win half the time.
func (in *inbox) already(to *actor.PID) (any, bool) {
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
