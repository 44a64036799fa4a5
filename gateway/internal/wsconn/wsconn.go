// Package wsconn holds the WebSocket connections of a front door. Each
// connection has
//   - a reader, the door's handler goroutine (coder/websocket allows one),
//     which calls Read;
//   - a writer, the one goroutine that writes frames, from a queue bounded
//     by Options.Buffer, so that no client can grow the server's memory;
//   - a pinger, which drops a client whose pong is late: a dead peer would
//     otherwise hold its session, and a blocked write, forever;
//   - the door's session actor, which queues the pushes of what the client
//     subscribed to (Push) and never waits: a client that lets its queue
//     fill is closed with status 1008, and the publisher goes on.
//
// The connection lives until the client closes it, a write or a ping fails,
// the client falls behind its pushes (1008), or the server drains (1001);
// never tied to the request's context, which ends with the handler.
package wsconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
)

// Options configure a door's connections.
type Options struct {
	// Max bounds the open connections (Accept returns ErrFull past it).
	Max int
	// Buffer bounds the frames queued for one client, and the pushes held
	// for it; a client that lets either fill is closed with status 1008.
	Buffer int
	// ReadLimit bounds one frame from a client, in bytes (the connection
	// is closed with status 1009 past it).
	ReadLimit int64
	// PingInterval is how often a client is pinged; one whose pong has not
	// come within two intervals is dropped.
	PingInterval time.Duration
	// DeadPeerReason, when set, closes a client whose pong is late with
	// status 1001 and this reason; when empty, its connection is dropped
	// without a close handshake, which a dead peer would not answer.
	DeadPeerReason string
	// AnyOrigin lets a page from any origin connect, for a door whose
	// clients need a secret anyway; otherwise only a same-origin page may,
	// so that a web page in a local browser cannot reach a loopback-only
	// server.
	AnyOrigin bool
	// Dropped, when set, is called for each client closed for falling
	// behind its pushes (for metrics).
	Dropped func()
	// BufferBytes, when set, bounds the bytes of the frames queued and held
	// for one client, as Buffer bounds their number: a client whose pushes
	// pile up past it is closed with status 1008. A frame larger than the
	// bound is taken when nothing else waits (a view's first result, say),
	// so the most held is the larger of the bound and the largest frame.
	BufferBytes int64
	// WriteTimeout, when set, bounds one write to a client: a client that
	// does not take a frame within it is closed with status 1008, as too
	// slow.
	WriteTimeout time.Duration
}

// ErrFull is returned by Accept past Options.Max: nothing has been written,
// and the door answers in its own format.
var ErrFull = errors.New("wsconn: the connection limit is reached")

// Registry counts and holds the open connections of a door, for
// Options.Max and Drain.
type Registry struct {
	opts   Options
	mu     sync.Mutex
	n      int // connections open or being opened
	conns  map[*Conn]struct{}
	closed bool // drained: no new connection
}

// NewRegistry returns an empty Registry whose connections follow opts.
func NewRegistry(opts Options) *Registry {
	return &Registry{opts: opts, conns: make(map[*Conn]struct{})}
}

// Accept upgrades r to a WebSocket connection and starts its writer and
// pinger. Past Options.Max it returns ErrFull; when the handshake fails it
// returns that error, and the handshake has answered the request. Once the
// registry is drained, the connection is closed at once, with 1001, and
// its reader ends. The caller calls Release(c) once its reader has
// returned.
func (g *Registry) Accept(w http.ResponseWriter, r *http.Request) (*Conn, error) {
	if !g.reserve() {
		return nil, ErrFull
	}
	cw := &corkWriter{ResponseWriter: w}
	ws, err := websocket.Accept(cw, r, &websocket.AcceptOptions{InsecureSkipVerify: g.opts.AnyOrigin})
	if err != nil {
		g.Release(nil)
		return nil, err
	}
	ws.SetReadLimit(g.opts.ReadLimit)
	c := &Conn{ws: ws, sock: cw.conn, opts: &g.opts, out: make(chan frame, g.opts.Buffer), closing: make(chan struct{})}
	if !g.add(c) {
		c.Close(websocket.StatusGoingAway, drainReason)
		return c, nil
	}
	go c.writeLoop()
	go c.pingLoop()
	return c, nil
}

// drainReason is what a client closed by Drain is told.
const drainReason = "the server is shutting down"

// reserve counts a connection about to open; false past Max.
func (g *Registry) reserve() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n >= g.opts.Max {
		return false
	}
	g.n++
	return true
}

