package system_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/systemtest"
)

// echo answers an IngestReply with one that counts one more, and a Forget
// with replies that test the inbox: two of them, one late, or a Failure.
func echo(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *messages.IngestReply:
		ctx.Respond(&messages.IngestReply{ViewsChanged: m.ViewsChanged + 1})
	case *messages.Forget:
		switch m.Name {
		case "twice":
			ctx.Respond(&messages.IngestReply{ViewsChanged: 1})
			time.Sleep(20 * time.Millisecond)
			ctx.Respond(&messages.IngestReply{ViewsChanged: 2})
		case "late":
			time.Sleep(100 * time.Millisecond)
			ctx.Respond(&messages.IngestReply{ViewsChanged: 3})
		case "fail":
			ctx.Respond(&messages.Failure{Actor: "echo", Reason: "boom"})
		}
	}
}

func TestRequestReplies(t *testing.T) {
	sys := systemtest.Boot(t)
	pid := sys.Root.Spawn(actor.PropsFromFunc(echo))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				n := int64(g*1000 + i)
				res, err := sys.Request(pid, &messages.IngestReply{ViewsChanged: n}, time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				if got := res.(*messages.IngestReply).ViewsChanged; got != n+1 {
					t.Errorf("request %d answered with %d", n, got)
				}
			}
		})
	}
	wg.Wait()
}

// A second reply to a request, or a reply that came after its request
// timed out, never answers a later request that reuses the inbox.
func TestRequestIgnoresStaleReplies(t *testing.T) {
	sys := systemtest.Boot(t)
	pid := sys.Root.Spawn(actor.PropsFromFunc(echo))

	res, err := sys.Request(pid, &messages.Forget{Name: "twice"}, time.Second)
	if err != nil || res.(*messages.IngestReply).ViewsChanged != 1 {
		t.Fatalf("first reply: %v %v", res, err)
	}
	_, err = sys.Request(pid, &messages.Forget{Name: "late"}, 10*time.Millisecond)
	var timeout interface{ Timeout() bool }
	if !errors.As(err, &timeout) || !timeout.Timeout() {
		t.Fatalf("want a timeout error, got %v", err)
	}
	// Both stale replies (2 and 3) reach the inboxes while these run.
	for i := range 50 {
		res, err := sys.Request(pid, &messages.IngestReply{ViewsChanged: int64(100 + i)}, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.(*messages.IngestReply).ViewsChanged; got != int64(101+i) {
			t.Fatalf("request %d answered with %d", 100+i, got)
		}
		time.Sleep(3 * time.Millisecond)
	}
}

func TestRequestErrors(t *testing.T) {
	sys := systemtest.Boot(t)
	pid := sys.Root.Spawn(actor.PropsFromFunc(echo))
	if _, err := sys.Request(pid, &messages.Forget{Name: "fail"}, time.Second); !errors.Is(err, system.ErrFailed) {
		t.Errorf("a Failure reply: want ErrFailed, got %v", err)
	}
	if err := sys.Root.StopFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Request(pid, &messages.IngestReply{}, time.Second); !errors.Is(err, actor.ErrDeadLetter) {
		t.Errorf("a stopped actor: want ErrDeadLetter, got %v", err)
	}
}

// inline answers on the sender's goroutine, before the send returns, as an
// actor run by CallerRuns does when idle.
type inline struct{ sys *system.System }

func (p inline) SendUserMessage(_ *actor.PID, message any) {
	p.sys.Root.Send(message.(*actor.MessageEnvelope).Sender, &messages.IngestReply{ViewsChanged: 1})
}
func (inline) SendSystemMessage(*actor.PID, any) {}
func (inline) Stop(*actor.PID)                   {}

// A reply that is in before the wait begins is the answer, even when the
// deadline has already passed.
func TestRequestTakesAReplyAlreadyIn(t *testing.T) {
	sys := systemtest.Boot(t)
	pid, _ := sys.Actors.ProcessRegistry.Add(inline{sys}, "inline")
	for range 30 {
		res, err := sys.Request(pid, &messages.IngestReply{}, 0)
		if err != nil || res.(*messages.IngestReply).ViewsChanged != 1 {
			t.Fatalf("want the reply, got %v %v", res, err)
		}
	}
}

// BenchmarkRequest is a request to an actor that answers at once, through
// System.Request and, as the baseline, through a protoactor future:
//
//	go test -run '^$' -bench Request ./system
func BenchmarkRequest(b *testing.B) {
	sys := systemtest.Boot(b)
	pid := sys.Root.Spawn(actor.PropsFromFunc(echo))
	var perOp [2]float64
	for i, name := range []string{"future", "inbox"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				var err error
				if name == "future" {
					_, err = sys.Root.RequestFuture(pid, &messages.IngestReply{}, time.Second).Result()
				} else {
					_, err = sys.Request(pid, &messages.IngestReply{}, time.Second)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			perOp[i] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
	}
	fmt.Printf("Request: inbox/future time per request = %.2f\n", perOp[1]/perOp[0])
}

// holder keeps the sender of every Forget it gets, as a queue keeps a
// consumer that waits, and answers it when told: Forget "answer" answers
// the oldest one held. A Withdraw forgets the request of its sender; the
// one named "answered" is answered first, as if its reply had been on the
// way. IngestReply asks how many it holds.
type holder struct {
	sys  *system.System
	held []*actor.PID
	name map[*actor.PID]string
}

func (h *holder) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *messages.Forget:
		if m.Name == "answer" {
			ctx.Send(h.held[0], &messages.IngestReply{ViewsChanged: 7})
			h.held = h.held[1:]
			ctx.Respond(&messages.IngestReply{})
			return
		}
		h.held = append(h.held, ctx.Sender())
		h.name[ctx.Sender()] = m.Name
	case *system.Withdraw:
		for i, p := range h.held {
			if p == ctx.Sender() {
				if h.name[p] == "answered" {
					ctx.Send(p, &messages.IngestReply{ViewsChanged: 9})
				}
				h.held = append(h.held[:i], h.held[i+1:]...)
				break
			}
		}
		h.sys.AnswerWithdraw(ctx.Sender())
	case *messages.IngestReply:
		ctx.Respond(&messages.IngestReply{ViewsChanged: int64(len(h.held))})
	}
}

