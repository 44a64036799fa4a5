package resp

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
)

// flushAt is the reply bytes past which a pipeline's replies are written
// before the rest of it runs, so that a long pipeline holds a bounded
// amount of output.
const flushAt = 64 << 10

// conn is one client connection. Only its own goroutine touches its
// fields, except sub, which the session actor and the writer share under
// sub.mu.
type conn struct {
	s  *Server
	nc net.Conn
	// fd is the socket's descriptor while an event loop serves the
	// connection (nc is closed then), else -1; shutting tells the loop
	// that the server closed the connection (shut).
	fd       int
	shutting atomic.Bool
	id       int64
	addr     string
	// laddr is nc's local address, read by other connections' CLIENT
	// LIST (nc changes when an event loop hands the connection over).
	laddr   string
	rd      *reader
	w       writer
	created time.Time
	// deadline is the write deadline set on nc (see flush).
	deadline time.Time

	name    string
	authed  bool
	quit    bool
	lastCmd string
	// ctx ends when the connection closes (shut), so that a command
	// waiting on a shard or blocked on a key lets go at once.
	ctx    context.Context
	cancel context.CancelFunc

	// MULTI: the queued commands (copied out of the read buffer), and
	// whether one was refused (EXEC then aborts, as in Redis).
	multi    bool
	multiBad bool
	queued   [][][]byte
	// WATCH: key -> version read when watched ("" when the shard could
	// not say, which aborts the EXEC).
	watched map[string]string
	// txn is the hold of the EXEC running (0: none); commands carry it.
	txn uint64

	// pipe runs pipelined commands side by side (made on first use);
	// pending are those in flight, in the client's order.
	pipe    Pipe
	pending []pending
	kept    [][]byte                // argument lists the pending commands' finishes keep (keep)
	free    []*messages.DataRequest // requests answered, for reuse (request)

	// pub/sub: nil until the first subscription.
	sub      *subscriber
	channels map[string]bool
	patterns map[string]bool
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, fd: -1, id: s.nextID.Add(1), addr: nc.RemoteAddr().String(), laddr: nc.LocalAddr().String(),
		rd: newReader(nc, s.cfg.MaxRequest), created: time.Now()}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// deniedText is what Redis's protected mode tells a refused client before
// it closes the connection, with the door's own remedies.
const deniedText = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. " +
	"In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: " +
	"1) Start Troupe with --api-keys and authenticate with AUTH <key>. " +
	"2) Start Troupe with --insecure, making sure the port is not reachable from the internet. " +
	"NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"

func (c *conn) serve() {
	if c.s.gate.Protects(c.addr) {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
		_, _ = c.nc.Write([]byte(deniedText))
		c.close()
		return
	}
	c.authed = !c.s.gate.Keyed()
	c.run()
}

// run reads and answers commands until the connection ends, and closes
// it.
func (c *conn) run() {
	defer c.close()
	for {
		args, err := c.rd.next()
		if err != nil || args == nil {
			c.drain()
		}
		if err != nil {
			var pe *errProtocol
			if errors.As(err, &pe) {
				c.w.err("ERR " + pe.Error())
			}
			c.flush()
			return
		}
		if args == nil {
			// Everything read is answered: the kept argument lists too.
			clear(c.kept)
			c.kept = c.kept[:0]
			if len(c.w.b) > 0 && !c.flush() {
				return
			}
			if err := c.rd.fill(); err != nil {
				if errors.Is(err, errTooBig) {
					c.w.err("ERR Protocol error: too big request")
					c.flush()
				}
				return
			}
			continue
		}
		c.s.stats.commands.Add(1)
		c.dispatch(args)
		if c.quit {
			c.flush()
			return
		}
		if len(c.w.b) > flushAt && !c.flush() {
			return
		}
	}
}

// flush writes the replies gathered; false when the connection is gone.
func (c *conn) flush() bool {
	if len(c.w.b) == 0 {
		return true
	}
	c.s.stats.netOut.Add(int64(len(c.w.b)))
	if c.sub != nil {
		ok := c.sub.enqueue(c.w.b)
		c.w.b = c.w.b[:0]
		return ok
	}
	// The deadline is moved only once half of it has passed: each write
	// still has at least half of --ws-write-timeout, and a connection
	// answering thousands of commands a second does not reset the poller's
	// timer for each of them.
	if now := time.Now(); c.deadline.Sub(now) < c.s.cfg.WriteTimeout/2 {
		c.deadline = now.Add(c.s.cfg.WriteTimeout)
		_ = c.nc.SetWriteDeadline(c.deadline)
	}
	_, err := c.nc.Write(c.w.b)
	if cap(c.w.b) > 1<<20 {
		c.w.b = nil // do not keep a huge reply's buffer for the connection's life
	} else {
		c.w.b = c.w.b[:0]
	}
	return err == nil
}

// shut closes the connection from any goroutine: the connection's own
// goroutine stops waiting and ends.
func (c *conn) shut() {
	c.shutting.Store(true)
	c.nc.Close() // first: no error about the cancelled wait reaches the client
	c.cancel()
}

// cleanup is the context of what a closing connection still asks the
// shards and the router (let go of its holds, watches and subscriptions):
// not cancelled with the connection, bounded by --request-timeout.
func (c *conn) cleanup() context.Context { return context.WithoutCancel(c.ctx) }

