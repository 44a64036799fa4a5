package ssp

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"

	"github.com/troupe-run/troupe/messages"
)

// session is the actor of one WebSocket connection: the subscriber the
// views push their deltas to, and the one place that orders them with the
// reader's answers. It never waits: a client that lets its queue fill is
// closed with status 1008, and the views go on.
//
// Order: while a subscribe runs, the session holds every delta (up to
// WSBuffer of them) and queues them after the subscribe's answer. A view
// subscribed to is silent until its initial result: a delta sent before it
// (by an earlier subscription of the same view, say) would be stale.
type session struct {
	s    *Server
	conn *wsConn
	// subs are the views subscribed to: false until the initial result is
	// queued. A delta of another view is dropped.
	subs    map[string]bool
	holding bool     // a subscribe is running
	held    []*jsonw // the deltas that wait for its answer
	slow    bool     // closed for falling behind: frames are dropped
}

// subscribing tells the session that the reader is about to subscribe it
// to ids.
type subscribing struct{ ids []string }

// answered carries the answer to a client frame. drop lists the views no
// longer subscribed to; endsHold ends a subscribe.
type answered struct {
	frame    *jsonw
	drop     []string
	endsHold bool
}

func (a *session) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case subscribing:
		a.holding = true
		for _, id := range m.ids {
			a.subs[id] = false
		}
	case answered:
		a.queue(m.frame)
		for _, id := range m.drop {
			delete(a.subs, id)
		}
		if m.endsHold {
			a.holding = false
			held := a.held
			a.held = nil
			for _, w := range held {
				a.queue(w)
			}
		}
	case *messages.ViewDelta:
		streaming, ok := a.subs[m.ViewId]
		if a.slow || !ok || !streaming && !m.Initial {
			return
		}
		a.subs[m.ViewId] = true
		a.push(deltaFrame(m))
	case *actor.Stopping:
		// Stopped by the reader, the connection is closed already; crashed,
		// it is closed here, which ends the reader.
		a.conn.close(websocket.StatusInternalError, "the session ended")
	}
}

// push queues a delta, or holds it while a subscribe runs.
func (a *session) push(w *jsonw) {
	if !a.holding {
		a.queue(w)
		return
	}
	if len(a.held) >= a.s.cfg.WSBuffer {
		putJSONW(w)
		a.tooSlow()
		return
	}
	a.held = append(a.held, w)
}

// queue queues a frame for the client.
func (a *session) queue(w *jsonw) {
	switch {
	case a.slow:
		putJSONW(w)
	case !a.conn.offer(w):
		putJSONW(w)
		a.tooSlow()
	}
}

// tooSlow closes the connection of a client that does not keep up.
func (a *session) tooSlow() {
	a.slow = true
	for _, w := range a.held {
		putJSONW(w)
	}
	a.held = nil
	a.s.metrics.SubscriberDropped(door)
	a.conn.close(websocket.StatusPolicyViolation,
		fmt.Sprintf("subscriber too slow: %d messages buffered", a.s.cfg.WSBuffer))
}
