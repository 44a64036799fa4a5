package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// Helpers shared by the views door's end-to-end tests (views_*_test.go).

// viewsSecret is the SPKY_AUTH_SECRET of the spec's examples.
const viewsSecret = "your-secret-token"

// startViewsServer starts troupe with env (NAME=value pairs) added to its
// environment: the views door reads SPKY_AUTH_SECRET and
// TTL_CLEANUP_INTERVAL_SECS from the process environment. t.Setenv
// restores the test process's environment when the test ends (the tests
// of this package are not parallel).
func startViewsServer(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		t.Setenv(name, value)
	}
	return startServer(t, args...)
}

// viewsAPI is a client of the views door.
type viewsAPI struct {
	t    *testing.T
	s    *server
	auth string // the Authorization header sent by default
}

// newViewsAPI returns a client that sends Authorization: Bearer token.
func newViewsAPI(t *testing.T, s *server, token string) *viewsAPI {
	return &viewsAPI{t: t, s: s, auth: "Bearer " + token}
}

var viewsHTTP = &http.Client{Timeout: 30 * time.Second}

// raw sends a request with exactly the given headers (no Authorization
// unless listed) and body (string or []byte as is, nil for none, anything
// else JSON-encoded).
func (v *viewsAPI) raw(method, path string, body any, headers ...string) (int, []byte, http.Header) {
	v.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			v.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, v.s.views+path, rd)
	if err != nil {
		v.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := viewsHTTP.Do(req)
	if err != nil {
		v.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header
}

// do sends a request with the client's Authorization header and JSON
// content type.
func (v *viewsAPI) do(method, path string, body any) (int, []byte) {
	v.t.Helper()
	status, out, _ := v.raw(method, path, body, "Content-Type", "application/json", "Authorization", v.auth)
	return status, out
}

// mustDo sends a request that must answer 200.
func (v *viewsAPI) mustDo(method, path string, body any) []byte {
	v.t.Helper()
	status, out := v.do(method, path, body)
	if status != http.StatusOK {
		v.t.Fatalf("%s %s %v: %d %s", method, path, body, status, out)
	}
	return out
}

// ingest applies one change, which must be accepted with 200 and an empty
// body.
func (v *viewsAPI) ingest(table, op, id string, record any) {
	v.t.Helper()
	body := map[string]any{"table": table, "op": op, "id": id}
	if record != nil {
		body["record"] = record
	}
	if out := v.mustDo("POST", "/ingest", body); len(out) != 0 {
		v.t.Fatalf("ingest %s %s: body %q, want none", op, id, out)
	}
}

// viewsRow is one row of a view's result as the door writes it.
type viewsRow struct {
	ID      string          `json:"id"`
	Version int64           `json:"version"`
	Record  json.RawMessage `json:"record"`
}

// viewsResult is the answer to POST /view/register.
type viewsResult struct {
	ID         string     `json:"id"`
	Hash       string     `json:"hash"`
	Generation uint64     `json:"generation"`
	Records    []viewsRow `json:"records"`
}

// register registers a view (ttl 1h, client "it") that must be accepted.
func (v *viewsAPI) register(id, surql string, params any) viewsResult {
	v.t.Helper()
	body := map[string]any{"id": id, "surql": surql, "clientId": "it", "ttl": "1h"}
	if params != nil {
		body["params"] = params
	}
	return v.registerBody(body)
}

// registerBody posts a registration that must be accepted.
func (v *viewsAPI) registerBody(body map[string]any) viewsResult {
	v.t.Helper()
	out := v.mustDo("POST", "/view/register", body)
	var r viewsResult
	if err := json.Unmarshal(out, &r); err != nil {
		v.t.Fatalf("register %v: %v: %s", body, err, out)
	}
	if r.Records == nil || r.Hash == "" || r.ID != body["id"] {
		v.t.Fatalf("register %v: answer not in the spec's shape: %s", body, out)
	}
	return r
}

// viewsDebug is the answer to GET /debug/view/:id.
type viewsDebug struct {
	ViewID            string          `json:"view_id"`
	CacheSize         int             `json:"cache_size"`
	LastHash          string          `json:"last_hash"`
	Format            *string         `json:"format"`
	Cache             []viewsRow      `json:"cache"`
	SubqueryTables    []string        `json:"subquery_tables"`
	ReferencedTables  []string        `json:"referenced_tables"`
	ContentGeneration uint64          `json:"content_generation"`
	SubqueryCache     json.RawMessage `json:"subquery_cache"`
	Surql             string          `json:"surql"`
	ClientID          string          `json:"client_id"`
	TTLMs             int64           `json:"ttl_ms"`
	raw               []byte
}

// debug reads a view that must exist.
func (v *viewsAPI) debug(id string) viewsDebug {
	v.t.Helper()
	out := v.mustDo("GET", "/debug/view/"+id, nil)
	var d viewsDebug
	if err := json.Unmarshal(out, &d); err != nil {
		v.t.Fatalf("debug/view/%s: %v: %s", id, err, out)
	}
	if d.ViewID != id || d.Cache == nil || d.CacheSize != len(d.Cache) || d.LastHash == "" {
		v.t.Fatalf("debug/view/%s: not in the spec's shape: %s", id, out)
	}
	d.raw = out
	return d
}

// debugStatus returns the status of GET /debug/view/:id.
func (v *viewsAPI) debugStatus(id string) (int, []byte) {
	v.t.Helper()
	return v.do("GET", "/debug/view/"+id, nil)
}

// viewsInfo is the one entity of GET /info.
type viewsInfo struct {
	Entity        string            `json:"entity"`
	ID            string            `json:"id"`
	Status        string            `json:"status"`
	Views         int               `json:"views"`
	RefMode       string            `json:"ref_mode"`
	Version       string            `json:"version"`
	Uptime        *int64            `json:"uptime_seconds"`
	CircuitTables map[string]int    `json:"circuit_tables"`
	CircuitHashes map[string]string `json:"circuit_hashes"`
}

// info reads GET /info, without authentication (it is public).
func (v *viewsAPI) info() viewsInfo {
	v.t.Helper()
	status, out, _ := v.raw("GET", "/info", nil)
	var list []viewsInfo
	if status != http.StatusOK || json.Unmarshal(out, &list) != nil || len(list) != 1 {
		v.t.Fatalf("GET /info: %d %s, want 200 and a list of one entity", status, out)
	}
	i := list[0]
	if i.Entity != "ssp" || i.Uptime == nil || i.CircuitTables == nil || i.CircuitHashes == nil {
		v.t.Fatalf("GET /info: not in the spec's shape: %s", out)
	}
	return i
}

// waitReady polls the views door's /health until it answers 200
// {"status":"ready"}: after a restart the views are rebuilt from the store.
func (v *viewsAPI) waitReady() {
	v.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, out, _ := v.raw("GET", "/health", nil)
		if status == http.StatusOK {
			if !jsonEqual(out, []byte(`{"status":"ready"}`)) {
				v.t.Fatalf("/health: 200 %s", out)
			}
			return
		}
		if status != http.StatusServiceUnavailable || !jsonEqual(out, []byte(`{"status":"bootstrapping"}`)) {
			v.t.Fatalf("/health while starting: %d %s, want 503 {\"status\":\"bootstrapping\"}", status, out)
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("the views door was not ready within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// viewKeys lists a result's rows as id@version, in order.
func viewKeys(recs []viewsRow) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = fmt.Sprintf("%s@%d", r.ID, r.Version)
	}
	return out
}

// viewIDs lists a result's ids, in order.
func viewIDs(recs []viewsRow) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// sameViewRows reports whether two results hold the same rows in the same
// order, records compared as JSON values.
func sameViewRows(a, b []viewsRow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Version != b[i].Version || (a[i].Record == nil) != (b[i].Record == nil) {
			return false
		}
		if a[i].Record != nil && !bytes.Equal(a[i].Record, b[i].Record) && !jsonEqual(a[i].Record, b[i].Record) {
			return false
		}
	}
	return true
}

func showViewRows(recs []viewsRow) string {
	b, _ := json.Marshal(recs)
	return string(b)
}

// --- WebSocket client -------------------------------------------------------

// viewsFrame is any frame of the views door's WebSocket.
type viewsFrame struct {
	Type       string     `json:"type"`
	IDs        []string   `json:"ids"`
	Unknown    []string   `json:"unknown"`
	Message    string     `json:"message"`
	ViewID     string     `json:"view_id"`
	Hash       string     `json:"hash"`
	Generation *uint64    `json:"generation"`
	Initial    bool       `json:"initial"`
	Additions  []viewsRow `json:"additions"`
	Removals   []viewsRow `json:"removals"`
	Updates    []viewsRow `json:"updates"`
	Order      []struct {
		ID    string `json:"id"`
		Index *int   `json:"index"`
	} `json:"order"`
	raw []byte
}

// viewReplica is a view as a WebSocket client rebuilds it from its deltas.
type viewReplica struct {
	initialized bool
	rows        []viewsRow
	hash        string
	generation  uint64
	initials    int
	// history holds the result (id@version) after each delta that is not
	// an initial one.
	history [][]string
}

// viewsWS is a WebSocket client of the views door. A goroutine reads every
// frame: deltas are applied to per-view replicas, strictly (a removal or an
// update of a row that is not there, an addition of one that is, a row
// placed twice or not at all are errors: they betray a lost, duplicated or
// reordered delta); other frames go to ctrl.
type viewsWS struct {
	t       *testing.T
	conn    *websocket.Conn
	ctrl    chan viewsFrame
	mu      sync.Mutex
	views   map[string]*viewReplica
	errs    []string
	changed chan struct{} // closed and replaced after each delta
	done    chan struct{} // closed when the reader ends
	readErr error
	// quiet is how long waitFor waits without any delta before it gives
	// up (a hang guard, not a timing assertion).
	quiet time.Duration
}

// dialViews opens a WebSocket to /view/ws with the given Authorization
// header ("" for none) and starts reading.
func dialViews(t *testing.T, s *server, auth string) *viewsWS {
	t.Helper()
	conn, err := dialViewsConn(s, auth, nil)
	if err != nil {
		t.Fatalf("dial /view/ws: %v", err)
	}
	c := &viewsWS{t: t, conn: conn, ctrl: make(chan viewsFrame, 64), views: map[string]*viewReplica{},
		changed: make(chan struct{}), done: make(chan struct{}), quiet: 20 * time.Second}
	go c.read()
	t.Cleanup(func() {
		c.conn.Close(websocket.StatusNormalClosure, "")
		<-c.done
	})
	return c
}

func dialViewsConn(s *server, auth string, client *http.Client) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{HTTPClient: client}
	if auth != "" {
		opts.HTTPHeader = http.Header{"Authorization": {auth}}
	}
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.views, "http")+"/view/ws", opts)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, err
	}
	conn.SetReadLimit(64 << 20)
	return conn, nil
}

