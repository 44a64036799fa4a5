package view

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/systemtest"
)

func start(t *testing.T, args ...string) (*system.System, *Service) {
	t.Helper()
	sys := systemtest.Boot(t, args...)
	svc, err := Start(sys, Options{MaxViews: 100, TTLInterval: 10 * time.Millisecond, SubsPerView: 10})
	if err != nil {
		t.Fatal(err)
	}
	for !svc.Ready() {
		time.Sleep(time.Millisecond)
	}
	return sys, svc
}

var bg = context.Background()

func ingest(t *testing.T, svc *Service, op, table, id, rec string) {
	t.Helper()
	r, err := svc.Ingest(bg, &messages.IngestRequest{Op: op, Table: table, Id: id, Record: []byte(rec)})
	if err != nil || r.ErrorCode != "" {
		t.Fatalf("ingest %s %s: %v %v", op, id, err, r)
	}
}

func register(t *testing.T, svc *Service, id, q string) *messages.ViewResult {
	t.Helper()
	r, err := svc.Register(bg, &messages.RegisterView{Id: id, Surql: q, ClientId: "c"})
	if err != nil || r.ErrorCode != "" {
		t.Fatalf("register %s: %v %v", id, err, r)
	}
	return r
}

func ids(rows []*messages.ViewRecord) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Id)
	}
	return out
}

// watcher is a subscriber that replays the deltas it gets, as a client does.
type watcher struct {
	mu     sync.Mutex
	result []*messages.ViewRecord
	hash   string
	n      int
}

func (w *watcher) Receive(ctx actor.Context) {
	if d, ok := ctx.Message().(*messages.ViewDelta); ok {
		w.mu.Lock()
		if d.Initial {
			w.result = d.Additions
		} else {
			w.result = replay(w.result, d)
		}
		w.hash = d.Hash
		w.n++
		w.mu.Unlock()
	}
}

func (w *watcher) waitFor(t *testing.T, hash string) []string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		w.mu.Lock()
		if w.hash == hash {
			out := ids(w.result)
			w.mu.Unlock()
			return out
		}
		w.mu.Unlock()
	}
	t.Fatalf("the subscriber never reached hash %s (at %s)", hash, w.hash)
	return nil
}

func TestDeltasReachSubscribersInOrder(t *testing.T) {
	sys, svc := start(t)
	for i := 1; i <= 5; i++ {
		ingest(t, svc, "CREATE", "product", fmt.Sprint("product:", i), fmt.Sprintf(`{"price": %d}`, i*10))
	}
	r := register(t, svc, "top", "SELECT * FROM product ORDER BY price DESC LIMIT 2")
	if got := ids(r.Records); !slices.Equal(got, []string{"product:5", "product:4"}) {
		t.Fatalf("initial result %v", got)
	}
	w := &watcher{}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return w }))
	if rep, err := svc.Subscribe(bg, []string{"top", "nope"}, pid); err != nil || !slices.Equal(rep.Unknown, []string{"nope"}) {
		t.Fatalf("subscribe: %v %v", rep, err)
	}
	ingest(t, svc, "UPDATE", "product", "product:1", `{"price": 100}`)
	ingest(t, svc, "DELETE", "product", "product:5", ``)
	ingest(t, svc, "CREATE", "product", "product:9", `{"price": 1}`)
	final, _ := svc.Debug(bg, "top")
	got := w.waitFor(t, final.LastHash)
	if !slices.Equal(got, []string{"product:1", "product:4"}) || !slices.Equal(got, ids(final.Cache)) {
		t.Fatalf("subscriber replayed %v, view holds %v", got, ids(final.Cache))
	}
}

func TestViewActorPanicLosesNoDelta(t *testing.T) {
	sys, svc := start(t, "--chaos", "--restart-max=100")
	register(t, svc, "all", "SELECT * FROM item WHERE n > 0")
	w := &watcher{}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return w }))
	svc.Subscribe(bg, []string{"all"}, pid)
	for i := 0; i < 60; i++ {
		if i%7 == 0 {
			sys.InjectFault("views/all", "panic")
		}
		ingest(t, svc, "CREATE", "item", fmt.Sprint("item:", i%20), fmt.Sprintf(`{"n": %d}`, i%3))
	}
	final, _ := svc.Debug(bg, "all")
	if got := w.waitFor(t, final.LastHash); !slices.Equal(got, ids(final.Cache)) {
		t.Fatalf("after panics the subscriber holds %v, the view %v", got, ids(final.Cache))
	}
}

