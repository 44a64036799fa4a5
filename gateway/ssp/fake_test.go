package ssp

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/gateway/internal/doortest"
	"github.com/troupe-run/troupe/messages"
)

const secret = "s3cret"

// fakeViews records the calls it gets and answers them with the replies
// set on it. Its views (results) can be subscribed to: it pushes to the
// subscribers as the view actors do, through send.
type fakeViews struct {
	ready atomic.Bool

	mu    sync.Mutex
	calls []call
	err   error // returned by every call when set

	ingest     *messages.IngestReply
	register   *messages.ViewResult
	unregister *messages.ViewResult
	info       *messages.ViewsInfoReply
	debug      *messages.DebugViewReply
	deps       *messages.DebugDepsReply
	panicOn    string // the method that panics

	send      func(pid *actor.PID, msg any)
	results   map[string][]*messages.ViewRecord // the views one may subscribe to
	subs      map[string][]*actor.PID
	onSubcall func(sub *actor.PID) // runs inside Subscribe, before the initial results
	lastSub   *actor.PID           // the last subscriber
	unsubs    chan []string
}

func newFakeViews() *fakeViews {
	f := &fakeViews{results: map[string][]*messages.ViewRecord{}, subs: map[string][]*actor.PID{},
		unsubs: make(chan []string, 16)}
	f.ready.Store(true)
	return f
}

// call is one call on the views: its method and its argument.
type call struct {
	method string
	arg    any
}

func (f *fakeViews) record(method string, arg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{method, arg})
	if method == f.panicOn {
		panic("the views exploded")
	}
	return f.err
}

func (f *fakeViews) callList() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// fail makes every call fail with err (nil: succeed).
func (f *fakeViews) fail(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// takeCalls returns the calls and forgets them.
func (f *fakeViews) takeCalls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls := f.calls
	f.calls = nil
	return calls
}

func (f *fakeViews) Ingest(_ context.Context, req *messages.IngestRequest) (*messages.IngestReply, error) {
	if err := f.record("ingest", req); err != nil {
		return nil, err
	}
	return f.ingest, nil
}

func (f *fakeViews) Register(_ context.Context, req *messages.RegisterView) (*messages.ViewResult, error) {
	if err := f.record("register", req); err != nil {
		return nil, err
	}
	return f.register, nil
}

func (f *fakeViews) Unregister(_ context.Context, id string) (*messages.ViewResult, error) {
	if err := f.record("unregister", id); err != nil {
		return nil, err
	}
	return f.unregister, nil
}

func (f *fakeViews) Reset(context.Context) error { return f.record("reset", nil) }

func (f *fakeViews) Info(context.Context) (*messages.ViewsInfoReply, error) {
	if err := f.record("info", nil); err != nil {
		return nil, err
	}
	return f.info, nil
}

func (f *fakeViews) Debug(_ context.Context, id string) (*messages.DebugViewReply, error) {
	if err := f.record("debug", id); err != nil {
		return nil, err
	}
	return f.debug, nil
}

func (f *fakeViews) Deps(context.Context) (*messages.DebugDepsReply, error) {
	if err := f.record("deps", nil); err != nil {
		return nil, err
	}
	return f.deps, nil
}

// Subscribe pushes each known view's result to subscriber, as the view
// actors do, and reports the others unknown.
func (f *fakeViews) Subscribe(_ context.Context, ids []string, sub *actor.PID) (*messages.SubscribeReply, error) {
	if err := f.record("subscribe", slices.Clone(ids)); err != nil {
		return nil, err
	}
	if f.onSubcall != nil {
		f.onSubcall(sub)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastSub = sub
	rep := &messages.SubscribeReply{}
	for _, id := range ids {
		recs, ok := f.results[id]
		if !ok {
			rep.Unknown = append(rep.Unknown, id)
			continue
		}
		if !slices.ContainsFunc(f.subs[id], sub.Equal) { // as a view actor keeps each subscriber once
			f.subs[id] = append(f.subs[id], sub)
		}
		f.send(sub, &messages.ViewDelta{ViewId: id, Hash: "h0", Additions: recs, Initial: true})
	}
	return rep, nil
}

func (f *fakeViews) Unsubscribe(ids []string, sub *actor.PID) {
	f.mu.Lock()
	for _, id := range ids {
		f.subs[id] = slices.DeleteFunc(f.subs[id], sub.Equal)
	}
	f.mu.Unlock()
	f.unsubs <- slices.Sorted(slices.Values(ids))
}

func (f *fakeViews) Ready() bool { return f.ready.Load() }

func (f *fakeViews) subscriber() *actor.PID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastSub
}

// emit pushes d to the subscribers of its view, as a view actor does after
// an ingest.
func (f *fakeViews) emit(d *messages.ViewDelta) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, sub := range f.subs[d.ViewId] {
		f.send(sub, d)
	}
}

// fakeSessions spawns session actors on the root of a real actor system,
// with the system's policy: a crash stops the actor.
type fakeSessions struct {
	sys *actor.ActorSystem
}

func newFakeSessions(t testing.TB) *fakeSessions {
	quiet := func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
	sys := actor.NewActorSystem(actor.WithLoggerFactory(quiet))
	t.Cleanup(sys.Shutdown)
	return &fakeSessions{sys: sys}
}

func (f *fakeSessions) Spawn(name string, producer actor.Producer) (*actor.PID, error) {
	stop := actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective })
	return f.sys.Root.SpawnNamed(actor.PropsFromProducer(producer, actor.WithSupervisor(stop)), name)
}

func (f *fakeSessions) Stop(pid *actor.PID)          { f.sys.Root.Poison(pid) }
func (f *fakeSessions) Send(pid *actor.PID, msg any) { f.sys.Root.Send(pid, msg) }

type testServer struct {
	*Server
	views    *fakeViews
	sessions *fakeSessions
	metrics  *doortest.Metrics
	logs     *doortest.LogBuffer // JSON lines, from debug up
}

// newTestServer returns a server with the secret set, unless cfg says
// otherwise.
func newTestServer(t testing.TB, cfg Config) *testServer {
	ts := &testServer{views: newFakeViews(), sessions: newFakeSessions(t), metrics: &doortest.Metrics{}, logs: &doortest.LogBuffer{}}
	ts.views.send = ts.sessions.Send
	log := slog.New(slog.NewJSONHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts.Server = New(cfg, ts.views, ts.sessions, ts.metrics, log)
	return ts
}

func withSecret() Config { return Config{Secret: secret} }

// call serves a request from a loopback client with the secret.
func (ts *testServer) call(method, path, body string) *httptest.ResponseRecorder {
	return ts.serve(method, path, body, "Authorization", "Bearer "+secret)
}

// serve serves a request from a loopback client with the headers given as
// name, value pairs.
func (ts *testServer) serve(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:40000"
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	ts.ServeHTTP(rec, req)
	return rec
}

// want checks a response's status and exact body.
func want(t *testing.T, rec *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	if rec.Code != status || rec.Body.String() != body {
		t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), status, body)
	}
}

// wantJSON checks a JSON response's status, content type and exact body.
func wantJSON(t *testing.T, rec *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	want(t, rec, status, body)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

// plain is the body of a plain-text error.
func plain(msg string) string { return msg + "\n" }

const notReadyBody = `{"code":"SSP_NOT_READY","message":"the views are being rebuilt from the store; retry when GET /health answers ready"}`