// add holds an open connection; false once drained.
func (g *Registry) add(c *Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.conns[c] = struct{}{}
	return true
}

// Release forgets a connection that has ended (nil: one that never
// opened).
func (g *Registry) Release(c *Conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.conns, c)
	g.n--
}

// Len returns the connections open or being opened.
func (g *Registry) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// Drain closes every connection with 1001, and every later one at once:
// connections have no end of their own.
func (g *Registry) Drain() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for c := range g.conns {
		c.Close(websocket.StatusGoingAway, drainReason)
	}
}

// Conn is one WebSocket connection: the socket, the bounded queue of frames
// its writer sends, and the way to close it, once.
type Conn struct {
	ws      *websocket.Conn
	sock    *corkConn // the socket under ws
	opts    *Options
	out     chan frame
	closing chan struct{} // closed when the connection is to close
	once    sync.Once
	rbuf    bytes.Buffer // the reader's: a frame being read

	// The session's side, touched by the session actor's goroutine only.
	holds int             // Hold calls not yet ended by Unhold
	held  []*jsonw.Writer // the pushes that wait for them
	slow  bool            // closed for falling behind: pushes are dropped

	// queued is the bytes of the frames queued and held, for BufferBytes.
	queued atomic.Int64
	// counted is set once the connection is counted as dropped (Dropped):
	// the session and the writer may each find the client too slow.
	counted atomic.Bool
}

// frame is a frame to write, or a barrier: flushed is closed when every
// frame queued before it is written.
type frame struct {
	w       *jsonw.Writer
	flushed chan struct{}
}

// Read returns the next frame from the client, in a slice of its own.
// Only the reader calls it.
//
// The frame is read into the connection's buffer, then copied out at its
// size: websocket.Conn.Read reads each frame with io.ReadAll, into a new
// buffer of 512 bytes grown by doubling, which was a seventh of the bytes a
// queue's message made the server allocate.
func (c *Conn) Read() ([]byte, error) {
	_, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return nil, err
	}
	c.rbuf.Reset()
	_, err = c.rbuf.ReadFrom(r)
	data := bytes.Clone(c.rbuf.Bytes())
	if c.rbuf.Cap() > maxReadBuffer {
		c.rbuf = bytes.Buffer{} // a large frame's buffer is not kept
	}
	return data, err
}

// maxReadBuffer bounds the read buffer a connection keeps between frames.
const maxReadBuffer = 64 << 10

// Done is closed once the connection is to close.
func (c *Conn) Done() <-chan struct{} { return c.closing }

// Closing reports whether the connection is to close.
func (c *Conn) Closing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// Close starts the close handshake with code and reason, once. The
// handshake runs on its own goroutine: it waits up to 5 s for a write in
// progress and 5 s for the client's answer, then drops the connection,
// which ends the reader.
func (c *Conn) Close(code websocket.StatusCode, reason string) {
	c.once.Do(func() {
		close(c.closing)
		go c.ws.Close(code, reason)
	})
}

// abort drops the connection without a close handshake, for a peer that
// would not answer one.
func (c *Conn) abort() {
	c.once.Do(func() {
		close(c.closing)
		go c.ws.CloseNow()
	})
}

// Send queues a reply, waiting for room: replies are paced by the client
// that asked for them. False when the connection closes meanwhile.
func (c *Conn) Send(w *jsonw.Writer) bool {
	c.queued.Add(int64(w.Len()))
	select {
	case c.out <- frame{w: w}:
		return true
	case <-c.closing:
		c.queued.Add(-int64(w.Len()))
		jsonw.Put(w)
		return false
	}
}

// overBytes reports whether queuing n more bytes of pushes goes past
// BufferBytes, while other frames wait.
func (c *Conn) overBytes(n int) bool {
	if c.opts.BufferBytes <= 0 {
		return false
	}
	q := c.queued.Load()
	return q > 0 && q+int64(n) > c.opts.BufferBytes
}

// countDropped counts the connection as dropped for falling behind, once.
func (c *Conn) countDropped() {
	if c.opts.Dropped != nil && !c.counted.Swap(true) {
		c.opts.Dropped()
	}
}

// Flush waits until every frame queued so far is written, or the
// connection closes.
func (c *Conn) Flush() {
	done := make(chan struct{})
	select {
	case c.out <- frame{flushed: done}:
	case <-c.closing:
		return
	}
	select {
	case <-done:
	case <-c.closing:
	}
}