func TestRestartKeepsTablesViewsAndHashes(t *testing.T) {
	dir := t.TempDir()
	sys, svc := start(t, "--data-dir="+dir, "--fsync=always")
	ingest(t, svc, "CREATE", "user", "user:1", `{"name": "ann"}`)
	ingest(t, svc, "CREATE", "thread", "thread:1", `{"author": "user:1", "created_at": 1}`)
	q := "SELECT *, (SELECT * FROM user WHERE id = $parent.author LIMIT 1)[0] AS author FROM thread ORDER BY created_at DESC LIMIT 10"
	register(t, svc, "threads", q)
	ingest(t, svc, "UPDATE", "user", "user:1", `{"name": "anne"}`) // bumps the generation
	before, _ := svc.Debug(bg, "threads")
	sys.Close()

	_, svc = start(t, "--data-dir="+dir)
	after, err := svc.Debug(bg, "threads")
	if err != nil || after.ErrorCode != "" {
		t.Fatalf("view after restart: %v %v", after, err)
	}
	if after.LastHash != before.LastHash || after.ContentGeneration != before.ContentGeneration ||
		!slices.EqualFunc(after.Cache, before.Cache, func(a, b *messages.ViewRecord) bool { return string(a.Record) == string(b.Record) }) {
		t.Fatalf("after restart: hash %s gen %d, before: hash %s gen %d", after.LastHash, after.ContentGeneration,
			before.LastHash, before.ContentGeneration)
	}
}

func TestExpiredViewsAreRemoved(t *testing.T) {
	_, svc := start(t)
	_, err := svc.Register(bg, &messages.RegisterView{Id: "brief", Surql: "SELECT * FROM x", TtlMs: 1})
	if err != nil {
		t.Fatal(err)
	}
	register(t, svc, "lasting", "SELECT * FROM x")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		d, _ := svc.Debug(bg, "brief")
		if d.ErrorCode == messages.CodeNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a view past its ttl was never removed")
		}
	}
	if d, _ := svc.Debug(bg, "lasting"); d.ErrorCode != "" {
		t.Fatalf("a view without ttl was removed: %v", d)
	}
}

func TestBadQueryNamesTheProblem(t *testing.T) {
	_, svc := start(t)
	r, _ := svc.Register(bg, &messages.RegisterView{Id: "bad", Surql: "SELECT * FROM x FETCH y"})
	if r.ErrorCode != messages.CodeInvalid || r.ErrorMessage == "" {
		t.Fatalf("got %v", r)
	}
	r, _ = svc.Register(bg, &messages.RegisterView{Id: "$x", Surql: "SELECT * FROM x"})
	if r.ErrorCode != messages.CodeInvalid {
		t.Fatalf("a $ id was accepted: %v", r)
	}
}

// Views with the same query and the same values of the parameters it reads
// share one incremental view; each keeps its own id, deltas and lifetime.
func TestViewsWithTheSameQueryShareOneView(t *testing.T) {
	sys, svc := start(t)
	const q = "SELECT * FROM product WHERE owner = $owner ORDER BY price DESC LIMIT 2"
	for i := 1; i <= 4; i++ {
		ingest(t, svc, "CREATE", "product", fmt.Sprint("product:", i), fmt.Sprintf(`{"owner": "ann", "price": %d}`, i))
	}
	reg := func(id, params string) *messages.ViewResult {
		r, err := svc.Register(bg, &messages.RegisterView{Id: id, Surql: q, Params: []byte(params)})
		if err != nil || r.ErrorCode != "" {
			t.Fatalf("register %s: %v %v", id, err, r)
		}
		return r
	}
	a := reg("a", `{"owner": "ann", "unused": 1}`)
	b := reg("b", `{"unused": 2, "owner": "ann"}`)
	other := reg("other", `{"owner": "bob"}`)
	if a.Hash != b.Hash || !slices.Equal(ids(a.Records), ids(b.Records)) || a.Hash == other.Hash {
		t.Fatalf("a %v, b %v, other %v", a, b, other)
	}
	watch := func(id string) *watcher {
		w := &watcher{}
		pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return w }))
		if _, err := svc.Subscribe(bg, []string{id}, pid); err != nil {
			t.Fatal(err)
		}
		return w
	}
	wa, wb := watch("a"), watch("b")
	ingest(t, svc, "UPDATE", "product", "product:1", `{"owner": "ann", "price": 10}`)
	if r, err := svc.Ingest(bg, &messages.IngestRequest{Op: "UPDATE", Table: "product", Id: "product:2",
		Record: []byte(`{"owner": "ann", "price": 20}`)}); err != nil || r.ViewsChanged != 2 {
		t.Fatalf("ingest: %v %v, want 2 views changed", r, err)
	}
	da, _ := svc.Debug(bg, "a")
	want := []string{"product:2", "product:1"}
	if got := ids(da.Cache); !slices.Equal(got, want) {
		t.Fatalf("a holds %v, want %v", got, want)
	}
	for _, w := range []*watcher{wa, wb} {
		if got := w.waitFor(t, da.LastHash); !slices.Equal(got, want) {
			t.Fatalf("a subscriber holds %v, want %v", got, want)
		}
	}

	// Replacing a with another query leaves b as it was; a's new result
	// has a new hash even when the query gives the same rows.
	ra, err := svc.Register(bg, &messages.RegisterView{Id: "a", Surql: q + " START 0", Params: []byte(`{"owner": "ann"}`)})
	if err != nil || ra.ErrorCode != "" || ra.Generation != 1 || ra.Hash == da.LastHash || !slices.Equal(ids(ra.Records), want) {
		t.Fatalf("replaced a: %v %v", ra, err)
	}
	if _, err := svc.Unregister(bg, "b"); err != nil {
		t.Fatal(err)
	}
	ingest(t, svc, "DELETE", "product", "product:2", ``)
	da, _ = svc.Debug(bg, "a")
	if got := wa.waitFor(t, da.LastHash); !slices.Equal(got, []string{"product:1", "product:4"}) {
		t.Fatalf("a after b left: %v", got)
	}
	// A new registration of the first query shares nothing with a.
	c := reg("c", `{"owner": "ann"}`)
	if c.Generation != 0 || !slices.Equal(ids(c.Records), []string{"product:1", "product:4"}) || c.Hash == da.LastHash {
		t.Fatalf("c: %v", c)
	}
}

