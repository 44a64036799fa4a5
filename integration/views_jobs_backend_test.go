package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// jobBackend is a backend double for the views door's job runner: real
// HTTP, answering per path. /ok answers 200, /created 201, /fail 500 with
// the body "boom", /hang never answers (the runner's timeout ends the
// call), /gate waits until the test opens the gate. It records every call.
type jobBackend struct {
	*httptest.Server
	mu    sync.Mutex
	calls []jobCall
	gate  chan struct{}
	open  sync.Once
}

// jobCall is one request the backend got.
type jobCall struct {
	Path, Auth, ContentType string
	Body                    json.RawMessage
}

func newJobBackend(t *testing.T) *jobBackend {
	t.Helper()
	b := &jobBackend{gate: make(chan struct{})}
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(func() {
		b.openGate()
		b.CloseClientConnections()
		b.Close()
	})
	return b
}

func (b *jobBackend) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	b.calls = append(b.calls, jobCall{Path: r.URL.Path, Auth: r.Header.Get("Authorization"),
		ContentType: r.Header.Get("Content-Type"), Body: body})
	b.mu.Unlock()
	switch r.URL.Path {
	case "/ok":
		w.WriteHeader(http.StatusOK)
	case "/created":
		w.WriteHeader(http.StatusCreated)
	case "/fail":
		http.Error(w, "boom", http.StatusInternalServerError)
	case "/hang":
		<-r.Context().Done()
	case "/gate":
		select {
		case <-b.gate:
			w.WriteHeader(http.StatusOK)
		case <-r.Context().Done():
		}
	default:
		http.NotFound(w, r)
	}
}

func (b *jobBackend) openGate() { b.open.Do(func() { close(b.gate) }) }

// callsTo returns the calls made to path.
func (b *jobBackend) callsTo(path string) []jobCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []jobCall
	for _, c := range b.calls {
		if c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

// callsFor counts the calls whose body is {"job": id}.
func (b *jobBackend) callsFor(id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.calls {
		var body struct {
			Job string `json:"job"`
		}
		if json.Unmarshal(c.Body, &body) == nil && body.Job == id {
			n++
		}
	}
	return n
}
