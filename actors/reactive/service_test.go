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
	select {
	case k.changed <- struct{}{}:
	default:
	}
	return true
}

func (k *sink) Closed(reason error) {
	k.mu.Lock()
	k.closed = reason
	k.mu.Unlock()
	select {
	case k.changed <- struct{}{}:
	default:
	}
}

func (k *sink) all() []skip.Update {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]skip.Update(nil), k.updates...)
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
	systemtest.Eventually(t, "the deleted stream's sink to be closed", func() bool {
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

func TestRefusedWriteAppliesNothing(t *testing.T) {
	sys := systemtest.Boot(t)
	s := startService(t, sys, "testdata/basic.ts", Options{})
	ctx := context.Background()
	if got := snapshot(t, s, "strict", "{}"); got != `[["a",[1]],["b",[2]]]` {
		t.Fatalf("strict: %s", got)
	}
	id, err := s.CreateStream(ctx, "strict", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	k := newSink()
	if _, err := s.Subscribe(ctx, id, k); err != nil {
		t.Fatal(err)
	}
	// "c" is fine but "d" makes Strict's mapper throw: the whole write is
	// refused, in the graph and in every instance.
	err = s.Patch(ctx, "input", []skip.Entry{entry(`"c"`, "3"), entry(`"d"`, "-1")})
	if !errors.Is(err, skip.ErrRefused) || !strings.Contains(err.Error(), "negative value for d") {
		t.Fatalf("patch: %v", err)
	}
	for _, r := range []string{"strict", "doubled", "raw"} {
		got := snapshot(t, s, r, "{}")
		if strings.Contains(got, `"c"`) || strings.Contains(got, `"d"`) {
			t.Fatalf("%s shows a refused write: %s", r, got)
		}
	}
	if n := len(k.all()); n != 1 {
		t.Fatalf("a refused write sent %d events", n-1)
	}
	patch(t, s, "input", entry(`"c"`, "3"))
	if got := snapshot(t, s, "strict", "{}"); got != `[["a",[1]],["b",[2]],["c",[3]]]` {
		t.Fatalf("strict after a good write: %s", got)
	}
}

func TestRunawayCodeIsInterrupted(t *testing.T) {
	sys := systemtest.Boot(t)
	s := startService(t, sys, "testdata/basic.ts", Options{CallBudget: slowBudget})
	ctx := context.Background()
	if got := snapshot(t, s, "spinning", "{}"); got != `[["a",[1]],["b",[2]]]` {
		t.Fatalf("spinning: %s", got)
	}
	err := s.Patch(ctx, "input", []skip.Entry{entry(`"x"`, "666")})
	if !errors.Is(err, skip.ErrRefused) || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("patch: %v", err)
	}
	// The runtime is usable afterwards.
	patch(t, s, "input", entry(`"x"`, "7"))
	if got := snapshot(t, s, "spinning", "{}"); got != `[["a",[1]],["b",[2]],["x",[7]]]` {
		t.Fatalf("spinning after: %s", got)
	}
}

func TestInputsSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	sys := systemtest.Boot(t, "--data-dir="+dir, "--fsync=always")
	s := startService(t, sys, "testdata/basic.ts", Options{})
	patch(t, s, "input", entry(`"a"`), entry(`"z"`, "26", "1"), entry(`3`, "true"))
	want := snapshot(t, s, "raw", "{}")
	if want != `[[3,[true]],["b",[2]],["z",[26,1]]]` {
		t.Fatalf("before: %s", want)
	}
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	sys = systemtest.Boot(t, "--data-dir="+dir, "--fsync=always")
	s = startService(t, sys, "testdata/basic.ts", Options{})
	// The initial data ("a") is not applied again over the stored inputs.
	if got := snapshot(t, s, "raw", "{}"); got != want {
		t.Fatalf("after a restart: %s, want %s", got, want)
	}
}

func TestCrashedInstanceResumesWithInit(t *testing.T) {
	sys := systemtest.Boot(t, "--chaos")
	s := startService(t, sys, "testdata/basic.ts", Options{})
	ctx := context.Background()
	id, err := s.CreateStream(ctx, "doubled", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	k := newSink()
	if _, err := s.Subscribe(ctx, id, k); err != nil {
		t.Fatal(err)
	}
	armed, err := sys.InjectFault("reactive/basic.*", "panic")
	if err != nil || len(armed) != 1 {
		t.Fatalf("inject: %v %v", armed, err)
	}
	patch(t, s, "input", entry(`"c"`, "1"))
	systemtest.Eventually(t, "an init after the restart", func() bool {
		us := k.all()
		last := us[len(us)-1]
		return len(us) >= 2 && last.Init && render(last.Entries) == `[["a",[2]],["b",[4]],["c",[2]]]`
	})
	n := len(k.all())
	patch(t, s, "input", entry(`"d"`, "2"))
	us := k.all()
	if len(us) != n+1 || us[n].Init || render(us[n].Entries) != `[["d",[4]]]` {
		t.Fatalf("after the restart: %+v", us[n:])
	}
}

func TestInstanceRebuiltWhenInstantiateReadChanges(t *testing.T) {
	sys := systemtest.Boot(t)
	s := startService(t, sys, "testdata/basic.ts", Options{})
	ctx := context.Background()
	id, err := s.CreateStream(ctx, "moded", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	k := newSink()
	if _, err := s.Subscribe(ctx, id, k); err != nil {
		t.Fatal(err)
	}
	patch(t, s, "input", entry(`"mode"`, "1"))
	us := k.all()
	if len(us) != 2 || render(us[0].Entries) != `[["b",[2]]]` || us[1].Init || render(us[1].Entries) != `[["a",[1]],["b",[]]]` {
		t.Fatalf("updates: %+v", us)
	}
	if us[1].RunID != us[0].RunID || us[1].Tick <= us[0].Tick {
		t.Fatalf("ids: %s/%d then %s/%d", us[0].RunID, us[0].Tick, us[1].RunID, us[1].Tick)
	}
	// instantiate throwing on the write's data refuses the write.
	err = s.Patch(ctx, "input", []skip.Entry{entry(`"mode"`, "99")})
	if !errors.Is(err, skip.ErrRefused) || !strings.Contains(err.Error(), "mode 99") {
		t.Fatalf("patch: %v", err)
	}
	if got := snapshot(t, s, "raw", "{}"); !strings.Contains(got, `["mode",[1]]`) {
		t.Fatalf("refused write applied: %s", got)
	}
	// The rebuilt instance keeps following its operators.
	patch(t, s, "input", entry(`"a"`, "5"))
	us = k.all()
	if len(us) != 3 || render(us[2].Entries) != `[["a",[5]]]` {
		t.Fatalf("updates: %+v", us)
	}
}

func TestCrashedGraphRebuildsFromTheStore(t *testing.T) {
	sys := systemtest.Boot(t, "--chaos", "--data-dir="+t.TempDir())
	s := startService(t, sys, "testdata/basic.ts", Options{})
	ctx := context.Background()
	id, err := s.CreateStream(ctx, "doubled", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	k := newSink()
	if _, err := s.Subscribe(ctx, id, k); err != nil {
		t.Fatal(err)
	}
	patch(t, s, "input", entry(`"c"`, "3"))
	if armed, err := sys.InjectFault("reactive/basic", "panic"); err != nil || len(armed) != 1 {
		t.Fatalf("inject: %v %v", armed, err)
	}
	// The write that meets the crash waits in the queue while the graph
	// comes back from the store, and is applied then; the stream gets an
	// init of the rebuilt data, then the write's update.
	patch(t, s, "input", entry(`"d"`, "4"))
	var sawInit bool
	for _, u := range k.all()[1:] {
		if u.Init {
			sawInit = render(u.Entries) == `[["a",[2]],["b",[4]],["c",[6]]]`
		}
	}
	if !sawInit {
		t.Fatalf("no init of the rebuilt data: %+v", k.all())
	}
	if got := snapshot(t, s, "doubled", "{}"); got != `[["a",[2]],["b",[4]],["c",[6]],["d",[8]]]` {
		t.Fatalf("after: %s", got)
	}
}

func TestIdleInstanceIsCollected(t *testing.T) {
	sys := systemtest.Boot(t)
	s := startService(t, sys, "testdata/basic.ts", Options{InstanceTTL: 50 * time.Millisecond})
	ctx := context.Background()
	snapshot(t, s, "doubled", "{}")
	id, err := s.CreateStream(ctx, "total", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	cancel, err := s.Subscribe(ctx, id, newSink())
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		names, _ := sys.Registry.Match("reactive/basic.*")
		return len(names)
	}
	// The snapshot's instance goes; the subscribed one stays.
	systemtest.Eventually(t, "the idle instance to be collected", func() bool { return count() == 1 })
	cancel()
	systemtest.Eventually(t, "the unsubscribed instance to be collected", func() bool { return count() == 0 })
	if _, err := s.Subscribe(ctx, id, newSink()); !errors.Is(err, skip.ErrUnknownStream) {
		t.Fatalf("subscribe to a collected instance's stream: %v", err)
	}
	// A new read instantiates it again.
	if got := snapshot(t, s, "total", "{}"); got != `[["all",[3]]]` {
		t.Fatalf("total: %s", got)
	}
}

func TestInstantiateErrorKeepsTheUsersMessage(t *testing.T) {
	sys := systemtest.Boot(t)
	s := startService(t, sys, "testdata/basic.ts", Options{CallBudget: slowBudget})
	ctx := context.Background()
	patch(t, s, "input", entry(`"d"`, "-1"), entry(`"e"`, "666"))
	_, err := s.Snapshot(ctx, "strict", json.RawMessage(`{}`))
	if !errors.Is(err, skip.ErrRefused) || !strings.HasSuffix(err.Error(), ": Error: negative value for d") {
		t.Fatalf("strict: %v", err)
	}
	// Runaway code met while building an instance is interrupted too.
	_, err = s.Snapshot(ctx, "spinning", json.RawMessage(`{}`))
	if !errors.Is(err, skip.ErrRefused) || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("spinning: %v", err)
	}
}

// TestJavaScriptFeatures runs a module using the language features Skip
// code uses (private and static class fields, generators, for await,
// spread, ?., ??, Map, Set, BigInt, URL).
func TestJavaScriptFeatures(t *testing.T) {
	sys := systemtest.Boot(t)
	s := startService(t, sys, "testdata/features.ts", Options{})
	want := `[["x",[{"b":2,"tags":["f","t","u"],"total":6,"q":"x","bigint":"1000"}]],["y",[{"b":-1,"tags":["f"],"total":6,"q":"y","bigint":"1000"}]]]`
	if got := snapshot(t, s, "res", "{}"); got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	// toArray's array may be sorted in place, and iterating the values
	// afterwards sees that order, as in Skip. (A service of its own: the
	// instance of res refuses keys with two values.)
	s = startService(t, systemtest.Boot(t), "testdata/features.ts", Options{})
	patch(t, s, "input", entry(`"z"`, "3", `"b"`, "1", `"a"`))
	want = `[["x",[[{"a":{"b":2},"tags":["t","u"]}]]],["y",[[null]]],["z",[["a","b",1,3]]]]`
	if got := snapshot(t, s, "sorted", "{}"); got != want {
		t.Fatalf("sorted: got %s\nwant %s", got, want)
	}
	// Changing a frozen value is refused with a message saying so.
	_, err := s.Snapshot(context.Background(), "mutate", json.RawMessage(`{}`))
	if !errors.Is(err, skip.ErrRefused) || !strings.Contains(err.Error(), "frozen array") {
		t.Fatalf("mutate: %v", err)
	}
	// The same with values long enough to reach mappers through the
	// value cache (cachedMin): the array is the key's own, its values are
	// frozen.
	long := strings.Repeat("l", cachedMin)
	s = startService(t, systemtest.Boot(t), "testdata/features.ts", Options{})
	patch(t, s, "input", entry(`"w"`, `{"b":"`+long+`"}`, "1", `{"a":"`+long+`"}`))
	want = `[["w",[[1,{"a":"` + long + `"},{"b":"` + long + `"}]]],["x",[[{"a":{"b":2},"tags":["t","u"]}]]],["y",[[null]]]]`
	if got := snapshot(t, s, "sorted", "{}"); got != want {
		t.Fatalf("sorted long values: got %s\nwant %s", got, want)
	}
	patch(t, s, "input", entry(`"w"`), entry(`"x"`, `{"tags":["`+long+`","t"]}`))
	_, err = s.Snapshot(context.Background(), "mutate", json.RawMessage(`{}`))
	if !errors.Is(err, skip.ErrRefused) || !strings.Contains(err.Error(), "frozen array") {
		t.Fatalf("mutate a long value: %v", err)
	}
}

// fullSink takes the init and then reports a full buffer.
type fullSink struct {
	*sink
	room int
}

func (f *fullSink) Push(u skip.Update) bool {
	if f.room == 0 {
		return false
	}
	f.room--
	return f.sink.Push(u)
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	sys := systemtest.Boot(t)
	s := startService(t, sys, "testdata/basic.ts", Options{})
	ctx := context.Background()
	id, err := s.CreateStream(ctx, "doubled", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	k := &fullSink{sink: newSink(), room: 1}
	if _, err := s.Subscribe(ctx, id, k); err != nil {
		t.Fatal(err)
	}
	patch(t, s, "input", entry(`"q"`, "1"))
	k.mu.Lock()
	closed := k.closed
	k.mu.Unlock()
	if !errors.Is(closed, errTooSlow) {
		t.Fatalf("closed: %v", closed)
	}
	// The stream itself lives on: a new subscriber gets an init.
	k2 := newSink()
	if _, err := s.Subscribe(ctx, id, k2); err != nil {
		t.Fatal(err)
	}
	if us := k2.all(); len(us) != 1 || !us[0].Init || !strings.Contains(render(us[0].Entries), `["q",[2]]`) {
		t.Fatalf("new subscriber: %+v", us)
	}
}

// slowBudget is the call budget of the tests that need one: a thousand
// times a call of testdata/slow.ts (1 ms), so that no load on the machine
// makes a legitimate call overrun it, and small enough that a request's own
// wait (twice the budget) ends before slow.ts's 2.5 s build does.
const slowBudget = time.Second

// TestBuildOutlastsRequestTimeout: the first snapshot of a resource whose
// instance takes longer to build than a request may (2500 keys of a slow
// mapper, --request-timeout 100ms) waits for the build, up to
// --skip-build-timeout, instead of failing every time.
func TestBuildOutlastsRequestTimeout(t *testing.T) {
	sys := systemtest.Boot(t, "--request-timeout=100ms")
	s := startService(t, sys, "testdata/slow.ts", Options{CallBudget: slowBudget})
	es, err := s.Snapshot(context.Background(), "slow", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2500 || string(es[2499].Values[0]) != "2500" {
		t.Fatalf("%d entries, last %s", len(es), render(es[len(es)-1:]))
	}
	// Past --skip-build-timeout the build fails and says so.
	s2 := startService(t, systemtest.Boot(t, "--request-timeout=100ms"), "testdata/slow.ts",
		Options{CallBudget: slowBudget, BuildTimeout: 100 * time.Millisecond})
	if _, err := s2.Snapshot(context.Background(), "slow", json.RawMessage(`{}`)); err == nil || !strings.Contains(err.Error(), "--skip-build-timeout") {
		t.Fatalf("past the build timeout: %v", err)
	}
}

// TestValueCacheBound: with --skip-value-cache 1 the getArray cache starts
// afresh at nearly every read, and joins still read the right values.
func TestValueCacheBound(t *testing.T) {
	small := startService(t, systemtest.Boot(t), "testdata/ops.ts", Options{ValueCache: 1})
	full := startService(t, systemtest.Boot(t), "testdata/ops.ts", Options{})
	for _, s := range []*Service{small, full} {
		patch(t, s, "other", entry(`2`, "7"), entry(`3`, "8"), entry(`4`, "9"))
	}
	for _, p := range []string{`{"op":"join"}`, `{"op":"lazy"}`, `{"op":"size"}`} {
		if got, want := snapshot(t, small, "res", p), snapshot(t, full, "res", p); got != want {
			t.Errorf("%s: cache of 1 %s, default %s", p, got, want)
		}
	}
}

// TestTimedOutWriteSaysWhatBecameOfIt: a PATCH that waits past its
// deadline behind a long build is taken back from the queue and says it
// was not applied, and indeed is not; an answered one is applied.
func TestTimedOutWriteSaysWhatBecameOfIt(t *testing.T) {
	// The default budget: this test is about a write's deadline, and with
	// slowBudget one of slow.ts's 1 ms calls overran its second once, on a
	// machine at load 20 under the race detector.
	s := startService(t, systemtest.Boot(t), "testdata/slow.ts", Options{})
	built := make(chan error, 1)
	go func() {
		_, err := s.Snapshot(context.Background(), "slow", json.RawMessage(`{}`))
		built <- err
	}()
	// The graph is busy from when the instance is registered until it is
	// built (some 2.5 s); should the build be over already, the write
	// simply goes through, and that is checked too.
	systemtest.Eventually(t, "the build to start", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.instances) > 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := s.Patch(ctx, "input", []skip.Entry{entry(`5000`, "5")})
	cancel()
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	t.Logf("the write: %v", err)
	switch {
	case err == nil:
		systemtest.Eventually(t, "the answered write in the snapshot", func() bool {
			return strings.Contains(snapshot(t, s, "slow", `{}`), `[5000,[6]]`)
		})
	case strings.Contains(err.Error(), "was not applied"):
		// A later write goes through the graph after it: had the
		// refused one been applied, it would show by then.
		patch(t, s, "input", entry(`5001`, "1"))
		if got := snapshot(t, s, "slow", `{}`); strings.Contains(got, `[5000,`) || !strings.Contains(got, `[5001,[2]]`) {
			t.Fatalf("a write said not applied is there: %s", got)
		}
	case !strings.Contains(err.Error(), "may yet take effect"):
		t.Fatalf("a timed-out write says neither: %v", err)
	}
}
