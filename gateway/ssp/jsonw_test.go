package ssp

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestJSONWStringMatchesEncodingJSON: ids, hashes and messages come from
// clients; they must come out as encoding/json (without HTML escaping)
// writes them.
func TestJSONWStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and backslash \`, "line\nfeed\r\ttab", "\x00\x01\x1f\x7f",
		"<html> & 'single'", "héllo wörld ✓ 🎉", "line\u2028para\u2029", "bad \xff utf8 \xc3", "\xed\xa0\x80",
	} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		w := &jsonw{}
		w.str(s)
		if got, want := string(w.b), string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))); got != want {
			t.Errorf("str(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestJSONWSeparators(t *testing.T) {
	w := &jsonw{}
	w.obj()
	w.key("a")
	w.int(-1)
	w.key("b")
	w.arr()
	w.bool(true)
	w.null()
	w.uint(18446744073709551615)
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
	w.key("e")
	w.strs(nil)
	w.endObj()
	want := `{"a":-1,"b":[true,null,18446744073709551615,{},{"x":[1]},null],"c":{"k\"1":"v"},"d":["p","q"],"e":[]}`
	if string(w.b) != want {
		t.Errorf("got  %s\nwant %s", w.b, want)
	}
}
