// Package synap is the data service's front door: the HTTP and WebSocket API
// of Synap (spec/synap-api.txt). It decodes and validates requests, turns
// each into a message for the actor that owns its data (the keyspace, a
// queue, a room, the pub/sub router) or a call on the Admin, and encodes the
// reply in Synap's format. It holds no state of its own but its WebSocket
// sessions and its rate limiter's buckets.
//
// Status codes: 400 for a malformed request or an unknown command, and, as in
// Synap, for a command that cannot apply to the value a key holds
// (WRONG_TYPE, NOT_AN_INTEGER); 401 without a valid API key; 403 for a remote
// client in protected mode; 404 for an unknown route; 409 KEY_BUSY; 413 past
// the body limit; 422 for valid JSON with invalid data (the message names
// the field); 503 while draining, when the backend cannot answer, or past the
// request's deadline (code TIMEOUT); 507 MEMORY_LIMIT_EXCEEDED; 500 only for
// a store failure or a bug (a recovered panic).
//
// Wire compatibility with Synap's SDKs, beyond the spec: every envelope also
// carries "success": true|false, which the SDKs test; a request without a
// request_id gets a generated one; replies carry the extra fields the SDKs
// read (hash.keys "fields", set.card "cardinality", hash.mget "values" as an
// object, kv.scan "count"), and commands accept the SDKs' aliases and field
// names (kv.del "key", kv.scan "limit", zincrby "increment", list.lrange ...).
package synap

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/troupe-run/troupe/gateway/internal/access"
	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/gateway/internal/recovery"
	"github.com/troupe-run/troupe/gateway/internal/reqbody"
	"github.com/troupe-run/troupe/gateway/internal/wsconn"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/defaults"
)

// door names this front door in metrics.
const door = "data"

// Config configures a Server.
type Config struct {
	// APIKeys are the keys a client may present. With none, the server runs
	// in protected mode unless Insecure is set.
	APIKeys []string
	// Insecure serves clients other than loopback ones when no key is set.
	Insecure bool
	// MaxBody bounds a request body, in bytes (413 past it).
	MaxBody int64
	// MaxBatch bounds the commands of one batch (422 past it).
	MaxBatch int
	// RequestTimeout bounds the work on one request (503 TIMEOUT past it).
	RequestTimeout time.Duration
	// Chaos enables POST /admin/chaos.
	Chaos bool
	// Version is reported by /health and admin.stats.
	Version string

	// WSBuffer bounds the frames queued for one WebSocket client; a client
	// that lets it fill is closed with status 1008.
	WSBuffer int
	// WSBufferBytes bounds the bytes queued for one WebSocket client (and
	// held by one HTTP pub/sub subscriber) as WSBuffer bounds the frames.
	WSBufferBytes int64
	// WSWriteTimeout bounds one write to a WebSocket client; one that does
	// not take a frame in time is closed with 1008 as too slow.
	WSWriteTimeout time.Duration
	// WSReadLimit bounds one frame from a WebSocket client, in bytes (the
	// connection is closed with status 1009 past it).
	WSReadLimit int64
	// WSPingInterval is how often a WebSocket client is pinged; one that
	// has not answered within two intervals is closed.
	WSPingInterval time.Duration
	// MaxSessions bounds the open WebSocket connections (503 past it).
	MaxSessions int
	// RateLimit is the requests per second each client may make, sustained
	// (0: no limit), RateBurst how many at once (0: one second's worth).
	RateLimit float64
	RateBurst int
	// RateClients bounds the clients the rate limiter keeps a bucket for
	// (full ones are forgotten first).
	RateClients int
	// MaxTxns bounds the open transactions (507 LIMIT past it).
	MaxTxns int
	// Original answers in the original server's shapes instead of the
	// spec's (--data-replies original): the envelope {success, request_id,
	// payload, error}, a failed command as HTTP 200 with error as text, and
	// the per-command differences README.md lists. Both modes run the same
	// command; only the encoding of its reply changes.
	Original bool
}