// Hold holds the pushes from now on, until as many Unhold: while a
// subscription is being made, its reply (and replay) must reach the client
// before the pushes it brings. Up to Options.Buffer pushes are held; past
// that the client is too slow.
func (c *Conn) Hold() { c.holds++ }

// Unhold ends a Hold; when the last one ends, the held pushes are queued,
// in order.
func (c *Conn) Unhold() {
	c.holds--
	if c.holds > 0 {
		return
	}
	held := c.held
	c.held = nil
	for _, w := range held {
		c.queued.Add(-int64(w.Len())) // Post counts it again
		c.Post(w)
	}
}

// Push queues a push for the client without waiting, or holds it while a
// Hold lasts.
func (c *Conn) Push(w *jsonw.Writer) {
	if c.holds == 0 || c.slow {
		c.Post(w)
		return
	}
	if len(c.held) >= c.opts.Buffer || c.overBytes(w.Len()) {
		jsonw.Put(w)
		c.tooSlow()
		return
	}
	c.queued.Add(int64(w.Len()))
	c.held = append(c.held, w)
}

// Post queues a frame for the client without waiting, ahead of the pushes
// held: a reply that must come before them.
func (c *Conn) Post(w *jsonw.Writer) {
	if c.slow {
		jsonw.Put(w)
		return
	}
	if c.overBytes(w.Len()) {
		jsonw.Put(w)
		c.tooSlow()
		return
	}
	n := int64(w.Len())
	c.queued.Add(n)
	select {
	case c.out <- frame{w: w}:
	default:
		c.queued.Add(-n)
		jsonw.Put(w)
		c.tooSlow()
	}
}

// tooSlow closes the connection of a client that does not keep up.
func (c *Conn) tooSlow() {
	c.slow = true
	for _, w := range c.held {
		jsonw.Put(w)
	}
	c.held = nil
	c.countDropped()
	reason := fmt.Sprintf("subscriber too slow: %d messages buffered", c.opts.Buffer)
	if c.opts.BufferBytes > 0 {
		reason = fmt.Sprintf("subscriber too slow: %d messages or %d bytes buffered", c.opts.Buffer, c.opts.BufferBytes)
	}
	c.Close(websocket.StatusPolicyViolation, reason)
}

// writeLoop writes the queued frames until the connection closes. It
// writes a run of the frames queued at once with one write to the socket
// (cork.go), within Options.WriteTimeout.
func (c *Conn) writeLoop() {
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
			if !c.writeRun(f) {
				return
			}
		}
	}
}

// writeRun writes f and the frames queued behind it, up to a run's bounds,
// corked; false when the connection is done.
func (c *Conn) writeRun(f frame) bool {
	c.sock.cork()
	frames, bytes := 0, 0
	for {
		if f.flushed != nil {
			// A barrier: what came before it must be on the socket.
			if !c.uncork() {
				return false
			}
			close(f.flushed)
			c.sock.cork()
		} else {
			n := f.w.Len()
			err := c.ws.Write(context.Background(), websocket.MessageText, f.w.Bytes())
			c.queued.Add(-int64(n))
			jsonw.Put(f.w)
			if err != nil {
				c.sock.uncork(c.opts.WriteTimeout)
				c.Close(websocket.StatusInternalError, "write failed")
				return false
			}
			frames, bytes = frames+1, bytes+n
		}
		if frames >= corkFrames || bytes >= corkBytes {
			break
		}
		select {
		case f = <-c.out:
			continue
		default:
		}
		break
	}
	return c.uncork()
}

// uncork writes what the run gathered; false when the write failed, and
// the connection is closed.
func (c *Conn) uncork() bool {
	err := c.sock.uncork(c.opts.WriteTimeout)
	switch {
	case err != nil && timedOut(err):
		// A client that does not take its frames in time is too slow,
		// like one whose queue fills.
		c.countDropped()
		c.Close(websocket.StatusPolicyViolation, fmt.Sprintf("subscriber too slow: a write took over %v", c.opts.WriteTimeout))
		return false
	case err != nil:
		c.Close(websocket.StatusInternalError, "write failed")
		return false
	}
	return true
}

// pingLoop pings the client every interval, and drops a connection whose
// pong has not come within two intervals.
func (c *Conn) pingLoop() {
	interval := c.opts.PingInterval
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.closing:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 2*interval)
			err := c.ws.Ping(ctx)
			cancel()
			if err != nil {
				if c.opts.DeadPeerReason != "" {
					c.Close(websocket.StatusGoingAway, c.opts.DeadPeerReason)
				} else {
					c.abort()
				}
				return
			}
		}
	}
}
