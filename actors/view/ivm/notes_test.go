package ivm

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// The tests in this file are the bugs of the original engine that NOTES.md
// lists, and its sample queries.

func TestBugDeleteThroughFilterRemoves(t *testing.T) {
	f := newFixture(t)
	v := f.view("SELECT * FROM task WHERE done = false", "")
	f.apply(Create, "task", "task:1", `{"done": false}`)
	f.apply(Create, "task", "task:2", `{"done": false}`)
	d := f.apply(Delete, "task", "task:1", "")[0]
	if !slices.Equal(ids(d.Removals), []string{"task:1"}) || len(d.Additions)+len(d.Updates) != 0 {
		t.Errorf("delta %+v, want task:1 removed", d)
	}
	if got := ids(v.Result()); !slices.Equal(got, []string{"task:2"}) {
		t.Errorf("result %v", got)
	}
}

func TestBugUpdateChangesMembership(t *testing.T) {
	f := newFixture(t)
	v := f.view("SELECT * FROM task WHERE done = false", "")
	f.apply(Create, "task", "task:1", `{"done": false}`)
	d := f.apply(Update, "task", "task:1", `{"done": true}`)[0]
	if !slices.Equal(ids(d.Removals), []string{"task:1"}) {
		t.Errorf("leaving the WHERE: %+v", d)
	}
	d = f.apply(Update, "task", "task:1", `{"done": false}`)[0]
	if !slices.Equal(ids(d.Additions), []string{"task:1"}) {
		t.Errorf("entering the WHERE: %+v", d)
	}
	if v.Len() != 1 {
		t.Errorf("Len = %d", v.Len())
	}
}

func TestBugOrderByDescOnStrings(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"bob", "ann", "cy", "Dan"} {
		f.apply(Create, "user", "user:"+name, `{"name": "`+name+`"}`)
	}
	desc := f.view("SELECT * FROM user ORDER BY name DESC", "")
	asc := f.view("SELECT * FROM user ORDER BY name", "")
	if got := ids(desc.Result()); !slices.Equal(got, []string{"user:cy", "user:bob", "user:ann", "user:Dan"}) {
		t.Errorf("DESC: %v", got)
	}
	if got := ids(asc.Result()); !slices.Equal(got, []string{"user:Dan", "user:ann", "user:bob", "user:cy"}) {
		t.Errorf("ASC: %v", got)
	}
}

func TestBugDifferentTypesAreNotEqual(t *testing.T) {
	f := newFixture(t)
	f.apply(Create, "t", "t:int", `{"n": 5}`)
	f.apply(Create, "t", "t:float", `{"n": 5.0}`)
	f.apply(Create, "t", "t:string", `{"n": "5"}`)
	f.apply(Create, "t", "t:missing", `{}`)
	f.apply(Create, "t", "t:null", `{"n": null}`)
	tests := []struct {
		query string
		want  []string
	}{
		{"SELECT * FROM t WHERE n = 5", []string{"t:float", "t:int"}},
		{"SELECT * FROM t WHERE n = '5'", []string{"t:string"}},
		{"SELECT * FROM t WHERE n != 5", []string{"t:missing", "t:null", "t:string"}},
		{"SELECT * FROM t WHERE n = NONE", []string{"t:missing"}},
		{"SELECT * FROM t WHERE n = NULL", []string{"t:null"}},
		{"SELECT * FROM t WHERE n IN [5, 'x']", []string{"t:float", "t:int"}},
	}
	for _, tc := range tests {
		rows, err := Evaluate(f.tables, surql.MustParse(tc.query), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(rows); !slices.Equal(got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.query, got, tc.want)
		}
	}
}

func TestBugTrailingTextIsNotIgnored(t *testing.T) {
	f := newFixture(t)
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		f.apply(Create, "t", "t:"+id, `{"g": "`+map[bool]string{true: "x", false: "y"}[id < "c"]+`"}`)
	}
	// START is supported: it skips rows.
	if got := ids(f.view("SELECT * FROM t START 5", "").Result()); !slices.Equal(got, []string{"t:f", "t:g"}) {
		t.Errorf("START 5: %v", got)
	}
	// GROUP BY is supported: it groups.
	if got := ids(f.view("SELECT g, count() AS n FROM t GROUP BY g", "").Result()); !slices.Equal(got, []string{"t:['x']", "t:['y']"}) {
		t.Errorf("GROUP BY: %v", got)
	}
	// FETCH is not: the query is rejected, naming it.
	if _, err := surql.Parse("SELECT * FROM t FETCH author"); err == nil || !strings.Contains(err.Error(), "FETCH is not supported") {
		t.Errorf("FETCH: %v", err)
	}
	if _, err := surql.Parse("SELECT * FROM t GROUP BY"); err == nil {
		t.Error("a dangling GROUP BY parsed")
	}
}

