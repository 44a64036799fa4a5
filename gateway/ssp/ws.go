package ssp

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"

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
//
// A subscribe is answered by its "subscribed" frame, then by one delta per
// view with initial=true holding the view's whole result, in its order, in
// additions (a client replaces what it held of the view with it), then
// by a delta after each ingest that changes the view, in ingest order,
// without gap. additions, removals and updates list records as POST
// /view/register does ({"id","version","record"}; removals without
// "record"), and order places rows in the new result ([{"id","index"}]).
// To apply a delta: drop the removals and every row order lists, replace
// the updates, then insert the rows order lists at their indexes, in
// order. Subscribing to a view already subscribed to changes nothing; after
// "unsubscribed" no delta of those views comes. Frames are answered in the
// order they came.
//
// Each connection has
//   - a reader, the handler's own goroutine (coder/websocket allows one), which
//     decodes the frames and runs them on the views, one at a time: while one
//     runs it does not read, so TCP paces a client that sends faster;
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
// secret anyway); without, only a same-origin page may, so that a web page
// in a local browser cannot reach a loopback-only server.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	observe := func(status int) { s.metrics.ObserveRequest(door, "ws", status, time.Since(start)) }
	if !s.views.Ready() {
		observe(s.writeError(w, notReady()))
		return
	}
	if !s.conns.reserve(s.cfg.MaxSessions) {
		observe(s.writeError(w, unavailable(messages.CodeUnavailable,
			"there are %d WebSocket connections, the limit; try again later", s.cfg.MaxSessions)))
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: s.cfg.Secret != ""})
	if err != nil { // Accept has answered
		s.conns.release(nil)
		observe(http.StatusBadRequest)
		return
	}
	observe(http.StatusSwitchingProtocols)
	conn.SetReadLimit(s.cfg.WSReadLimit)
	c := newWSConn(conn, s.cfg.WSBuffer)
	defer s.conns.release(c)
	if !s.conns.add(c) {
		c.close(websocket.StatusGoingAway, "the server is shutting down")
		return
	}
	go c.writeLoop()
	go c.pingLoop(s.cfg.WSPingInterval)

	sess := &session{s: s, conn: c, subs: map[string]bool{}}
	name := "ws-" + strconv.FormatUint(s.wsSeq.Add(1), 10)
	pid, err := s.sessions.Spawn(name, func() actor.Actor { return sess })
	if err != nil {
		s.log.Warn("views service: cannot start a WebSocket session", "err", err)
		c.close(websocket.StatusTryAgainLater, "the server cannot start a session now")
		return
	}
	rd := &wsReader{s: s, conn: c, pid: pid, subscribed: map[string]struct{}{}}
	rd.loop()
	c.close(websocket.StatusNormalClosure, "")
	rd.unsubscribeAll()
	s.sessions.Stop(pid)
}

// wsConn is one WebSocket connection: the socket, the bounded queue of
// frames its writer sends, and the way to close it, once.
type wsConn struct {
	conn    *websocket.Conn
	out     chan *jsonw
	closing chan struct{} // closed when the connection is to close
	once    sync.Once
}

func newWSConn(conn *websocket.Conn, buffer int) *wsConn {
	return &wsConn{conn: conn, out: make(chan *jsonw, buffer), closing: make(chan struct{})}
}

// offer queues a frame without waiting; false when the queue is full.
func (c *wsConn) offer(w *jsonw) bool {
	select {
	case c.out <- w:
		return true
	default:
		return false
	}
}

// close starts the close handshake with code and reason, once. The
// handshake runs on its own goroutine: it waits up to 5 s for a write in
// progress and 5 s for the client's answer, then drops the connection,
// which ends the reader.
func (c *wsConn) close(code websocket.StatusCode, reason string) {
	c.once.Do(func() {
		close(c.closing)
		go c.conn.Close(code, reason)
	})
}

// writeLoop writes the queued frames until the connection closes.
func (c *wsConn) writeLoop() {
	for {
		select {
		case <-c.closing:
			return
		default:
		}
		select {
		case <-c.closing:
			return
		case w := <-c.out:
			err := c.conn.Write(context.Background(), websocket.MessageText, w.b)
			putJSONW(w)
			if err != nil {
				c.close(websocket.StatusInternalError, "write failed")
				return
			}
		}
	}
}

// pingLoop pings the client every interval, and closes a connection whose
// pong has not come within two intervals: a dead peer would otherwise hold
// its session, and a blocked write, forever.
func (c *wsConn) pingLoop(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.closing:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 2*interval)
			err := c.conn.Ping(ctx)
			cancel()
			if err != nil {
				c.close(websocket.StatusGoingAway, "no pong within two ping intervals")
				return
			}
		}
	}
}

// wsRegistry counts and holds the open connections, for MaxSessions and
// Drain.
type wsRegistry struct {
	mu     sync.Mutex
	n      int // connections open or being opened
	conns  map[*wsConn]struct{}
	closed bool // drained: no new connection
}

// reserve counts a connection about to open; false past max.
func (r *wsRegistry) reserve(max int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n >= max {
		return false
	}
	r.n++
	return true
}

// add holds an open connection; false once drained.
func (r *wsRegistry) add(c *wsConn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	if r.conns == nil {
		r.conns = make(map[*wsConn]struct{})
	}
	r.conns[c] = struct{}{}
	return true
}

// release forgets a connection that has ended (nil: one that never opened).
func (r *wsRegistry) release(c *wsConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, c)
	r.n--
}

// closeAll closes every connection, and every later one at once.
func (r *wsRegistry) closeAll(code websocket.StatusCode, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for c := range r.conns {
		c.close(code, reason)
	}
}