// Server serves the data service's HTTP and WebSocket API.
//
// Access control: with API keys configured, every route but /health and
// /metrics needs one (X-API-Key or Authorization: Bearer; on the WebSocket
// route, also the api_key query parameter), else 401. With no key and no
// Insecure, only loopback clients are served (403 otherwise), except on
// /health and /metrics: those expose no data, and health probes come from
// elsewhere.
//
// Rate limiting (RateLimit set): each client, known by its API key or, with
// no key configured, by its IP address (never by a forwarded-for header,
// which anyone can write), has a token bucket. Every request that passes
// access control takes a token and gets X-RateLimit-Limit (the burst),
// X-RateLimit-Remaining and X-RateLimit-Reset (unix seconds when the bucket
// is full again); with none left it is answered 429. Over a WebSocket, the
// handshake and each command frame take a token; a frame refused gets an
// error reply. /health and /metrics are not limited.
type Server struct {
	cfg      Config
	ks       Keyspace
	queues   Queues
	sender   QueueSender // nil: the queues take one command of a client at a time
	rooms    Rooms
	pubsub   PubSub
	sessions Sessions
	admin    Admin
	watch    KeyWatcher // nil: no key watching
	metrics  Metrics
	log      *slog.Logger
	gate     access.Gate
	limiter  *rateLimiter // nil: no rate limit
	mux      *http.ServeMux
	commands map[string]command
	serveCmd http.HandlerFunc // serveCommand, observed
	draining atomic.Bool
	conns    *wsconn.Registry
	wsSeq    atomic.Uint64 // names sessions
	hll      hllCounters
	bitmaps  bitmapCounters
	geo      geoCounters
	txns     txnTable
	inboxes  inboxes
	calls    callCounts   // commands run, by name (the *.stats commands)
	kvHits   atomic.Int64 // kv.get of a key that exists
	kvMisses atomic.Int64
}

// New returns a Server over the backends b.
func New(cfg Config, b Backends, log *slog.Logger) *Server {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = defaults.MaxBody
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = defaults.MaxBatch
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaults.RequestTimeout
	}
	if cfg.WSBuffer <= 0 {
		cfg.WSBuffer = defaults.WSBuffer
	}
	if cfg.WSBufferBytes <= 0 {
		cfg.WSBufferBytes = defaults.WSBufferBytes
	}
	if cfg.WSWriteTimeout <= 0 {
		cfg.WSWriteTimeout = defaults.WSWriteTimeout
	}
	if cfg.WSReadLimit <= 0 {
		cfg.WSReadLimit = defaults.WSReadLimit
	}
	if cfg.WSPingInterval <= 0 {
		cfg.WSPingInterval = defaults.WSPingInterval
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = defaults.MaxSessions
	}
	if cfg.RateClients <= 0 {
		cfg.RateClients = defaults.RateClients
	}
	if cfg.MaxTxns <= 0 {
		cfg.MaxTxns = defaults.MaxTxns
	}
	m := b.Metrics
	if m == nil {
		m = noMetrics{}
	}
	sender, _ := b.Queues.(QueueSender)
	s := &Server{
		cfg:      cfg,
		ks:       b.Keyspace,
		queues:   b.Queues,
		sender:   sender,
		rooms:    b.Rooms,
		pubsub:   b.PubSub,
		sessions: b.Sessions,
		admin:    b.Admin,
		watch:    b.Watch,
		metrics:  m,
		log:      log,
		gate:     access.NewGate(cfg.APIKeys, cfg.Insecure),
		limiter:  newRateLimiter(cfg.RateLimit, cfg.RateBurst, cfg.RateClients, time.Now),
		txns:     txnTable{max: cfg.MaxTxns},
		mux:      http.NewServeMux(),
		commands: make(map[string]command),
		conns: wsconn.NewRegistry(wsconn.Options{Max: cfg.MaxSessions, Buffer: cfg.WSBuffer,
			ReadLimit: cfg.WSReadLimit, PingInterval: cfg.WSPingInterval, AnyOrigin: len(cfg.APIKeys) > 0,
			BufferBytes: cfg.WSBufferBytes, WriteTimeout: cfg.WSWriteTimeout,
			Dropped: func() { m.SubscriberDropped(door) }}),
	}
	for _, table := range [][]commandSpec{kvCommands, hashCommands, listCommands, setCommands, zsetCommands,
		adminCommands, queueCommands, streamCommands, pubsubCommands, hllCommands, bitmapCommands, geoCommands, txnCommands, extraCommands, watchCommands, statsCommands} {
		for _, c := range table {
			if _, dup := s.commands[c.name]; dup {
				panic("synap: command registered twice: " + c.name)
			}
			s.commands[c.name] = c.run
		}
	}
	s.calls = newCallCounts(func(add func(string)) {
		for name := range s.commands {
			add(name)
		}
	})
	s.serveCmd = s.observe(s.serveCommand)
	s.routes(b.MetricsHandler)

	switch {
	case len(cfg.APIKeys) > 0:
	case cfg.Insecure:
		log.Warn("data service: no API key configured and --insecure set: every client is served unauthenticated")
	default:
		log.Warn("data service: no API key configured: serving loopback clients only (set --api-keys, or --insecure to serve everyone)")
	}
	return s
}

