package jsonw

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http/httptest"
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

// TestStringMatchesEncodingJSON: ids, keys, hashes and messages come from
// clients; they must come out as encoding/json (without HTML escaping)
// writes them.
func TestStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and backslash \`, "line\nfeed\r\ttab", "\x00\x01\x1f\x7f",
		"<html> & 'single'", "héllo wörld ✓ 🎉", "line\u2028para\u2029", "bad \xff utf8 \xc3", "\xed\xa0\x80",
	} {
		w := &Writer{}
		w.Str(s)
		if got, want := string(w.Bytes()), encodingJSON(t, s); got != want {
			t.Errorf("Str(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 100.5, 200, 1e-7, 1e-6, 123456789, 1e20, 1e21, 1.5e300, -2.5e-9, math.SmallestNonzeroFloat64, math.MaxFloat64} {
		w := &Writer{}
		w.Float(f)
		if got, want := string(w.Bytes()), encodingJSON(t, f); got != want {
			t.Errorf("Float(%v) = %s, want %s", f, got, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		w := &Writer{}
		w.Float(f)
		if string(w.Bytes()) != "null" {
			t.Errorf("Float(%v) = %s, want null", f, w.Bytes())
		}
	}
}

func TestSeparators(t *testing.T) {
	w := &Writer{}
	w.Obj()
	w.Key("a")
	w.Int(-1)
	w.Key("b")
	w.Arr()
	w.Bool(true)
	w.Null()
	w.Uint(18446744073709551615)
	w.Obj()
	w.EndObj()
	w.Raw([]byte(`{"x":[1]}`))
	w.Raw(nil)
	w.EndArr()
	w.Key("c")
	w.Obj()
	w.StrKey("k\"1")
	w.Str("v")
	w.EndObj()
	w.Key("d")
	w.Strs([]string{"p", "q"})
	w.Key("e")
	w.Strs(nil)
	w.Key("f")
	w.Raws([][]byte{[]byte(`1`), nil})
	w.EndObj()
	want := `{"a":-1,"b":[true,null,18446744073709551615,{},{"x":[1]},null],"c":{"k\"1":"v"},"d":["p","q"],"e":[],"f":[1,null]}`
	if string(w.Bytes()) != want {
		t.Errorf("got  %s\nwant %s", w.Bytes(), want)
	}
	if !json.Valid(w.Bytes()) {
		t.Error("not valid JSON")
	}
}

// TestLiteralAndTruncate: a reply begun as a success is rewritten as an
// error from a mark, and a literal standing for a value takes its comma
// from Sep.
func TestLiteralAndTruncate(t *testing.T) {
	w := &Writer{}
	w.Literal(`{"results":[`)
	w.Sep()
	w.Literal(`{"ok":true}`)
	w.Sep()
	mark := w.Len()
	w.Literal(`{"ok":true,"payload":`)
	w.Truncate(mark)
	w.Literal(`{`)
	w.Key("ok")
	w.Bool(false)
	w.EndObj()
	w.EndArr()
	w.EndObj()
	if got, want := string(w.Bytes()), `{"results":[{"ok":true},{"ok":false}]}`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestPoolRecyclesEmpty(t *testing.T) {
	w := Get()
	w.Str("left over")
	Put(w)
	if w := Get(); w.Len() != 0 {
		t.Errorf("a recycled writer holds %s", w.Bytes())
	}
}

func TestRespond(t *testing.T) {
	w := &Writer{}
	w.Obj()
	w.Key("a")
	w.Int(1)
	w.EndObj()
	rec := httptest.NewRecorder()
	if status := w.Respond(rec, 201); status != 201 {
		t.Errorf("Respond returned %d", status)
	}
	if rec.Code != 201 || rec.Header().Get("Content-Type") != "application/json" || rec.Body.String() != `{"a":1}` {
		t.Errorf("response %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}
