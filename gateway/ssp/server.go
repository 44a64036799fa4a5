// Package ssp is the views service's front door: the HTTP API of the Sp00ky
// SSP (spec/ssp-api.txt) and Troupe's WebSocket API of live view deltas. It
// decodes and validates requests, calls the views domain (Views) and encodes
// the replies in the SSP's format. It holds no state of its own but its
// WebSocket sessions.
//
// Status codes, as in the original: 200 with an empty body for a write
// (ingest, unregister, reset, log); 400 with a plain-text message for a
// malformed body, a missing field (named) or a query outside the supported
// subset (the views' message names the unsupported part); 401 without the
// right Authorization header; 503 {"code":"SSP_NOT_READY","message"} from
// ingest, register, unregister and the WebSocket while the views are being
// rebuilt. Beyond it: 403 for a remote client in protected mode, 404 for an
// unknown view on GET /debug/view, 413 past the body limit, 503
// {"code":"TIMEOUT"|"SERVICE_UNAVAILABLE","message"} when the views cannot
// answer or the server is draining, 507 for a limit reached, and 500 only
// for a store failure or a bug (a recovered panic).
package ssp

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/gateway/internal/recovery"
	"github.com/troupe-run/troupe/gateway/internal/reqbody"
	"github.com/troupe-run/troupe/gateway/internal/wsconn"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/defaults"
)

// Defaults for Config fields left zero.
const (
	DefaultVersion = "dev"
	DefaultSSPID   = "ssp-troupe"
	DefaultRefMode = "dedicated"
)

// door names this front door in metrics.
const door = "views"

// Config configures a Server.
type Config struct {
	// Secret is SPKY_AUTH_SECRET: when set, every route but /health,
	// /version and /info needs Authorization: Bearer <Secret>. When empty,
	// any bearer token is accepted, and the server runs in protected mode
	// unless Insecure is set.
	Secret string
	// Insecure serves clients other than loopback ones when no secret is
	// set.
	Insecure bool
	// MaxBody bounds a request body, in bytes (413 past it).
	MaxBody int64
	// RequestTimeout bounds each call on the views (503 TIMEOUT past it).
	RequestTimeout time.Duration

	// WSBuffer bounds the frames queued for one WebSocket client; a client
	// that lets it fill is closed with status 1008.
	WSBuffer int
	// WSReadLimit bounds one frame from a WebSocket client, in bytes (the
	// connection is closed with status 1009 past it).
	WSReadLimit int64
	// WSPingInterval is how often a WebSocket client is pinged; one that
	// has not answered within two intervals is closed.
	WSPingInterval time.Duration
	// MaxSessions bounds the open WebSocket connections (503 past it).
	MaxSessions int
	// WSBufferBytes bounds the bytes queued for one WebSocket client, as
	// WSBuffer bounds the frames; a view's result larger than it is taken
	// when nothing else waits.
	WSBufferBytes int64
	// WSWriteTimeout bounds one write to a WebSocket client; one that does
	// not take a frame within it is closed with status 1008.
	WSWriteTimeout time.Duration

	// Version is reported by /version and /info.
	Version string
	// SSPID is the id /info reports (SPKY_SSP_ID).
	SSPID string
	// RefMode is the ref_mode /info reports (SPKY_SSP_REF_MODE).
	RefMode string
	// Lifecycle is the scheduler lifecycle in scheduler mode
	// (SPKY_SCHEDULER_URL set); nil in standalone mode.
	Lifecycle Lifecycle
}

// Server serves the views service's HTTP and WebSocket API.
type Server struct {
	cfg      Config
	views    Views
	sessions Sessions
	metrics  Metrics
	log      *slog.Logger
	auth     authorizer
	mux      *http.ServeMux
	started  time.Time // for uptime_seconds
	draining atomic.Bool
	conns    *wsconn.Registry
	wsSeq    atomic.Uint64 // names sessions
}

