package system

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// patience is systemtest.Patience, which this package's own tests cannot
// import.
const patience = 30 * time.Second

// eventually polls cond until it holds, for at most patience.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(patience); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting, after %v, for %s", patience, what)
		}
	}
}

// goid is the id of the calling goroutine, from its stack's first line.
func goid() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	return strings.Fields(string(buf))[1]
}

// recorder is an actor's side of a mailbox: it records the goroutine that
// handles each user message, and blocks on a message that names a gate
// until the gate opens.
type recorder struct {
	mu      sync.Mutex
	by      []string
	entered chan string
	gates   map[string]chan struct{}
}

func (r *recorder) InvokeUserMessage(msg any) {
	if name, ok := msg.(string); ok {
		r.entered <- name
		<-r.gates[name]
		return
	}
	r.mu.Lock()
	r.by = append(r.by, goid())
	r.mu.Unlock()
}
func (r *recorder) InvokeSystemMessage(any)  {}
func (r *recorder) EscalateFailure(any, any) {}
func (r *recorder) handled() int             { r.mu.Lock(); defer r.mu.Unlock(); return len(r.by) }
func (r *recorder) handledBy(id string) (n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.by {
		if g == id {
			n++
		}
	}
	return n
}

// A goroutine that finds the mailbox idle runs a batch of messages at
// most, then hands the rest to the mailbox's own goroutine and returns,
// without going back in: it is done while the actor is still busy.
func TestCallerMailboxBoundedBatch(t *testing.T) {
	r := &recorder{entered: make(chan string, 2),
		gates: map[string]chan struct{}{"first": make(chan struct{}), "last": make(chan struct{})}}
	m := &callerMailbox{batch: 4}
	m.RegisterHandlers(r, nil)
	m.Start()

	caller := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		caller <- goid()
		m.PostUserMessage("first") // idle: run here
		close(done)
	}()
	if name := <-r.entered; name != "first" {
		t.Fatalf("entered %q", name)
	}
	const queued = 20
	for i := range queued {
		m.PostUserMessage(i)
	}
	m.PostUserMessage("last")
	close(r.gates["first"])
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatal("the caller did not return: it runs the whole mailbox")
	}
	// The caller has returned while "last" is still to come, or blocks.
	if name := <-r.entered; name != "last" {
		t.Fatalf("entered %q", name)
	}
	close(r.gates["last"])
	eventually(t, "every message to be handled", func() bool { return r.handled() == queued })
	if n := r.handledBy(<-caller); n != 3 {
		t.Errorf("the caller handled %d of the queued messages besides its own; want 3 (a batch of 4)", n)
	}
	// Idle again: the next sender runs its message itself.
	eventually(t, "the mailbox to be idle", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return !m.running
	})
	id := make(chan string, 1)
	go func() {
		id <- goid()
		m.PostUserMessage(queued)
		close(id)
	}()
	me := <-id
	<-id
	if n := r.handledBy(me); n != 1 {
		t.Errorf("a sender that finds the mailbox idle handled %d messages, want its own", n)
	}
}

// A lifecycle message is never run by its sender, and a caller that finds
// one waiting hands over at once.
func TestCallerMailboxLifecycleHandedOver(t *testing.T) {
	r := &recorder{entered: make(chan string, 1), gates: map[string]chan struct{}{"first": make(chan struct{})}}
	m := &callerMailbox{batch: 100}
	m.RegisterHandlers(r, nil)
	done := make(chan string, 1)
	go func() {
		m.PostUserMessage("first")
		done <- goid()
	}()
	<-r.entered
	m.PostSystemMessage(struct{}{}) // a system message waits behind "first"
	m.PostUserMessage(1)
	close(r.gates["first"])
	id := <-done
	eventually(t, "the message to be handled", func() bool { return r.handled() == 1 })
	if n := r.handledBy(id); n != 0 {
		t.Errorf("the caller went on past a lifecycle message: it handled %d more", n)
	}
}