func (c *viewsWS) read() {
	defer close(c.done)
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
			return
		}
		var f viewsFrame
		if err := json.Unmarshal(data, &f); err != nil {
			c.fail("frame is not JSON: %s", data)
			continue
		}
		f.raw = data
		if f.Type != "delta" {
			select {
			case c.ctrl <- f:
			default:
				c.fail("too many control frames unread: %s", data)
			}
			continue
		}
		c.mu.Lock()
		c.apply(&f)
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
}

func (c *viewsWS) fail(format string, a ...any) {
	c.mu.Lock()
	c.errs = append(c.errs, fmt.Sprintf(format, a...))
	c.mu.Unlock()
}

// apply replays a delta as ws.go documents it: drop the removals and every
// row order lists, replace the updates, then insert the rows order lists
// at their indexes, in order. c.mu is held.
func (c *viewsWS) apply(f *viewsFrame) {
	bad := func(format string, a ...any) {
		c.errs = append(c.errs, fmt.Sprintf("view %s: ", f.ViewID)+fmt.Sprintf(format, a...)+": "+string(f.raw))
	}
	if f.ViewID == "" || f.Hash == "" || f.Generation == nil || f.Additions == nil || f.Removals == nil ||
		f.Updates == nil || f.Order == nil {
		bad("delta not in the documented shape")
		return
	}
	v := c.views[f.ViewID]
	if v == nil {
		v = &viewReplica{}
		c.views[f.ViewID] = v
	}
	if f.Initial {
		v.initialized, v.rows, v.initials = true, f.Additions, v.initials+1
		v.hash, v.generation = f.Hash, *f.Generation
		return
	}
	if !v.initialized {
		bad("a delta before the initial result")
		return
	}
	cur := map[string]viewsRow{}
	for _, r := range v.rows {
		cur[r.ID] = r
	}
	removed := map[string]bool{}
	for _, r := range f.Removals {
		if _, ok := cur[r.ID]; !ok {
			bad("removal of %s, which is not in the result", r.ID)
		}
		if r.Record != nil {
			bad("removal of %s carries a record", r.ID)
		}
		delete(cur, r.ID)
		removed[r.ID] = true
	}
	for _, r := range f.Updates {
		if _, ok := cur[r.ID]; !ok {
			bad("update of %s, which is not in the result", r.ID)
		}
		cur[r.ID] = r
	}
	added := map[string]viewsRow{}
	for _, r := range f.Additions {
		if _, ok := cur[r.ID]; ok {
			bad("addition of %s, which is in the result already", r.ID)
		}
		if _, dup := added[r.ID]; dup {
			bad("addition of %s twice", r.ID)
		}
		added[r.ID] = r
	}
	placed := map[string]bool{}
	for _, p := range f.Order {
		if placed[p.ID] {
			bad("order places %s twice", p.ID)
		}
		placed[p.ID] = true
	}
	for id := range added {
		if !placed[id] {
			bad("addition of %s without a place in order", id)
		}
	}
	rows := make([]viewsRow, 0, len(v.rows)+len(added))
	for _, r := range v.rows {
		if removed[r.ID] || placed[r.ID] {
			continue
		}
		rows = append(rows, cur[r.ID])
	}
	for _, p := range f.Order {
		r, ok := added[p.ID]
		if !ok {
			if r, ok = cur[p.ID]; !ok {
				bad("order places %s, neither added nor in the result", p.ID)
				continue
			}
		}
		if p.Index == nil || *p.Index < 0 || *p.Index > len(rows) {
			at := "no index"
			if p.Index != nil {
				at = fmt.Sprint("index ", *p.Index)
			}
			bad("order places %s at %s of %d rows", p.ID, at, len(rows))
			continue
		}
		rows = slices.Insert(rows, *p.Index, r)
	}
	v.rows, v.hash, v.generation = rows, f.Hash, *f.Generation
	v.history = append(v.history, viewKeys(rows))
}

