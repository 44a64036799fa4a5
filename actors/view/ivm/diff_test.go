package ivm

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// The differential test: random tables, random queries of the whole subset
// and random interleavings of CREATE, UPDATE and DELETE. After every step
// each view's result equals Evaluate's, its delta is exact (it adds,
// removes and updates exactly the rows that did), replaying the delta on
// the previous result gives the new one, and the hash is the hash of the
// new result. Each event goes only to the views an Index matches; every
// other view must be up to date without it.
func TestDifferential(t *testing.T) { differential(t) }

// The same with no margin past the windows of LIMIT views: they keep as
// few rows as they can, and refill from the tables often.
func TestDifferentialSmallWindows(t *testing.T) {
	defer func(m int) { windowMargin = m }(windowMargin)
	windowMargin = 0
	differential(t)
}

func differential(t *testing.T) {
	const seeds, steps, queries = 24, 250, 8
	views := 0
	for seed := range uint64(seeds) {
		w := newWorld(seed)
		for range queries {
			q := w.query()
			sel, err := surql.Parse(q)
			if err != nil {
				t.Fatalf("seed %d: the generator wrote %q: %v", seed, q, err)
			}
			if !reflect.DeepEqual(surql.MustParse(sel.String()), sel) {
				t.Fatalf("seed %d: %q does not print back", seed, q)
			}
			v, err := CompileWith(sel, w.params, Options{Plans: w.plans}) // the views share subquery plans
			if err != nil {
				t.Fatalf("seed %d: Compile(%q): %v", seed, q, err)
			}
			v.Load(w.tables)
			c := &checked{id: fmt.Sprint(len(w.views)), query: q, sel: sel, view: v, result: v.Result()}
			w.views = append(w.views, c)
			w.index.Add(c.id, v)
			views++
		}
		for step := range steps {
			ch := w.change()
			if ch.Op != Delete && step%2 == 1 { // as the engine ingests: JSON decoded straight into Values
				raw, err := json.Marshal(ch.Record)
				if err == nil {
					ch.Record, err = DecodeRecord(raw)
				}
				if err != nil {
					t.Fatalf("seed %d step %d: %v", seed, step, err)
				}
				ch.Normalized = true
			}
			ev, err := w.tables.Apply(ch)
			if err != nil {
				t.Fatalf("seed %d step %d: Apply(%+v): %v", seed, step, ch, err)
			}
			matched := w.index.Match(ev)
			for _, c := range w.views {
				apply := c.apply
				if !slices.Contains(matched, c.id) {
					apply = c.unchanged
				}
				if err := apply(w, ev); err != nil {
					t.Fatalf("seed %d step %d: %s %s %s\nquery: %s\n%v", seed, step, ch.Op, ch.Table, ch.ID, c.query, err)
				}
			}
			if step%97 == 96 { // a reload must give the same result and hash
				c := w.views[w.rng.IntN(len(w.views))]
				hash := c.view.Hash()
				c.view.Load(w.tables)
				if !rowsEqual(c.view.Result(), c.result) || c.view.Hash() != hash {
					t.Fatalf("seed %d step %d: Load changed %s", seed, step, c.query)
				}
			}
		}
	}
	t.Logf("%d views, %d changes, %d view updates checked", views, seeds*steps, seeds*steps*queries)
}

// A checked view is a view under test with its last result.
type checked struct {
	id     string
	query  string
	sel    *surql.Select
	view   *View
	result []Row
}

func (c *checked) apply(w *world, ev Event) error {
	prev := c.result
	d := c.view.Apply(w.tables, ev)
	got := c.view.Result()
	want, err := Evaluate(w.tables, c.sel, w.params)
	if err != nil {
		return err
	}
	if !rowsEqual(got, want) {
		return fmt.Errorf("result:\n%s\nwant:\n%s", formatRows(got), formatRows(want))
	}
	if err := checkDelta(prev, got, d); err != nil {
		return fmt.Errorf("%v\nprevious:\n%s\nnew:\n%s", err, formatRows(prev), formatRows(got))
	}
	if h := Hash(got, c.view.Generation()); c.view.Hash() != h || d.Hash != h || d.Generation != c.view.Generation() {
		return fmt.Errorf("hash %s (delta %s), want %s", c.view.Hash(), d.Hash, h)
	}
	c.result = got
	return nil
}

// unchanged checks that a view the index did not match for ev is still
// up to date without applying ev.
func (c *checked) unchanged(w *world, _ Event) error {
	want, err := Evaluate(w.tables, c.sel, w.params)
	if err != nil {
		return err
	}
	if !rowsEqual(c.result, want) {
		return fmt.Errorf("the index did not match a view the event changed:\n%s\nwant:\n%s", formatRows(c.result), formatRows(want))
	}
	return nil
}

