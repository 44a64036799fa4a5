package synap

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/gateway/internal/doortest"
	"github.com/troupe-run/troupe/messages"
)

// fakeKeyspace records the requests it gets and answers them with reply.
type fakeKeyspace struct {
	mu    sync.Mutex
	reqs  []*messages.DataRequest
	ctxs  []context.Context
	reply func(*messages.DataRequest) (*messages.DataReply, error)
}

func (f *fakeKeyspace) Do(ctx context.Context, req *messages.DataRequest) (*messages.DataReply, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.ctxs = append(f.ctxs, ctx)
	reply := f.reply
	f.mu.Unlock()
	if reply == nil {
		return &messages.DataReply{}, nil
	}
	return reply(req)
}

func (f *fakeKeyspace) requests() []*messages.DataRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*messages.DataRequest(nil), f.reqs...)
}

// replyWith answers every request with rep.
func replyWith(rep *messages.DataReply) func(*messages.DataRequest) (*messages.DataReply, error) {
	return func(*messages.DataRequest) (*messages.DataReply, error) { return rep, nil }
}

// mapKeyspace is a tiny KV store: enough to show that a batch runs in order.
type mapKeyspace struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (k *mapKeyspace) Do(_ context.Context, req *messages.DataRequest) (*messages.DataReply, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch req.Op {
	case messages.DataOp_KV_SET:
		prev := k.m[req.Key]
		k.m[req.Key] = req.Value
		return &messages.DataReply{Ok: true, Previous: prev}, nil
	case messages.DataOp_KV_GET:
		v, ok := k.m[req.Key]
		return &messages.DataReply{Found: ok, Value: v, TtlMs: -1}, nil
	case messages.DataOp_KV_DEL:
		n := 0
		for _, key := range req.Keys {
			if _, ok := k.m[key]; ok {
				delete(k.m, key)
				n++
			}
		}
		return &messages.DataReply{Integer: int64(n)}, nil
	case messages.DataOp_KV_INCR:
		return &messages.DataReply{ErrorCode: messages.CodeNotInteger, ErrorMessage: "the value is not an integer"}, nil
	}
	return nil, errors.New("mapKeyspace: unsupported op " + req.Op.String())
}

type fakeAdmin struct {
	mu        sync.Mutex
	stats     Stats
	statsErr  error
	health    Health
	config    map[string]any
	shutdowns int
	faults    []string
	armed     int
	faultErr  error
}

func (a *fakeAdmin) Stats(context.Context) (Stats, error) { return a.stats, a.statsErr }
func (a *fakeAdmin) Health(context.Context) Health        { return a.health }
func (a *fakeAdmin) Config() map[string]any               { return a.config }

func (a *fakeAdmin) Shutdown() {
	a.mu.Lock()
	a.shutdowns++
	a.mu.Unlock()
}

func (a *fakeAdmin) InjectFault(target, fault string) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.faults = append(a.faults, target+" "+fault)
	return a.armed, a.faultErr
}

// recorder records the requests a fake backend gets and answers them with
// reply (an empty reply when nil).
type recorder[Req, Rep any] struct {
	mu    sync.Mutex
	reqs  []Req
	reply func(context.Context, Req) (Rep, error)
}

func (r *recorder[Req, Rep]) do(ctx context.Context, req Req, empty Rep) (Rep, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	reply := r.reply
	r.mu.Unlock()
	if reply == nil {
		return empty, nil
	}
	return reply(ctx, req)
}

func (r *recorder[Req, Rep]) setReply(f func(context.Context, Req) (Rep, error)) {
	r.mu.Lock()
	r.reply = f
	r.mu.Unlock()
}

func (r *recorder[Req, Rep]) requests() []Req {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Req(nil), r.reqs...)
}

type fakeQueues struct {
	recorder[*messages.QueueRequest, *messages.QueueReply]
	names []string
}

func (f *fakeQueues) Do(ctx context.Context, req *messages.QueueRequest) (*messages.QueueReply, error) {
	return f.do(ctx, req, &messages.QueueReply{})
}

func (f *fakeQueues) List(context.Context) ([]string, error) { return slices.Clone(f.names), nil }

// Send runs req at once: the sessions' pipelining machinery runs in the
// tests, with the fake's recorded order.
func (f *fakeQueues) Send(ctx context.Context, req *messages.QueueRequest) func() (*messages.QueueReply, error) {
	rep, err := f.Do(ctx, req)
	return func() (*messages.QueueReply, error) { return rep, err }
}

type fakeRooms struct {
	recorder[*messages.RoomRequest, *messages.RoomReply]
	names []string
}

func (f *fakeRooms) Do(ctx context.Context, req *messages.RoomRequest) (*messages.RoomReply, error) {
	return f.do(ctx, req, &messages.RoomReply{})
}

func (f *fakeRooms) List(context.Context) ([]string, error) { return slices.Clone(f.names), nil }

