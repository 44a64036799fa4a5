// Package hub is the sequence hub's front door: the HTTP API of
// spec/hub-api.txt under /api/v1 (port 8000 by default), wire-compatible
// with the original hub's clients (@scramjet/cli, @scramjet/api-client).
// It decodes and validates requests, hands each as a message to its
// backend (the sequence store, an instance or a topic), and encodes the
// reply as the original does; byte streams (input, output, topics, logs)
// are copied between the connection and the backend's ports with
// back-pressure both ways, and flushed as data arrives.
//
// Status codes, beyond the spec: 400 for a malformed body or name, 403
// without a valid API key or for a remote client in protected mode, 404
// for an unknown sequence, instance, topic or route, 406 for an Accept
// header the route cannot satisfy and for /input without a Content-Type
// or of an instance that reads a topic, 408 for a body that did not come
// within --http-read-timeout, 409 for a sequence in use or an instance id
// taken, 413 past --hub-max-package, 415 for a topic type other than the
// topic's, 422 for a refused package (the message says why), 503 while
// draining or when an actor does not answer, 507 past a sequence,
// instance or topic limit.
package hub

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/troupe-run/troupe/gateway/internal/access"
	"github.com/troupe-run/troupe/gateway/internal/recovery"
	"github.com/troupe-run/troupe/system/defaults"
)

// base is the prefix of every route.
const base = "/api/v1"

// door names this front door in metrics and logs.
const door = "hub"

// Defaults of Config fields left zero.
const (
	DefaultMaxPackage  = 256 << 20
	DefaultStopTimeout = 7 * time.Second
)

// Config configures a Server.
type Config struct {
	APIKeys        []string      // keys a client may present; none: protected mode unless Insecure
	Insecure       bool          // serve every client when no key is set
	MaxPackage     int64         // bytes of an uploaded package, compressed (413 past it)
	RequestTimeout time.Duration // bound of a request that is not a stream
	// ReadTimeout bounds the reading of a body that is no stream: the
	// time a client has to send a command's JSON body, and the most time
	// between two reads of a package upload (which may be large). The
	// server's own read timeout is lifted for the door, whose inputs and
	// topic producers are streams of no set length. Negative: none.
	ReadTimeout time.Duration
	DataDir     string // the filesystem /load-check reports on
	Version     string // reported by /version
	Build       string // reported by /version; "source" when empty
	// Public is what GET /config shows besides the hub's own settings: the
	// caller passes settings that are no secret.
	Public map[string]any
}

// LogStream is the hub's own log as a stream of lines (GET /log); LogTap
// is one.
type LogStream interface {
	Subscribe() (<-chan []byte, func())
}

// Metrics records answered requests (system.Metrics).
type Metrics interface {
	ObserveRequest(door, command string, status int, d time.Duration)
}

// Server serves the hub's API.
//
// Access control: with API keys configured, every route needs one
// (X-API-Key, or Authorization: Bearer), else 403 {"message":"Forbidden"}
// as the spec shows. With no key and no Insecure, only loopback clients
// are served.
type Server struct {
	cfg       Config
	seqs      Sequences
	instances Instances
	topics    Topics
	logs      LogStream
	metrics   Metrics
	log       *slog.Logger
	gate      access.Gate
	mux       *http.ServeMux
	load      *loadMeter
	started   time.Time
	audit     auditor

	draining atomic.Bool
	drainCtx context.Context // done on Drain: long streams end
	drain    context.CancelFunc
}

// New returns a Server over the backend b. logs may be nil (GET /log is
// then 404); metrics may be nil.
func New(cfg Config, b Backend, logs LogStream, metrics Metrics, log *slog.Logger) *Server {
	if cfg.MaxPackage <= 0 {
		cfg.MaxPackage = DefaultMaxPackage
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaults.RequestTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = defaults.HTTPReadTimeout
	}
	if cfg.Build == "" {
		cfg.Build = "source"
	}
	s := &Server{cfg: cfg, seqs: b.Sequences, instances: b.Instances, topics: b.Topics, logs: logs, metrics: metrics,
		log: log, gate: access.NewGate(cfg.APIKeys, cfg.Insecure), mux: http.NewServeMux(),
		load: newLoadMeter(), started: time.Now()}
	s.drainCtx, s.drain = context.WithCancel(context.Background())
	s.routes()
	switch {
	case len(cfg.APIKeys) > 0:
	case cfg.Insecure:
		log.Warn("hub: no API key configured and --insecure set: every client is served unauthenticated")
	default:
		log.Warn("hub: no API key configured: serving loopback clients only (set --api-keys, or --insecure to serve everyone)")
	}
	return s
}

// Drain makes the server refuse new requests (503) and ends the streams
// in progress, which have no end of their own; other requests in flight
// finish normally.
func (s *Server) Drain() {
	s.draining.Store(true)
	s.drain()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusServiceUnavailable, "the server is shutting down")
		return
	}
	if err := s.refusal(r); err != "" {
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "Forbidden", "error": err})
		return
	}
	s.mux.ServeHTTP(w, r)
}

// handle registers a route; h's panics become a 500 and every request is
// counted in the metrics under its pattern.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		if s.metrics != nil {
			defer func() { s.metrics.ObserveRequest(door, pattern, rec.status, time.Since(start)) }()
		}
		defer recovery.Recover(s.log, "hub", r, func() {
			if !rec.wrote {
				writeError(rec, http.StatusInternalServerError, "internal error; the server log has the details")
			}
		})
		h(rec, r)
		if pattern != "GET "+base+"/audit" {
			s.audit.record(r, rec.status, start)
		}
	})
}

// streamContext is the context of a long stream: it ends with the client,
// or when the server drains.
func (s *Server) streamContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(s.drainCtx, cancel)
	return ctx, func() { stop(); cancel() }
}

// requestContext bounds a request that is not a stream.
func (s *Server) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
}

// recorder remembers the status a handler answered.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Flush).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
