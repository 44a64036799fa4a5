package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// The views' differential test: the same random workload (ingests of
// records with links, numeric and string ids, missing fields, arrays) is
// applied to Troupe over HTTP and to an embedded SurrealDB 3
// (@surrealdb/node, run in process by node), and at many checkpoints every
// view's result in Troupe (/debug/view) must equal the same query's answer
// in SurrealDB, rows in order and field values included.
//
// TROUPE_VIEWS_SURREAL_OPS sets the number of ingests (default 1000, the
// size CI runs); TROUPE_VIEWS_SURREAL_SEED a seed, or "random".
func TestViewsSurrealDifferential(t *testing.T) {
	ref := startSurrealRef(t)
	s := startViewsServer(t, []string{"SPKY_AUTH_SECRET=" + viewsSecret})
	api := newViewsAPI(t, s, viewsSecret)

	ops := 1000
	if n, err := strconv.Atoi(os.Getenv("TROUPE_VIEWS_SURREAL_OPS")); err == nil && n > 0 {
		ops = n
	}
	seed := uint64(11)
	switch env := os.Getenv("TROUPE_VIEWS_SURREAL_SEED"); env {
	case "":
	case "random":
		seed = uint64(time.Now().UnixNano())
	default:
		seed, _ = strconv.ParseUint(env, 10, 64)
	}
	t.Logf("seed %d, %d ingests", seed, ops)
	w := &surrealWorkload{rng: rand.New(rand.NewPCG(seed, 1)), live: map[string]bool{}}

	// SurrealDB 3 refuses to select from a table it does not know.
	ref.query(t, "DEFINE TABLE item SCHEMALESS; DEFINE TABLE user SCHEMALESS;")
	// Users first: subqueries read them.
	for i := 1; i <= 12; i++ {
		w.ingest(t, api, ref, "user", fmt.Sprintf("user:%d", i), false)
	}
	for i := 1; i <= 3; i++ {
		w.ingest(t, api, ref, "user", fmt.Sprintf("user:u%d", i), false)
	}
	views := w.views()
	for i, v := range views {
		id := fmt.Sprintf("diff%d", i)
		body := map[string]any{"id": id, "surql": v.query, "clientId": "it", "ttl": "1h"}
		if v.params != "" {
			body["params"] = v.params
		}
		api.registerBody(body)
	}
	checkpoints, rows := 0, 0
	check := func() {
		checkpoints++
		for i, v := range views {
			got := api.debug(fmt.Sprintf("diff%d", i))
			want := ref.query(t, v.ref)
			if !surrealSame(t, got.Cache, want) {
				t.Fatalf("checkpoint %d (seed %d): %s (params %s)\nTroupe:   %s\nSurrealDB: %s",
					checkpoints, seed, v.query, v.params, troupeRecords(got.Cache), want)
			}
			rows += len(got.Cache)
		}
	}
	check()
	for i := 1; i <= ops; i++ {
		if w.rng.IntN(10) == 0 {
			w.ingest(t, api, ref, "user", w.userID(), w.rng.IntN(4) == 0)
		} else {
			w.ingest(t, api, ref, "item", w.itemID(), w.rng.IntN(4) == 0)
		}
		if i%50 == 0 {
			check()
		}
	}
	check()
	if rows < checkpoints*len(views) {
		t.Fatalf("only %d rows compared: the workload is too thin to tell anything", rows)
	}
	t.Logf("%d views equal to SurrealDB's answers at %d checkpoints, %d rows compared", len(views), checkpoints, rows)
}

// surrealView is one view of the differential test: its query, its params
// as SurrealQL text for Troupe, and the query SurrealDB runs: the same
// params as LET statements ($auth is protected there: each $name is $p_name).
type surrealView struct {
	query, params, ref string
}

type surrealWorkload struct {
	rng  *rand.Rand
	live map[string]bool // ids that exist
}

func (w *surrealWorkload) pick(xs ...string) string { return xs[w.rng.IntN(len(xs))] }

func (w *surrealWorkload) itemID() string {
	if w.rng.IntN(4) == 0 {
		return fmt.Sprintf("item:x%d", w.rng.IntN(10))
	}
	return fmt.Sprintf("item:%d", 1+w.rng.IntN(40))
}

func (w *surrealWorkload) userID() string {
	if w.rng.IntN(5) == 0 {
		return fmt.Sprintf("user:u%d", 1+w.rng.IntN(3))
	}
	return fmt.Sprintf("user:%d", 1+w.rng.IntN(12))
}

