package ssp

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"

	"github.com/troupe-run/troupe/gateway/internal/wsconn"
	"github.com/troupe-run/troupe/messages"
)

// The WebSocket API: GET /view/ws, Troupe's own (the original SSP has none),
// behind the same auth as the HTTP routes (browsers, which cannot set
// headers on a handshake, may pass the token as ?access_token=).
//
// Client frames, JSON objects ("action" is accepted for "type"):
//
//	{"type":"subscribe","ids":["query:a","query:b"]}
//	{"type":"unsubscribe","ids":["query:a"]}
//	{"type":"ping"}
//
// Server frames:
//
//	{"type":"subscribed","ids":[...],"unknown":[...]}   ids: the views now subscribed; unknown: no such view
//	{"type":"unsubscribed","ids":[...]}
//	{"type":"pong"}
//	{"type":"error","message":"..."}                    a bad frame, or the views could not answer
//	{"type":"delta","view_id","hash","generation","initial","additions","removals","updates","order"}
//	{"type":"gone","ids":[...]}                         the views were unregistered, expired or reset
//
// A subscribe is answered by its "subscribed" frame, then by one delta per
// view with initial=true holding the view's whole result, in its order, in
// additions (a client replaces what it held of the view with it), then
// by a delta after each ingest that changes the view, in ingest order,
// without gap. A delta with initial=true may also come later (the view was
// registered again with another query): it too holds the whole result,
// which replaces what the client held. After "gone" no frame of those views
// comes; the connection stays open. additions, removals and updates list records as POST
// /view/register does ({"id","version","record"}; removals without
// "record"), and order places rows in the new result ([{"id","index"}]).
// To apply a delta: drop the removals and every row order lists, replace
// the updates, then insert the rows order lists at their indexes, in
// order. Subscribing to a view already subscribed to changes nothing; after
// "unsubscribed" no delta of those views comes. Frames are answered in the
// order they came.
//
// Each connection (gateway/internal/wsconn) has
//   - a reader, the handler's own goroutine, which decodes the frames and
//     runs them on the views, one at a time: while one runs it does not
//     read, so TCP paces a client that sends faster;
//   - the session actor (session.go), the subscriber the views push to, which
//     queues replies and deltas, in order, for
//   - a writer, the one goroutine that writes frames, from a queue of WSBuffer
//     of them, and a pinger.
//
// The connection lives until the client closes it, a write or a ping fails,
// the client lets its queue fill (1008), or the server drains (1001); never
// tied to the request's context, which ends with the handler.
const wsPath = "/view/ws"

// serveWS upgrades a request to a WebSocket session. The guard has applied
// auth to the handshake.
//
// Origins: with a secret, a page from any origin may connect (it needs the
// secret anyway); without, only a same-origin page may (wsconn.Options).
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	observe := func(status int) { s.metrics.ObserveRequest(door, "ws", status, time.Since(start)) }
	if ae := s.notReady(); ae != nil {
		observe(s.writeError(w, ae))
		return
	}
	c, err := s.conns.Accept(w, r)
	if errors.Is(err, wsconn.ErrFull) {
		observe(s.writeError(w, unavailable(messages.CodeUnavailable,
			"there are %d WebSocket connections, the limit; try again later", s.cfg.MaxSessions)))
		return
	}
	if err != nil { // the handshake failed, and has answered
		observe(http.StatusBadRequest)
		return
	}
	observe(http.StatusSwitchingProtocols)
	defer s.conns.Release(c)

	sess := &session{s: s, conn: c, subs: map[string]bool{}}
	name := "ws-" + strconv.FormatUint(s.wsSeq.Add(1), 10)
	pid, err := s.sessions.Spawn(name, func() actor.Actor { return sess })
	if err != nil {
		s.log.Warn("views service: cannot start a WebSocket session", "err", err)
		c.Close(websocket.StatusTryAgainLater, "the server cannot start a session now")
		return
	}
	rd := &wsReader{s: s, conn: c, pid: pid, subscribed: map[string]struct{}{}}
	rd.loop()
	c.Close(websocket.StatusNormalClosure, "")
	rd.unsubscribeAll()
	s.sessions.Stop(pid)
}
