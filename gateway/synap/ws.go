package synap

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

// The WebSocket API: GET /api/v1/ws. Each connection has
//
//   - a reader, the handler's own goroutine (coder/websocket allows one), which
//     decodes frames and hands them to the session actor;
//   - the session actor (session.go), which hands commands to its runner and
//     queues the pushes of what the session subscribed to;
//   - the runner (runner.go), a goroutine that runs the commands in order;
//   - a writer, the one goroutine that writes data frames, from a queue of
//     WSBuffer of them, and a pinger.
//
// The connection lives until the client closes it, a write or a ping fails,
// the client falls behind its pushes (1008), or the server drains (1001);
// never tied to the request's context, which ends with the handler.
const wsPath = "/api/v1/ws"

// wsMaxPending bounds the commands of one connection that are read but not
// yet answered: past it the reader stops reading, and TCP pushes back on
// the client. It keeps the session's mailbox and its goroutines bounded.
const wsMaxPending = 64

// serveWS upgrades a request to a WebSocket session. Auth and rate limiting
// have been applied to the handshake by ServeHTTP.
//
// Origins: with API keys configured, a page from any origin may connect (it
// needs a key anyway); without, only a same-origin page may, so that a web
// page in a local browser cannot reach a loopback-only server.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if !s.conns.reserve(s.cfg.MaxSessions) {
		ae := errorf(http.StatusServiceUnavailable, messages.CodeUnavailable,
			"there are %d WebSocket connections, the limit; try again later", s.cfg.MaxSessions)
		s.reject(w, ae, "ws")
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: len(s.cfg.APIKeys) > 0})
	if err != nil { // Accept has answered
		s.conns.release(nil)
		s.metrics.ObserveRequest(door, "ws", http.StatusBadRequest, time.Since(start))
		return
	}
	s.metrics.ObserveRequest(door, "ws", http.StatusSwitchingProtocols, time.Since(start))
	conn.SetReadLimit(s.cfg.WSReadLimit)
	c := newWSConn(conn, s.cfg.WSBuffer)
	defer s.conns.release(c)
	if !s.conns.add(c) {
		c.close(websocket.StatusGoingAway, "the server is shutting down")
		return
	}
	go c.writeLoop()
	go c.pingLoop(s.cfg.WSPingInterval)

	key, _ := s.auth.check(r)
	client := clientOf(r, key)
	name := "ws-" + strconv.FormatUint(s.wsSeq.Add(1), 10)
	ctx, cancel := context.WithCancel(context.Background())
	run := &wsRunner{s: s, conn: c, ctx: ctx, jobs: make(chan *wsFrame, wsMaxPending),
		rooms: map[string]bool{}, queues: map[string]bool{}}
	sess := &session{s: s, conn: c, run: run, cancel: cancel}
	pid, err := s.sessions.Spawn(name, func() actor.Actor { return sess })
	if err != nil {
		cancel()
		s.log.Warn("data service: cannot start a WebSocket session", "err", err)
		c.close(websocket.StatusTryAgainLater, "the server cannot start a session now")
		return
	}
	s.readLoop(c, pid, client)
	c.close(websocket.StatusNormalClosure, "")
	s.sessions.Stop(pid)
}

// readLoop reads frames until the connection ends, and hands each, decoded,
// to the session.
func (s *Server) readLoop(c *wsConn, pid *actor.PID, client string) {
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil || !c.acquire() {
			return
		}
		s.sessions.Send(pid, s.decodeFrame(data, client))
	}
}

// wsFrame is one command frame, decoded by the connection's reader.
type wsFrame struct {
	env envelope
	id  []byte // the request_id to echo, as JSON
	// err, when set, is the answer: the frame is malformed or over the
	// client's rate limit. errLabel names it in metrics.
	err      *apiError
	errLabel string
	// holds: the frame subscribes, so the session holds its pushes until
	// the frame's reply (and replay) is written.
	holds bool
	// detach: a queue.consume, which may wait for a message, runs beside
	// the commands after it rather than before them.
	detach bool
}

// subscribeCommands are the commands after which pushes may come.
var subscribeCommands = map[string]bool{"stream.subscribe": true, "pubsub.subscribe": true, "queue.subscribe": true}

// decodeFrame decodes a frame. Like a request body, its envelope is a
// command or a batch; a frame over the client's rate limit is refused.
func (s *Server) decodeFrame(data []byte, client string) *wsFrame {
	f := &wsFrame{}
	err := decodeEnvelope(data, &f.env)
	f.id = requestID(f.env.RequestID)
	if err != nil {
		f.err, f.errLabel = asAPIError(err), "invalid"
		return f
	}
	if s.limiter != nil {
		if v := s.limiter.take(client); !v.ok {
			f.err, f.errLabel = v.err(), "rate_limited"
			return f
		}
	}
	f.holds = subscribeCommands[f.env.Command]
	for _, sub := range f.env.Commands {
		f.holds = f.holds || subscribeCommands[sub.Command]
	}
	f.detach = f.env.Type != "batch" && f.env.Command == "queue.consume"
	return f
}

// wsConn is one WebSocket connection: the socket, the bounded queue of
// frames its writer sends, and the way to close it, once.
type wsConn struct {
	conn    *websocket.Conn
	out     chan outFrame
	slots   chan struct{} // one per command in flight
	closing chan struct{} // closed when the connection is to close
	once    sync.Once
}

// outFrame is a frame to write, or a barrier: flushed is closed when every
// frame queued before it is written.
type outFrame struct {
	w       *jsonw
	flushed chan struct{}
}

func newWSConn(conn *websocket.Conn, buffer int) *wsConn {
	return &wsConn{conn: conn, out: make(chan outFrame, buffer), slots: make(chan struct{}, wsMaxPending),
		closing: make(chan struct{})}
}

// acquire takes a slot for a command, waiting while wsMaxPending are in
// flight; false when the connection closes meanwhile.
func (c *wsConn) acquire() bool {
	select {
	case c.slots <- struct{}{}:
		return true
	case <-c.closing:
		return false
	}
}

// release gives back a command's slot once it is answered.
func (c *wsConn) release() { <-c.slots }

func (c *wsConn) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// offer queues a push without waiting; false when the queue is full.
func (c *wsConn) offer(w *jsonw) bool {
	select {
	case c.out <- outFrame{w: w}:
		return true
	default:
		return false
	}
}

// send queues a reply, waiting for room: replies are paced by the client
// that asked for them. False when the connection closes meanwhile.
func (c *wsConn) send(w *jsonw) bool {
	select {
	case c.out <- outFrame{w: w}:
		return true
	case <-c.closing:
		return false
	}
}

// flush waits until every frame queued so far is written, or the
// connection closes.
func (c *wsConn) flush() {
	done := make(chan struct{})
	select {
	case c.out <- outFrame{flushed: done}:
	case <-c.closing:
		return
	}
	select {
	case <-done:
	case <-c.closing:
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

// abort drops the connection without a close handshake, for a peer that
// would not answer one.
func (c *wsConn) abort() {
	c.once.Do(func() {
		close(c.closing)
		go c.conn.CloseNow()
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
		case f := <-c.out:
			if f.flushed != nil {
				close(f.flushed)
				continue
			}
			err := c.conn.Write(context.Background(), websocket.MessageText, f.w.b)
			putJSONW(f.w)
			if err != nil {
				c.close(websocket.StatusInternalError, "write failed")
				return
			}
		}
	}
}

// pingLoop pings the client every interval, and drops a connection whose
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
				c.abort()
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
