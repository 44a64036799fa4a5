package instance

import (
	"encoding/json"
	"testing"

	"github.com/troupe-run/troupe/actors/instance/process"
)

// The last event of each name is kept for at most maxNames names: a
// sequence that names every event anew does not grow its instance's
// memory without end. The name recorded least recently goes first, and a
// wait for it then waits for the next one.
func TestLastEventsAreBoundedByName(t *testing.T) {
	e := newEvents(2)
	rec := func(name, msg string) {
		e.record(process.Event{EventName: name, Message: json.RawMessage(msg)}, func(string) {})
	}
	last := func(name string) (process.Event, bool) {
		w := &eventWaiter{name: name, ch: make(chan process.Event, 1)}
		e.wait(w, false)
		select {
		case ev := <-w.ch:
			return ev, true
		default:
			e.cancel(w.ch)
			return process.Event{}, false
		}
	}
	rec("a", "1")
	rec("b", "2")
	rec("a", "3") // a is now the most recent name
	rec("c", "4") // b goes
	if len(e.last) != 2 || e.order.Len() != 2 {
		t.Fatalf("kept %d names (%d in order), want 2", len(e.last), e.order.Len())
	}
	if _, ok := last("b"); ok {
		t.Errorf("the least recent name b is still kept")
	}
	if ev, ok := last("a"); !ok || string(ev.Message) != "3" {
		t.Errorf("last a = %+v %v, want message 3", ev, ok)
	}
	if ev, ok := last("c"); !ok || string(ev.Message) != "4" {
		t.Errorf("last c = %+v %v, want message 4", ev, ok)
	}
	if ev, ok := last(""); !ok || ev.EventName != "c" {
		t.Errorf("last of any name = %+v %v, want c", ev, ok)
	}
	if len(e.waiters) != 0 {
		t.Errorf("%d waiters left", len(e.waiters))
	}
}