// record makes a random record of table.
func (w *surrealWorkload) record(table string) map[string]any {
	if table == "user" {
		return map[string]any{"name": w.pick("ann", "bob", "cy", "dee"), "age": int64(w.rng.IntN(80))}
	}
	rec := map[string]any{
		"price": int64(w.rng.IntN(100)),
		"owner": w.userID(),
		"name":  fmt.Sprintf("n%d", w.rng.IntN(30)),
		"delta": int64(w.rng.IntN(11) - 5),
		"title": w.pick("n1*", "n10", "hello", "n1"),
	}
	if w.rng.IntN(5) == 0 {
		rec["price"] = float64(w.rng.IntN(100)) + 0.5
	}
	if w.rng.IntN(3) > 0 {
		var tags []any
		for _, tag := range []string{"a", "b", "c"} {
			if w.rng.IntN(2) == 0 {
				tags = append(tags, tag)
			}
		}
		if tags == nil {
			tags = []any{}
		}
		rec["tags"] = tags
	}
	if w.rng.IntN(2) == 0 {
		rec["meta"] = map[string]any{"score": int64(w.rng.IntN(10))}
	}
	return rec
}

// ingest creates, replaces or (del) deletes a record in both.
func (w *surrealWorkload) ingest(t *testing.T, api *viewsAPI, ref *surrealRef, table, id string, del bool) {
	t.Helper()
	rid, _ := surql.Link(id)
	if del {
		if !w.live[id] {
			return
		}
		delete(w.live, id)
		api.ingest(table, "DELETE", id, nil)
		ref.query(t, "DELETE "+rid.String())
		return
	}
	op := "CREATE"
	if w.live[id] {
		op = "UPDATE"
	}
	w.live[id] = true
	rec := w.record(table)
	api.ingest(table, op, id, rec)
	// SurrealDB gets the links as record ids, as Troupe reads them.
	content := surql.Format(surql.Links(normalizeForSurreal(rec)))
	ref.query(t, "UPSERT "+rid.String()+" CONTENT "+content)
}

func normalizeForSurreal(rec map[string]any) map[string]any {
	out := make(map[string]any, len(rec))
	for k, v := range rec {
		out[k] = v
	}
	return out
}

// views returns the views of the test: templates covering record id
// order and links, params as SurrealQL text, missing values, containment,
// functions, ORDER BY with ties and windows, GROUP BY and subqueries (paths
// through links in GROUP BY and $parent too).
func (w *surrealWorkload) views() []surrealView {
	var out []surrealView
	add := func(q string, params ...string) {
		v := surrealView{query: q, ref: q}
		if len(params) > 0 {
			v.params = "{ " + strings.Join(params, ", ") + " }"
			lets := ""
			for _, p := range params {
				name, value, _ := strings.Cut(p, ": ")
				lets += "LET $p_" + name + " = " + value + "; "
				v.ref = strings.ReplaceAll(v.ref, "$"+name, "$p_"+name)
			}
			v.ref = lets + v.ref
		}
		out = append(out, v)
	}
	for i := 0; i < 3; i++ {
		add("SELECT * FROM item WHERE owner = $auth.id", "auth: { id: "+w.userID()+" }")
		add("SELECT * FROM item WHERE price > $min ORDER BY price DESC, id LIMIT 5", fmt.Sprintf("min: %df", w.rng.IntN(90)))
		add(fmt.Sprintf("SELECT * FROM item ORDER BY id LIMIT 5 START %d", w.rng.IntN(10)))
		add(fmt.Sprintf("SELECT * FROM item WHERE id > item:%d LIMIT 6", 1+w.rng.IntN(40)))
		add(fmt.Sprintf("SELECT id, meta.score, price FROM item WHERE price < %d ORDER BY price, id", w.rng.IntN(100)))
		add(fmt.Sprintf("SELECT * FROM item WHERE price >= %d LIMIT 3", w.rng.IntN(100)))
		add(fmt.Sprintf("SELECT * FROM item WHERE !(price > %d) AND type::is_array(tags)", w.rng.IntN(100)))
		add(fmt.Sprintf("SELECT *, (SELECT name FROM user WHERE id = $parent.owner) AS who FROM item WHERE price > %d ORDER BY price, id LIMIT 4", w.rng.IntN(100)))
		add("SELECT * FROM item WHERE owner = " + w.userID())
		add("SELECT * FROM item WHERE owner = $auth.id ORDER BY price DESC, id LIMIT 3", "auth: { id: "+w.userID()+" }")
	}
	add(fmt.Sprintf("SELECT * FROM item WHERE owner.age > %d", w.rng.IntN(80)))
	add("SELECT id, owner.name AS who, price FROM item WHERE owner.name = 'ann' ORDER BY price, id")
	add("SELECT * FROM item ORDER BY owner.age, id LIMIT 5")
	add("SELECT * FROM item WHERE owner = 'user:1'")
	add("SELECT * FROM item WHERE owner INSIDE [user:1, user:2, user:u1]")
	add("SELECT * FROM item WHERE tags CONTAINSNONE ['a']")
	add("SELECT * FROM item WHERE ['b'] NONEINSIDE tags")
	add("SELECT * FROM item WHERE tags CONTAINSALL [] AND price < 20")
	add("SELECT * FROM item WHERE tags CONTAINSANY ['a', 'c'] AND name CONTAINSANY ['1']")
	add("SELECT * FROM item WHERE tags CONTAINSALL ['a', 'b']")
	add("SELECT * FROM item WHERE string::starts_with(name, 'n1') OR math::abs(delta) > 3")
	add("SELECT * FROM item WHERE string::lowercase(title) = 'hello' OR title = 'n1*'")
	add("SELECT owner, count() AS n, math::sum(price) AS total FROM item GROUP BY owner")
	add("SELECT owner, count() AS n FROM item WHERE price > 50 GROUP BY owner ORDER BY n DESC, owner LIMIT 3")
	add("SELECT owner.name AS who, count() AS n, math::sum(owner.age) AS ages FROM item GROUP BY who")
	add(fmt.Sprintf("SELECT id, (SELECT id FROM user WHERE age > $parent.owner.age) AS older FROM item WHERE price < %d", 20+w.rng.IntN(30)))
	add("SELECT *, (SELECT id, age FROM user WHERE name = $parent.owner.name) AS namesakes FROM item ORDER BY price DESC, id LIMIT 5")
	add("SELECT * FROM user WHERE age > 40 ORDER BY id DESC LIMIT 4")
	add("SELECT id, name FROM user WHERE id >= user:5 ORDER BY name, id")
	return out
}

