// Package resp is the Redis-protocol front door: RESP2 and RESP3 (HELLO),
// inline commands and pipelining, served by the same KV shard actors,
// pub/sub router and commit pipeline as the data door (gateway/synap),
// through the same messages. Replies and error texts are Redis 7's, so
// that redis-cli, client libraries and redis-benchmark work unchanged.
//
// A connection is a goroutine owned by the server, reading and answering
// commands in order; one that subscribes gets a session actor (the
// router's subscriber) and a writer goroutine, both owned by the
// connection, and a bounded output buffer past which it is dropped.
package resp

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/actors/kv"
	"github.com/troupe-run/troupe/gateway/internal/accept"
	"github.com/troupe-run/troupe/gateway/internal/access"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/defaults"
)

// Config bounds and describes the door.
type Config struct {
	APIKeys  []string
	Insecure bool
	// MaxRequest bounds one command (its bulk strings and the buffer
	// holding it), as Redis's proto-max-bulk-len does.
	MaxRequest int
	// MaxClients bounds the connections open at once (Redis's maxclients).
	MaxClients int
	// OutputBuffer bounds the bytes queued to a subscribed connection; past
	// it the connection is closed, as Redis's client-output-buffer-limit
	// for pubsub does.
	OutputBuffer int
	// WriteTimeout is the deadline of one write to a client.
	WriteTimeout time.Duration
	// RequestTimeout bounds the retries of a command waiting for keys
	// another command holds (--request-timeout); each wait on a shard is
	// bounded by the system's own.
	RequestTimeout time.Duration
	// MaxPatterns bounds the channels and patterns of one subscriber.
	MaxPatterns int
	// ScanCursors bounds the SCAN cursors the server remembers.
	ScanCursors int
	// EventLoops is the number of event loops serving connections
	// (loop_linux.go); 0: none, every connection has a goroutine of its
	// own.
	EventLoops int
	// For INFO.
	Version  string
	DataDir  string
	Fsync    string
	MaxBatch int
}

// Keyspace runs data commands on the shards (kv.Keyspace).
type Keyspace interface {
	Do(ctx context.Context, req *messages.DataRequest) (*messages.DataReply, error)
	// WaitWrite registers a blocked pop's keys: its channel receives when
	// a write may have given one of them something to pop.
	WaitWrite(keys []string) *kv.Waiter
	// Wrote signals the waiters of what a command sent through a Pipe
	// wrote (Do signals by itself).
	Wrote(req *messages.DataRequest, rep *messages.DataReply)
}

// PubSub runs pub/sub commands on the router (pubsub.Service).
type PubSub interface {
	Do(ctx context.Context, req *messages.PubSubRequest) (*messages.PubSubReply, error)
}

// Sessions spawns session actors under the door's supervisor.
type Sessions interface {
	Spawn(name string, producer actor.Producer) (*actor.PID, error)
	Stop(pid *actor.PID)
}

// Backends are what the door serves.
type Backends struct {
	Keyspace Keyspace
	PubSub   PubSub
	Sessions Sessions
	// Pipes makes a connection's pipe for pipelined commands (nil: a
	// pipeline runs one command at a time).
	Pipes func() Pipe
	// Dropped counts a subscriber closed as too slow (nil: not counted).
	Dropped func()
}

// Server is the door.
type Server struct {
	cfg  Config
	b    Backends
	gate access.Gate
	log  *slog.Logger

	started time.Time
	nextID  atomic.Int64

	mu      sync.Mutex
	conns   map[*conn]struct{}
	closed  bool
	wg      sync.WaitGroup
	lnMu    sync.Mutex
	lns     []net.Listener
	closing chan struct{}

	// local carries channels the router cannot (a name that is not a
	// dot-separated topic): they reach this door's subscribers only.
	local localHub

	// loops serve connections that run the simple commands (loop_linux.go);
	// nextLoop picks the next connection's.
	loops    []*loop
	nextLoop atomic.Uint32

	cursors *cursorTable
	txns    idTxns // transactions opened by client id (MULTI <id>)

	stats stats
}

type stats struct {
	connections, commands, rejected, dropped atomic.Int64
	netOut, pubsubMessages                   atomic.Int64
	blocked, subscribers                     atomic.Int64
}

// New returns the door.
func New(cfg Config, b Backends, log *slog.Logger) *Server {
	if cfg.MaxRequest <= 0 {
		cfg.MaxRequest = 512 << 20
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = defaults.MaxSessions
	}
	if cfg.OutputBuffer <= 0 {
		cfg.OutputBuffer = defaults.WSBufferBytes
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = defaults.WSWriteTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaults.RequestTimeout
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = defaults.MaxBatch
	}
	if cfg.ScanCursors <= 0 {
		cfg.ScanCursors = 65536
	}
	attachAsync.Do(attach)
	s := &Server{cfg: cfg, b: b, gate: access.NewGate(cfg.APIKeys, cfg.Insecure), log: log,
		started: time.Now(), conns: map[*conn]struct{}{}, closing: make(chan struct{}),
		cursors: newCursorTable(cfg.ScanCursors)}
	s.local.subs = map[string]map[*conn]struct{}{}
	s.loops = newLoops(s, cfg.EventLoops)
	return s
}

// Serve accepts connections on ln until Close; it returns nil then.
func (s *Server) Serve(ln net.Listener) error {
	s.lnMu.Lock()
	s.lns = append(s.lns, ln)
	s.lnMu.Unlock()
	return accept.Loop(ln, s.closing, s.accept)
}

func (s *Server) accept(nc net.Conn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if len(s.conns) >= s.cfg.MaxClients {
		s.mu.Unlock()
		s.stats.rejected.Add(1)
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = nc.Write([]byte("-ERR max number of clients reached\r\n"))
		nc.Close()
		return
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.stats.connections.Add(1)
	if len(s.loops) > 0 && !s.gate.Protects(c.addr) {
		c.authed = !s.gate.Keyed()
		if s.loops[int(s.nextLoop.Add(1))%len(s.loops)].add(c) {
			return
		}
	}
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// Clients is the number of connections open.
func (s *Server) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Close stops accepting, closes every connection and waits for their
// goroutines (and the session actors they own) to end.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.closed = true
	close(s.closing)
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.lnMu.Lock()
	for _, ln := range s.lns {
		ln.Close()
	}
	s.lnMu.Unlock()
	for _, c := range conns {
		c.shut()
	}
	for _, l := range s.loops {
		l.stop()
	}
	s.wg.Wait()
}
