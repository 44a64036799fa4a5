package synap

import "testing"

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
