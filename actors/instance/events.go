package instance

import (
	"container/list"
	"slices"

	"github.com/troupe-run/troupe/actors/instance/process"
)

// eventWaiter waits for an event; name "" waits for any.
type eventWaiter struct {
	name string
	ch   chan process.Event // buffered: the actor never waits on it; closed when the instance is gone
}

// EventStream delivers every event of one name from the moment it was
// opened. Its buffer is bounded: a reader that lets it fill is dropped (C
// is closed) rather than holding events for it without end.
type EventStream struct {
	C       <-chan process.Event // closed when the instance is gone or the reader was dropped
	c       chan process.Event
	name    string
	release func(*EventStream)
}

// Close stops the stream.
func (s *EventStream) Close() { s.release(s) }

// events is what an instance's actor knows of its sequence's events.
type events struct {
	// last holds the last event of each name, for GET /event/:name. The
	// names are the sequence's to choose, so at most maxNames are kept:
	// past that, the name recorded least recently is forgotten (a GET of
	// it then waits for the next one). order lists the names, most
	// recently recorded first; last maps each to its element.
	last     map[string]*list.Element
	order    list.List // of *Event
	maxNames int
	lastAny  *process.Event
	waiters  []*eventWaiter
	streams  []*EventStream
}

// newEvents keeps the last event of at most maxNames names.
func newEvents(maxNames int) events {
	return events{last: map[string]*list.Element{}, maxNames: maxNames}
}

// remember keeps ev as the last of its name, within the bound.
func (e *events) remember(ev *process.Event) {
	if el, ok := e.last[ev.EventName]; ok {
		el.Value = ev
		e.order.MoveToFront(el)
		return
	}
	if len(e.last) >= e.maxNames {
		oldest := e.order.Back()
		delete(e.last, e.order.Remove(oldest).(*process.Event).EventName)
	}
	e.last[ev.EventName] = e.order.PushFront(ev)
}

// record keeps an event as the last of its name and hands it to the
// waiters and streams that want it. dropped is called for each stream
// dropped for being full.
func (e *events) record(ev process.Event, dropped func(name string)) {
	e.remember(&ev)
	e.lastAny = &ev
	e.waiters = slices.DeleteFunc(e.waiters, func(w *eventWaiter) bool {
		if w.name != "" && w.name != ev.EventName {
			return false
		}
		w.ch <- ev
		return true
	})
	e.streams = slices.DeleteFunc(e.streams, func(s *EventStream) bool {
		if s.name != ev.EventName {
			return false
		}
		select {
		case s.c <- ev:
			return false
		default:
			close(s.c)
			dropped(s.name)
			return true
		}
	})
}

// wait answers w now with the last event it names, unless next is set or
// there is none yet; then it waits for the next one.
func (e *events) wait(w *eventWaiter, next bool) {
	if !next {
		if w.name == "" && e.lastAny != nil {
			w.ch <- *e.lastAny
			return
		}
		if el, ok := e.last[w.name]; ok && w.name != "" {
			w.ch <- *el.Value.(*process.Event)
			return
		}
	}
	e.waiters = append(e.waiters, w)
}

func (e *events) cancel(ch chan process.Event) {
	e.waiters = slices.DeleteFunc(e.waiters, func(w *eventWaiter) bool { return w.ch == ch })
}

func (e *events) unwatch(s *EventStream) {
	if i := slices.Index(e.streams, s); i >= 0 {
		e.streams = slices.Delete(e.streams, i, i+1)
		close(s.c)
	}
}

// end closes every wait and stream: the instance is gone.
func (e *events) end() {
	for _, w := range e.waiters {
		close(w.ch)
	}
	for _, s := range e.streams {
		close(s.c)
	}
	e.waiters, e.streams = nil, nil
}
