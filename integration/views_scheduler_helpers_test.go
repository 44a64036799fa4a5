package integration

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"lukechampine.com/blake3"
)

// schedDouble is a Sp00ky scheduler for the views door's scheduler mode,
// over real HTTP: it serves POST /ssp/register (freezing a snapshot of its
// dataset and answering 202 {snapshot_seq, table_hashes}), the proxy
// (/proxy/query with a tiny interpreter of exactly the statements the SSP
// sends, over the frozen snapshot; /proxy/signin, /proxy/use) and POST
// /ssp/heartbeat (200, or the statuses queued with answerHeartbeats). Like
// the real one it buffers the writes made while the SSP bootstraps, polls
// the SSP's /health until it is ready, replays the buffer as /ingest calls
// (with the Bearer secret), then compares the SSP's /info circuit_hashes
// with its own. Writes made once the SSP is ready are forwarded at once,
// with job_assignee, as the scheduler forwards live events.
type schedDouble struct {
	t      *testing.T
	srv    *httptest.Server
	secret string

	mu        sync.Mutex
	live      map[string]map[string]map[string]any // table -> id -> record (with its id)
	views     map[string]map[string]any            // _00_query rows by id
	snapshot  map[string]map[string]map[string]any // frozen at registration
	snapViews map[string]map[string]any
	seq       uint64

	registrations []map[string]any
	registerPlan  []int // statuses to answer the next registrations with
	heartbeats    []schedHeartbeat
	hbPlan        []int // statuses to answer the next heartbeats with
	queries       []string
	pages         int // page queries served
	errs          []string

	known    bool // the SSP is in the pool
	ready    bool // replayed and promoted
	buffer   []schedEvent
	replays  int // events replayed
	checks   []string
	sspURL   string
	gate     chan struct{} // when set, page queries after the first wait for it
	gated    chan struct{} // closed when a page query waits at the gate
	pollStop chan struct{}
	polls    sync.WaitGroup
}

type schedHeartbeat struct {
	SSPID       string   `json:"ssp_id"`
	Timestamp   *int64   `json:"timestamp"`
	Views       *int64   `json:"views"`
	CPUUsage    *float64 `json:"cpu_usage"`
	MemoryUsage *float64 `json:"memory_usage"`
	Version     string   `json:"version"`
	received    time.Time
}

type schedEvent struct {
	table, op, id string
	record        map[string]any
}

