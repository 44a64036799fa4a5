package skip

import (
	"encoding/json"
	"testing"
)

// A shared update is framed once for all its streams; the frame is the
// one an unshared update gets.
func TestSharedUpdateIsFramedOnce(t *testing.T) {
	u := Update{RunID: "r", Tick: 3, Entries: []Entry{{Key: json.RawMessage(`"a"`), Values: []json.RawMessage{json.RawMessage(`1`)}}}}
	want := string(frame(u))
	if want != "event: update\nid: r/3\ndata: [[\"a\",[1]]]\n\n" {
		t.Fatalf("frame: %q", want)
	}
	s := u.Shared()
	a, b := frame(s), frame(s)
	if string(a) != want || &a[0] != &b[0] {
		t.Fatalf("shared frames: %q and %q, the same bytes: %v", a, b, &a[0] == &b[0])
	}
	if c := frame(u.Shared()); &c[0] == &a[0] {
		t.Fatal("two updates share a frame")
	}
}
