package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-run/troupe/actors/view"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/systemtest"
)

// proxy is a small scheduler for the in-process tests: registration,
// heartbeats, and the proxy over one table of n rows with ids t:1..t:n
// (numeric keys, in SurrealDB's order) and one view.
type proxy struct {
	n        int
	hashes   map[string]string
	mu       sync.Mutex
	regs     int
	beats    []Heartbeat
	pages    int
	badQuery string
}

var (
	reFirst = regexp.MustCompile(`^SELECT \* FROM t ORDER BY id LIMIT (\d+)$`)
	reAfter = regexp.MustCompile(`^SELECT \* FROM t WHERE id > t:(\d+) ORDER BY id LIMIT (\d+)$`)
)

func row(i int) string {
	return fmt.Sprintf(`{"id":"t:%d","name":"row %d","n":%d,"even":%v,"f":%d.5}`, i, i, i, i%2 == 0, i)
}

func (p *proxy) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ssp/register", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.regs++
		p.mu.Unlock()
		w.WriteHeader(202)
		json.NewEncoder(w).Encode(map[string]any{"snapshot_seq": 1, "table_hashes": p.hashes})
	})
	mux.HandleFunc("POST /ssp/heartbeat", func(w http.ResponseWriter, r *http.Request) {
		var hb Heartbeat
		json.NewDecoder(r.Body).Decode(&hb)
		p.mu.Lock()
		p.beats = append(p.beats, hb)
		p.mu.Unlock()
	})
	mux.HandleFunc("POST /proxy/query", func(w http.ResponseWriter, r *http.Request) {
		var q struct{ Query string }
		json.NewDecoder(r.Body).Decode(&q)
		from, limit := 0, 0
		switch {
		case q.Query == "INFO FOR DB":
			io.WriteString(w, `{"tables":{"t":"DEFINE TABLE t","_00_query":"DEFINE TABLE _00_query"}}`)
			return
		case q.Query == "SELECT * FROM _00_query":
			io.WriteString(w, `[{"id":"_00_query:evens","surql":"SELECT * FROM t WHERE even = true","clientId":"c","ttl":"1h"}]`)
			return
		case reFirst.MatchString(q.Query):
			limit, _ = strconv.Atoi(reFirst.FindStringSubmatch(q.Query)[1])
		case reAfter.MatchString(q.Query):
			m := reAfter.FindStringSubmatch(q.Query)
			from, _ = strconv.Atoi(m[1])
			limit, _ = strconv.Atoi(m[2])
		default:
			p.mu.Lock()
			p.badQuery = q.Query
			p.mu.Unlock()
			http.Error(w, "unsupported", 500)
			return
		}
		p.mu.Lock()
		p.pages++
		p.mu.Unlock()
		var b strings.Builder
		b.WriteByte('[')
		for i := from + 1; i <= min(p.n, from+limit); i++ {
			if i > from+1 {
				b.WriteByte(',')
			}
			b.WriteString(row(i))
		}
		b.WriteByte(']')
		io.WriteString(w, b.String())
	})
	return mux
}