func newSchedDouble(t *testing.T, secret string) *schedDouble {
	d := &schedDouble{t: t, secret: secret, live: map[string]map[string]map[string]any{},
		views: map[string]map[string]any{}, pollStop: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ssp/register", d.serveRegister)
	mux.HandleFunc("POST /ssp/heartbeat", d.serveHeartbeat)
	mux.HandleFunc("POST /proxy/query", d.serveQuery)
	mux.HandleFunc("POST /proxy/signin", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	mux.HandleFunc("POST /proxy/use", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	d.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(d.pollStop)
		d.mu.Lock()
		if d.gate != nil {
			close(d.gate)
			d.gate = nil
		}
		d.mu.Unlock()
		d.polls.Wait()
		d.srv.Close()
		d.mu.Lock()
		defer d.mu.Unlock()
		if len(d.errs) > 0 {
			t.Errorf("scheduler double: %s", strings.Join(d.errs, "\n"))
		}
	})
	return d
}

func (d *schedDouble) fail(format string, a ...any) {
	d.errs = append(d.errs, fmt.Sprintf(format, a...))
}

// env is the environment that puts troupe in scheduler mode against d.
func (d *schedDouble) env(extra ...string) []string {
	return append([]string{"SPKY_SCHEDULER_URL=" + d.srv.URL, "SPKY_AUTH_SECRET=" + d.secret}, extra...)
}

// put sets a row of the dataset before the SSP starts (no event).
func (d *schedDouble) put(table, id string, rec map[string]any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.set(d.live, table, id, rec)
}

func (d *schedDouble) set(data map[string]map[string]map[string]any, table, id string, rec map[string]any) {
	if data[table] == nil {
		data[table] = map[string]map[string]any{}
	}
	r := map[string]any{}
	for k, v := range rec {
		r[k] = v
	}
	r["id"] = id
	data[table][id] = r
}

// putView adds a row of _00_query.
func (d *schedDouble) putView(row map[string]any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.views[row["id"].(string)] = row
}

// write changes the dataset as the source database would: the change is
// buffered while the SSP bootstraps, forwarded once it is ready.
func (d *schedDouble) write(table, op, id string, rec map[string]any) {
	d.mu.Lock()
	if op == "DELETE" {
		delete(d.live[table], id)
	} else {
		d.set(d.live, table, id, rec)
		rec = d.live[table][id]
	}
	ev := schedEvent{table: table, op: op, id: id, record: rec}
	if !d.ready {
		d.buffer = append(d.buffer, ev)
		d.mu.Unlock()
		return
	}
	url := d.sspURL
	d.mu.Unlock()
	if err := d.ingest(url, ev, true); err != nil {
		d.t.Fatalf("forwarding %s %s: %v", op, id, err)
	}
}

// mutateSilently changes the dataset without telling the SSP (events the
// scheduler lost, as when its buffer overflows).
func (d *schedDouble) mutateSilently(table, id string, rec map[string]any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if rec == nil {
		delete(d.live[table], id)
		return
	}
	d.set(d.live, table, id, rec)
}

func (d *schedDouble) ingest(url string, ev schedEvent, live bool) error {
	body := map[string]any{"table": ev.table, "op": ev.op, "id": ev.id, "record": ev.record}
	if ev.record == nil {
		body["record"] = map[string]any{}
	}
	if live {
		body["job_assignee"] = "ssp-someone"
	}
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url+"/ingest", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+d.secret)
	resp, err := schedHTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("POST /ingest: %d %s", resp.StatusCode, out)
	}
	return nil
}

var schedHTTP = &http.Client{Timeout: 30 * time.Second}

func (d *schedDouble) serveRegister(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		http.Error(w, "bad registration: "+err.Error(), 400)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.registrations = append(d.registrations, body)
	if len(d.registerPlan) > 0 {
		status := d.registerPlan[0]
		d.registerPlan = d.registerPlan[1:]
		if status != 202 {
			http.Error(w, fmt.Sprintf("planned %d", status), status)
			return
		}
	}
	url, _ := body["url"].(string)
	if !strings.HasPrefix(url, "http://") {
		http.Error(w, "SSP URL must start with http:// or https://", 400)
		return
	}
	// Freeze a snapshot; writes from now on are buffered until the SSP is
	// ready, then replayed.
	d.seq++
	d.snapshot = map[string]map[string]map[string]any{}
	for table, rows := range d.live {
		for id, rec := range rows {
			d.set(d.snapshot, table, id, rec)
		}
	}
	d.snapViews = map[string]map[string]any{}
	for id, row := range d.views {
		d.snapViews[id] = row
	}
	d.known, d.ready, d.buffer, d.sspURL = true, false, nil, url
	hashes := map[string]string{}
	for table, rows := range d.snapshot {
		hashes[table] = schedHash(rows)
	}
	d.polls.Add(1)
	go d.pollAndReplay(url, hashes)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(202)
	json.NewEncoder(w).Encode(map[string]any{"snapshot_seq": d.seq, "table_hashes": hashes})
}