// checkDelta checks that d is exactly the change from prev to next.
func checkDelta(prev, next []Row, d Delta) error {
	before, after := byID(prev), byID(next)
	var adds, removes, updates []string
	for id, r := range after {
		if p, ok := before[id]; !ok {
			adds = append(adds, id)
		} else if !rowEqual(p, r) {
			updates = append(updates, id)
		}
	}
	for id := range before {
		if _, ok := after[id]; !ok {
			removes = append(removes, id)
		}
	}
	check := func(what string, rows []Row, want []string, source map[string]Row) error {
		var got []string
		for _, r := range rows {
			got = append(got, r.ID)
			if !rowEqual(r, source[r.ID]) {
				return fmt.Errorf("%s row %s = %v, want %v", what, r.ID, r, source[r.ID])
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s = %v, want %v", what, got, want)
		}
		return nil
	}
	if err := check("additions", d.Additions, adds, after); err != nil {
		return err
	}
	if err := check("removals", d.Removals, removes, before); err != nil {
		return err
	}
	if err := check("updates", d.Updates, updates, after); err != nil {
		return err
	}
	if replayed := replay(prev, d); !rowsEqual(replayed, next) {
		return fmt.Errorf("replayed delta (order %v) gives\n%s", d.Order, formatRows(replayed))
	}
	return nil
}

// replay applies a delta to a result as Delta's documentation says.
func replay(prev []Row, d Delta) []Row {
	drop := map[string]bool{}
	for _, r := range d.Removals {
		drop[r.ID] = true
	}
	for _, p := range d.Order {
		drop[p.ID] = true
	}
	rows := map[string]Row{}
	for _, r := range prev {
		rows[r.ID] = r
	}
	for _, r := range slices.Concat(d.Additions, d.Updates) {
		rows[r.ID] = r
	}
	var out []Row
	for _, r := range prev {
		if !drop[r.ID] {
			out = append(out, rows[r.ID])
		}
	}
	for _, p := range d.Order {
		if p.Index > len(out) {
			return nil
		}
		out = slices.Insert(out, p.Index, rows[p.ID])
	}
	return out
}

func byID(rows []Row) map[string]Row {
	m := make(map[string]Row, len(rows))
	for _, r := range rows {
		m[r.ID] = r
	}
	return m
}

func rowEqual(a, b Row) bool {
	return a.ID == b.ID && a.Version == b.Version && identical(a.Record, b.Record)
}

func rowsEqual(a, b []Row) bool { return slices.EqualFunc(a, b, rowEqual) }

func formatRows(rows []Row) string {
	var b strings.Builder
	for _, r := range rows {
		rec, _ := json.Marshal(r.Record)
		fmt.Fprintf(&b, "  %s v%d %s\n", r.ID, r.Version, rec)
	}
	return b.String()
}

// A world is the random tables and views of one seed.
type world struct {
	rng     *rand.Rand
	tables  *Tables
	index   *Index
	params  map[string]any
	plans   *Plans
	views   []*checked
	version map[string]int64
}

var tableIDs = map[string]int{"item": 14, "user": 6}

func newWorld(seed uint64) *world {
	w := &world{
		rng:     rand.New(rand.NewPCG(seed, 0x5eed)),
		tables:  NewTables(),
		index:   NewIndex(),
		plans:   NewPlans(),
		version: map[string]int64{},
	}
	w.params = map[string]any{
		"p":    w.value("n"),
		"s":    w.value("s"),
		"tags": []any{"x", "z"},
		"auth": map[string]any{"id": "user:1"},
	}
	for range 20 {
		if _, err := w.tables.Apply(w.change()); err != nil {
			panic(err)
		}
	}
	return w
}

func (w *world) pick(options ...string) string { return options[w.rng.IntN(len(options))] }

// value returns a random JSON value for a field of the generated records.
// The choices mix types on purpose: "3" next to 3, 2.0 next to 2, null next
// to a missing field.
func (w *world) value(field string) any {
	switch field {
	case "n", "age":
		switch w.rng.IntN(10) {
		case 0:
			return "3"
		case 1:
			return nil
		case 2:
			return json.Number("2.0")
		case 3:
			return json.Number(fmt.Sprint(w.rng.IntN(5)) + ".5")
		}
		return json.Number(fmt.Sprint(w.rng.IntN(5)))
	case "s", "team":
		if w.rng.IntN(12) == 0 {
			return json.Number("5")
		}
		return w.pick("", "a", "ab", "abc", "b", "ba", "B")
	case "b":
		return w.rng.IntN(2) == 0
	case "tags":
		if w.rng.IntN(6) == 0 {
			return "x"
		}
		tags := []any{}
		for _, t := range []string{"x", "y", "z"} {
			if w.rng.IntN(2) == 0 {
				tags = append(tags, t)
			}
		}
		return tags
	case "owner":
		return fmt.Sprintf("user:%d", w.rng.IntN(tableIDs["user"]+1))
	case "o":
		return map[string]any{"x": json.Number(fmt.Sprint(w.rng.IntN(3)))}
	case "name":
		return w.pick("ann", "bob", "cy", "dee")
	}
	panic("no field " + field)
}

var tableFields = map[string][]string{
	"item": {"n", "s", "b", "tags", "owner", "o"},
	"user": {"name", "age", "team"},
}

// record returns a random record; each field is missing now and then, and
// so is the version.
func (w *world) record(table, id string) map[string]any {
	rec := map[string]any{}
	for _, f := range tableFields[table] {
		if w.rng.IntN(8) > 0 {
			rec[f] = w.value(f)
		}
	}
	w.version[id]++
	if w.rng.IntN(5) > 0 {
		rec["_00_rv"] = json.Number(fmt.Sprint(w.version[id]))
	}
	return rec
}

func (w *world) change() Change {
	table := "item"
	if w.rng.IntN(10) < 3 {
		table = "user"
	}
	id := fmt.Sprintf("%s:%d", table, w.rng.IntN(tableIDs[table]))
	ch := Change{Table: table, ID: id}
	switch r := w.rng.IntN(10); {
	case r < 3:
		ch.Op = Create
	case r < 8:
		ch.Op = Update
	default:
		ch.Op = Delete
		return ch
	}
	if _, ok := w.tables.Get(table, id); ok && w.rng.IntN(8) == 0 {
		rec, _ := w.tables.Get(table, id) // the same content again
		ch.Record = rec
		return ch
	}
	ch.Record = w.record(table, id)
	return ch
}

// query returns a random query of the supported subset.
func (w *world) query() string {
	switch w.rng.IntN(6) {
	case 0, 1:
		return w.plainQuery()
	case 2, 3:
		return w.subqueryQuery()
	}
	return w.groupQuery()
}

func (w *world) plainQuery() string {
	var fields []string
	star := true
	switch w.rng.IntN(3) {
	case 0:
		fields, star = []string{"n", "s AS label", "o.x", "tags"}, false
	case 1:
		fields = []string{"*", "o.x AS ox"}
	default:
		fields = []string{"*"}
	}
	outputs := []string{"n", "label", "o.x", "tags"}
	if star {
		outputs = []string{"n", "s", "b", "o.x", "tags", "owner", "missing", "id"}
	}
	return "SELECT " + strings.Join(fields, ", ") + " FROM item" + w.where("item", 2) + w.orderBy(outputs) + w.window()
}

func (w *world) subqueryQuery() string {
	subs := []string{
		"(SELECT * FROM user WHERE id = $parent.owner LIMIT 1)[0] AS author",
		"(SELECT name, age FROM user WHERE age >= $parent.n ORDER BY age DESC, name LIMIT 2) AS olds",
		"(SELECT id, n FROM item WHERE owner = $parent.owner AND id != $parent.id ORDER BY n LIMIT 3) AS peers",
		"(SELECT team, count() AS c, math::sum(age) AS ages FROM user WHERE team >= $parent.s GROUP BY team ORDER BY c DESC LIMIT 2) AS teams",
		"(SELECT owner, count() AS c FROM item WHERE s = $parent.s GROUP BY owner) AS owners",
		"(SELECT name, (SELECT id FROM item WHERE owner = $parent.id ORDER BY id LIMIT 2) AS items FROM user WHERE team = $parent.s) AS members",
		"(SELECT * FROM user" + w.where("user", 1) + w.orderBy([]string{"name", "age"}) + w.window() + ") AS users",
	}
	w.rng.Shuffle(len(subs), func(i, j int) { subs[i], subs[j] = subs[j], subs[i] })
	fields := append([]string{"*"}, subs[:1+w.rng.IntN(2)]...)
	return "SELECT " + strings.Join(fields, ", ") + " FROM item" + w.where("item", 1) +
		w.orderBy([]string{"n", "s", "owner"}) + w.window()
}

func (w *world) groupQuery() string {
	switch w.rng.IntN(4) {
	case 0:
		return "SELECT count() AS c, math::sum(n) AS total FROM item" + w.where("item", 1) + " GROUP ALL"
	case 1:
		return "SELECT o.x AS ox, tags, math::sum(o.x) FROM item" + w.where("item", 1) + " GROUP BY ox, tags" +
			w.orderBy([]string{"ox", "tags", "`math::sum`"}) + w.window()
	case 2:
		return "SELECT s, b, count() AS c FROM item" + w.where("item", 1) + " GROUP BY s, b" +
			w.orderBy([]string{"s", "b", "c"}) + w.window()
	}
	return "SELECT s, count() AS c, math::sum(n) AS total FROM item" + w.where("item", 1) + " GROUP BY s" +
		w.orderBy([]string{"c", "total", "s"}) + w.window()
}

func (w *world) where(table string, depth int) string {
	switch w.rng.IntN(6) {
	case 0, 1:
		return ""
	case 2:
		return " WHERE " + w.guard(table)
	case 3:
		return " WHERE " + w.guard(table) + " AND " + w.condition(table, depth)
	}
	return " WHERE " + w.condition(table, depth)
}

// guard returns a condition an Index can find views by.
func (w *world) guard(table string) string {
	if table == "user" {
		return w.pick("team = 'a'", "team IN ['a', 'b', 5]", "age = 2", "id = $auth.id")
	}
	return w.pick("owner = $auth.id", "s IN ['a', 'ab', 5]", "['b', ''] CONTAINS s", "n = 2", "n = $p",
		"b = true", "o = {x: 1}", "missing = NONE", "tags = ['x']", "s == $unset", "n IN [1, 2.5, '3']")
}

var compareOps = []string{"=", "!=", "==", "<", "<=", ">", ">=", "IS", "IS NOT",
	"CONTAINS", "CONTAINSNOT", "CONTAINSALL", "CONTAINSANY", "CONTAINSNONE",
	"INSIDE", "IN", "NOTINSIDE", "ALLINSIDE", "ANYINSIDE", "NONEINSIDE"}

func (w *world) condition(table string, depth int) string {
	if depth > 0 {
		switch w.rng.IntN(5) {
		case 0:
			return "(" + w.condition(table, depth-1) + " AND " + w.condition(table, depth-1) + ")"
		case 1:
			return "(" + w.condition(table, depth-1) + " OR " + w.condition(table, depth-1) + ")"
		case 2:
			return "!(" + w.condition(table, depth-1) + ")"
		}
	}
	fields := map[string][]string{
		"item": {"n", "s", "b", "tags", "owner", "o.x", "o", "missing", "id"},
		"user": {"name", "age", "team", "id"},
	}[table]
	field := fields[w.rng.IntN(len(fields))]
	if w.rng.IntN(10) == 0 {
		return w.pick("", "!") + field // truthiness
	}
	return field + " " + compareOps[w.rng.IntN(len(compareOps))] + " " + w.operand(field)
}

// operand returns a literal or parameter to compare a field with.
func (w *world) operand(field string) string {
	switch w.rng.IntN(14) {
	case 0:
		return "$p"
	case 1:
		return "$s"
	case 2:
		return "$tags"
	case 3:
		return "$auth.id"
	case 4:
		return "$unset"
	case 5:
		return w.pick("NONE", "NULL", "true", "false")
	case 6:
		return w.pick("[1, 2.5, '3']", "['x', 'y']", "['a', 'ab', 5]", "[]")
	case 7:
		return w.pick("'a*'", "'b*'", "'*'")
	case 8:
		return w.pick("user:1", "user:⟨2⟩", "item:3")
	case 9:
		return w.pick("{x: 1}", "{x: 1.0}")
	}
	switch field {
	case "s", "name", "team", "tags", "owner", "id":
		return w.pick("''", "'a'", "'ab'", "'b'", "'x'", "'user:1'", "'item:3'")
	}
	return w.pick("0", "1", "2", "2.0", "2.5", "-1", "'3'")
}

func (w *world) orderBy(outputs []string) string {
	if w.rng.IntN(4) == 0 {
		return ""
	}
	n := 1 + w.rng.IntN(min(3, len(outputs)))
	perm := w.rng.Perm(len(outputs))[:n]
	var items []string
	for _, i := range perm {
		items = append(items, outputs[i]+w.pick("", " ASC", " DESC"))
	}
	return " ORDER BY " + strings.Join(items, ", ")
}

func (w *world) window() string {
	var s string
	if w.rng.IntN(2) == 0 {
		s += fmt.Sprintf(" LIMIT %d", w.rng.IntN(5))
	}
	if w.rng.IntN(3) == 0 {
		s += fmt.Sprintf(" START %d", w.rng.IntN(4))
	}
	return s
}