func TestSampleQueries(t *testing.T) {
	f := newFixture(t)
	f.apply(Create, "user", "user:1", `{"username": "ann", "email": "ann@example.com"}`)
	f.apply(Create, "user", "user:2", `{"username": "bob", "email": "bob@example.com"}`)
	for i, p := range []string{"30", "10", "20"} {
		f.apply(Create, "product", "product:"+string(rune('1'+i)), `{"price": `+p+`}`)
	}
	f.apply(Create, "thread", "thread:1", `{"title": "hello", "author": "user:1", "created_at": "2024-01-01"}`)
	f.apply(Create, "thread", "thread:2", `{"title": "help", "author": "user:2", "created_at": "2024-01-02"}`)
	f.apply(Create, "thread", "thread:3", `{"title": "shell", "author": "user:1", "created_at": "2024-01-03"}`)
	f.apply(Create, "comment", "comment:1", `{"thread": "thread:1", "text": "hi"}`)

	byUser := f.view("SELECT * FROM user WHERE username = $username AND email = $email",
		`{"username": "ann", "email": "ann@example.com"}`)
	if got := ids(byUser.Result()); !slices.Equal(got, []string{"user:1"}) {
		t.Errorf("by username and email: %v", got)
	}
	top := f.view("SELECT * FROM product ORDER BY price DESC LIMIT 2", "")
	if got := ids(top.Result()); !slices.Equal(got, []string{"product:1", "product:3"}) {
		t.Errorf("top products: %v", got)
	}
	prefix := f.viewWith("SELECT * FROM thread WHERE title = 'hel*'", "", Options{PrefixStar: true})
	if got := ids(prefix.Result()); !slices.Equal(got, []string{"thread:1", "thread:2"}) {
		t.Errorf("title = 'hel*': %v", got)
	}
	authors := f.view("SELECT *, (SELECT * FROM user WHERE id = $parent.author LIMIT 1)[0] AS author FROM thread ORDER BY created_at DESC LIMIT 10", "")
	if got := authors.Result(); len(got) != 3 || got[0].ID != "thread:3" || got[0].Record["author"].(map[string]any)["username"] != "ann" {
		t.Errorf("threads with authors:\n%s", formatRows(got))
	}
	comments := f.view("SELECT *, (SELECT * FROM comment WHERE thread = $parent.id) AS comments FROM thread", "")
	mine := f.view("SELECT * FROM thread WHERE author = $auth.id", `{"auth": {"id": "user:2"}}`)
	if got := ids(mine.Result()); !slices.Equal(got, []string{"thread:2"}) {
		t.Errorf("$auth.id: %v", got)
	}

	// Each view follows the changes.
	f.apply(Update, "user", "user:1", `{"username": "ann", "email": "ann@example.org"}`)
	if byUser.Len() != 0 {
		t.Errorf("ann changed her email, still matched")
	}
	f.apply(Create, "product", "product:4", `{"price": 25}`)
	f.apply(Delete, "product", "product:1", "")
	if got := ids(top.Result()); !slices.Equal(got, []string{"product:4", "product:3"}) {
		t.Errorf("top products after changes: %v", got)
	}
	f.apply(Update, "thread", "thread:3", `{"title": "help me", "author": "user:2", "created_at": "2024-01-03"}`)
	if got := ids(prefix.Result()); !slices.Equal(got, []string{"thread:1", "thread:2", "thread:3"}) {
		t.Errorf("title = 'hel*' after the update: %v", got)
	}
	d := f.apply(Create, "comment", "comment:2", `{"thread": "thread:1", "text": "hey"}`)[4]
	if len(d.Updates) != 1 || d.Updates[0].ID != "thread:1" {
		t.Errorf("a new comment: delta %+v", d)
	}
	want := []any{
		map[string]any{"id": surql.NewRecordID("comment", "1"), "thread": surql.NewRecordID("thread", "1"), "text": "hi"},
		map[string]any{"id": surql.NewRecordID("comment", "2"), "thread": surql.NewRecordID("thread", "1"), "text": "hey"},
	}
	if got := comments.Result()[0].Record["comments"]; !reflect.DeepEqual(got, want) {
		t.Errorf("comments %v", got)
	}
	if got := ids(mine.Result()); !slices.Equal(got, []string{"thread:2", "thread:3"}) {
		t.Errorf("$auth.id after the update: %v", got)
	}
}