// pollAndReplay waits for the SSP's /health to answer ready, replays the
// buffered events, and compares the SSP's hashes with the dataset's.
func (d *schedDouble) pollAndReplay(url string, _ map[string]string) {
	defer d.polls.Done()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-d.pollStop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		resp, err := schedHTTP.Get(url + "/health")
		if err == nil {
			var h struct{ Status string }
			json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if h.Status == "ready" {
				break
			}
			if h.Status == "failed" {
				return
			}
		}
		if time.Now().After(deadline) {
			d.mu.Lock()
			d.fail("the SSP was not ready within 60s of registering")
			d.mu.Unlock()
			return
		}
	}
	for {
		d.mu.Lock()
		if len(d.buffer) == 0 {
			d.ready = true
			d.mu.Unlock()
			break
		}
		ev := d.buffer[0]
		d.buffer = d.buffer[1:]
		d.replays++
		d.mu.Unlock()
		if err := d.ingest(url, ev, false); err != nil {
			d.mu.Lock()
			d.fail("replaying %s %s: %v", ev.op, ev.id, err)
			d.mu.Unlock()
		}
	}
	// The post-replay integrity check: the SSP's tables are the dataset.
	d.mu.Lock()
	want := map[string]string{}
	for table, rows := range d.live {
		if len(rows) > 0 {
			want[table] = schedHash(rows)
		}
	}
	d.mu.Unlock()
	resp, err := schedHTTP.Get(url + "/info")
	if err != nil {
		d.mu.Lock()
		d.fail("GET /info: %v", err)
		d.mu.Unlock()
		return
	}
	var info []struct {
		CircuitHashes map[string]string `json:"circuit_hashes"`
	}
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(info) != 1 || !mapsEqualStr(info[0].CircuitHashes, want) {
		d.checks = append(d.checks, fmt.Sprintf("mismatch: ssp %v, scheduler %v", info, want))
		return
	}
	d.checks = append(d.checks, "ok")
}

func mapsEqualStr(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func (d *schedDouble) serveHeartbeat(w http.ResponseWriter, r *http.Request) {
	var hb schedHeartbeat
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &hb); err != nil {
		http.Error(w, "bad heartbeat", 400)
		return
	}
	hb.received = time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.heartbeats = append(d.heartbeats, hb)
	if !d.known {
		http.Error(w, "SSP not registered. Please re-register.", 404)
		return
	}
	if len(d.hbPlan) > 0 {
		status := d.hbPlan[0]
		d.hbPlan = d.hbPlan[1:]
		switch status {
		case 404:
			d.known, d.ready = false, false
			http.Error(w, "SSP not registered. Please re-register.", 404)
			return
		case 409:
			d.ready = false
			http.Error(w, "Buffer overflow detected. SSP needs to re-bootstrap.", http.StatusConflict)
			return
		default:
			http.Error(w, "planned", status)
			return
		}
	}
	w.WriteHeader(200)
}

var (
	reSelectFirst = regexp.MustCompile(`^SELECT \* FROM (\w+) ORDER BY id LIMIT (\d+)$`)
	reSelectAfter = regexp.MustCompile(`^SELECT \* FROM (\w+) WHERE id > (\w+:\S+) ORDER BY id LIMIT (\d+)$`)
)

// serveQuery interprets exactly the statements the original SSP sends.
func (d *schedDouble) serveQuery(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Query string `json:"query"`
	}
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		http.Error(w, "Query failed: "+err.Error(), 500)
		return
	}
	q := body.Query
	d.mu.Lock()
	d.queries = append(d.queries, q)
	snap, views := d.snapshot, d.snapViews
	var out any
	switch {
	case q == "INFO FOR DB":
		tables := map[string]string{}
		for t := range snap {
			tables[t] = "DEFINE TABLE " + t + " TYPE ANY SCHEMALESS PERMISSIONS NONE"
		}
		if len(views) > 0 {
			tables["_00_query"] = "DEFINE TABLE _00_query TYPE ANY SCHEMALESS PERMISSIONS NONE"
		}
		out = map[string]any{"accesses": map[string]any{}, "analyzers": map[string]any{}, "tables": tables}
	case q == "SELECT * FROM _00_query":
		list := []any{}
		for _, id := range slices.Sorted(maps.Keys(views)) {
			list = append(list, views[id])
		}
		out = list
	default:
		var table, after string
		var limit int
		if m := reSelectFirst.FindStringSubmatch(q); m != nil {
			table, limit = m[1], atoi(m[2])
		} else if m := reSelectAfter.FindStringSubmatch(q); m != nil {
			table, after, limit = m[1], m[2], atoi(m[3])
		} else {
			d.fail("unexpected proxy query %q", q)
			d.mu.Unlock()
			http.Error(w, "Query failed: unsupported", 500)
			return
		}
		d.pages++
		gate, gated := d.gate, d.gated
		if gate != nil && d.pages > 1 {
			d.mu.Unlock()
			if gated != nil {
				select {
				case <-gated:
				default:
					close(gated)
				}
			}
			<-gate
			d.mu.Lock()
		}
		ids := slices.Collect(maps.Keys(snap[table]))
		sort.Slice(ids, func(i, j int) bool { return surrealIDLess(ids[i], ids[j]) })
		list := []any{}
		for _, id := range ids {
			if after != "" && !surrealIDLess(after, id) {
				continue
			}
			if len(list) == limit {
				break
			}
			list = append(list, snap[table][id])
		}
		out = list
	}
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// surrealIDLess orders record ids as SurrealDB does: a numeric key is a
// number, and numbers sort before strings.
func surrealIDLess(a, b string) bool {
	_, ra, _ := strings.Cut(a, ":")
	_, rb, _ := strings.Cut(b, ":")
	na, errA := strconv.ParseInt(ra, 10, 64)
	nb, errB := strconv.ParseInt(rb, 10, 64)
	switch {
	case errA == nil && errB == nil:
		return na < nb
	case errA == nil:
		return true
	case errB == nil:
		return false
	}
	return ra < rb
}

