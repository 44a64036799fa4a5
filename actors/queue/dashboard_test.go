package queue

import (
	"errors"
	"testing"
	"time"

	"github.com/troupe-run/troupe/system"
)

// The dashboard's figures count the ready messages by priority, the ones
// in flight and the totals; a queue without a live actor has none.
func TestFigures(t *testing.T) {
	_, svc := start(t)
	for _, p := range []int32{1, 9, 9, 5} {
		svcPublish(t, svc, "tasks", "m", p)
	}
	svcConsume(t, svc, "tasks", 0, time.Minute) // one of priority 9
	f, err := svc.Figures("tasks")
	if err != nil {
		t.Fatal(err)
	}
	want := Figures{InFlight: 1, Consumers: 1, Published: 4, Consumed: 1}
	want.Ready[1], want.Ready[5], want.Ready[9] = 1, 1, 1
	if f != want {
		t.Fatalf("figures %+v, want %+v", f, want)
	}
	if _, err := svc.Figures("nothing"); !errors.Is(err, system.ErrNoActor) {
		t.Fatalf("figures of a queue without an actor: %v", err)
	}
}