// surrealSame compares Troupe's rows with SurrealDB's answer, in order,
// records by their JSON values.
func surrealSame(t *testing.T, got []viewsRow, want json.RawMessage) bool {
	t.Helper()
	var wl []any
	if err := json.Unmarshal(want, &wl); err != nil {
		t.Fatalf("SurrealDB's answer %s: %v", want, err)
	}
	if len(wl) != len(got) {
		return false
	}
	for i, r := range got {
		var g any
		if err := json.Unmarshal(r.Record, &g); err != nil {
			t.Fatalf("Troupe's record %s: %v", r.Record, err)
		}
		if !reflect.DeepEqual(g, wl[i]) {
			return false
		}
	}
	return true
}

func troupeRecords(rows []viewsRow) string {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = string(r.Record)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// surrealRef is an embedded SurrealDB run by node (integration/surrealnpm).
type surrealRef struct {
	in   io.WriteCloser
	out  *bufio.Scanner
	next int
}

func startSurrealRef(t *testing.T) *surrealRef {
	t.Helper()
	dir := surrealNpmDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", "ref.mjs")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close() // node ends when its input does
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	if !sc.Scan() || !strings.Contains(sc.Text(), `"ready":true`) {
		t.Fatalf("the embedded SurrealDB did not start: %q %v", sc.Text(), sc.Err())
	}
	return &surrealRef{in: in, out: sc}
}

// query runs q and returns the last statement's result.
func (r *surrealRef) query(t *testing.T, q string) json.RawMessage {
	t.Helper()
	r.next++
	line, _ := json.Marshal(map[string]any{"id": r.next, "q": q})
	if _, err := r.in.Write(append(line, '\n')); err != nil {
		t.Fatalf("SurrealDB: %v", err)
	}
	if !r.out.Scan() {
		t.Fatalf("SurrealDB ended: %v", r.out.Err())
	}
	var ans struct {
		ID     int             `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal(r.out.Bytes(), &ans); err != nil || ans.ID != r.next {
		t.Fatalf("SurrealDB answered %q (%v)", r.out.Text(), err)
	}
	if ans.Error != "" {
		t.Fatalf("SurrealDB refused %s: %s", q, ans.Error)
	}
	return ans.Result
}

// surrealNpmDir is integration/surrealnpm with its packages installed. npm
// ci runs once, when node_modules is missing.
func surrealNpmDir(t testing.TB) string { return surrealNpm.path(t) }

var surrealNpm = &npmFolder{name: "surrealnpm", marker: "node_modules/@surrealdb/node/package.json"}
