package ivm

import (
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