type fakePubSub struct {
	recorder[*messages.PubSubRequest, *messages.PubSubReply]
}

func (f *fakePubSub) Do(ctx context.Context, req *messages.PubSubRequest) (*messages.PubSubReply, error) {
	return f.do(ctx, req, &messages.PubSubReply{MessageId: "mid"})
}

// fakeSessions spawns session actors on the root of a real actor system,
// started on first use, with the system's policy: a crash stops the actor.
type fakeSessions struct {
	mu  sync.Mutex
	sys *actor.ActorSystem
}

func (f *fakeSessions) system() *actor.ActorSystem {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sys == nil {
		quiet := func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
		f.sys = actor.NewActorSystem(actor.WithLoggerFactory(quiet))
	}
	return f.sys
}

// shutdown stops the actor system, if one was started.
func (f *fakeSessions) shutdown() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sys != nil {
		f.sys.Shutdown()
	}
}

func (f *fakeSessions) Spawn(name string, producer actor.Producer) (*actor.PID, error) {
	stop := actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective })
	return f.system().Root.SpawnNamed(actor.PropsFromProducer(producer, actor.WithGuardian(stop)), name)
}

func (f *fakeSessions) Stop(pid *actor.PID)          { f.system().Root.Poison(pid) }
func (f *fakeSessions) Send(pid *actor.PID, msg any) { f.system().Root.Send(pid, msg) }

// push sends msg to a session, as a room, queue or the router would.
func (f *fakeSessions) push(pid *actor.PID, msg any) { f.system().Root.Send(pid, msg) }

// testServer is a Server over fakes, serving every client (Insecure).
type testServer struct {
	*Server
	ks       *fakeKeyspace
	queues   *fakeQueues
	rooms    *fakeRooms
	pubsub   *fakePubSub
	sessions *fakeSessions
	admin    *fakeAdmin
	metrics  *doortest.Metrics
	logs     *doortest.LogBuffer
}

func newTestServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	ts := &testServer{
		ks: &fakeKeyspace{},
		admin: &fakeAdmin{
			health: Health{Status: Healthy, Role: "master", Uptime: 90 * time.Second,
				Components: map[string]string{"kv_store": "operational", "pubsub": "operational"}},
			config: map[string]any{"data_addr": ":15500", "shards": 8},
			armed:  1,
		},
		queues:   &fakeQueues{},
		rooms:    &fakeRooms{},
		pubsub:   &fakePubSub{},
		sessions: &fakeSessions{},
		metrics:  &doortest.Metrics{},
		logs:     &doortest.LogBuffer{},
	}
	t.Cleanup(ts.sessions.shutdown)
	metricsHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "# HELP troupe_up 1\n")
	})
	log := slog.New(slog.NewTextHandler(ts.logs, nil))
	ts.Server = New(cfg, ts.backends(metricsHandler), log)
	return ts
}

// backends returns the test server's fakes as Backends.
func (ts *testServer) backends(metricsHandler http.Handler) Backends {
	return Backends{Keyspace: ts.ks, Queues: ts.queues, Rooms: ts.rooms, PubSub: ts.pubsub, Sessions: ts.sessions,
		Admin: ts.admin, Metrics: ts.metrics, MetricsHandler: metricsHandler}
}

func insecure() Config { return Config{Insecure: true, Version: "0.1.0"} }

// serve runs one request through the server.
func serve(s http.Handler, method, target, body string, header ...string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// postCommand posts a command envelope.
func postCommand(s http.Handler, body string, header ...string) *httptest.ResponseRecorder {
	return serve(s, http.MethodPost, commandPath, body, header...)
}

// reply is a decoded response envelope.
type reply struct {
	Type      string          `json:"type"`
	RequestID *string         `json:"request_id"`
	Status    string          `json:"status"`
	Success   *bool           `json:"success"`
	Payload   json.RawMessage `json:"payload"`
	Results   []reply         `json:"results"`
	Error     *struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`
}

func decodeReply(t testing.TB, rec *httptest.ResponseRecorder) reply {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	var r reply
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("reply is not JSON: %v\n%s", err, rec.Body)
	}
	return r
}

// wantError checks that rec is an error envelope with the status and code,
// whose message contains each of msgParts.
func wantError(t testing.TB, rec *httptest.ResponseRecorder, status int, code string, msgParts ...string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	r := decodeReply(t, rec)
	if r.Status != "error" || r.Success == nil || *r.Success || r.Error == nil || r.Error.Details == nil {
		t.Fatalf("not an error envelope: %s", rec.Body)
	}
	if r.Error.Code != code {
		t.Fatalf("error code = %q, want %q; body %s", r.Error.Code, code, rec.Body)
	}
	for _, p := range msgParts {
		if !strings.Contains(r.Error.Message, p) {
			t.Fatalf("error message %q does not mention %q", r.Error.Message, p)
		}
	}
}
