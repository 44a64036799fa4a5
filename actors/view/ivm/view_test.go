package ivm

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// A fixture is tables and views driven by a test, which checks after each
// change that every view equals Evaluate.
type fixture struct {
	t      *testing.T
	tables *Tables
	views  []*fixtureView
}

type fixtureView struct {
	*View
	sel    *surql.Select
	params map[string]any
	opts   Options
}

func newFixture(t *testing.T) *fixture {
	return &fixture{t: t, tables: NewTables()}
}

// decode decodes a JSON object as the front door does.
func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	if s == "" {
		return nil
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

func (f *fixture) view(query string, params string) *fixtureView {
	f.t.Helper()
	return f.viewWith(query, params, Options{})
}

func (f *fixture) viewWith(query string, params string, opts Options) *fixtureView {
	f.t.Helper()
	sel, err := surql.Parse(query)
	if err != nil {
		f.t.Fatalf("Parse(%q): %v", query, err)
	}
	p := decode(f.t, params)
	v, err := CompileWith(sel, p, opts)
	if err != nil {
		f.t.Fatalf("Compile(%q): %v", query, err)
	}
	v.Load(f.tables)
	fv := &fixtureView{View: v, sel: sel, params: p, opts: opts}
	f.views = append(f.views, fv)
	f.check()
	return fv
}

// apply applies a change to the tables and every view, and returns the
// deltas of the views, in the order they were made.
func (f *fixture) apply(op Op, table, id, record string) []Delta {
	f.t.Helper()
	ev, err := f.tables.Apply(Change{Op: op, Table: table, ID: id, Record: decode(f.t, record)})
	if err != nil {
		f.t.Fatalf("Apply: %v", err)
	}
	var deltas []Delta
	for _, v := range f.views {
		deltas = append(deltas, v.Apply(f.tables, ev))
	}
	f.check()
	return deltas
}

func (f *fixture) check() {
	f.t.Helper()
	for _, v := range f.views {
		want, err := EvaluateWith(f.tables, v.sel, v.params, v.opts)
		if err != nil {
			f.t.Fatal(err)
		}
		if got := v.Result(); !rowsEqual(got, want) {
			f.t.Fatalf("%s:\nincremental:\n%s\nfrom scratch:\n%s", v.sel, formatRows(got), formatRows(want))
		}
	}
}

func ids(rows []Row) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

func TestWindowRefillsFromTheTable(t *testing.T) {
	f := newFixture(t)
	for i, price := range []string{"10", "50", "30", "20", "40"} {
		f.apply(Create, "product", "product:"+string(rune('a'+i)), `{"price": `+price+`}`)
	}
	v := f.view("SELECT * FROM product ORDER BY price DESC LIMIT 2 START 1", "")
	if got := ids(v.Result()); !slices.Equal(got, []string{"product:e", "product:c"}) {
		t.Fatalf("result %v", got)
	}
	// The top product leaves: every row shifts up one place.
	d := f.apply(Delete, "product", "product:b", "")[0]
	if !slices.Equal(ids(d.Removals), []string{"product:e"}) || !slices.Equal(ids(d.Additions), []string{"product:d"}) {
		t.Errorf("delete: removals %v additions %v", ids(d.Removals), ids(d.Additions))
	}
	if want := []Position{{"product:d", 1}}; !reflect.DeepEqual(d.Order, want) {
		t.Errorf("delete: order %v, want %v", d.Order, want)
	}
	// A member moves within the window.
	d = f.apply(Update, "product", "product:d", `{"price": 35}`)[0]
	if !slices.Equal(ids(d.Updates), []string{"product:d"}) || !reflect.DeepEqual(d.Order, []Position{{"product:d", 0}}) {
		t.Errorf("move: updates %v order %v", ids(d.Updates), d.Order)
	}
	// A change outside the window changes nothing.
	if d := f.apply(Update, "product", "product:a", `{"price": 5}`)[0]; !d.Empty() || d.Order != nil || d.Hash != v.Hash() {
		t.Errorf("change below the window: %+v", d)
	}
}

func TestUpdateOfUnknownRecordCreatesIt(t *testing.T) {
	f := newFixture(t)
	v := f.view("SELECT * FROM user", "")
	d := f.apply(Update, "user", "user:1", `{"name": "ann", "_00_rv": 3}`)[0]
	want := []Row{{ID: "user:1", Version: 3, Record: map[string]any{"id": surql.NewRecordID("user", "1"), "name": "ann", "_00_rv": int64(3)}}}
	if !rowsEqual(d.Additions, want) {
		t.Errorf("additions %v, want %v", d.Additions, want)
	}
	if d := f.apply(Delete, "user", "user:2", "")[0]; !d.Empty() {
		t.Errorf("delete of an unknown record: %+v", d)
	}
	// The same content again is no change.
	if d := f.apply(Create, "user", "user:1", `{"name": "ann", "_00_rv": 3}`)[0]; !d.Empty() {
		t.Errorf("same content: %+v", d)
	}
	if d := f.apply(Update, "user", "user:1", `{"name": "ann", "_00_rv": 4}`)[0]; len(d.Updates) != 1 || d.Updates[0].Version != 4 {
		t.Errorf("version bump: %+v", d)
	}
	if v.Len() != 1 {
		t.Errorf("Len = %d", v.Len())
	}
}

func TestGroupRows(t *testing.T) {
	f := newFixture(t)
	v := f.view("SELECT category, count() AS n, math::sum(price) AS total FROM product GROUP BY category ORDER BY n DESC", "")
	f.apply(Create, "product", "product:1", `{"category": "books", "price": 10, "_00_rv": 2}`)
	f.apply(Create, "product", "product:2", `{"category": "books", "price": 2.5}`)
	d := f.apply(Create, "product", "product:3", `{"category": "toys", "price": 1}`)[0]
	if !slices.Equal(ids(d.Additions), []string{"product:['toys']"}) {
		t.Errorf("additions %v", ids(d.Additions))
	}
	want := []Row{
		{ID: "product:['books']", Version: 3, Record: map[string]any{"category": "books", "n": int64(2), "total": 12.5}},
		{ID: "product:['toys']", Version: 1, Record: map[string]any{"category": "toys", "n": int64(1), "total": int64(1)}},
	}
	if got := v.Result(); !rowsEqual(got, want) {
		t.Fatalf("result:\n%swant:\n%s", formatRows(got), formatRows(want))
	}
	// The float leaves the books: their sum is an integer again. A book
	// becomes a toy: the toys overtake the books.
	d = f.apply(Update, "product", "product:2", `{"category": "toys", "price": 3}`)[0]
	if !slices.Equal(ids(d.Updates), []string{"product:['books']", "product:['toys']"}) {
		t.Errorf("updates %v", ids(d.Updates))
	}
	if got := v.Result()[0].Record; !reflect.DeepEqual(got, map[string]any{"category": "toys", "n": int64(2), "total": int64(4)}) {
		t.Errorf("first group %v", got)
	}
	if got := v.Result()[1].Record["total"]; got != int64(10) {
		t.Errorf("books total %#v, want int64 10", got)
	}
	d = f.apply(Delete, "product", "product:1", "")[0]
	if !slices.Equal(ids(d.Removals), []string{"product:['books']"}) {
		t.Errorf("removals %v", ids(d.Removals))
	}
	// Integers and floats of one value group together.
	g := f.view("SELECT price, count() AS n FROM product GROUP BY price", "")
	f.apply(Create, "product", "product:4", `{"category": "toys", "price": 3.0}`)
	if got := g.Result(); len(got) != 2 || got[1].ID != "product:[3]" || got[1].Record["n"] != int64(2) {
		t.Errorf("groups %s", formatRows(got))
	}
	all := f.view("SELECT count() AS n FROM product GROUP ALL", "")
	if got := all.Result(); len(got) != 1 || got[0].ID != "product:[]" || got[0].Record["n"] != int64(3) {
		t.Errorf("GROUP ALL %s", formatRows(got))
	}
}

func TestSumIsExact(t *testing.T) {
	// Floats added and removed in any order leave the exact sum: 0.1 + 0.2
	// - 0.1 is 0.2, not 0.20000000000000004.
	f := newFixture(t)
	v := f.view("SELECT math::sum(x) AS s FROM t GROUP ALL", "")
	f.apply(Create, "t", "t:1", `{"x": 0.1}`)
	f.apply(Create, "t", "t:2", `{"x": 0.2}`)
	f.apply(Create, "t", "t:3", `{"x": "ignored"}`)
	f.apply(Delete, "t", "t:1", "")
	if got := v.Result()[0].Record["s"]; got != 0.2 {
		t.Errorf("sum = %v, want 0.2", got)
	}
}

func TestSubqueryGeneration(t *testing.T) {
	f := newFixture(t)
	f.apply(Create, "user", "user:1", `{"name": "ann"}`)
	f.apply(Create, "thread", "thread:1", `{"author": "user:1", "_00_rv": 1}`)
	v := f.view("SELECT *, (SELECT name FROM user WHERE id = $parent.author LIMIT 1)[0] AS author FROM thread", "")
	hash, gen := v.Hash(), v.Generation()
	if got := v.Result()[0].Record["author"]; !reflect.DeepEqual(got, map[string]any{"name": "ann"}) {
		t.Fatalf("author %v", got)
	}
	// A change of the user changes the thread's row, not its version.
	d := f.apply(Update, "user", "user:1", `{"name": "bea"}`)[0]
	if len(d.Updates) != 1 || d.Updates[0].Version != 1 || d.Generation != gen+1 || d.Hash == hash {
		t.Errorf("delta %+v (generation was %d, hash %s)", d, gen, hash)
	}
	// A user no thread refers to changes nothing.
	if d := f.apply(Create, "user", "user:2", `{"name": "cy"}`)[0]; !d.Empty() || v.Generation() != gen+1 {
		t.Errorf("unrelated user: %+v, generation %d", d, v.Generation())
	}
	// The thread's author changes: the subquery is run again.
	f.apply(Update, "thread", "thread:1", `{"author": "user:2", "_00_rv": 2}`)
	if got := v.Result()[0].Record["author"]; !reflect.DeepEqual(got, map[string]any{"name": "cy"}) {
		t.Errorf("author %v", got)
	}
	if !slices.Equal(v.Tables(), []string{"thread", "user"}) || v.Table() != "thread" {
		t.Errorf("Tables() = %v, Table() = %s", v.Tables(), v.Table())
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ query, want string }{
		{"SELECT * FROM t WHERE a = $parent.x", "$parent.x is only defined inside a subquery"},
		{"SELECT * FROM t WHERE a IN (SELECT * FROM u)", "subqueries are supported in the projection only"},
		{"SELECT *, (SELECT * FROM u) FROM t", "needs a name"},
		{"SELECT count() FROM t", "count() needs GROUP BY or GROUP ALL"},
		{"SELECT * FROM t GROUP BY a", "SELECT * cannot be grouped"},
		{"SELECT a, b, count() FROM t GROUP BY a", "b is neither in GROUP BY nor an aggregate"},
		{"SELECT a, count() FROM t GROUP BY c", "GROUP BY c: the field is not in the projection"},
		{"SELECT a, count() FROM t GROUP ALL", "a is neither in GROUP BY nor an aggregate"},
		{"SELECT a, (SELECT * FROM u) AS x, count() FROM t GROUP BY a", "subqueries in a grouped SELECT are not supported"},
		{"SELECT a FROM t ORDER BY b", "ORDER BY b: the field is not in the projection"},
		{"SELECT *, (SELECT * FROM u) AS x FROM t ORDER BY x", "ordering by a subquery is not supported"},
		{"SELECT a, b AS a FROM t", "two fields named a"},
		{"SELECT a.b, a FROM t", "two fields named a"},
		{"SELECT count(), count() FROM t GROUP ALL", "two fields named count"},
		{"SELECT *, (SELECT * FROM u WHERE x = $parent.y.z AND w IN (SELECT * FROM v)) AS s FROM t", "subquery s: WHERE: subqueries are supported in the projection only"},
	}
	for _, tc := range tests {
		_, err := Compile(surql.MustParse(tc.query), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%q) = %v, want an error containing %q", tc.query, err, tc.want)
		}
	}
	if _, err := Compile(surql.MustParse("SELECT * FROM t"), map[string]any{"x": make(chan int)}); err == nil {
		t.Error("Compile accepted a parameter that is not JSON")
	}
}

