package synap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

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

type observation struct {
	door, command string
	status        int
}

type fakeMetrics struct {
	mu  sync.Mutex
	obs []observation
}

func (m *fakeMetrics) ObserveRequest(door, command string, status int, _ time.Duration) {
	m.mu.Lock()
	m.obs = append(m.obs, observation{door, command, status})
	m.mu.Unlock()
}

func (m *fakeMetrics) last() observation {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.obs) == 0 {
		return observation{}
	}
	return m.obs[len(m.obs)-1]
}

// testServer is a Server over fakes, serving every client (Insecure).
type testServer struct {
	*Server
	ks      *fakeKeyspace
	admin   *fakeAdmin
	metrics *fakeMetrics
	logs    *bytes.Buffer
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
		metrics: &fakeMetrics{},
		logs:    &bytes.Buffer{},
	}
	metricsHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "# HELP troupe_up 1\n")
	})
	log := slog.New(slog.NewTextHandler(ts.logs, nil))
	ts.Server = New(cfg, ts.ks, ts.admin, ts.metrics, metricsHandler, log)
	return ts
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
