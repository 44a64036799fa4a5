// Package synaprpc is the SynapRPC door (--synap-rpc-addr): the binary RPC
// protocol the original Synap server serves on port 15501 and its SDKs
// reach with synap:// URLs (frames of MessagePack, see wire.go), over the
// data door's commands. Each native command (SET, HGETALL, QPUBLISH,
// SUBSCRIBE ...) is translated into the data door's command of the same
// meaning and run by it (synap.Server.Exec: same validation, transactions,
// durability and counters as over HTTP); its reply is translated back into
// the native reply the original gives.
//
// Bounds: a frame is at most Config.MaxFrame bytes (the connection is
// closed past it, as the length cannot be trusted), at most MaxConns
// connections are open (one past it is closed at once), the frames queued
// for a client are at most OutputBuffer bytes and each write has
// WriteTimeout (a client past either is closed and counted as dropped), a
// command runs under RequestTimeout, and a connection's commands run one at
// a time, in order, as on the original's Redis-like ports.
package synaprpc

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/actors/kv"
	"github.com/troupe-run/troupe/gateway/internal/accept"
	"github.com/troupe-run/troupe/gateway/internal/access"
	"github.com/troupe-run/troupe/gateway/synap"
	"github.com/troupe-run/troupe/messages"
)

// Config configures a Server.
type Config struct {
	// APIKeys are the keys a client may present with AUTH; with none, only
	// loopback clients are served unless Insecure.
	APIKeys  []string
	Insecure bool
	// MaxFrame bounds a request frame, in bytes.
	MaxFrame int
	// MaxConns bounds the open connections.
	MaxConns int
	// OutputBuffer bounds the bytes queued for one client.
	OutputBuffer int
	// WriteTimeout bounds one write to a client.
	WriteTimeout time.Duration
	// RequestTimeout bounds one command.
	RequestTimeout time.Duration
	// Version is what HELLO reports.
	Version string
}

// Commands runs the data door's commands (synap.Server implements it).
type Commands interface {
	// Exec runs a command and returns its reply payload, JSON in the
	// original's shapes; a failure is a *synap.CommandError.
	Exec(ctx context.Context, name string, payload []byte) ([]byte, error)
	// Queue queues a command into a client's open transaction.
	Queue(clientID, name string, payload []byte) error
}

// PubSub is the topic router.
type PubSub interface {
	Do(ctx context.Context, req *messages.PubSubRequest) (*messages.PubSubReply, error)
}

// Sessions starts and stops the actors pub/sub delivers to.
type Sessions interface {
	Spawn(name string, producer actor.Producer) (*actor.PID, error)
	Stop(pid *actor.PID)
}

// Backends are what the door serves.
type Backends struct {
	Commands Commands
	PubSub   PubSub
	Sessions Sessions
	// Dropped counts a client closed for not keeping up (nil: not counted).
	Dropped func()
	// Waits wakes the blocking pops (BLPOP ...) when a write may have
	// given one of their keys something to pop (the keyspace; nil: they
	// answer as if timed out when nothing is there).
	Waits Waits
	// Watch serves KV.WATCH (the keyspace; nil: KV.WATCH is refused).
	Watch synap.KeyWatcher
}

// Waits registers a blocked pop's keys: the waiter's channel receives when
// a write may have given one of them something.
type Waits interface {
	WaitWrite(keys []string) *kv.Waiter
}

// Server serves SynapRPC connections.
type Server struct {
	cfg  Config
	b    Backends
	log  *slog.Logger
	gate access.Gate

	mu      sync.Mutex
	conns   map[*conn]struct{}
	lns     []net.Listener
	closed  bool
	closing chan struct{}
	wg      sync.WaitGroup
	seq     atomic.Int64
	scripts scripts // EVAL's, server-wide as the original's
}

// New returns a Server; zero bounds take the data door's defaults.
func New(cfg Config, b Backends, log *slog.Logger) *Server {
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = 16 << 20
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 10000
	}
	if cfg.OutputBuffer <= 0 {
		cfg.OutputBuffer = 16 << 20
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if b.Dropped == nil {
		b.Dropped = func() {}
	}
	return &Server{cfg: cfg, b: b, log: log, gate: access.NewGate(cfg.APIKeys, cfg.Insecure),
		conns: map[*conn]struct{}{}, closing: make(chan struct{})}
}

// Serve accepts connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	return accept.Loop(ln, s.closing, s.accept)
}

func (s *Server) accept(nc net.Conn) {
	s.mu.Lock()
	if closed := s.closed; closed || len(s.conns) >= s.cfg.MaxConns {
		s.mu.Unlock()
		if !closed {
			s.log.Warn("synap-rpc: connection refused: --max-sessions connections are open", "client", nc.RemoteAddr().String())
		}
		nc.Close()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{s: s, nc: nc, id: s.seq.Add(1), ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		fw: newFrameWriter(), authed: !s.gate.Keyed()}
	c.refused = s.gate.Protects(nc.RemoteAddr().String())
	s.conns[c] = struct{}{}
	s.wg.Add(2)
	s.mu.Unlock()
	go c.write()
	go c.read()
}

// Close stops accepting, closes every connection and waits for their
// goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.closing)
		for _, ln := range s.lns {
			ln.Close()
		}
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shut()
	}
	s.wg.Wait()
}

