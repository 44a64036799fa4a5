package skip

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/gateway/internal/doortest"
)

// fakeService is a Skip service with one input collection, "in", and one
// resource, "echo", which is "in" itself; its params must be an object.
// A value "throw" makes a PATCH refused.
type fakeService struct {
	mu      sync.Mutex
	data    map[string][]json.RawMessage
	streams map[string]*fakeStream
	seq     int
	tick    uint64
}

type fakeStream struct {
	sink    Sink
	deleted bool
}

func newFakeService() *fakeService {
	return &fakeService{data: map[string][]json.RawMessage{}, streams: map[string]*fakeStream{}}
}

func (f *fakeService) Name() string { return "fake.js" }

func (f *fakeService) Patch(ctx context.Context, collection string, entries []Entry) error {
	if collection != "in" {
		return fmt.Errorf("%w %q", ErrUnknownCollection, collection)
	}
	for _, e := range entries {
		for _, v := range e.Values {
			if string(v) == `"throw"` {
				return fmt.Errorf("%w: mapper Echo threw Error: no", ErrRefused)
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tick++
	var changed []Entry
	for _, e := range entries {
		f.data[string(e.Key)] = e.Values
		changed = append(changed, e)
	}
	for _, s := range f.streams {
		if s.sink != nil && !s.deleted {
			s.sink.Push(Update{RunID: "run", Tick: f.tick, Entries: changed})
		}
	}
	return nil
}

func (f *fakeService) contents() []Entry {
	var keys []string
	for k, vs := range f.data {
		if len(vs) > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]Entry, len(keys))
	for i, k := range keys {
		out[i] = Entry{Key: json.RawMessage(k), Values: f.data[k]}
	}
	return out
}

func checkResource(resource string, params json.RawMessage) error {
	if resource != "echo" {
		return fmt.Errorf("%w %q", ErrUnknownResource, resource)
	}
	if !strings.HasPrefix(string(params), "{") {
		return fmt.Errorf("%w: params must be an object", ErrBadInput)
	}
	return nil
}

func (f *fakeService) Snapshot(ctx context.Context, resource string, params json.RawMessage) ([]Entry, error) {
	if err := checkResource(resource, params); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.contents(), nil
}

func (f *fakeService) Lookup(ctx context.Context, resource string, params, key json.RawMessage) ([]json.RawMessage, error) {
	if err := checkResource(resource, params); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.data[string(key)], nil
}

func (f *fakeService) CreateStream(ctx context.Context, resource string, params json.RawMessage) (string, error) {
	if err := checkResource(resource, params); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	uuid := fmt.Sprintf("uuid-%d", f.seq)
	f.streams[uuid] = &fakeStream{}
	return uuid, nil
}

func (f *fakeService) DeleteStream(ctx context.Context, uuid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.streams[uuid]
	if !ok || s.deleted {
		return fmt.Errorf("%w %q", ErrUnknownStream, uuid)
	}
	s.deleted = true
	if s.sink != nil {
		s.sink.Closed(fmt.Errorf("the stream was deleted"))
	}
	return nil
}

func (f *fakeService) Subscribe(ctx context.Context, uuid string, sink Sink) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.streams[uuid]
	if !ok || s.deleted {
		return nil, fmt.Errorf("%w %q", ErrUnknownStream, uuid)
	}
	if s.sink != nil {
		return nil, fmt.Errorf("%w: %s", ErrStreamTaken, uuid)
	}
	s.sink = sink
	sink.Push(Update{Init: true, RunID: "run", Tick: f.tick, Entries: f.contents()})
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if s.sink == sink {
			s.sink = nil
		}
	}, nil
}

// subscribed reports whether uuid has a subscriber.
func (f *fakeService) subscribed(uuid string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.streams[uuid]
	return ok && s.sink != nil
}

// push sends u to the subscriber of uuid, and returns what Push answered.
func (f *fakeService) push(uuid string, u Update) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.streams[uuid].sink.Push(u)
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

func (f *fakeSessions) Stop(pid *actor.PID) { f.sys.Root.Poison(pid) }

type testDoor struct {
	*Door
	svc     *fakeService
	metrics *doortest.Metrics
	logs    *doortest.LogBuffer
}

func newTestDoor(t testing.TB, cfg Config) *testDoor {
	td := &testDoor{svc: newFakeService(), metrics: &doortest.Metrics{}, logs: &doortest.LogBuffer{}}
	log := slog.New(slog.NewJSONHandler(td.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	td.Door = New(cfg, td.svc, newFakeSessions(t), td.metrics, log)
	return td
}

// call serves a control request from a loopback client, with the headers
// given as name, value pairs.
func (td *testDoor) call(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:40000"
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	td.Control().ServeHTTP(rec, req)
	return rec
}

// want checks a response's status and exact body.
func want(t *testing.T, rec *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	if rec.Code != status || rec.Body.String() != body {
		t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), status, body)
	}
}

// wantError checks an error answer: its status, JSON body, and that its
// message says what it should.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, status int, says string) {
	t.Helper()
	var body struct{ Error string }
	if rec.Code != status || rec.Header().Get("Content-Type") != "application/json" ||
		json.Unmarshal(rec.Body.Bytes(), &body) != nil || !strings.Contains(body.Error, says) {
		t.Errorf("got %d %s %q, want %d with an error saying %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String(), status, says)
	}
}
