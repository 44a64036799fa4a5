package system_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/systemtest"
)

// counter counts the IngestReply requests it gets and answers each with the
// count so far; a Forget makes it panic. Its Started and StoreFailed wait
// for gate, when there is one.
type counter struct {
	n    int64
	gate chan struct{}
}

func (c *counter) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started, *messages.StoreFailed:
		if c.gate != nil {
			<-c.gate
		}
	case *messages.IngestReply:
		c.n++ // unguarded: the race detector sees two goroutines in here at once
		ctx.Respond(&messages.IngestReply{ViewsChanged: c.n})
	case *messages.Forget:
		panic("asked to")
	}
}

func callerRunsDomain(t *testing.T, sys *system.System, gate chan struct{}) {
	t.Helper()
	err := sys.Registry.Domain("counters", func(string) actor.Producer {
		return func() actor.Actor { return &counter{gate: gate} }
	}, system.CallerRuns(func(name string) bool { return name == "inline" }))
	if err != nil {
		t.Fatal(err)
	}
}

// Requests from many goroutines are handled one at a time and each is
// answered: the count reaches the number of requests, and every answer is
// a distinct count.
func TestCallerRunsOneAtATime(t *testing.T) {
	sys := systemtest.Boot(t)
	callerRunsDomain(t, sys, nil)
	pid, err := sys.Registry.Get("counters/inline")
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 8, 300
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				res, err := sys.Request(pid, &messages.IngestReply{}, 5*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[res.(*messages.IngestReply).ViewsChanged] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != goroutines*each {
		t.Errorf("%d distinct answers to %d requests", len(seen), goroutines*each)
	}
}

// Starting the actor does not run inside the goroutine that asked for it,
// and neither does a StoreFailed (sent from the store's pipeline, which
// must not run an actor's commands): both return while the actor waits.
func TestCallerRunsLifecycleOnItsOwnGoroutine(t *testing.T) {
	sys := systemtest.Boot(t)
	gate := make(chan struct{})
	defer close(gate)
	callerRunsDomain(t, sys, gate)
	got := make(chan error, 1)
	go func() {
		_, err := sys.Registry.Get("counters/inline")
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Get waited for the actor's Started")
	}
	gate <- struct{}{} // Started goes on
	pid, _ := sys.Registry.Lookup("counters/inline")
	sent := make(chan struct{})
	go func() {
		sys.Root.Send(pid, &messages.StoreFailed{Reason: "test"})
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(3 * time.Second):
		t.Fatal("sending StoreFailed ran the actor in the sender")
	}
	gate <- struct{}{}
	if res, err := sys.Request(pid, &messages.IngestReply{}, 5*time.Second); err != nil || res.(*messages.IngestReply).ViewsChanged != 1 {
		t.Fatalf("after the lifecycle messages: %v %v", res, err)
	}
}

// A panic in the caller's goroutine is the actor's failure, not the
// caller's: the request fails, the actor restarts and answers again.
func TestCallerRunsPanicRestarts(t *testing.T) {
	sys := systemtest.Boot(t, "--chaos")
	callerRunsDomain(t, sys, nil)
	pid, err := sys.Registry.Get("counters/inline")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Request(pid, &messages.IngestReply{}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Request(pid, &messages.Forget{}, 5*time.Second); !errors.Is(err, system.ErrFailed) {
		t.Fatalf("a request that panics: want ErrFailed, got %v", err)
	}
	var res any
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if res, err = sys.Request(pid, &messages.IngestReply{}, time.Second); err == nil {
			break
		}
	}
	if err != nil || res.(*messages.IngestReply).ViewsChanged != 1 {
		t.Fatalf("after the restart: want a fresh count of 1, got %v %v", res, err)
	}
}
