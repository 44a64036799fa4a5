package surql

import (
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics and that every query it accepts
// prints canonically: the printed form parses back to an equal tree and
// prints the same again.
func FuzzParse(f *testing.F) {
	for _, q := range sampleQueries {
		f.Add(q)
	}
	for _, tc := range parseErrorTests {
		f.Add(tc.src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		sel, err := Parse(src)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Parse(%q) error is %T, want *Error", src, err)
			}
			return
		}
		printed := sel.String()
		again, err := Parse(printed)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", src, printed, err)
		}
		if !reflect.DeepEqual(sel, again) {
			t.Fatalf("Parse(%q) printed as %q parses to a different tree", src, printed)
		}
		if again.String() != printed {
			t.Fatalf("printing is not stable: %q then %q", printed, again.String())
		}
	})
}
