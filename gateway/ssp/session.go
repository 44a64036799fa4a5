package ssp

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/gateway/internal/wsconn"
	"github.com/troupe-run/troupe/messages"
)

// session is the actor of one WebSocket connection: the subscriber the
// views push their deltas to, and the one place that orders them with the
// reader's answers. It never waits: a client that lets its queue fill is
// closed with status 1008, and the views go on.
//
// Order: while a subscribe runs, the connection holds every delta (up to
// WSBuffer of them) and queues them after the subscribe's answer. A view
// subscribed to is silent until its initial result: a delta sent before it
// (by an earlier subscription of the same view, say) would be stale.
type session struct {
	s    *Server
	conn *wsconn.Conn
	// subs are the views subscribed to: false until the initial result is
	// queued. A delta of another view is dropped.
	subs map[string]bool
}

// subscribing tells the session that the reader is about to subscribe it
// to ids.
type subscribing struct{ ids []string }

// answered carries the answer to a client frame. drop lists the views no
// longer subscribed to; endsHold ends a subscribe.
type answered struct {
	frame    *jsonw.Writer
	drop     []string
	endsHold bool
}

func (a *session) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case subscribing:
		a.conn.Hold()
		for _, id := range m.ids {
			a.subs[id] = false
		}
	case answered:
		a.conn.Post(m.frame)
		for _, id := range m.drop {
			delete(a.subs, id)
		}
		if m.endsHold {
			a.conn.Unhold()
		}
	case *messages.ViewDelta:
		streaming, ok := a.subs[m.ViewId]
		if !ok || !streaming && !m.Initial {
			return
		}
		a.subs[m.ViewId] = true
		a.conn.Push(deltaFrame(m))
	case *messages.UnsubscribeViews:
		// The views are gone (unregistered, expired or reset).
		var gone []string
		for _, id := range m.Ids {
			if _, ok := a.subs[id]; ok {
				delete(a.subs, id)
				gone = append(gone, id)
			}
		}
		if len(gone) > 0 {
			a.conn.Push(idsFrame("gone", gone))
		}
	case *actor.Stopping:
		// Stopped by the reader, the connection is closed already; crashed,
		// it is closed here, which ends the reader.
		a.conn.Close(websocket.StatusInternalError, "the session ended")
	}
}
