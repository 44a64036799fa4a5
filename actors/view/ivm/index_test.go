package ivm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/troupe-run/troupe/actors/view/surql"
)

func TestIndex(t *testing.T) {
	views := map[string]string{
		"owner":    "SELECT * FROM post WHERE owner = $owner AND draft = false",
		"status":   "SELECT * FROM post WHERE status IN ['open', 'held'] ORDER BY at LIMIT 5",
		"contains": "SELECT * FROM post WHERE ['x'] CONTAINS tag",
		"number":   "SELECT * FROM post WHERE n = 2",
		"none":     "SELECT * FROM post WHERE archived = NONE",
		"any":      "SELECT * FROM post WHERE score > 3",
		"record":   "SELECT * FROM post WHERE owner = user:1",
		"prefix":   "SELECT * FROM post WHERE owner = 'user*'", // a plain string, as in SurrealDB
		"or":       "SELECT * FROM post WHERE owner = $owner OR n = 2",
		"sub":      "SELECT *, (SELECT * FROM user WHERE id = $parent.owner) AS o FROM post WHERE owner = $owner",
		"self":     "SELECT *, (SELECT id FROM post WHERE n = $parent.n) AS same FROM post WHERE n = 2",
	}
	index := NewIndex()
	for id, q := range views {
		v, err := Compile(surql.MustParse(q), map[string]any{"owner": "user:1"})
		if err != nil {
			t.Fatal(err)
		}
		index.Add(id, v)
	}
	always := []string{"any", "or", "self"}
	tests := []struct {
		ev   Event
		want []string
	}{
		{Event{Table: "post", New: map[string]any{"owner": surql.NewRecordID("user", "1"), "archived": true}}, []string{"owner", "record", "sub"}},
		{Event{Table: "post", New: map[string]any{"owner": "user*", "archived": true}}, []string{"prefix"}},
		{Event{Table: "post", Old: map[string]any{"status": "held", "n": 2.0}, New: map[string]any{"status": "done", "n": int64(3)}},
			[]string{"number", "none", "status"}},
		{Event{Table: "post", New: map[string]any{"tag": "x", "archived": true}}, []string{"contains"}},
		{Event{Table: "user", New: map[string]any{}}, []string{"sub"}},
		{Event{Table: "comment", New: map[string]any{}}, nil},
	}
	for i, tc := range tests {
		want := tc.want
		if tc.ev.Table == "post" {
			want = slices.Concat(want, always)
		}
		slices.Sort(want)
		if got := index.Match(tc.ev); !slices.Equal(got, want) {
			t.Errorf("%d: Match = %v, want %v", i, got, want)
		}
	}

	if v, ok := index.View("sub"); !ok || v.Table() != "post" {
		t.Errorf("View(sub) = %v, %v", v, ok)
	}

	// Replacing and removing views leaves no trace of them.
	v, _ := Compile(surql.MustParse("SELECT * FROM post WHERE owner = 'user:2'"), nil)
	index.Add("owner", v)
	if got := index.Match(tests[0].ev); slices.Contains(got, "owner") {
		t.Errorf("the replaced view is still found: %v", got)
	}
	for id := range views {
		index.Remove(id)
	}
	index.Remove("missing")
	if index.Len() != 0 || len(index.Match(Event{Table: "post", New: map[string]any{"owner": "user:2"}})) != 0 {
		t.Errorf("after removing every view: %d views", index.Len())
	}
	for _, ti := range index.tables {
		if len(ti.every) != 0 || len(ti.fields) != 0 {
			t.Errorf("the index keeps entries of removed views: %+v", ti)
		}
	}
}