// The generation is shared by the views that share a view, and each keeps
// it across a restart; a view registered later starts at generation 0.
func TestSharedGenerationsSurviveRestarts(t *testing.T) {
	dir := t.TempDir()
	sys, svc := start(t, "--data-dir="+dir, "--fsync=always")
	const q = "SELECT *, (SELECT * FROM user WHERE id = $parent.author LIMIT 1)[0] AS author FROM thread"
	ingest(t, svc, "CREATE", "user", "user:1", `{"name": "ann"}`)
	ingest(t, svc, "CREATE", "thread", "thread:1", `{"author": "user:1"}`)
	register(t, svc, "one", q)
	register(t, svc, "two", q)
	ingest(t, svc, "UPDATE", "user", "user:1", `{"name": "anne"}`)  // generation 1
	register(t, svc, "three", q)                                    // generation 0
	ingest(t, svc, "UPDATE", "user", "user:1", `{"name": "annie"}`) // 2, 2 and 1
	before := map[string]*messages.DebugViewReply{}
	for _, id := range []string{"one", "two", "three"} {
		before[id], _ = svc.Debug(bg, id)
	}
	if g := []uint64{before["one"].ContentGeneration, before["two"].ContentGeneration, before["three"].ContentGeneration}; !slices.Equal(g, []uint64{2, 2, 1}) {
		t.Fatalf("generations %v, want [2 2 1]", g)
	}
	sys.Close()

	_, svc = start(t, "--data-dir="+dir)
	for id, b := range before {
		a, _ := svc.Debug(bg, id)
		if a.LastHash != b.LastHash || a.ContentGeneration != b.ContentGeneration {
			t.Fatalf("%s after restart: hash %s gen %d, before %s gen %d", id, a.LastHash, a.ContentGeneration, b.LastHash, b.ContentGeneration)
		}
	}
	ingest(t, svc, "UPDATE", "user", "user:1", `{"name": "ann"}`)
	one, _ := svc.Debug(bg, "one")
	three, _ := svc.Debug(bg, "three")
	if one.ContentGeneration != 3 || three.ContentGeneration != 2 {
		t.Fatalf("after restart and a change: generations %d and %d, want 3 and 2", one.ContentGeneration, three.ContentGeneration)
	}
}

// A view actor gets deltas once it has a subscriber: one subscribed late
// starts from the current result, and a crash of the engine loses no
// delta.
func TestLateSubscriberAndEngineCrash(t *testing.T) {
	sys, svc := start(t, "--chaos", "--restart-max=100", "--data-dir="+t.TempDir(), "--fsync=none")
	register(t, svc, "all", "SELECT * FROM item WHERE n > 0")
	for i := 0; i < 10; i++ {
		ingest(t, svc, "CREATE", "item", fmt.Sprint("item:", i), `{"n": 1}`)
	}
	w := &watcher{}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return w }))
	svc.Subscribe(bg, []string{"all"}, pid)
	for i := 0; i < 40; i++ {
		if i%9 == 4 {
			if _, err := sys.InjectFault("views/$engine", "panic"); err != nil {
				t.Fatal(err)
			}
			for !svc.Ready() {
				time.Sleep(time.Millisecond)
			}
		}
		if r, err := svc.Ingest(bg, &messages.IngestRequest{Op: "CREATE", Table: "item", Id: fmt.Sprint("item:", i%15),
			Record: fmt.Appendf(nil, `{"n": %d}`, i%3)}); err != nil || r.ErrorCode != "" {
			continue // the request the engine crashed on
		}
	}
	final, _ := svc.Debug(bg, "all")
	if got := w.waitFor(t, final.LastHash); !slices.Equal(got, ids(final.Cache)) {
		t.Fatalf("the subscriber holds %v, the view %v", got, ids(final.Cache))
	}
}
