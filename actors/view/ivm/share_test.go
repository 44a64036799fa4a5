package ivm

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/troupe-run/troupe/actors/view/surql"
)

func TestParamsKey(t *testing.T) {
	const sub = "SELECT *, (SELECT * FROM user WHERE id = $parent.author AND role IN $roles) AS a FROM post WHERE owner = $owner"
	tests := []struct {
		query string
		a, b  map[string]any
		same  bool
	}{
		{"SELECT * FROM p WHERE owner = $owner", map[string]any{"owner": "a", "x": 1}, map[string]any{"owner": "a", "x": 2}, true},
		{"SELECT * FROM p WHERE owner = $owner", map[string]any{"owner": "a"}, map[string]any{"owner": "b"}, false},
		{"SELECT * FROM p WHERE owner = $owner", map[string]any{"owner": 1}, map[string]any{"owner": 1.0}, false},
		{"SELECT * FROM p WHERE owner = $owner", map[string]any{}, map[string]any{"owner": nil}, false},
		{"SELECT * FROM p WHERE owner = $owner", map[string]any{"owner": []any{"a", 1}}, map[string]any{"owner": []any{"a", 1}}, true},
		{"SELECT * FROM p WHERE owner = $owner", map[string]any{"owner": []any{"a", 1}}, map[string]any{"owner": []any{"a", "1"}}, false},
		{"SELECT * FROM p WHERE owner = $o.id", map[string]any{"o": map[string]any{"id": "a", "n": 1}},
			map[string]any{"o": map[string]any{"id": "a", "n": 2}}, false}, // the whole parameter counts
		{"SELECT * FROM p WHERE a = $x OR !(b IN [$y, {k: $z}])", map[string]any{"x": 1, "y": 2, "z": 3},
			map[string]any{"x": 1, "y": 2, "z": 4}, false},
		{sub, map[string]any{"owner": "a", "roles": []any{"x"}, "other": 1}, map[string]any{"owner": "a", "roles": []any{"x"}}, true},
		{sub, map[string]any{"owner": "a", "roles": []any{"x"}}, map[string]any{"owner": "a", "roles": []any{"y"}}, false},
		{sub, map[string]any{"owner": "a", "parent": 1}, map[string]any{"owner": "a", "parent": 2}, true},
	}
	for _, tc := range tests {
		sel := surql.MustParse(tc.query)
		a, err := Compile(sel, tc.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Compile(sel, tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if same := a.ParamsKey() == b.ParamsKey(); same != tc.same {
			t.Errorf("%s with %v and %v: keys %q and %q, want same = %v", tc.query, tc.a, tc.b, a.ParamsKey(), b.ParamsKey(), tc.same)
		}
	}
}

// Views whose queries hold the same subquery share its plan when it reads
// no parameter and follows no link, whatever their params; the plans of
// views no one holds are dropped.
func TestViewsShareSubqueryPlans(t *testing.T) {
	plans := NewPlans()
	compile := func(q string, params map[string]any) *View {
		t.Helper()
		v, err := CompileWith(surql.MustParse(q), params, Options{Plans: plans})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	const q = "SELECT *, (SELECT name FROM user WHERE id = $parent.owner) AS who FROM product WHERE owner = $owner"
	a, b := compile(q, map[string]any{"owner": "user:1"}), compile(q, map[string]any{"owner": "user:2"})
	other := compile("SELECT id, (SELECT name FROM user WHERE id = $parent.owner) AS who FROM product", nil)
	if a.plan == b.plan || a.plan.subs[0].plan != b.plan.subs[0].plan || other.plan.subs[0].plan != a.plan.subs[0].plan {
		t.Error("the subquery's plan is not shared")
	}
	// A subquery that reads a parameter, or a path through a link, has
	// a plan of its own.
	const withParam = "SELECT *, (SELECT name FROM user WHERE id = $parent.owner AND team = $team) AS who FROM product"
	c, d := compile(withParam, map[string]any{"team": "a"}), compile(withParam, map[string]any{"team": "b"})
	const linked = "SELECT *, (SELECT name FROM user WHERE name = $parent.owner.name) AS who FROM product"
	e, f := compile(linked, nil), compile(linked, nil)
	if c.plan.subs[0].plan == d.plan.subs[0].plan || e.plan.subs[0].plan == f.plan.subs[0].plan {
		t.Error("a subquery reading a parameter or a link shares its plan")
	}
	if !e.plan.linked || e.plan.subs[0].plan.links != e.plan.links {
		t.Error("a linked subquery does not note its links with its view")
	}

	// The shared plan answers for each view (their results are checked
	// against Evaluate by the differential test, which shares plans too).
	tables := NewTables()
	for _, ch := range []Change{
		{Op: Create, Table: "user", ID: "user:1", Record: map[string]any{"name": "ann"}},
		{Op: Create, Table: "user", ID: "user:2", Record: map[string]any{"name": "bob"}},
		{Op: Create, Table: "product", ID: "product:1", Record: map[string]any{"owner": "user:1"}},
		{Op: Create, Table: "product", ID: "product:2", Record: map[string]any{"owner": "user:2"}},
	} {
		if _, err := tables.Apply(ch); err != nil {
			t.Fatal(err)
		}
	}
	a.Load(tables)
	b.Load(tables)
	for v, want := range map[*View]string{a: "ann", b: "bob"} {
		rows := v.Result()
		if who, _ := rows[0].Record["who"].([]any); len(rows) != 1 || len(who) != 1 || who[0].(map[string]any)["name"] != want {
			t.Errorf("result %v, want one row of %s's product", rows, want)
		}
	}

	// Plans no view holds are collected and their entries swept.
	for i := range 500 {
		compile(fmt.Sprintf("SELECT *, (SELECT name FROM user WHERE n = %d AND id = $parent.owner) AS who FROM product", i), nil)
		if i%50 == 0 {
			runtime.GC()
		}
	}
	if n := plans.Len(); n > 200 {
		t.Errorf("%d plans held after 500 views were dropped", n)
	}
	runtime.KeepAlive([]*View{a, b, other, c, d, e, f})
}