// Views ranged on a number are found only by the events whose value
// enters or leaves their range; a value that is no number finds them all.
func TestIndexRanges(t *testing.T) {
	views := map[string]string{
		"gt10":   "SELECT * FROM p WHERE price > 10",
		"le5":    "SELECT * FROM p WHERE 5 >= price AND ok != false",
		"b20_30": "SELECT * FROM p WHERE price >= 20 AND price < 30 ORDER BY price LIMIT 3",
		"b0_100": "SELECT * FROM p WHERE price > 0 AND price < 100",
		"other":  "SELECT * FROM p WHERE n > 1",
	}
	index := NewIndex()
	for id, q := range views {
		v, err := Compile(surql.MustParse(q), nil)
		if err != nil {
			t.Fatal(err)
		}
		index.Add(id, v)
	}
	tests := []struct {
		old, new any
		want     []string
	}{
		{nil, int64(25), []string{"b0_100", "b20_30", "gt10"}},
		{int64(3), 7.5, []string{"b0_100", "le5"}},
		{int64(200), int64(300), []string{"gt10"}},
		{int64(-1), int64(-2), []string{"le5"}},
		{"x", int64(-2), []string{"b0_100", "b20_30", "gt10", "le5"}},
		{int64(30), int64(30), []string{"b0_100", "gt10"}}, // < 30 leaves 30 out
		{int64(10), 20.0, []string{"b0_100", "b20_30", "gt10"}},
		{int64(10), int64(5), []string{"b0_100", "le5"}},                       // > 10 leaves 10 out, >= 5 takes 5
		{int64(0), int64(100), []string{"gt10", "le5"}},                        // > 0 and < 100 leave both out
		{math.Inf(1), int64(100), []string{"b0_100", "b20_30", "gt10", "le5"}}, // no number a range holds
	}
	for i, tc := range tests {
		ev := Event{Table: "p", New: map[string]any{"price": tc.new}}
		if tc.old != nil {
			ev.Old = map[string]any{"price": tc.old}
		}
		want := append(slices.Clone(tc.want), "other")
		slices.Sort(want)
		if got := index.Match(ev); !slices.Equal(got, want) {
			t.Errorf("%d: Match = %v, want %v", i, got, want)
		}
	}
	for id := range views {
		index.Remove(id)
	}
	if got := index.Match(Event{Table: "p", New: map[string]any{"price": int64(1)}}); len(got) != 0 {
		t.Errorf("after removing every view: %v", got)
	}
}

// Views with ORDER BY and LIMIT, with no guard or guarded by one value,
// are found only by the events that reach their window's boundary (among
// the events of their value), which moves as they apply events: a
// property test against Evaluate, over a table large enough that the views
// keep few of its rows. Every view the index does not match must be up to
// date without the event. With no margin past the windows, the views
// refill often, which moves their boundaries past rows they did not keep.
func TestIndexWindows(t *testing.T) {
	for _, margin := range []int{0, windowMargin} {
		t.Run(fmt.Sprint("margin=", margin), func(t *testing.T) {
			defer func(m int) { windowMargin = m }(windowMargin)
			windowMargin = margin
			indexWindows(t)
		})
	}
}

func indexWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	tables := NewTables()
	price := func() any {
		switch rng.IntN(12) {
		case 0:
			return "cheap" // a string ranks after every number
		case 1:
			return nil
		case 2:
			return 2.5
		}
		return int64(rng.IntN(1000))
	}
	change := func() Change {
		if rng.IntN(10) == 0 { // an owner, which a subquery reads (of a table sorted before p)
			return Change{Op: Update, Table: "a", ID: fmt.Sprint("a:", rng.IntN(3)), Record: map[string]any{"n": int64(rng.IntN(5))}}
		}
		ch := Change{Op: Update, Table: "p", ID: fmt.Sprint("p:", rng.IntN(150))}
		if rng.IntN(10) == 0 {
			ch.Op = Delete
			return ch
		}
		ch.Record = map[string]any{"owner": fmt.Sprint("a:", rng.IntN(3))}
		if rng.IntN(10) > 0 {
			ch.Record["price"] = price()
		}
		return ch
	}
	for range 150 {
		if _, err := tables.Apply(change()); err != nil {
			t.Fatal(err)
		}
	}
	type tested struct {
		sel, all *surql.Select // all: without START and LIMIT
		view     *View
	}
	index := NewIndex()
	views := map[string]tested{}
	for i := range 40 {
		q := fmt.Sprintf("SELECT * FROM p ORDER BY price%s LIMIT %d", []string{"", " DESC"}[i%2], rng.IntN(6))
		switch i % 5 {
		case 1: // a subquery of another table: every event of that table finds it
			q = fmt.Sprintf("SELECT *, (SELECT * FROM a WHERE id = $parent.owner) AS o FROM p ORDER BY price LIMIT %d", 1+rng.IntN(4))
		case 2:
			q = fmt.Sprintf("SELECT price AS pr, owner FROM p WHERE owner != a:2 ORDER BY pr%s, owner LIMIT %d START %d",
				[]string{"", " DESC"}[rng.IntN(2)], 1+rng.IntN(4), rng.IntN(4))
		case 3: // guarded by one owner: a window in the index of that owner
			q = fmt.Sprintf("SELECT * FROM p WHERE owner = a:%d%s ORDER BY price%s LIMIT %d", rng.IntN(3),
				[]string{"", " AND price != 300"}[rng.IntN(2)], []string{"", " DESC"}[rng.IntN(2)], rng.IntN(5))
		case 4:
			q = fmt.Sprintf("SELECT * FROM p WHERE price != 300 ORDER BY price%s LIMIT %d START %d", []string{"", " DESC"}[rng.IntN(2)],
				1+rng.IntN(4), rng.IntN(3))
		}
		sel := surql.MustParse(q)
		v, err := Compile(sel, nil)
		if err != nil {
			t.Fatal(err)
		}
		v.Load(tables)
		id := fmt.Sprint(i)
		all := *sel
		all.Start, all.Limit = nil, nil
		views[id] = tested{sel, &all, v}
		index.Add(id, v)
		if _, ok := index.windowed[id]; !ok {
			t.Fatalf("%s: not in a window index", q)
		}
	}
	skipped, visits := 0, 0
	for step := range 400 {
		ev, err := tables.Apply(change())
		if err != nil {
			t.Fatal(err)
		}
		matched := index.Match(ev)
		for id, tv := range views {
			visits++
			if slices.Contains(matched, id) {
				tv.view.Apply(tables, ev)
			} else {
				skipped++
			}
			// The rows the view keeps are the first of its order, a
			// stronger check than its result: a missed event shows at
			// once, not when its row reaches the window.
			want, err := Evaluate(tables, tv.all, nil)
			if err != nil {
				t.Fatal(err)
			}
			var kept, first []string // ids and versions
			for e := range tv.view.tree.from(0) {
				kept = append(kept, fmt.Sprint(e.id, " v", e.version))
			}
			for _, r := range want[:min(len(want), len(kept))] {
				first = append(first, fmt.Sprint(r.ID, " v", r.Version))
			}
			if !slices.Equal(kept, first) || !tv.view.partial && len(kept) != len(want) {
				t.Fatalf("step %d: %s (matched %v) keeps:\n%v\nwant the first of:\n%s", step, tv.sel,
					slices.Contains(matched, id), kept, formatRows(want))
			}
			if step%50 != 0 {
				continue
			}
			if want, _ := Evaluate(tables, tv.sel, nil); !rowsEqual(tv.view.Result(), want) {
				t.Fatalf("step %d: %s: result\n%s\nwant:\n%s", step, tv.sel, formatRows(tv.view.Result()), formatRows(want))
			}
		}
		if step == 250 { // views replaced and removed leave no trace
			for id, tv := range views {
				if n, _ := strconv.Atoi(id); n < 20 {
					index.Remove(id)
					delete(views, id)
					continue
				}
				index.Add(id, tv.view)
			}
		}
	}
	if skipped == 0 {
		t.Error("the index matched every view for every event")
	}
	t.Logf("%d of %d view visits skipped", skipped, visits)
	for id := range views {
		index.Remove(id)
	}
	for _, ti := range index.tables {
		if len(ti.windows) != 0 || len(index.windowed) != 0 || len(ti.every) != 0 || len(ti.fields) != 0 {
			t.Errorf("the index keeps removed views: %v %v %v %v", ti.windows, index.windowed, ti.every, ti.fields)
		}
	}
}
