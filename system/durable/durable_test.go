package durable_test

import (
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/durable"
	"github.com/troupe-run/troupe/system/store"
	"github.com/troupe-run/troupe/system/store/pgtest"
	"github.com/troupe-run/troupe/system/systemtest"
)

// counter is the smallest durable actor: a number it journals at each
// increment under its own key.
type counter struct {
	sys      *system.System
	log      durable.Log
	key      []byte
	n        int
	recovers *atomic.Int32
}

type incr struct{}
type get struct{}

func (c *counter) Recover(r store.Reader) error {
	c.recovers.Add(1)
	c.n = 0
	raw, found, err := r.Get(c.key)
	if err != nil || !found {
		return err
	}
	c.n, err = strconv.Atoi(string(raw))
	return err
}

func (c *counter) Receive(ctx actor.Context) {
	c.log.Receive(ctx, c.sys, c)
	switch ctx.Message().(type) {
	case incr:
		c.n++
		c.log.Set(c.key, []byte(strconv.Itoa(c.n)))
		c.log.Reply(ctx.Sender(), c.n, func(err error) any { return err })
	case get:
		c.log.Reply(ctx.Sender(), c.n, nil)
	}
}

// failing is the system's journal, but for the commits made while fail is
// set: those fail without being written.
type failing struct {
	store.Journal
	fail atomic.Bool
}

var errInjected = errors.New("injected write failure")

func (f *failing) Commit(b store.Batch, done func(error)) {
	if f.fail.Load() {
		done(errInjected)
		return
	}
	f.Journal.Commit(b, done)
}

func start(t *testing.T, args ...string) (*system.System, *failing, *actor.PID, *atomic.Int32) {
	t.Helper()
	sys := systemtest.Boot(t, args...)
	j := &failing{Journal: sys.Store}
	sys.Store = j
	recovers := new(atomic.Int32)
	err := sys.Registry.Domain("counters", func(name string) actor.Producer {
		return func() actor.Actor {
			return &counter{sys: sys, key: []byte("counters/" + name), recovers: recovers}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	pid, err := sys.Registry.Get("counters/c")
	if err != nil {
		t.Fatal(err)
	}
	return sys, j, pid, recovers
}

func request(t *testing.T, sys *system.System, pid *actor.PID, msg any) any {
	t.Helper()
	res, err := sys.Request(pid, msg, systemtest.Patience)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Replies to writes leave in command order, each once its write is in the
// journal.
func TestRepliesFollowTheirWritesInOrder(t *testing.T) {
	t.Run("pebble", func(t *testing.T) { repliesFollowTheirWrites(t, "--data-dir="+t.TempDir(), "--fsync=always") })
	t.Run("postgres", func(t *testing.T) { repliesFollowTheirWrites(t, "--journal="+pgtest.Start(t)) })
}

func repliesFollowTheirWrites(t *testing.T, args ...string) {
	sys, _, pid, _ := start(t, args...)
	const n = 200
	type seen struct {
		reply    int
		journal  int
		notFound bool
	}
	got := make(chan seen, n)
	collector := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if k, ok := ctx.Message().(int); ok {
			raw, found, err := sys.Store.Get([]byte("counters/c"))
			j, _ := strconv.Atoi(string(raw))
			got <- seen{reply: k, journal: j, notFound: !found || err != nil}
		}
	}))
	for range n {
		sys.Root.RequestWithCustomSender(pid, incr{}, collector)
	}
	for i := 1; i <= n; i++ {
		select {
		case s := <-got:
			if s.reply != i {
				t.Fatalf("reply %d is %d: replies must leave in command order", i, s.reply)
			}
			if s.notFound || s.journal < s.reply {
				t.Fatalf("reply %d came while the journal held %d: a reply must follow its write", s.reply, s.journal)
			}
		case <-time.After(systemtest.Patience):
			t.Fatalf("reply %d never came", i)
		}
	}
}

// A write the journal could not make fails its command, and the actor
// restarts and recovers what the journal holds (not what its memory had).
func TestStoreFailureRestartsAndRecovers(t *testing.T) {
	sys, j, pid, recovers := start(t, "--data-dir="+t.TempDir())
	for i := 1; i <= 3; i++ {
		if got := request(t, sys, pid, incr{}); got != i {
			t.Fatalf("increment %d answered %v", i, got)
		}
	}
	j.fail.Store(true)
	if got := request(t, sys, pid, incr{}); got != errInjected {
		t.Fatalf("the increment whose write failed answered %v, want the write's error", got)
	}
	j.fail.Store(false)
	// The failure reached the actor before this request did: the answer
	// comes from the next incarnation, rebuilt from the journal.
	if got := request(t, sys, pid, get{}); got != 3 {
		t.Fatalf("after the failed write the counter reads %v, want 3 (what the journal holds)", got)
	}
	if r := recovers.Load(); r != 2 {
		t.Fatalf("the counter recovered %d times, want 2 (its start and the restart)", r)
	}
}

// An actor started again on a journal that outlived it recovers its state,
// whichever journal it is.
func TestRecoversAcrossSystems(t *testing.T) {
	t.Run("pebble", func(t *testing.T) { recoversAcrossSystems(t, "--data-dir="+t.TempDir()) })
	t.Run("postgres", func(t *testing.T) { recoversAcrossSystems(t, "--journal="+pgtest.Start(t)) })
}

func recoversAcrossSystems(t *testing.T, journal string) {
	sys, _, pid, _ := start(t, journal)
	for range 5 {
		request(t, sys, pid, incr{})
	}
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	sys, _, pid, _ = start(t, journal)
	if got := request(t, sys, pid, get{}); got != 5 {
		t.Fatalf("a counter started on the journal reads %v, want 5", got)
	}
}

// Without a data dir nothing is journaled: a command is answered at once
// and a new system starts from nothing.
func TestMemoryOnly(t *testing.T) {
	sys, _, pid, _ := start(t)
	if got := request(t, sys, pid, incr{}); got != 1 {
		t.Fatalf("increment answered %v", got)
	}
	if sys.Store.Durable() {
		t.Fatal("a system without a data dir must not be durable")
	}
	if _, found, _ := sys.Store.Get([]byte("counters/c")); found {
		t.Fatal("a memory-only journal kept a write")
	}
}
