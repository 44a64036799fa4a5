package surql

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	// Each row is in increasing order; values in one inner slice are equal.
	order := [][]Value{
		{None},
		{nil},
		{false},
		{true},
		{math.Inf(-1)},
		{int64(math.MinInt64), float64(math.MinInt64)},
		{int64(-3), -3.0},
		{-2.5},
		{int64(0), 0.0, math.Copysign(0, -1)},
		{0.5},
		{int64(1), 1.0},
		{int64(1) << 53, float64(int64(1) << 53)},
		{int64(1)<<53 + 1},
		{float64(int64(1)<<53 + 2)},
		{int64(math.MaxInt64)},
		{float64(math.MaxInt64)}, // 2^63
		{""},
		{"5"},
		{"B"},
		{"a"},
		{"ab"},
		{"b"},
		{"é"},
		{[]any{}},
		{[]any{int64(1)}, []any{1.0}},
		{[]any{int64(1), "a"}},
		{[]any{int64(2)}},
		{map[string]any{}},
		{map[string]any{"a": int64(1)}},
		{map[string]any{"a": int64(1), "b": int64(0)}},
		{map[string]any{"a": int64(2)}},
		{map[string]any{"b": int64(0)}},
		{RecordID{Table: "a", Key: "9", Num: true}},
		{RecordID{Table: "user", Key: "1", Num: true}},
		{RecordID{Table: "user", Key: "2", Num: true}},
	}
	for i, row := range order {
		for _, a := range row {
			for j, other := range order {
				for _, b := range other {
					want := 0
					if i < j {
						want = -1
					} else if i > j {
						want = 1
					}
					if got := Compare(a, b); got != want {
						t.Errorf("Compare(%s, %s) = %d, want %d", Format(a), Format(b), got, want)
					}
					if got := Equal(a, b); got != (want == 0) {
						t.Errorf("Equal(%s, %s) = %v", Format(a), Format(b), got)
					}
				}
			}
		}
	}
}

// Record ids order as in SurrealDB: a numeric key is a number and comes
// before string keys; a record id never equals the string that spells it.
func TestCompareRecordIDs(t *testing.T) {
	ordered := []string{"post:z", "user:0", "user:9", "user:10", "user:200", "user:⟨10⟩", "user:a", "user:u1", "user:⟨z z⟩"}
	for i, a := range ordered {
		ida, ok := ParseRecordID(a)
		if !ok {
			t.Fatalf("ParseRecordID(%q) failed", a)
		}
		for j, b := range ordered {
			idb, _ := ParseRecordID(b)
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := Compare(ida, idb); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
		if Equal(ida, a) || Equal(a, ida) {
			t.Errorf("record id %s equals the string %q", ida, a)
		}
		if got := ida.String(); got != a {
			t.Errorf("ParseRecordID(%q).String() = %q", a, got)
		}
	}
}

func TestLink(t *testing.T) {
	tests := []struct {
		s    string
		want Value
	}{
		{"user:10", RecordID{Table: "user", Key: "10", Num: true}},
		{"user:u1", RecordID{Table: "user", Key: "u1"}},
		{"user:⟨a b⟩", RecordID{Table: "user", Key: "a b"}},
		{"user:010", RecordID{Table: "user", Key: "010"}}, // a string key, written back as it came
		{"http://x", "http://x"},
		{"12:30", "12:30"},
		{"a:b c", "a:b c"},
		{"user:", "user:"},
		{"no colon", "no colon"},
	}
	for _, tc := range tests {
		if got := Links(tc.s); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Links(%q) = %#v, want %#v", tc.s, got, tc.want)
		}
	}
	if got := NewRecordID("user", "010").String(); got != "user:010" {
		t.Errorf("user:010 prints as %s", got)
	}
	rec := map[string]any{"a": "user:1", "b": []any{"x", "post:p"}, "c": map[string]any{"d": "t:k"}, "n": int64(1)}
	Links(rec)
	want := map[string]any{"a": NewRecordID("user", "1"), "b": []any{"x", NewRecordID("post", "p")},
		"c": map[string]any{"d": NewRecordID("t", "k")}, "n": int64(1)}
	if !reflect.DeepEqual(rec, want) {
		t.Errorf("Links(record) = %#v, want %#v", rec, want)
	}
}

// ParseValue reads params as SurrealDB renders them.
func TestParseValue(t *testing.T) {
	src := "{ auth: { id: user:abc }, username: 'bob', n: 1.5f, m: 2dec, i: -3, d: d'2024-01-01T00:00:00Z', " +
		"tags: ['a', \"b\"], x: NONE, y: NULL, ok: true, 'odd key': s'v', r: r'post:⟨a b⟩', u: u'0190b5c8-0000-7000-8000-000000000000' }"
	got, err := ParseValue(src)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"auth": map[string]any{"id": RecordID{Table: "user", Key: "abc"}}, "username": "bob", "n": 1.5, "m": 2.0,
		"i": int64(-3), "d": "2024-01-01T00:00:00Z", "tags": []any{"a", "b"}, "y": nil, "ok": true,
		"odd key": "v", "r": RecordID{Table: "post", Key: "a b"}, "u": "0190b5c8-0000-7000-8000-000000000000",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseValue = %#v\nwant %#v", got, want)
	}
	for _, bad := range []string{"{ a: b }", "{ a: 1 + 2 }", "{ a: 1", "{ a: 10s }"} {
		if _, err := ParseValue(bad); err == nil {
			t.Errorf("ParseValue(%q) succeeded", bad)
		}
	}
}

