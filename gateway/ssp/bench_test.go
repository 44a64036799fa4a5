package ssp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkIngestDoor is what the door itself costs per POST /ingest, on
// views that answer at once (no network, no engine): routing, the
// bearer check, metrics, reading and decoding the body, the reply. In the
// same run a bare handler that only reads the body serves the same
// requests; the ratio of the two is printed as door/bare:
//
//	go test -run '^$' -bench IngestDoor ./gateway/ssp
func BenchmarkIngestDoor(b *testing.B) {
	body := `{"table":"product","op":"UPDATE","id":"product:17","record":{"price":120,"category":"c3","owner":"user:5","status":"open"}}`
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	ts := newTestServer(b, withSecret())
	serve := func(b *testing.B, h http.Handler) float64 {
		for b.Loop() {
			req := httptest.NewRequest("POST", "/ingest", strings.NewReader(body))
			req.RemoteAddr = "127.0.0.1:40000"
			req.Header.Set("Authorization", "Bearer "+secret)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
			ts.views.mu.Lock()
			ts.views.calls = ts.views.calls[:0] // the fake keeps every call otherwise
			ts.views.mu.Unlock()
		}
		return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	}
	var bareNs float64
	b.Run("bare", func(b *testing.B) { bareNs = serve(b, bare) })
	b.Run("door", func(b *testing.B) {
		doorNs := serve(b, ts)
		if bareNs > 0 {
			b.ReportMetric(doorNs/bareNs, "door/bare")
		}
	})
}