func TestTablesApplyErrors(t *testing.T) {
	tables := NewTables()
	for _, ch := range []Change{
		{Op: Create, ID: "a:1"},
		{Op: Create, Table: "a"},
		{Op: 9, Table: "a", ID: "a:1"},
		{Op: Create, Table: "a", ID: "a:1", Record: map[string]any{"x": json.Number("1e999")}},
	} {
		if _, err := tables.Apply(ch); err == nil {
			t.Errorf("Apply(%+v) succeeded", ch)
		}
	}
	if names := tables.Names(); len(names) != 0 {
		t.Errorf("a failed Apply stored something: %v", names)
	}
	for _, s := range []string{"CREATE", "update", "Delete"} {
		if op, err := ParseOp(s); err != nil || !strings.EqualFold(op.String(), s) {
			t.Errorf("ParseOp(%q) = %v, %v", s, op, err)
		}
	}
	if _, err := ParseOp("UPSERT"); err == nil {
		t.Error("ParseOp(UPSERT) succeeded")
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		rec  map[string]any
		want int64
	}{
		{map[string]any{}, 1},
		{map[string]any{"_00_rv": int64(7)}, 7},
		{map[string]any{"_00_rv": 7.0}, 7},
		{map[string]any{"_00_rv": 7.5}, 1},
		{map[string]any{"_00_rv": "7"}, 1},
		{map[string]any{"_00_rv": 1e30}, 1},
	}
	for _, tc := range tests {
		if got := Version(tc.rec); got != tc.want {
			t.Errorf("Version(%v) = %d, want %d", tc.rec, got, tc.want)
		}
	}
}

