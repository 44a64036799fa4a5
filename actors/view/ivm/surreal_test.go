package ivm

import (
	"encoding/json"
	"slices"
	"testing"
)

// Record ids order as SurrealDB orders them (numeric keys are numbers,
// before string keys) wherever a view orders or compares them.
func TestRecordIDOrder(t *testing.T) {
	f := newFixture(t)
	for _, id := range []string{"user:u1", "user:10", "user:9", "user:100", "user:a"} {
		f.apply(Create, "user", id, `{"n": 1, "boss": "user:9"}`)
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"SELECT * FROM user", []string{"user:9", "user:10", "user:100", "user:a", "user:u1"}},
		{"SELECT * FROM user ORDER BY id DESC", []string{"user:u1", "user:a", "user:100", "user:10", "user:9"}},
		{"SELECT * FROM user ORDER BY n LIMIT 2", []string{"user:9", "user:10"}}, // ties at the boundary by id
		{"SELECT * FROM user LIMIT 2 START 1", []string{"user:10", "user:100"}},  // SurrealDB's order is by id
		{"SELECT * FROM user WHERE id > user:9", []string{"user:10", "user:100", "user:a", "user:u1"}},
		{"SELECT * FROM user WHERE id < user:a", []string{"user:9", "user:10", "user:100"}},
		{"SELECT * FROM user WHERE boss = user:9 ORDER BY boss, id LIMIT 1", []string{"user:9"}},
		{"SELECT * FROM user WHERE boss = 'user:9'", nil}, // a link is not a string
	}
	for _, tc := range tests {
		v := f.view(tc.query, "")
		if got := ids(v.Result()); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	g := f.view("SELECT boss, count() AS n FROM user GROUP BY boss", "")
	rows := g.Result()
	if len(rows) != 1 || rows[0].Record["n"] != int64(5) {
		t.Fatalf("GROUP BY a link: %v", rows)
	}
	out, _ := json.Marshal(rows[0].Record)
	if string(out) != `{"boss":"user:9","n":5}` {
		t.Errorf("GROUP BY a link: %s", out)
	}
	// Record ids in results keep SurrealDB's text form.
	f.apply(Create, "user", "user:⟨a b⟩", `{"n": 2, "boss": "user:⟨10⟩"}`)
	rec, _ := f.tables.Get("user", "user:⟨a b⟩")
	out, _ = json.Marshal(rec)
	if string(out) != `{"boss":"user:⟨10⟩","id":"user:⟨a b⟩","n":2}` {
		t.Errorf("record %s", out)
	}
}

// A projected path through a missing object keeps the objects along it.
func TestMissingValues(t *testing.T) {
	f := newFixture(t)
	f.apply(Create, "t", "t:1", `{"a": 1}`)
	f.apply(Create, "t", "t:2", `{"meta": {"score": 3}}`)
	v := f.view("SELECT meta.score, x.y.z AS w FROM t", "")
	var got []string
	for _, r := range v.Result() {
		out, _ := json.Marshal(r.Record)
		got = append(got, string(out))
	}
	want := []string{`{"meta":{}}`, `{"meta":{"score":3}}`}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
