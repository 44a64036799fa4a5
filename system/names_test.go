package system

import "testing"

func TestNames(t *testing.T) {
	if err := CheckName("queue", "tasks.v1:high-prio_2"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "a/b", "a b", string(make([]byte, 201))} {
		if err := CheckName("queue", bad); err == nil {
			t.Errorf("%q accepted as a name", bad)
		}
	}
}