func TestLoadKeepsTheGeneration(t *testing.T) {
	f := newFixture(t)
	f.apply(Create, "user", "user:1", `{"name": "ann"}`)
	v := f.view("SELECT * FROM user", "")
	v.SetGeneration(7)
	v.Load(f.tables)
	if v.Generation() != 7 || v.Hash() != Hash(v.Result(), 7) {
		t.Errorf("generation %d, hash %s; want 7, %s", v.Generation(), v.Hash(), Hash(v.Result(), 7))
	}
	if v.Hash() == Hash(v.Result(), 0) {
		t.Error("the hash does not depend on the generation")
	}
}

func TestTables(t *testing.T) {
	f := newFixture(t)
	f.apply(Create, "b", "b:1", `{"x": 1}`)
	f.apply(Create, "a", "a:1", `{"x": 1}`)
	f.apply(Create, "a", "a:2", `{"id": "a:other", "x": 2}`)
	f.apply(Delete, "b", "b:1", "")
	if got := f.tables.Names(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("Names = %v", got)
	}
	if n := f.tables.Len("a"); n != 2 {
		t.Errorf("Len(a) = %d", n)
	}
	// The id of a record is the id it was ingested under.
	if rec, ok := f.tables.Get("a", "a:2"); !ok || rec["id"] != surql.NewRecordID("a", "2") || rec["x"] != int64(2) {
		t.Errorf("Get(a:2) = %v, %v", rec, ok)
	}
	ids := map[string]bool{}
	for id := range f.tables.All("a") {
		ids[id] = true
	}
	if len(ids) != 2 || !ids["a:1"] || !ids["a:2"] {
		t.Errorf("All(a) = %v", ids)
	}
}

