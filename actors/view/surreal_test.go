package view

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
)

// Params as SurrealDB renders them, as Sp00ky's register function sends
// them, select the same rows as JSON params.
func TestParamsAsSurrealQLText(t *testing.T) {
	_, svc := start(t)
	ingest(t, svc, "CREATE", "thread", "thread:1", `{"author": "user:abc", "title": "a", "score": 1.5}`)
	ingest(t, svc, "CREATE", "thread", "thread:2", `{"author": "user:xyz", "title": "b", "score": 1.5}`)
	ingest(t, svc, "CREATE", "thread", "thread:3", `{"author": "user:abc", "title": "c", "score": 2}`)
	q := "SELECT * FROM thread WHERE author = $auth.id AND score = $n"
	for _, params := range []string{
		`{ auth: { id: user:abc }, username: 'bob', n: 1.5f, d: d'2024-01-01T00:00:00Z', tags: ['x'], x: NONE, y: NULL }`,
		`{"auth": {"id": "user:abc"}, "n": 1.5}`,
	} {
		r, err := svc.Register(bg, &messages.RegisterView{Id: "v", Surql: q, ClientId: "c", Params: []byte(params)})
		if err != nil || r.ErrorCode != "" {
			t.Fatalf("register with params %s: %v %v", params, err, r)
		}
		if got := ids(r.Records); !slices.Equal(got, []string{"thread:1"}) {
			t.Errorf("params %s: %v", params, got)
		}
	}
	r, _ := svc.Register(bg, &messages.RegisterView{Id: "w", Surql: q, ClientId: "c", Params: []byte(`{ auth: 1 + 2 }`)})
	if r.ErrorCode != messages.CodeInvalid {
		t.Errorf("bad SurrealQL params: %v", r)
	}
}

// goneWatcher replays deltas as a client does, and records gone views.
type goneWatcher struct {
	watcher
	gmu  sync.Mutex
	gone []string
}

func (w *goneWatcher) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*messages.UnsubscribeViews); ok {
		w.gmu.Lock()
		w.gone = append(w.gone, m.Ids...)
		w.gmu.Unlock()
		return
	}
	w.watcher.Receive(ctx)
}

// A view registered again with another query sends its subscribers the
// whole new result; unregistering it tells them it is gone.
func TestReRegisterReplacesAndUnregisterTellsGone(t *testing.T) {
	sys, svc := start(t)
	for i, price := range []string{"10", "20", "30"} {
		ingest(t, svc, "CREATE", "product", "product:"+string(rune('1'+i)), `{"price": `+price+`}`)
	}
	register(t, svc, "v", "SELECT * FROM product WHERE price >= 20")
	w := &goneWatcher{}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return w }))
	if _, err := svc.Subscribe(bg, []string{"v"}, pid); err != nil {
		t.Fatal(err)
	}
	// product:2 stays, product:3 leaves, product:1 enters.
	r := register(t, svc, "v", "SELECT * FROM product WHERE price <= 20")
	if got := w.waitFor(t, r.Hash); !slices.Equal(got, []string{"product:1", "product:2"}) {
		t.Fatalf("after re-registering the subscriber holds %v", got)
	}
	if res, err := svc.Unregister(bg, "v"); err != nil || res.ErrorCode != "" {
		t.Fatalf("unregister: %v %v", res, err)
	}
	w.waitGone(t, "v")
	// A reset tells the subscribers of every view.
	rw := register(t, svc, "w", "SELECT * FROM product")
	if _, err := svc.Subscribe(bg, []string{"w"}, pid); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, rw.Hash) // subscribed: the initial result came
	if err := svc.Reset(bg); err != nil {
		t.Fatal(err)
	}
	w.waitGone(t, "v", "w")
}

func (w *goneWatcher) waitGone(t *testing.T, want ...string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		w.gmu.Lock()
		gone := slices.Clone(w.gone)
		w.gmu.Unlock()
		if slices.Equal(gone, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the subscriber was told %v are gone, want %v", gone, want)
		}
	}
}

// A reset right after a subscription, with the subscription still queued
// at the view's actor, tells the subscriber that the view is gone: the
// actor is asked in order, not stopped ahead of its mailbox.
func TestResetRightAfterSubscribeTellsGone(t *testing.T) {
	sys, svc := start(t)
	w := &goneWatcher{}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return w }))
	var want []string
	for i := range 20 {
		id := fmt.Sprint("v", i)
		ingest(t, svc, "CREATE", "product", "product:1", `{"price": 1}`)
		register(t, svc, id, "SELECT * FROM product")
		if r, err := svc.Subscribe(bg, []string{id}, pid); err != nil || len(r.Unknown) > 0 {
			t.Fatalf("subscribe %s: %v %v", id, r, err)
		}
		if err := svc.Reset(bg); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
		w.waitGone(t, want...)
	}
}