// decode is a registration decoder for the tests: the views door's rules
// are tested with the door.
func decode(body []byte) (*messages.RegisterView, error) {
	var b struct {
		ID       string `json:"id"`
		Surql    string `json:"surql"`
		ClientID string `json:"clientId"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, err
	}
	return &messages.RegisterView{Id: b.ID, Surql: b.Surql, ClientId: b.ClientID, TtlMs: time.Hour.Milliseconds()}, nil
}

func (p *proxy) counts() (regs, pages int, bad string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.regs, p.pages, p.badQuery
}

func startLifecycle(t testing.TB, p *proxy, pageSize int, hb time.Duration) (*Service, *view.Service) {
	srv := httptest.NewServer(p.handler())
	t.Cleanup(srv.Close)
	sys := systemtest.Boot(t)
	views, err := view.Start(sys, view.Options{TTLInterval: time.Hour, KeepHashes: true})
	if err != nil {
		t.Fatal(err)
	}
	systemtest.Eventually(t, "the views engine to be ready", views.Ready)
	svc, err := Start(sys, views, Options{SchedulerURL: srv.URL, SSPID: "ssp-test", URL: "http://127.0.0.1:1", Version: "t",
		HeartbeatInterval: hb, PageSize: pageSize, CallTimeout: 10 * time.Second, StepTimeout: time.Minute,
		Policy: DefaultPolicy(), Decode: decode})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc, views
}

func waitState(t testing.TB, svc *Service, want State) {
	t.Helper()
	systemtest.Eventually(t, "state "+string(want), func() bool {
		s := svc.State()
		if s == string(Failed) && want != Failed {
			t.Fatalf("state failed, want %s: %s", want, svc.Reason())
		}
		return s == string(want)
	})
}

// The lifecycle in process, against a real views engine and a scheduler
// over HTTP: paging, views, hash check, heartbeats.
func TestLifecycleEndToEnd(t *testing.T) {
	p := &proxy{n: 2345}
	// A first run without expected hashes learns the engine's; the second
	// checks against them (the scheduler double of integration/ checks the
	// hashes against an independent computation).
	svc, views := startLifecycle(t, p, 100, time.Hour)
	waitState(t, svc, Ready)
	hashes, err := views.TableHashes(context.Background())
	if err != nil || len(hashes) != 1 || !strings.HasPrefix(hashes["t"], "b3:") {
		t.Fatalf("hashes %v %v", hashes, err)
	}
	if _, pages, bad := p.counts(); pages != 24 || bad != "" {
		t.Fatalf("%d pages (want 24 of 100 for 2345 rows), bad query %q", pages, bad)
	}

	p2 := &proxy{n: 2345, hashes: hashes}
	svc2, views2 := startLifecycle(t, p2, 1000, 10*time.Millisecond)
	waitState(t, svc2, Ready)
	info, err := views2.Info(context.Background())
	if err != nil || info.CircuitTables["t"] != 2345 || info.Views != 1 {
		t.Fatalf("info %v %v", info, err)
	}
	var hb Heartbeat
	systemtest.Eventually(t, "three heartbeats", func() bool {
		p2.mu.Lock()
		defer p2.mu.Unlock()
		if len(p2.beats) < 3 {
			return false
		}
		hb = p2.beats[len(p2.beats)-1]
		return true
	})
	if hb.SSPID != "ssp-test" || hb.Views != 1 || hb.MemoryUsage <= 0 || hb.Version != "t" {
		t.Fatalf("heartbeat %+v", hb)
	}

	// Hashes that do not match: bootstrapped twice, then failed.
	p3 := &proxy{n: 10, hashes: map[string]string{"t": "b3:00"}}
	svc3, _ := startLifecycle(t, p3, 1000, time.Hour)
	waitState(t, svc3, Failed)
	if regs, pages, _ := p3.counts(); regs != 1 || pages != 2 || !strings.Contains(svc3.Reason(), "after 2 bootstraps") {
		t.Fatalf("%d registrations, %d pages, reason %q", regs, pages, svc3.Reason())
	}
}

// BenchmarkBootstrap is the time to bootstrap 100,000 rows through the
// proxy (HTTP on loopback, pages of 1000, the engine staging and
// committing), reported as rows/s:
//
//	go test -run '^$' -bench Bootstrap -benchtime=3x ./actors/lifecycle
func BenchmarkBootstrap(b *testing.B) {
	const rows = 100_000
	for b.Loop() {
		p := &proxy{n: rows}
		start := time.Now()
		svc, views := startLifecycle(b, p, 1000, time.Hour)
		waitState(b, svc, Ready)
		elapsed := time.Since(start)
		b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
		if info, err := views.Info(context.Background()); err != nil || info.CircuitTables["t"] != rows {
			b.Fatalf("%v %v", info, err)
		}
	}
}