// Conns returns the open connections' number.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// conn is one client connection: its reader runs the commands in order, its
// writer sends the queued frames.
type conn struct {
	s      *Server
	nc     net.Conn
	id     int64
	ctx    context.Context // ends with the connection
	cancel context.CancelFunc
	fw     *frameWriter // the reader's
	// rd buffers what the client sends; only the reader reads it, and
	// watchPeer while the reader waits in a blocking pop.
	rd *bufio.Reader

	authed  bool // AUTH succeeded, or no key is configured
	refused bool // protected mode refuses this client

	mu     sync.Mutex
	queue  [][]byte
	queued int
	closed bool
	wake   chan struct{}
	done   chan struct{} // closed by shut
	once   sync.Once
	sub    *subscriber // nil until SUBSCRIBE
}

// shut closes the connection; its goroutines end.
func (c *conn) shut() {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.queue = nil
		c.mu.Unlock()
		close(c.done)
		c.cancel()
		c.nc.Close()
	})
}

// enqueue queues a frame for the writer. Past OutputBuffer the client is
// too slow for what it is sent: it is closed and counted.
func (c *conn) enqueue(frame []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.queued+len(frame) > c.s.cfg.OutputBuffer && len(c.queue) > 0 {
		c.mu.Unlock()
		c.s.b.Dropped()
		c.s.log.Warn("synap-rpc: client closed: it let more than --ws-buffer-bytes pile up", "client", c.nc.RemoteAddr().String())
		c.shut()
		return
	}
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// write sends the queued frames, all those queued at once in one write.
func (c *conn) write() {
	defer c.s.wg.Done()
	var bufs net.Buffers
	for {
		select {
		case <-c.done:
			return
		case <-c.wake:
		}
		c.mu.Lock()
		frames := c.queue
		c.queue, c.queued = nil, 0
		c.mu.Unlock()
		if len(frames) == 0 {
			continue
		}
		bufs = append(bufs[:0], frames...)
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
		if _, err := bufs.WriteTo(c.nc); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.s.b.Dropped()
				c.s.log.Warn("synap-rpc: client closed: a write took longer than --ws-write-timeout", "client", c.nc.RemoteAddr().String())
			}
			c.shut()
			return
		}
	}
}

// read reads and runs the requests until the connection ends.
func (c *conn) read() {
	defer c.s.wg.Done()
	defer c.end()
	c.rd = bufio.NewReaderSize(c.nc, 64<<10)
	var buf []byte
	for {
		body, err := readFrame(c.rd, buf, c.s.cfg.MaxFrame)
		buf = body[:0]
		if err != nil {
			if errors.Is(err, errFrameTooLarge) {
				c.s.log.Warn("synap-rpc: client closed", "client", c.nc.RemoteAddr().String(), "err", err)
			}
			return
		}
		if len(body) == 0 {
			continue // a keep-alive
		}
		req, err := decodeRequest(body)
		if err != nil {
			// The frame's id cannot be trusted: the stream is closed, as
			// the wire's clients do with a malformed frame.
			c.s.log.Debug("synap-rpc: malformed request; connection closed", "client", c.nc.RemoteAddr().String(), "err", err)
			return
		}
		v, errText := c.handle(req)
		c.enqueue(c.fw.reply(req.id, v, errText))
	}
}

// end releases what the connection holds once its reader stops.
func (c *conn) end() {
	c.shut()
	if c.sub != nil {
		c.sub.stop()
	}
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
}

// handle runs one request and returns its value or its error text.
func (c *conn) handle(req request) (any, string) {
	name := upper(req.cmd)
	if req.id == pushID && name != "SUBSCRIBE" {
		return nil, "ERR request id 4294967295 is reserved for push frames"
	}
	if c.refused {
		return nil, "DENIED Troupe is in protected mode: no API key is configured (--api-keys) and the client is not on loopback (or start with --insecure)"
	}
	switch name {
	case "AUTH":
		return c.auth(req.args)
	case "HELLO":
		return Map{{"server", "troupe"}, {"version", c.s.cfg.Version}, {"proto", int64(1)},
			{"id", c.id}, {"authenticated", c.authed && c.s.gate.Keyed()}}, ""
	case "PING":
		if len(req.args) > 0 {
			if s, ok := req.args[0].(string); ok {
				return s, ""
			}
		}
		return "PONG", ""
	}
	if !c.authed {
		return nil, "NOAUTH Authentication required."
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.RequestTimeout)
	defer cancel()
	return c.run(ctx, name, argv(req.args))
}

// auth checks AUTH <key> or AUTH <user> <key> (the user is ignored: a key
// names no user).
func (c *conn) auth(args []any) (any, string) {
	if len(args) == 0 || len(args) > 2 {
		return nil, "ERR wrong number of arguments for 'AUTH'"
	}
	key, ok := args[len(args)-1].(string)
	if !ok {
		return nil, "ERR AUTH takes strings"
	}
	if !c.s.gate.Keyed() {
		return "OK", ""
	}
	if c.s.gate.Match(key) < 0 {
		c.authed = false
		return nil, "WRONGPASS invalid username-password pair or user is disabled."
	}
	c.authed = true
	return "OK", ""
}

// upper returns an ASCII command name in upper case.
func upper(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'a' <= b[j] && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// sessionName names a connection's subscriber actor.
func (c *conn) sessionName() string { return "synap-rpc-" + strconv.FormatInt(c.id, 10) }
