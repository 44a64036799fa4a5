package synap

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// encodingJSON is what encoding/json writes for v, without HTML escaping.
func encodingJSON(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func TestJSONWStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and backslash \`, "line\nfeed\r\ttab", "\x00\x01\x1f\x7f",
		"<html> & 'single'", "héllo wörld ✓ 🎉", "line\u2028para\u2029", "bad \xff utf8 \xc3", "\xed\xa0\x80",
	} {
		w := &jsonw{}
		w.str(s)
		if got, want := string(w.b), encodingJSON(t, s); got != want {
			t.Errorf("str(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestJSONWFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 100.5, 200, 1e-7, 1e-6, 123456789, 1e20, 1e21, 1.5e300, -2.5e-9, math.SmallestNonzeroFloat64, math.MaxFloat64} {
		w := &jsonw{}
		w.float(f)
		if got, want := string(w.b), encodingJSON(t, f); got != want {
			t.Errorf("float(%v) = %s, want %s", f, got, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		w := &jsonw{}
		w.float(f)
		if string(w.b) != "null" {
			t.Errorf("float(%v) = %s, want null", f, w.b)
		}
	}
}

func TestJSONWSeparators(t *testing.T) {
	w := &jsonw{}
	w.obj()
	w.key("a")
	w.int(1)
	w.key("b")
	w.arr()
	w.bool(true)
	w.null()
	w.obj()
	w.endObj()
	w.raw([]byte(`{"x":[1]}`))
	w.raw(nil)
	w.endArr()
	w.key("c")
	w.obj()
	w.strKey("k\"1")
	w.str("v")
	w.endObj()
	w.key("d")
	w.strs([]string{"p", "q"})
	w.endObj()
	want := `{"a":1,"b":[true,null,{},{"x":[1]},null],"c":{"k\"1":"v"},"d":["p","q"]}`
	if string(w.b) != want {
		t.Errorf("got  %s\nwant %s", w.b, want)
	}
	if !json.Valid(w.b) {
		t.Error("not valid JSON")
	}
}

func TestCompact(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":1}`, `{"a":1}`},
		{"{ \"a\" : [ 1 , 2 ],\n\t\"b\": \"x y\" }", `{"a":[1,2],"b":"x y"}`},
		{`"spaces inside a string"`, `"spaces inside a string"`},
	}
	for _, tc := range tests {
		if got := string(compact([]byte(tc.in))); got != tc.want {
			t.Errorf("compact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
