package system_test

import (
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