// send writes a client frame.
func (c *viewsWS) send(frame any) {
	c.t.Helper()
	raw, _ := json.Marshal(frame)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, raw); err != nil {
		c.t.Fatalf("ws write %s: %v", raw, err)
	}
}

// next returns the next frame that is not a delta.
func (c *viewsWS) next() viewsFrame {
	c.t.Helper()
	select {
	case f := <-c.ctrl:
		return f
	case <-c.done:
		select {
		case f := <-c.ctrl:
			return f
		default:
		}
		c.t.Fatalf("ws closed while waiting for a frame: %v", c.readErr)
	case <-time.After(20 * time.Second):
		c.t.Fatalf("no frame within 20s")
	}
	return viewsFrame{}
}

// subscribe subscribes to ids and checks the answer: the known ones
// subscribed, the rest unknown; it waits for the initial result of each
// known one.
func (c *viewsWS) subscribe(ids []string, unknown ...string) {
	c.t.Helper()
	before := map[string]int{}
	c.mu.Lock()
	for _, id := range ids {
		if v := c.views[id]; v != nil {
			before[id] = v.initials
		}
	}
	c.mu.Unlock()
	c.send(map[string]any{"type": "subscribe", "ids": ids})
	f := c.next()
	var known []string
	for _, id := range ids {
		if !slices.Contains(unknown, id) {
			known = append(known, id)
		}
	}
	if f.Type != "subscribed" || !slices.Equal(f.IDs, known) || !slices.Equal(viewsNilIfEmpty(f.Unknown), viewsNilIfEmpty(unknown)) ||
		f.Unknown == nil {
		c.t.Fatalf("subscribe %v: got %s, want subscribed ids %v unknown %v", ids, f.raw, known, unknown)
	}
	for _, id := range known {
		c.waitFor("the initial result of "+id, func() bool {
			v := c.views[id]
			return v != nil && v.initials > before[id]
		})
	}
}

func viewsNilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// waitFor waits until cond, called with c.mu held after each delta, holds;
// it fails the test if the connection ends first or nothing has changed
// for c.quiet (a hang guard, not a timing assertion).
func (c *viewsWS) waitFor(what string, cond func() bool) {
	c.t.Helper()
	for {
		c.mu.Lock()
		ok, ch, errs := cond(), c.changed, slices.Clone(c.errs)
		readErr := c.readErr
		c.mu.Unlock()
		if len(errs) > 0 {
			c.t.Fatalf("ws client: %s", strings.Join(errs, "\n"))
		}
		if ok {
			return
		}
		if readErr != nil {
			c.t.Fatalf("waiting for %s: ws closed: %v", what, readErr)
		}
		select {
		case <-ch:
		case <-time.After(c.quiet):
			c.mu.Lock()
			state := c.describe()
			c.mu.Unlock()
			c.t.Fatalf("waiting for %s: no delta for %s; replicas:\n%s", what, c.quiet, state)
		}
	}
}

// describe prints the replicas; c.mu is held.
func (c *viewsWS) describe() string {
	var b strings.Builder
	ids := make([]string, 0, len(c.views))
	for id := range c.views {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		v := c.views[id]
		fmt.Fprintf(&b, "  %s: hash %s gen %d, %d deltas, rows %v\n", id, v.hash, v.generation, len(v.history), viewKeys(v.rows))
	}
	return b.String()
}