// New returns a Server over views. metrics may be nil.
func New(cfg Config, views Views, sessions Sessions, metrics Metrics, log *slog.Logger) *Server {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = defaults.MaxBody
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaults.RequestTimeout
	}
	if cfg.WSBuffer <= 0 {
		cfg.WSBuffer = defaults.WSBuffer
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
	if cfg.WSBufferBytes <= 0 {
		cfg.WSBufferBytes = defaults.WSBufferBytes
	}
	if cfg.WSWriteTimeout <= 0 {
		cfg.WSWriteTimeout = defaults.WSWriteTimeout
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.SSPID == "" {
		cfg.SSPID = DefaultSSPID
	}
	if cfg.RefMode == "" {
		cfg.RefMode = DefaultRefMode
	}
	if metrics == nil {
		metrics = noMetrics{}
	}
	s := &Server{
		cfg:      cfg,
		views:    views,
		sessions: sessions,
		metrics:  metrics,
		log:      log,
		auth:     newAuthorizer(cfg.Secret, cfg.Insecure),
		mux:      http.NewServeMux(),
		started:  time.Now(),
		conns: wsconn.NewRegistry(wsconn.Options{Max: cfg.MaxSessions, Buffer: cfg.WSBuffer,
			ReadLimit: cfg.WSReadLimit, PingInterval: cfg.WSPingInterval,
			DeadPeerReason: "no pong within two ping intervals", AnyOrigin: cfg.Secret != "",
			BufferBytes: cfg.WSBufferBytes, WriteTimeout: cfg.WSWriteTimeout,
			Dropped: func() { metrics.SubscriberDropped(door) }}),
	}
	s.routes()

	switch {
	case cfg.Secret != "":
	case cfg.Insecure:
		log.Warn("views service: no SPKY_AUTH_SECRET set and --insecure given: any bearer token is accepted from any client")
	default:
		log.Warn("views service: no SPKY_AUTH_SECRET set: serving loopback clients only " +
			"(set the secret, or --insecure to serve everyone)")
	}
	return s
}

// routeAccess is what a route asks of a client.
type routeAccess int

const (
	// always: served to anyone, even while draining (/health).
	always routeAccess = iota
	// public: served to anyone (/version).
	public
	// local: no token, but protected mode applies (/info: public in the
	// spec, yet it names the tables).
	local
	// authed: protected mode and the Authorization header.
	authed
)

func (s *Server) routes() {
	s.route("GET /health", "health", always, s.serveHealth)
	s.route("GET /version", "version", public, s.serveVersion)
	s.route("GET /info", "info", local, s.serveInfo)
	s.route("POST /ingest", "ingest", authed, s.serveIngest)
	s.route("POST /view/register", "view.register", authed, s.serveRegister)
	s.route("POST /view/unregister", "view.unregister", authed, s.serveUnregister)
	s.route("POST /reset", "reset", authed, s.serveReset)
	s.route("GET /debug/view/{id...}", "debug.view", authed, s.serveDebugView)
	s.route("GET /debug/deps", "debug.deps", authed, s.serveDebugDeps)
	s.route("POST /log", "log", authed, s.serveLog)
	// The WebSocket route observes itself, at the upgrade: its handler
	// lasts as long as the connection.
	s.mux.Handle("GET "+wsPath, s.guard(authed, http.HandlerFunc(s.serveWS)))
}

// Drain makes the server refuse new work: from now on every request but
// /health is answered 503 SERVICE_UNAVAILABLE, and /health reports
// "draining". In-flight requests finish normally; WebSocket connections,
// which have no end of their own, are closed with status 1001.
func (s *Server) Drain() {
	s.draining.Store(true)
	s.conns.Drain()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// handlerFunc serves a request and returns the status it answered, for
// metrics.
type handlerFunc func(w http.ResponseWriter, r *http.Request) int

// route registers h at pattern, guarded by acc and observed as name.
func (s *Server) route(pattern, name string, acc routeAccess, h handlerFunc) {
	s.mux.Handle(pattern, s.guard(acc, s.observe(name, h)))
}

// guard refuses a request the server is draining for, or that acc does not
// allow.
func (s *Server) guard(acc routeAccess, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if acc != always && s.draining.Load() {
			w.Header().Set("Connection", "close")
			s.reject(w, unavailable(messages.CodeUnavailable, "the server is shutting down"), "draining")
			return
		}
		if acc >= local {
			if ae := s.auth.local(r); ae != nil {
				s.reject(w, ae, "forbidden")
				return
			}
		}
		if acc == authed {
			if ae := s.auth.bearer(r); ae != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="troupe"`)
				s.reject(w, ae, "unauthorized")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// observe adapts h into an http.Handler that records each request in
// metrics and turns a panic into a 500, so that one bad request cannot take
// the server down.
func (s *Server) observe(name string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		label, status := "panic", http.StatusInternalServerError
		defer func() { s.metrics.ObserveRequest(door, label, status, time.Since(start)) }()
		defer recovery.Recover(s.log, "views service", r, func() {
			s.writeError(w, errorf(http.StatusInternalServerError, "internal error; the server log has the details"))
		})
		status = h(w, r)
		label = name
	})
}

// reject answers a request refused before it reached its handler.
func (s *Server) reject(w http.ResponseWriter, ae *apiError, label string) {
	start := time.Now()
	s.writeError(w, ae)
	s.metrics.ObserveRequest(door, label, ae.status, time.Since(start))
}

// writeError answers ae: a 503 as {"code", "message"}, any other error as
// plain text.
func (s *Server) writeError(w http.ResponseWriter, ae *apiError) int {
	if ae.status != http.StatusServiceUnavailable {
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(ae.status)
		w.Write([]byte(ae.msg + "\n"))
		return ae.status
	}
	out := jsonw.Get()
	defer jsonw.Put(out)
	out.Obj()
	out.Key("code")
	out.Str(ae.code)
	out.Key("message")
	out.Str(ae.msg)
	out.EndObj()
	return out.Respond(w, ae.status)
}

// answer writes err as an error when it is one, else 200 with an empty
// body, the original's answer to every write.
func (s *Server) answer(w http.ResponseWriter, err error) int {
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = backendError(err)
		}
		return s.writeError(w, ae)
	}
	w.WriteHeader(http.StatusOK)
	return http.StatusOK
}

// requestContext bounds the work on one request.
func (s *Server) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
}

// readBody reads the request body, up to the configured limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (reqbody.Body, *apiError) {
	body, err := reqbody.Read(w, r, s.cfg.MaxBody)
	switch {
	case errors.Is(err, reqbody.ErrTooLarge):
		return body, errorf(http.StatusRequestEntityTooLarge, "the request body is larger than the limit of %d bytes", s.cfg.MaxBody)
	case err != nil:
		return body, badRequest("reading the request body: %v", err)
	}
	return body, nil
}