func TestTruthy(t *testing.T) {
	tests := []struct {
		v    Value
		want bool
	}{
		{None, false}, {nil, false}, {false, false}, {true, true},
		{int64(0), false}, {int64(-1), true}, {0.0, false}, {0.1, true},
		{"", false}, {"0", true}, {[]any{}, false}, {[]any{nil}, true},
		{map[string]any{}, false}, {map[string]any{"a": nil}, true},
		{RecordID{Table: "a", Key: "b"}, true},
	}
	for _, tc := range tests {
		if got := Truthy(tc.v); got != tc.want {
			t.Errorf("Truthy(%s) = %v, want %v", Format(tc.v), got, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	var decoded any
	d := json.NewDecoder(strings.NewReader(`{"i": 5, "f": 5.0, "e": 1e2, "big": 99999999999999999999,
		"neg": -7, "s": "x", "b": true, "n": null, "a": [1, 2.5, {"k": "v"}]}`))
	d.UseNumber()
	if err := d.Decode(&decoded); err != nil {
		t.Fatal(err)
	}
	got, err := Normalize(decoded)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"i": int64(5), "f": 5.0, "e": 100.0, "big": 1e20, "neg": int64(-7),
		"s": "x", "b": true, "n": nil,
		"a": []any{int64(1), 2.5, map[string]any{"k": "v"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Normalize = %#v\nwant %#v", got, want)
	}

	for _, bad := range []any{json.Number("1e400"), math.NaN(), math.Inf(1), struct{}{}, []any{map[string]any{"x": make(chan int)}}} {
		if v, err := Normalize(bad); err == nil {
			t.Errorf("Normalize(%v) = %v, want an error", bad, v)
		}
	}
	for in, want := range map[any]Value{int(3): int64(3), uint64(math.MaxUint64): float64(math.MaxUint64), float32(0.5): 0.5} {
		if got, err := Normalize(in); err != nil || got != want {
			t.Errorf("Normalize(%T %v) = %v, %v; want %v", in, in, got, err, want)
		}
	}
}

func TestFormatReadsBack(t *testing.T) {
	values := []Value{
		None, nil, true, int64(-12), 1.0, -0.5, 1e21, "it's \\ \n ⟩",
		RecordID{Table: "user", Key: "123", Num: true}, RecordID{Table: "user", Key: "123"}, RecordID{Table: "user", Key: "a b⟩"}, RecordID{Table: "select", Key: "x"},
		[]any{int64(1), "a", []any{}}, map[string]any{"b": int64(1), "a key": "x", "c": map[string]any{}},
	}
	for _, v := range values {
		src := "SELECT * FROM t WHERE x = " + Format(v)
		sel, err := Parse(src)
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
			continue
		}
		y := sel.Where.(*Binary).Y
		if got := constant(y); !reflect.DeepEqual(got, v) {
			t.Errorf("Format(%#v) = %q reads back as %#v", v, Format(v), got)
		}
	}
	if got, _ := json.Marshal(map[string]any{"a": None}); string(got) != `{"a":null}` {
		t.Errorf("None marshals as %s, want null", got)
	}
}

// constant evaluates a literal expression tree.
func constant(e Expr) Value {
	switch e := e.(type) {
	case *Literal:
		return e.Value
	case *Array:
		out := []any{}
		for _, x := range e.Elems {
			out = append(out, constant(x))
		}
		return out
	case *Object:
		out := map[string]any{}
		for _, en := range e.Entries {
			out[en.Key] = constant(en.Value)
		}
		return out
	}
	return nil
}

func TestParseRecordID(t *testing.T) {
	tests := []struct {
		s    string
		want RecordID
		ok   bool
	}{
		{"user:1", RecordID{Table: "user", Key: "1", Num: true}, true},
		{"user:⟨a:b⟩", RecordID{Table: "user", Key: "a:b"}, true},
		{`user:⟨x\⟩y⟩`, RecordID{Table: "user", Key: "x⟩y"}, true},
		{"user:a:b", RecordID{Table: "user", Key: "a:b"}, true},
		{"user:", RecordID{}, false},
		{":1", RecordID{}, false},
		{"user", RecordID{}, false},
	}
	for _, tc := range tests {
		got, ok := ParseRecordID(tc.s)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRecordID(%q) = %v, %v; want %v, %v", tc.s, got, ok, tc.want, tc.ok)
		}
	}
}
