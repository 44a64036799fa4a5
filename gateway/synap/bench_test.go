package synap

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/troupe-run/troupe/messages"
)

type keyspaceFunc func(context.Context, *messages.DataRequest) (*messages.DataReply, error)

func (f keyspaceFunc) Do(ctx context.Context, req *messages.DataRequest) (*messages.DataReply, error) {
	return f(ctx, req)
}

// discardWriter is a ResponseWriter that keeps nothing, so that benchmarks
// measure the handler rather than a recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkCommand measures the gateway's own cost for kv.get and kv.set
// through /api/v1/command (the backend answers at once), beside a bare
// handler that reads the body and writes a JSON reply of the same size.
func BenchmarkCommand(b *testing.B) {
	getReply := &messages.DataReply{Found: true, Value: []byte(`"value-0000000042"`), TtlMs: -1}
	setReply := &messages.DataReply{Ok: true}
	ks := keyspaceFunc(func(_ context.Context, req *messages.DataRequest) (*messages.DataReply, error) {
		if req.Op == messages.DataOp_KV_GET {
			return getReply, nil
		}
		return setReply, nil
	})
	s := New(insecure(), Backends{Keyspace: ks, Admin: &fakeAdmin{}}, slog.New(slog.NewTextHandler(io.Discard, nil)))

	cases := []struct {
		name string
		body string
	}{
		{"kv.get", `{"command":"kv.get","request_id":"r-1","payload":{"key":"key:0000000042"}}`},
		{"kv.set", `{"command":"kv.set","request_id":"r-1","payload":{"key":"key:0000000042","value":"value-0000000042"}}`},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("POST", commandPath, bytes.NewReader([]byte(tc.body))))
		replyBody := rec.Body.Bytes()
		bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Write(replyBody)
		})
		for _, h := range []struct {
			name string
			h    http.Handler
		}{{"troupe", s}, {"bare", bare}} {
			b.Run(tc.name+"/"+h.name, func(b *testing.B) {
				body := []byte(tc.body)
				rd := bytes.NewReader(body)
				req := httptest.NewRequest("POST", commandPath, nil)
				req.RemoteAddr = "127.0.0.1:40000"
				w := &discardWriter{h: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					rd.Reset(body)
					req.Body = io.NopCloser(rd)
					req.ContentLength = int64(len(body))
					clear(w.h)
					h.h.ServeHTTP(w, req)
				}
			})
		}
	}
}
