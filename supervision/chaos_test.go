package supervision

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
)

// counter answers each Tick with how many it has seen in this incarnation.
type counter struct{ n int64 }

func (c *counter) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*messages.Tick); ok {
		c.n++
		ctx.Respond(&messages.Failure{Reason: string(rune('0' + c.n))})
	}
}

func newSystem(t *testing.T) *actor.ActorSystem {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	t.Cleanup(sys.Shutdown)
	return sys
}

func TestInjectedPanicAnswersTheRequestAndRestarts(t *testing.T) {
	sys := newSystem(t)
	faults := NewFaults(true)
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &counter{} },
		actor.WithReceiverMiddleware(faults.Middleware)))

	ask := func() *messages.Failure {
		t.Helper()
		res, err := sys.Root.RequestFuture(pid, &messages.Tick{}, 5*time.Second).Result()
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		return res.(*messages.Failure)
	}
	if got := ask(); got.Reason != "1" {
		t.Fatalf("first tick: %+v", got)
	}
	sys.Root.Send(pid, &messages.InjectFault{Fault: "panic"})
	got := ask()
	if got.Actor != pid.Id || got.Reason != (InjectedPanic{Actor: pid.Id}).String() {
		t.Fatalf("the request handled while armed got %+v, want the injected panic's failure", got)
	}
	// Restarted: a fresh incarnation counts from one again.
	if got := ask(); got.Reason != "1" {
		t.Fatalf("after the panic: %+v, want a restarted actor", got)
	}
}

func TestFaultsDisabledIgnoresInjection(t *testing.T) {
	sys := newSystem(t)
	faults := NewFaults(false)
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &counter{} },
		actor.WithReceiverMiddleware(faults.Middleware)))
	sys.Root.Send(pid, &messages.InjectFault{Fault: "panic"})
	for want := '1'; want <= '3'; want++ {
		res, err := sys.Root.RequestFuture(pid, &messages.Tick{}, 5*time.Second).Result()
		if err != nil || res.(*messages.Failure).Reason != string(want) {
			t.Fatalf("got %v, %v; want count %c from an actor that never crashed", res, err, want)
		}
	}
}