// replica returns a copy of the replica of view id.
func (c *viewsWS) replica(id string) viewReplica {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.views[id]
	if v == nil {
		return viewReplica{}
	}
	out := *v
	out.rows = slices.Clone(v.rows)
	out.history = slices.Clone(v.history)
	return out
}

// checkErrs fails the test if a delta broke the replay rules.
func (c *viewsWS) checkErrs() {
	c.t.Helper()
	c.mu.Lock()
	errs := slices.Clone(c.errs)
	c.mu.Unlock()
	if len(errs) > 0 {
		c.t.Fatalf("ws client: %s", strings.Join(errs, "\n"))
	}
}

// converge waits until the replica of view id equals the view's result on
// /debug/view (rows, records, hash and generation), which is read once:
// call it after the last ingest.
func (c *viewsWS) converge(api *viewsAPI, id string) viewsDebug {
	c.t.Helper()
	d := api.debug(id)
	c.waitFor(id+" to equal /debug/view", func() bool {
		v := c.views[id]
		return v != nil && v.hash == d.LastHash && v.generation == d.ContentGeneration && sameViewRows(v.rows, d.Cache)
	})
	return d
}

// --- models -----------------------------------------------------------------

// viewsModelRow is a record of the test's own model of a table.
type viewsModelRow struct {
	id  string
	rec map[string]any
}

// viewsModelVersion is a record's _00_rv, 1 when absent.
func viewsModelVersion(rec map[string]any) int64 {
	if v, ok := rec["_00_rv"].(int); ok {
		return int64(v)
	}
	return 1
}

// viewsModel evaluates a view over a model table: the rows that keep,
// sorted by less (ties by id), then START start and LIMIT limit (-1: no
// limit), as id@version.
func viewsModel(table map[string]map[string]any, keep func(map[string]any) bool,
	less func(a, b map[string]any) int, start, limit int) []string {
	var rows []viewsModelRow
	for id, rec := range table {
		if keep(rec) {
			rows = append(rows, viewsModelRow{id, rec})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if less != nil {
			if c := less(rows[i].rec, rows[j].rec); c != 0 {
				return c < 0
			}
		}
		return recordIDLess(rows[i].id, rows[j].id)
	})
	if start > len(rows) {
		start = len(rows)
	}
	rows = rows[start:]
	if limit >= 0 && limit < len(rows) {
		rows = rows[:limit]
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprintf("%s@%d", r.id, viewsModelVersion(r.rec))
	}
	return out
}

// viewsAppendState appends a state to a sequence unless it equals the last one.
func viewsAppendState(seq [][]string, s []string) [][]string {
	if len(seq) > 0 && slices.Equal(seq[len(seq)-1], s) {
		return seq
	}
	return append(seq, s)
}

// viewsSubsequence reports whether every state of got appears in want, in
// order; it returns the index in got of the first one that does not.
func viewsSubsequence(got, want [][]string) (bool, int) {
	j := 0
	for i, g := range got {
		for j < len(want) && !slices.Equal(want[j], g) {
			j++
		}
		if j == len(want) {
			return false, i
		}
		j++
	}
	return true, -1
}

// dialViewsConnURL opens a WebSocket to pathAndQuery on the views door
// without an Authorization header.
func dialViewsConnURL(s *server, pathAndQuery string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.views, "http")+pathAndQuery, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, err
	}
	return conn, nil
}

// recordIDLess orders record ids as SurrealDB does: by table, then key, a
// numeric key as a number and before string keys (item:9 < item:10 <
// item:06, whose key is a string).
func recordIDLess(a, b string) bool {
	ia, okA := surql.ParseRecordID(a)
	ib, okB := surql.ParseRecordID(b)
	if !okA || !okB {
		return a < b
	}
	return surql.Compare(ia, ib) < 0
}
