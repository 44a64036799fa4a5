package reactive

import (
	"testing"

	"github.com/dop251/goja"

	"github.com/troupe-run/troupe/actors/reactive/engine"
)

// getArray's number and string keys are written by Go (plainKey): they
// must name the same key as JSON.stringify followed by engine.Canonical,
// the path of every other key.
func TestPlainKeyIsJSONStringifyCanonical(t *testing.T) {
	rt := goja.New()
	for _, src := range []string{
		`0`, `-0`, `7`, `-7`, `1.5`, `0.1`, `1e21`, `1e-7`, `123456789012345680000`, `2**53 + 2`, `-1e-300`,
		`NaN`, `Infinity`, `-Infinity`, `Number.MAX_VALUE`, `Number.MIN_VALUE`,
		`""`, `"a"`, `"a b"`, `"é😀"`, `"<&>"`, `"a\"b"`, `"a\\b"`, `"a\nb"`, `"<\n>"`, `"\u0001"`, `"\u2028"`,
	} {
		v, err := rt.RunString(src)
		if err != nil {
			t.Fatal(src, err)
		}
		text, err := rt.RunString(`JSON.stringify(` + src + `)`)
		if err != nil {
			t.Fatal(src, err)
		}
		want, err := engine.Canonical([]byte(text.String()))
		if err != nil {
			t.Fatal(src, err)
		}
		got, err := plainKey(v.Export())
		if err != nil || got != want {
			t.Errorf("%s: plainKey = %q, %v; JSON.stringify then Canonical = %q", src, got, err, want)
		}
	}
}
