package wsconn

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// coder/websocket flushes every frame to the socket on its own: one write
// system call per frame, and one read for the client. Under load the writer
// finds several frames queued; it corks the socket, hands them all to
// coder/websocket, which then writes into memory, and uncorks: one write for
// the run (and the client reads it at once). A run is bounded (corkFrames,
// corkBytes) so that memory and latency stay bounded too.
const (
	corkFrames = 128
	corkBytes  = 256 << 10
)

// corkConn is the socket under coder/websocket. Corked, its writes gather
// in buf; uncork writes buf in one go. Its lock orders every write: a write
// that comes while corked (a ping, a close frame from another goroutine)
// goes into buf behind the frames before it.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes what gathered, within timeout (0: none). The error is
// os.ErrDeadlineExceeded when the client did not take it in time.
func (c *corkConn) uncork(timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) == 0 {
		return nil
	}
	if timeout > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(timeout))
		defer c.Conn.SetWriteDeadline(time.Time{})
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > 2*corkBytes {
		c.buf = nil // a run with one huge frame: do not keep its buffer
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

func timedOut(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// corkWriter hands coder/websocket's handshake a corkConn in place of the
// hijacked socket.
type corkWriter struct {
	http.ResponseWriter
	conn *corkConn
}

func (w *corkWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("wsconn: the response cannot be hijacked")
	}
	raw, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	// net/http has flushed the handshake's answer: the writer is empty, and
	// a new one over the corkConn replaces it.
	if err := brw.Writer.Flush(); err != nil {
		raw.Close()
		return nil, nil, err
	}
	w.conn = &corkConn{Conn: raw}
	return w.conn, bufio.NewReadWriter(brw.Reader, bufio.NewWriter(w.conn)), nil
}
