package reactive

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-run/troupe/gateway/skip"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/systemtest"
)

func startService(t *testing.T, sys *system.System, file string, opts Options) *Service {
	t.Helper()
	opts.Files = []string{file}
	svcs, err := Start(sys, opts)
	if err != nil {
		t.Fatal(err)
	}
	return svcs[0]
}

func entry(k string, vs ...string) skip.Entry {
	e := skip.Entry{Key: json.RawMessage(k)}
	for _, v := range vs {
		e.Values = append(e.Values, json.RawMessage(v))
	}
	return e
}

// render prints entries as [[k,[v...]]...] for comparison.
func render(es []skip.Entry) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range es {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("[" + string(e.Key) + ",[")
		for j, v := range e.Values {
			if j > 0 {
				b.WriteByte(',')
			}
			b.Write(v)
		}
		b.WriteString("]]")
	}
	b.WriteByte(']')
	return b.String()
}

func snapshot(t *testing.T, s *Service, resource, params string) string {
	t.Helper()
	es, err := s.Snapshot(context.Background(), resource, json.RawMessage(params))
	if err != nil {
		t.Fatalf("snapshot %s: %v", resource, err)
	}
	return render(es)
}

func patch(t *testing.T, s *Service, coll string, es ...skip.Entry) {
	t.Helper()
	if err := s.Patch(context.Background(), coll, es); err != nil {
		t.Fatalf("patch %s: %v", coll, err)
	}
}

// sink records what a stream receives.
type sink struct {
	mu      sync.Mutex
	updates []skip.Update
	closed  error
	changed chan struct{}
}

func newSink() *sink { return &sink{changed: make(chan struct{}, 1000)} }

func (k *sink) Push(u skip.Update) bool {
	k.mu.Lock()
	k.updates = append(k.updates, u)
	k.mu.Unlock()
	k.changed <- struct{}{}
	return true
}

func (k *sink) Closed(reason error) {
	k.mu.Lock()
	k.closed = reason
	k.mu.Unlock()
	k.changed <- struct{}{}
}

func (k *sink) all() []skip.Update {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]skip.Update(nil), k.updates...)
}

// waitFor waits until cond holds, at most 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBasicService(t *testing.T) {
	sys := systemtest.Boot(t)
	s := startService(t, sys, "testdata/basic.ts", Options{})
	if c, st := s.Ports(); c != 9081 || st != 9080 {
		t.Fatalf("ports %d %d", c, st)
	}
	if got := snapshot(t, s, "doubled", "{}"); got != `[["a",[2]],["b",[4]]]` {
		t.Fatalf("doubled: %s", got)
	}
	if got := snapshot(t, s, "total", "{}"); got != `[["all",[3]]]` {
		t.Fatalf("total: %s", got)
	}
	ctx := context.Background()
	id, err := s.CreateStream(ctx, "doubled", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	k := newSink()
	cancel, err := s.Subscribe(ctx, id, k)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if _, err := s.Subscribe(ctx, id, newSink()); !errors.Is(err, skip.ErrStreamTaken) {
		t.Fatalf("second subscriber: %v", err)
	}
	patch(t, s, "input", entry(`"c"`, "5"), entry(`"a"`))
	us := k.all() // the update reached the sink before Patch returned
	if len(us) != 2 || !us[0].Init || us[1].Init {
		t.Fatalf("updates: %+v", us)
	}
	if got := render(us[0].Entries); got != `[["a",[2]],["b",[4]]]` {
		t.Fatalf("init: %s", got)
	}
	if got := render(us[1].Entries); got != `[["a",[]],["c",[10]]]` {
		t.Fatalf("update: %s", got)
	}
	if len(us[1].RunID) != 27 || us[1].Tick <= us[0].Tick {
		t.Fatalf("ids %s/%d then %s/%d", us[0].RunID, us[0].Tick, us[1].RunID, us[1].Tick)
	}
	// A no-op write yields no event.
	patch(t, s, "input", entry(`"c"`, "5"))
	if n := len(k.all()); n != 2 {
		t.Fatalf("no-op write sent an event: %d", n)
	}
	if got := snapshot(t, s, "total", "{}"); got != `[["all",[7]]]` {
		t.Fatalf("total: %s", got)
	}
	v, err := s.Lookup(ctx, "doubled", json.RawMessage(`{}`), json.RawMessage(`"c"`))
	if err != nil || len(v) != 1 || string(v[0]) != "10" {
		t.Fatalf("lookup: %s %v", v, err)
	}
	if err := s.DeleteStream(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted stream's sink to be closed", func() bool {
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.closed != nil
	})
	if _, err := s.Subscribe(ctx, id, newSink()); !errors.Is(err, skip.ErrUnknownStream) {
		t.Fatalf("subscribe after delete: %v", err)
	}
	if err := s.Patch(ctx, "nope", nil); !errors.Is(err, skip.ErrUnknownCollection) {
		t.Fatalf("unknown collection: %v", err)
	}
	if _, err := s.Snapshot(ctx, "nope", json.RawMessage(`{}`)); !errors.Is(err, skip.ErrUnknownResource) {
		t.Fatalf("unknown resource: %v", err)
	}
}
