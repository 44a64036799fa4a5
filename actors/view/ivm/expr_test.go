package ivm

import (
	"testing"

	"github.com/troupe-run/troupe/actors/view/surql"
)

func TestConditions(t *testing.T) {
	rec := decode(t, `{"id": "post:1", "n": 5, "f": 2.5, "s": "hello", "e": "", "b": true,
		"tags": ["x", "y"], "nums": [1, 2.0], "o": {"k": "v", "n": 1}, "author": "user:⟨a b⟩",
		"z": null, "items": [{"name": "a"}, {"name": "b"}, {}]}`)
	rec, _ = surql.Links(mustNormalize(t, rec)).(map[string]any) // as Tables stores it
	params := map[string]any{"five": 5, "user": map[string]any{"id": "user:⟨a b⟩"}, "list": []any{"x", 5}}
	tests := []struct {
		cond string
		want bool
	}{
		{"n = 5", true},
		{"n = 5.0", true},
		{"n == 5", true},
		{"n = '5'", false},
		{"n != '5'", true},
		{"n IS NOT NONE", true},
		{"n < 6 AND n <= 5 AND n > 4.5 AND n >= 5", true},
		{"n > 'a'", false}, // numbers order before strings
		{"s > 5", true},
		{"missing < 0", true}, // NONE orders first
		{"missing = NONE", true},
		{"missing = NULL", false},
		{"z = NULL", true},
		{"z = NONE", false},
		{"z > missing", true},
		{"b = true AND b", true},
		{"!b OR !n", false},
		{"!e", true},
		{"s = 'hel*'", false}, // a * is a character, as in SurrealDB (see TestPrefixStar)
		{"s != 'hel*'", true},
		{"n != '*'", true},
		{"author = 'user:⟨a b⟩'", false}, // a link is not a string
		{"type::is::record(author) AND type::is_string(s)", true},
		{"string::starts_with(string::lowercase(s), 'HE') = false", true},
		{"string::starts_with(s, 'he') AND string::ends_with(s, 'lo') AND string::contains(s, 'll')", true},
		{"string::len(s) = 5 AND array::len(tags) = 2 AND math::abs(-2.5) = 2.5", true},
		{"string::len(n) = NONE", true},
		{"s CONTAINS 'ell'", true},
		{"s CONTAINS 5", false},
		{"tags CONTAINS 'x'", true},
		{"tags CONTAINSNOT 'z'", true},
		{"tags CONTAINSALL ['x', 'y']", true},
		{"tags CONTAINSALL ['x', 'z']", false},
		{"tags CONTAINSANY ['z', 'y']", true},
		{"tags CONTAINSNONE ['z']", true},
		{"tags CONTAINSNONE 'z'", true},
		{"missing CONTAINSNONE ['z']", true},
		{"missing CONTAINSALL []", true},
		{"tags CONTAINSANY []", false},
		{"['x'] NONEINSIDE missing", true},
		{"missing NONEINSIDE ['x']", true},
		{"nums CONTAINS 2", true},
		{"nums CONTAINS '2'", false},
		{"s CONTAINSALL ['he', 'lo']", true},
		{"s CONTAINSANY ['xx', 'lo']", true},
		{"'x' INSIDE tags", true},
		{"'x' IN tags", true},
		{"'z' NOTINSIDE tags", true},
		{"n IN [1, 5]", true},
		{"n IN $list", true},
		{"'ell' IN s", true},
		{"tags ALLINSIDE ['x', 'y', 'z']", true},
		{"tags ANYINSIDE ['y']", true},
		{"tags NONEINSIDE ['z']", true},
		{"o.k = 'v'", true},
		{"o = {k: 'v', n: 1.0}", true},
		{"o.missing.deeper = NONE", true},
		{"items.name = ['a', 'b', NONE]", true},
		{"author = user:⟨a b⟩", true},
		{"author = $user.id", true},
		{"user:⟨a b⟩ = author", true},
		{"author = user:a", false},
		{"id = post:1", true},
		{"n = $five", true},
		{"n = $unset", false},
		{"$unset = NONE", true},
		{"(n = 1 OR n = 5) AND s", true},
		{"n = 1 OR n = 5 AND s = 'x'", false},
	}
	for _, tc := range tests {
		sel, err := surql.Parse("SELECT * FROM t WHERE " + tc.cond)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.cond, err)
			continue
		}
		p, err := compileQuery(sel, params, Options{})
		if err != nil {
			t.Errorf("compile(%q): %v", tc.cond, err)
			continue
		}
		if got := p.matches(rec, nil); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.cond, got, tc.want)
		}
	}
}

func mustNormalize(t *testing.T, v any) surql.Value {
	t.Helper()
	n, err := surql.Normalize(v)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestProjection(t *testing.T) {
	rec := mustNormalize(t, decode(t, `{"id": "t:1", "a": {"b": 1, "c": 2}, "x": "y"}`)).(map[string]any)
	tests := []struct {
		query string
		want  map[string]any
	}{
		{"SELECT * FROM t", rec},
		{"SELECT a.b FROM t", map[string]any{"a": map[string]any{"b": int64(1)}}},
		{"SELECT a.b AS ab, x FROM t", map[string]any{"ab": int64(1), "x": "y"}},
		{"SELECT missing, x FROM t", map[string]any{"x": "y"}},
		{"SELECT *, missing AS x FROM t", map[string]any{"id": "t:1", "a": rec["a"]}},
		{"SELECT *, x AS a.d FROM t", nil}, // an alias is a single name
		{"SELECT *, a.b AS z FROM t", map[string]any{"id": "t:1", "a": rec["a"], "x": "y", "z": int64(1)}},
	}
	for _, tc := range tests {
		sel, err := surql.Parse(tc.query)
		if tc.want == nil {
			if err == nil {
				t.Errorf("Parse(%q) succeeded", tc.query)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		p, err := compileQuery(sel, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.project(rec); !identical(got, tc.want) {
			t.Errorf("%s projects %v, want %v", tc.query, got, tc.want)
		}
	}
	// Projecting into a shared object copies it.
	p, _ := compileQuery(surql.MustParse("SELECT *, x AS y FROM t"), nil, Options{})
	p.fields = append(p.fields, field{src: []string{"x"}, out: []string{"a", "d"}})
	out := p.project(rec)
	if _, ok := rec["a"].(map[string]any)["d"]; ok || out["a"].(map[string]any)["d"] != "y" {
		t.Errorf("setPath modified the stored record: %v", rec)
	}
}

// The original's prefix match holds for views of format "sp00ky" only.
func TestPrefixStar(t *testing.T) {
	rec := map[string]any{"s": "hello", "n": int64(5)}
	tests := []struct {
		cond string
		want bool
	}{
		{"s = 'hel*'", true},
		{"'hel*' = s", true},
		{"s = 'help*'", false},
		{"s != 'hel*'", false},
		{"n = '*'", false},
		{"s = '*'", true},
	}
	for _, tc := range tests {
		p, err := compileQuery(surql.MustParse("SELECT * FROM t WHERE "+tc.cond), nil, Options{PrefixStar: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.matches(rec, nil); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.cond, got, tc.want)
		}
	}
}