// close releases what the connection holds: its subscriptions, its
// session actor and writer, its watches.
func (c *conn) close() {
	c.cancel()
	if c.sub != nil {
		c.unsubscribeAll()
		c.sub.stop()
		c.s.stats.subscribers.Add(-1)
	}
	c.s.local.drop(c)
	if c.pipe != nil {
		c.pipe.Close()
	}
	if len(c.watched) > 0 {
		c.unwatch()
	}
	c.nc.Close()
}

// authorize checks a key presented by AUTH or HELLO ... AUTH.
func (c *conn) authorize(user, key string) bool {
	if user != "" && user != "default" {
		return false
	}
	if c.s.gate.Match(key) < 0 {
		return false
	}
	c.authed = true
	return true
}

// do runs a data command, inside the running EXEC's hold if any.
func (c *conn) do(req *messages.DataRequest) (*messages.DataReply, error) {
	if c.txn != 0 {
		req.Txn = c.txn
	}
	return c.s.b.Keyspace.Do(c.ctx, req)
}

// reply writes a failed command's error, and reports whether there was
// one: err (the command could not run) or the reply's error code.
func (c *conn) failed(rep *messages.DataReply, err error) bool {
	if err != nil {
		c.w.err("ERR " + strings.ReplaceAll(err.Error(), "\n", " "))
		return true
	}
	if rep.ErrorCode == "" {
		return false
	}
	c.w.err(errorText(rep))
	return true
}

// errorText is the Redis error of a keyspace error code.
func errorText(rep *messages.DataReply) string {
	switch rep.ErrorCode {
	case messages.CodeWrongType:
		return wrongType
	case messages.CodeNotInteger:
		return "ERR value is not an integer or out of range"
	case messages.CodeNotFloat:
		return "ERR value is not a valid float"
	case messages.CodeOverflow:
		return "ERR increment or decrement would overflow"
	case messages.CodeOutOfRange:
		return "ERR index out of range"
	case messages.CodeNoSuchKey:
		return "ERR no such key"
	case messages.CodeMemoryLimit:
		return "OOM command not allowed when used memory > 'maxmemory'."
	case messages.CodeKeyReserved:
		return "BUSY " + rep.ErrorMessage
	}
	return "ERR " + rep.ErrorMessage
}

const (
	wrongType   = "WRONGTYPE Operation against a key holding the wrong kind of value"
	syntaxErr   = "ERR syntax error"
	notInteger  = "ERR value is not an integer or out of range"
	notFloat    = "ERR value is not a valid float"
	outOfRange  = "ERR value is out of range, must be positive"
	noAuth      = "NOAUTH Authentication required."
	wrongPass   = "WRONGPASS invalid username-password pair or user is disabled."
	minMaxFloat = "ERR min or max is not a float"
)

// subscriber is the pub/sub side of a connection: the bytes queued for
// it (replies and pushes, in order) and the goroutine writing them.
type subscriber struct {
	c    *conn
	mu   sync.Mutex
	buf  []byte
	dead bool
	wake chan struct{}
	done chan struct{}
	// pid is the session actor the router delivers to (nil until a
	// channel goes through the router).
	pid    *actor.PID
	resp3  bool // the connection's protocol, for pushes; under mu
	exited chan struct{}
}

// enqueue queues bytes for the writer; false (and the connection closed)
// past the output bound.
func (sb *subscriber) enqueue(b []byte) bool {
	sb.mu.Lock()
	if sb.dead {
		sb.mu.Unlock()
		return false
	}
	if len(sb.buf)+len(b) > sb.c.s.cfg.OutputBuffer {
		sb.dead = true
		sb.mu.Unlock()
		sb.c.s.stats.dropped.Add(1)
		if f := sb.c.s.b.Dropped; f != nil {
			f()
		}
		sb.c.s.log.Info("resp subscriber closed: output buffer full", "client", sb.c.addr,
			"limit", sb.c.s.cfg.OutputBuffer)
		sb.c.shut()
		return false
	}
	sb.buf = append(sb.buf, b...)
	sb.mu.Unlock()
	select {
	case sb.wake <- struct{}{}:
	default:
	}
	return true
}

// write runs until stop: it takes what was queued and writes it with a
// deadline; a failed write closes the connection. After stop it writes
// what is left (a QUIT's reply) once, and ends.
func (sb *subscriber) write() {
	defer close(sb.exited)
	var spare []byte
	for {
		closing := false
		select {
		case <-sb.done:
			closing = true
		case <-sb.wake:
		}
		sb.mu.Lock()
		out := sb.buf
		sb.buf = spare[:0]
		if closing {
			sb.dead = true // pushes from now on are dropped
		}
		sb.mu.Unlock()
		if len(out) > 0 {
			_ = sb.c.nc.SetWriteDeadline(time.Now().Add(sb.c.s.cfg.WriteTimeout))
			if _, err := sb.c.nc.Write(out); err != nil {
				sb.mu.Lock()
				sb.dead = true
				sb.mu.Unlock()
				sb.c.shut()
				return
			}
		}
		if closing {
			return
		}
		spare = out
	}
}

// stop ends the writer, after it wrote what was queued, and the session
// actor.
func (sb *subscriber) stop() {
	close(sb.done)
	<-sb.exited
	if sb.pid != nil {
		sb.c.s.b.Sessions.Stop(sb.pid)
	}
}