// The hash is part of the wire protocol: clients compare it across
// restarts and versions, so it must not change.
func TestHashIsStable(t *testing.T) {
	rows := []Row{{ID: "user:1", Version: 1}, {ID: "user:2", Version: 3}}
	tests := []struct {
		rows []Row
		gen  uint64
		want string
	}{
		{nil, 0, "7ab40e090f363a7d"},
		{rows, 0, "7c98f2aa5e9c8a22"},
		{[]Row{rows[1], rows[0]}, 0, "7c98f2aa5e9c8a22"}, // the rows count as a set
		{rows, 1, "c6454aedbcae4dbb"},
		{[]Row{{ID: "user:1", Version: 2}, rows[1]}, 0, "db40a0419d8e59d2"},
	}
	for _, tc := range tests {
		if got := Hash(tc.rows, tc.gen); got != tc.want {
			t.Errorf("Hash(%v, %d) = %s, want %s", tc.rows, tc.gen, got, tc.want)
		}
	}
}

// A view with a LIMIT keeps only its window and a margin of rows, however
// many its WHERE accepts, and refills from the table when rows leave.
func TestLimitViewKeepsFewRows(t *testing.T) {
	f := newFixture(t)
	for i := range 200 {
		f.apply(Create, "t", fmt.Sprint("t:", i), fmt.Sprintf(`{"n": %d}`, i%50))
	}
	v := f.view("SELECT * FROM t ORDER BY n DESC, id LIMIT 3 START 1", "")
	keep := 1 + 2*3 + windowMargin
	held := func() {
		t.Helper()
		if n := v.tree.len(); n > keep || n != len(v.rows) {
			t.Fatalf("the view holds %d rows (map %d), at most %d", n, len(v.rows), keep)
		}
	}
	held()
	// Take the best rows away one by one: each time the window refills
	// (f.apply checks the result against Evaluate).
	for i := 199; i >= 100; i-- {
		if i%50 >= 40 {
			f.apply(Delete, "t", fmt.Sprint("t:", i), "")
		} else {
			f.apply(Update, "t", fmt.Sprint("t:", i), `{"n": 100}`) // to the top
		}
		held()
	}
	if got := ids(v.Result()); !slices.Equal(got, []string{"t:101", "t:102", "t:103"}) {
		t.Fatalf("result %v", got)
	}
}

// Rows whose records give a subquery the same $parent values share one
// subview, which goes when its last row leaves the window.
func TestRowsShareSubviews(t *testing.T) {
	f := newFixture(t)
	f.apply(Create, "user", "user:1", `{"name": "ann"}`)
	f.apply(Create, "user", "user:2", `{"name": "bob"}`)
	for i := range 20 {
		f.apply(Create, "item", fmt.Sprint("item:", i), `{"owner": "user:1"}`)
	}
	v := f.view("SELECT *, (SELECT name FROM user WHERE id = $parent.owner) AS who, (SELECT id FROM user) AS all FROM item", "")
	if len(v.shares) != 2 {
		t.Fatalf("%d subviews for one owner and one subquery without $parent, want 2", len(v.shares))
	}
	f.apply(Update, "item", "item:3", `{"owner": "user:2"}`)
	f.apply(Update, "user", "user:1", `{"name": "cy"}`) // both subviews of user:1's rows change
	if len(v.shares) != 3 {
		t.Fatalf("%d subviews for two owners, want 3", len(v.shares))
	}
	f.apply(Delete, "item", "item:3", "")
	if len(v.shares) != 2 {
		t.Fatalf("%d subviews after user:2's only row left, want 2", len(v.shares))
	}
}