func spawnHolder(sys *system.System) *actor.PID {
	return sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &holder{sys: sys, name: map[*actor.PID]string{}}
	}))
}

func heldBy(t *testing.T, sys *system.System, pid *actor.PID) int64 {
	t.Helper()
	res, err := sys.Ask(context.Background(), pid, &messages.IngestReply{})
	if err != nil {
		t.Fatal(err)
	}
	return res.(*messages.IngestReply).ViewsChanged
}

// Ask answers with the reply, and gives up when its context ends: the
// deadline is the context's, and a caller that went away is told so.
func TestAskFollowsTheContext(t *testing.T) {
	sys := systemtest.Boot(t)
	pid := spawnHolder(sys)
	if n := heldBy(t, sys, pid); n != 0 {
		t.Fatalf("held %d, want 0", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := sys.Ask(ctx, pid, &messages.Forget{Name: "a"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("past the deadline: want DeadlineExceeded, got %v", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := sys.Ask(ctx, pid, &messages.Forget{Name: "b"})
		errc <- err
	}()
	systemtest.Eventually(t, "the second request to be held", func() bool { return heldBy(t, sys, pid) == 2 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: want Canceled, got %v", err)
	}
	// Ask does not withdraw: the actor still holds both.
	if n := heldBy(t, sys, pid); n != 2 {
		t.Errorf("held %d after Ask gave up, want 2", n)
	}
	if _, err := sys.Ask(ctx, pid, &messages.Forget{Name: "c"}); !errors.Is(err, context.Canceled) {
		t.Errorf("a context already done: want Canceled, got %v", err)
	}
	if n := heldBy(t, sys, pid); n != 2 {
		t.Errorf("a request on a context already done was sent: held %d, want 2", n)
	}
}

// A request withdrawn when its caller goes away is forgotten by the actor;
// a reply already on its way when the caller went is handed back with the
// context's error, for the caller to undo.
type answer struct {
	res any
	err error
}

func TestAskOrWithdraw(t *testing.T) {
	sys := systemtest.Boot(t)
	pid := spawnHolder(sys)
	for _, tc := range []struct {
		name  string
		reply int64 // 0: none
	}{{"waiting", 0}, {"answered", 9}} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan answer, 1)
		go func() {
			res, err := sys.AskOrWithdraw(ctx, pid, &messages.Forget{Name: tc.name})
			done <- answer{res, err}
		}()
		systemtest.Eventually(t, "the request to be held", func() bool { return heldBy(t, sys, pid) == 1 })
		cancel()
		a := <-done
		if !errors.Is(a.err, context.Canceled) {
			t.Errorf("%s: want Canceled, got %v", tc.name, a.err)
		}
		switch {
		case tc.reply == 0 && a.res != nil:
			t.Errorf("%s: a withdrawn request returned %v", tc.name, a.res)
		case tc.reply != 0 && (a.res == nil || a.res.(*messages.IngestReply).ViewsChanged != tc.reply):
			t.Errorf("%s: want the reply on its way (%d), got %v", tc.name, tc.reply, a.res)
		}
		if n := heldBy(t, sys, pid); n != 0 {
			t.Errorf("%s: the actor still holds %d requests", tc.name, n)
		}
	}

	// Answered in time, it is an ordinary request.
	done := make(chan answer, 1)
	go func() {
		res, err := sys.AskOrWithdraw(context.Background(), pid, &messages.Forget{Name: "x"})
		done <- answer{res, err}
	}()
	systemtest.Eventually(t, "the request to be held", func() bool { return heldBy(t, sys, pid) == 1 })
	if _, err := sys.Ask(context.Background(), pid, &messages.Forget{Name: "answer"}); err != nil {
		t.Fatal(err)
	}
	if a := <-done; a.err != nil || a.res.(*messages.IngestReply).ViewsChanged != 7 {
		t.Errorf("answered: got %v %v", a.res, a.err)
	}
}