// schedHash is the scheduler's table hash, written out independently of
// Troupe's: rows sorted by raw id, blake3 over raw_id 0 json 0, the JSON
// with sorted keys (encoding/json sorts map keys; the test data holds no
// floats and no <, >, &, which encoding/json would write otherwise than
// serde_json).
func schedHash(rows map[string]map[string]any) string {
	type pair struct {
		raw  string
		json []byte
	}
	var pairs []pair
	for id, rec := range rows {
		_, raw, _ := strings.Cut(id, ":")
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(rec)
		pairs = append(pairs, pair{raw, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))})
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].raw < pairs[j].raw })
	h := blake3.New(32, nil)
	for _, p := range pairs {
		h.Write([]byte(p.raw))
		h.Write([]byte{0})
		h.Write(p.json)
		h.Write([]byte{0})
	}
	return "b3:" + hex.EncodeToString(h.Sum(nil))
}

// liveHashes are the dataset's hashes now.
func (d *schedDouble) liveHashes() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]string{}
	for table, rows := range d.live {
		if len(rows) > 0 {
			out[table] = schedHash(rows)
		}
	}
	return out
}

// answerHeartbeats queues statuses for the next heartbeats.
func (d *schedDouble) answerHeartbeats(statuses ...int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hbPlan = append(d.hbPlan, statuses...)
}

// answerRegistrations queues statuses for the next registrations (202 is
// a normal answer).
func (d *schedDouble) answerRegistrations(statuses ...int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.registerPlan = append(d.registerPlan, statuses...)
}

// closeGate makes page queries after the next one wait until openGate.
func (d *schedDouble) closeGate() (waiting <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gate, d.gated, d.pages = make(chan struct{}), make(chan struct{}), 0
	return d.gated
}

func (d *schedDouble) openGate() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gate != nil {
		close(d.gate)
		d.gate = nil
	}
}

// snapshotOf returns a copy of what the double holds, under its lock.
func (d *schedDouble) state() (registrations []map[string]any, heartbeats []schedHeartbeat, queries []string, checks []string, replays int, ready bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.registrations), slices.Clone(d.heartbeats), slices.Clone(d.queries), slices.Clone(d.checks), d.replays, d.ready
}

// waitFor polls cond until it holds, for up to 60 s.
func (d *schedDouble) waitFor(what string, cond func() bool) {
	d.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			d.t.Fatalf("waited 60s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitReady waits until the double promoted the SSP (polled ready,
// replayed, checked the hashes), n times in all.
func (d *schedDouble) waitChecks(n int) []string {
	d.t.Helper()
	var checks []string
	d.waitFor(fmt.Sprintf("%d post-replay checks", n), func() bool {
		_, _, _, checks, _, _ = d.state()
		return len(checks) >= n
	})
	return checks
}

// health reads the SSP's /health.
func sspHealth(t *testing.T, s *server) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.views+"/health", nil)
	resp, err := schedHTTP.Do(req)
	if err != nil {
		t.Fatalf("GET /health: %v", err)
	}
	defer resp.Body.Close()
	var h struct{ Status string }
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &h)
	return resp.StatusCode, h.Status
}
