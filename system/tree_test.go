package system_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/systemtest"
)

// gated handles an IngestReply only once gate lets it, so that messages
// sent meanwhile wait in its mailbox.
type gated struct{ gate chan struct{} }

func (g *gated) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*messages.IngestReply); ok {
		<-g.gate
	}
}

func findActor(tree system.Tree, domain, name string) (system.ActorNode, bool) {
	for _, d := range tree.Domains {
		if d.Name != domain {
			continue
		}
		for _, c := range d.Children {
			if c.Name == name {
				return c, true
			}
		}
	}
	return system.ActorNode{}, false
}

// The tree lists each domain's children with the messages waiting in their
// mailboxes, for the plain and the caller-runs dispatchers alike.
func TestTreeMailboxDepth(t *testing.T) {
	sys := systemtest.Boot(t)
	gate := make(chan struct{})
	err := sys.Registry.Domain("gates", func(string) actor.Producer {
		return func() actor.Actor { return &gated{gate: gate} }
	}, system.CallerRuns(func(name string) bool { return name == "inline" }))
	if err != nil {
		t.Fatal(err)
	}
	// Five messages each, from goroutines of their own (a caller-runs
	// actor runs in its sender, and the first message blocks it): one is
	// being handled, four wait, and all five are posted and not handled.
	for _, name := range []string{"plain", "inline"} {
		pid, err := sys.Registry.Get("gates/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			go sys.Root.Send(pid, &messages.IngestReply{})
		}
	}
	for _, name := range []string{"plain", "inline"} {
		systemtest.Eventually(t, name+" has a mailbox of 5", func() bool {
			n, ok := findActor(sys.Tree(), "gates", name)
			return ok && n.Stats.Mailbox == 5
		})
	}
	close(gate)
	for _, name := range []string{"plain", "inline"} {
		systemtest.Eventually(t, name+" drained", func() bool {
			n, _ := findActor(sys.Tree(), "gates", name)
			return n.Stats.Mailbox == 0
		})
	}
	if err := sys.Registry.Forget("gates/plain"); err != nil {
		t.Fatal(err)
	}
	if _, ok := findActor(sys.Tree(), "gates", "plain"); ok {
		t.Fatal("a forgotten actor is still in the tree")
	}
}

// A crash shows in the tree as a restart with its reason, and the message
// that crashed is no longer counted as waiting.
func TestTreeRestarts(t *testing.T) {
	sys := systemtest.Boot(t, "--chaos")
	err := sys.Registry.Domain("counters", func(string) actor.Producer {
		return func() actor.Actor { return &counter{} }
	})
	if err != nil {
		t.Fatal(err)
	}
	pid, err := sys.Registry.Get("counters/a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sys.InjectFault("counters/a", "panic"); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Request(pid, &messages.IngestReply{}, systemtest.Patience); err == nil {
		t.Fatal("the armed actor answered")
	}
	systemtest.Eventually(t, "the restart in the tree", func() bool {
		n, _ := findActor(sys.Tree(), "counters", "a")
		return n.Stats.Restarts == 1 && n.Stats.LastCrash != nil
	})
	n, _ := findActor(sys.Tree(), "counters", "a")
	if !strings.Contains(n.Stats.LastCrash.Reason, "injected panic in counters/a") || n.Stats.LastCrash.Escalated {
		t.Fatalf("last crash %+v", n.Stats.LastCrash)
	}
	if _, err := sys.Request(pid, &messages.IngestReply{}, systemtest.Patience); err != nil {
		t.Fatal(err)
	}
	// The reply leaves before the mailbox counts the message out.
	systemtest.Eventually(t, "an empty mailbox after the crash", func() bool {
		n, _ := findActor(sys.Tree(), "counters", "a")
		return n.Stats.Mailbox == 0
	})
	var domains []string
	for _, d := range sys.Tree().Domains {
		domains = append(domains, d.Name)
	}
	if strings.Join(domains, ",") != "counters" {
		t.Fatalf("domains %v", domains)
	}
}

// Inspect reads an actor's state on its goroutine; an unknown name is
// ErrNoActor.
func TestInspect(t *testing.T) {
	sys := systemtest.Boot(t)
	err := sys.Registry.Domain("counters", func(string) actor.Producer {
		return func() actor.Actor { return &counter{} }
	})
	if err != nil {
		t.Fatal(err)
	}
	pid, err := sys.Registry.Get("counters/a")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := sys.Request(pid, &messages.IngestReply{}, systemtest.Patience); err != nil {
			t.Fatal(err)
		}
	}
	v, err := sys.Inspect("counters/a", func(a actor.Actor) any { return a.(*counter).n })
	if err != nil || v != int64(3) {
		t.Fatalf("inspect = %v, %v; want 3", v, err)
	}
	if _, err := sys.Inspect("counters/b", func(actor.Actor) any { return nil }); !errors.Is(err, system.ErrNoActor) {
		t.Fatalf("inspect of a missing actor: %v", err)
	}
}

// Crash makes an idle actor fail at once: the tree shows the restart
// without anyone using the actor.
func TestCrash(t *testing.T) {
	sys := systemtest.Boot(t, "--chaos")
	err := sys.Registry.Domain("counters", func(string) actor.Producer {
		return func() actor.Actor { return &counter{} }
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Registry.Get("counters/a"); err != nil {
		t.Fatal(err)
	}
	if err := sys.Crash("counters/a"); err != nil {
		t.Fatal(err)
	}
	systemtest.Eventually(t, "the restart in the tree", func() bool {
		n, _ := findActor(sys.Tree(), "counters", "a")
		return n.Stats.Restarts == 1
	})
	if err := sys.Crash("counters/b"); !errors.Is(err, system.ErrNoActor) {
		t.Fatalf("crash of a missing actor: %v", err)
	}
}
