package ivm

import (
	"slices"
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
		{int64(30), int64(30), []string{"b0_100", "b20_30", "gt10"}},
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