// Drain makes the server refuse new work: from now on every request but
// /health and /metrics is answered 503 SERVICE_UNAVAILABLE, and /health
// reports "draining". In-flight requests finish normally; WebSocket
// connections, which have no end of their own, are closed with status 1001.
func (s *Server) Drain() {
	s.draining.Store(true)
	s.conns.Drain()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" || r.URL.Path == "/metrics" {
		s.mux.ServeHTTP(w, r)
		return
	}
	if s.draining.Load() {
		w.Header().Set("Connection", "close")
		s.reject(w, errorf(http.StatusServiceUnavailable, messages.CodeUnavailable, "the server is shutting down"), "draining")
		return
	}
	key, ae := s.authorize(r)
	if ae != nil {
		label := "forbidden"
		if ae.status == http.StatusUnauthorized {
			label = "unauthorized"
			w.Header().Set("WWW-Authenticate", `Bearer realm="troupe"`)
		}
		s.reject(w, ae, label)
		return
	}
	if s.limiter != nil {
		v := s.limiter.take(clientOf(r, key))
		v.setHeaders(w.Header())
		if !v.ok {
			s.reject(w, v.err(), "rate_limited")
			return
		}
	}
	// The command endpoint carries nearly all the traffic: skip the mux.
	if r.URL.Path == commandPath && r.Method == http.MethodPost {
		s.serveCmd(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// handlerFunc is an HTTP handler that reports what it ran and the status it
// answered, for metrics.
type handlerFunc func(w http.ResponseWriter, r *http.Request) (command string, status int)

// observe adapts h into an http.HandlerFunc that records each request in
// metrics and turns a panic into a 500, so that one bad request cannot take
// the server down.
func (s *Server) observe(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cmd, status := "panic", http.StatusInternalServerError
		defer func() { s.metrics.ObserveRequest(door, cmd, status, time.Since(start)) }()
		defer recovery.Recover(s.log, "data service", r, func() {
			s.writeError(w, errorf(http.StatusInternalServerError, codeInternal, "internal error; the server log has the details"))
		})
		cmd, status = h(w, r)
	}
}

// reject answers a request refused before it reached its handler.
func (s *Server) reject(w http.ResponseWriter, ae *apiError, label string) {
	start := time.Now()
	s.writeError(w, ae)
	s.metrics.ObserveRequest(door, label, ae.status, time.Since(start))
}

// writeError answers ae in the error envelope of the reply mode.
func (s *Server) writeError(w http.ResponseWriter, ae *apiError) int {
	out := jsonw.Get()
	defer jsonw.Put(out)
	s.writeErrorEnvelope(out, "response", []byte("null"), ae)
	return out.Respond(w, ae.status)
}

// requestContext bounds the work on one request.
func (s *Server) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
}

// readBody reads the request body, up to the configured limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (reqbody.Body, error) {
	body, err := reqbody.Read(w, r, s.cfg.MaxBody)
	switch {
	case errors.Is(err, reqbody.ErrTooLarge):
		return body, errorf(http.StatusRequestEntityTooLarge, codeTooLarge,
			"the request body is larger than the limit of %d bytes (--max-body)", s.cfg.MaxBody)
	case err != nil:
		return body, malformed("reading the request body: %v", err)
	}
	return body, nil
}
