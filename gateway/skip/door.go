package skip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/gateway/internal/access"
	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/gateway/internal/recovery"
	"github.com/troupe-run/troupe/gateway/internal/reqbody"
	"github.com/troupe-run/troupe/system/defaults"
)

// door names this front door in metrics.
const door = "skip"

// Config configures a Door.
type Config struct {
	// Insecure serves clients other than loopback ones. The Skip server has
	// no keys, so without it the doors answer loopback clients only.
	Insecure bool
	// MaxBody bounds a request body, in bytes (413 past it).
	MaxBody int64
	// RequestTimeout bounds each call on the service (503 past it).
	RequestTimeout time.Duration
	// Heartbeat is how often an idle stream gets an empty update, which
	// keeps proxies from closing it (as newer Skip servers do); negative
	// disables it.
	Heartbeat time.Duration
	// SSEBuffer bounds the events queued for one stream client; a client
	// that lets it fill is closed as too slow.
	SSEBuffer int
	// SSEBufferBytes bounds the bytes of those events, as SSEBuffer bounds
	// their number; an event larger than it is taken when nothing else
	// waits.
	SSEBufferBytes int64
	// WriteTimeout bounds each write to a stream client; a client that
	// does not take an event within it is closed.
	WriteTimeout time.Duration
	// MaxSessions bounds the open stream connections (503 past it).
	MaxSessions int
	// ResourcePrefix is SKIP_RESOURCE_PREFIX: when set, POST /v1/streams
	// answers "<prefix>/<uuid>" instead of the bare uuid, for a service
	// behind a reverse proxy that routes streams by that prefix.
	ResourcePrefix string
	// NoCORS is runService's no_cors: the streaming API then allows any
	// origin (Access-Control-Allow-Origin: *, credentials, GET and
	// OPTIONS) and answers every OPTIONS preflight 204, as Skip's server.
	NoCORS bool
	// BuildTimeout is how long the service may take to build a resource
	// instance over all its data (--skip-build-timeout): snapshots,
	// lookups and stream creations, which may build one, wait that long
	// when it is longer than RequestTimeout.
	BuildTimeout time.Duration
}

// Sessions starts the actor of one stream client under the door's
// supervisor; a session actor that stops (its supervisor's decision, or
// the door's) closes its connection, and is not restarted.
type Sessions interface {
	Spawn(name string, producer actor.Producer) (*actor.PID, error)
	// Stop stops a session actor, after the messages already sent to it.
	Stop(pid *actor.PID)
}

// Metrics records what the door does.
type Metrics interface {
	// ObserveRequest records one request: the front door, the route (or
	// the reason it was refused), the HTTP status and how long it took.
	ObserveRequest(door, command string, status int, d time.Duration)
	// SubscriberDropped counts a stream client disconnected because it
	// could not keep up with its events.
	SubscriberDropped(door string)
}

type noMetrics struct{}

func (noMetrics) ObserveRequest(string, string, int, time.Duration) {}
func (noMetrics) SubscriberDropped(string)                          {}

// Door serves one Skip service: its control API and its streaming API,
// each an http.Handler for its own listener.
type Door struct {
	cfg      Config
	svc      Service
	sessions Sessions
	metrics  Metrics
	log      *slog.Logger
	gate     access.Gate
	control  *http.ServeMux
	stream   *http.ServeMux
	draining atomic.Bool
	seq      atomic.Uint64 // names sessions

	mu      sync.Mutex
	clients map[*client]struct{}
	drained chan struct{} // closed by Drain: every stream ends
}

// New returns the doors of svc. metrics may be nil.
func New(cfg Config, svc Service, sessions Sessions, metrics Metrics, log *slog.Logger) *Door {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = defaults.MaxBody
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaults.RequestTimeout
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = defaults.SkipHeartbeat
	}
	if cfg.SSEBuffer <= 0 {
		cfg.SSEBuffer = defaults.SkipSSEBuffer
	}
	if cfg.SSEBufferBytes <= 0 {
		cfg.SSEBufferBytes = defaults.SkipSSEBufferBytes
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = defaults.SkipWriteTimeout
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = defaults.MaxSessions
	}
	if metrics == nil {
		metrics = noMetrics{}
	}
	d := &Door{
		cfg:      cfg,
		svc:      svc,
		sessions: sessions,
		metrics:  metrics,
		log:      log,
		gate:     access.NewGate(nil, cfg.Insecure),
		control:  http.NewServeMux(),
		stream:   http.NewServeMux(),
		clients:  make(map[*client]struct{}),
		drained:  make(chan struct{}),
	}
	d.routes()
	if cfg.Insecure {
		log.Warn("reactive service: --insecure given: any client may write its inputs and read its resources", "service", svc.Name())
	} else {
		log.Warn("reactive service: the Skip API has no keys: serving loopback clients only (--insecure to serve everyone)", "service", svc.Name())
	}
	return d
}

// Control returns the handler of the control API (inputs, snapshots,
// stream creation).
func (d *Door) Control() http.Handler { return d.control }

// Streaming returns the handler of the streaming API (SSE).
func (d *Door) Streaming() http.Handler {
	if !d.cfg.NoCORS {
		return d.stream
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Allow-Methods", "GET,OPTIONS")
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			h.Set("Content-Length", "0")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		d.stream.ServeHTTP(w, r)
	})
}

// Drain makes the doors refuse new work (503 but for the health checks)
// and ends every open stream: an SSE stream has no end of its own, and
// would hold the server's shutdown until its deadline.
func (d *Door) Drain() {
	if d.draining.Swap(true) {
		return
	}
	close(d.drained)
}

// routeAccess is what a route asks of a client.
type routeAccess int

const (
	// always: served to anyone, even while draining (health checks).
	always routeAccess = iota
	// local: protected mode applies, and draining refuses it.
	local
)

func (d *Door) routes() {
	for _, mux := range []*http.ServeMux{d.control, d.stream} {
		d.route(mux, "GET /healthz", "healthz", always, d.serveHealth)
	}
	d.route(d.control, "GET /v1/healthcheck", "healthcheck", always, d.serveHealth)
	d.route(d.control, "PATCH /v1/inputs/{collection}", "inputs", local, d.servePatch)
	d.route(d.control, "POST /v1/snapshot/{resource}", "snapshot", local, d.serveSnapshot)
	d.route(d.control, "POST /v1/snapshot/{resource}/lookup", "lookup", local, d.serveLookup)
	d.route(d.control, "POST /v1/streams/{resource}", "streams.create", local, d.serveCreateStream)
	d.route(d.control, "DELETE /v1/streams/{uuid}", "streams.delete", local, d.serveDeleteStream)
	d.route(d.control, "/", "unknown", local, d.serveNotFound)
	d.route(d.stream, "/", "unknown", local, d.serveNotFound)
	// The stream observes itself, when it is set up: its handler lasts as
	// long as the connection.
	d.stream.Handle("GET /v1/streams/{uuid}", d.guard(local, http.HandlerFunc(d.serveStream)))
}

// handlerFunc serves a request and returns the status it answered, for
// metrics.
type handlerFunc func(w http.ResponseWriter, r *http.Request) int

func (d *Door) route(mux *http.ServeMux, pattern, name string, acc routeAccess, h handlerFunc) {
	mux.Handle(pattern, d.guard(acc, d.observe(name, h)))
}

// guard refuses a request the door is draining for, or a remote client in
// protected mode.
func (d *Door) guard(acc routeAccess, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if acc == always {
			next.ServeHTTP(w, r)
			return
		}
		if d.draining.Load() {
			w.Header().Set("Connection", "close")
			d.reject(w, errorf(http.StatusServiceUnavailable, "the server is shutting down"), "draining")
			return
		}
		if d.gate.Protects(r.RemoteAddr) {
			d.reject(w, errorf(http.StatusForbidden, "this reactive service serves loopback clients only; start troupe with --insecure to serve others"), "forbidden")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// observe adapts h into an http.Handler that records each request in
// metrics and turns a panic into a 500, so that one bad request cannot take
// the server down.
func (d *Door) observe(name string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		label, status := "panic", http.StatusInternalServerError
		defer func() { d.metrics.ObserveRequest(door, label, status, time.Since(start)) }()
		defer recovery.Recover(d.log, "reactive service", r, func() {
			d.writeError(w, errorf(http.StatusInternalServerError, "internal error; the server log has the details"))
		})
		status = h(w, r)
		label = name
	})
}

func (d *Door) reject(w http.ResponseWriter, ae *apiError, label string) {
	start := time.Now()
	d.writeError(w, ae)
	d.metrics.ObserveRequest(door, label, ae.status, time.Since(start))
}

// apiError is an answer other than success: a status and a message that
// says what was wrong.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// writeError answers ae as {"error": "<message>"}, the shape newer Skip
// servers give their errors.
func (d *Door) writeError(w http.ResponseWriter, ae *apiError) int {
	out := jsonw.Get()
	defer jsonw.Put(out)
	out.Obj()
	out.Key("error")
	out.Str(ae.msg)
	out.EndObj()
	return out.Respond(w, ae.status)
}

// serviceError maps an error of the Service to its answer.
func serviceError(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, ErrUnknownResource), errors.Is(err, ErrUnknownCollection), errors.Is(err, ErrUnknownStream):
		return errorf(http.StatusNotFound, "%v", err)
	case errors.Is(err, ErrStreamTaken):
		return errorf(http.StatusConflict, "%v", err)
	case errors.Is(err, ErrBadInput):
		return errorf(http.StatusBadRequest, "%v", err)
	case errors.Is(err, ErrRefused):
		// Skip answers 500; this is the client's data that the service's
		// code cannot take, not a failure of the server.
		return errorf(http.StatusUnprocessableEntity, "%v", err)
	case errors.Is(err, context.DeadlineExceeded):
		return errorf(http.StatusServiceUnavailable, "the service did not answer in time: %v", err)
	default:
		return errorf(http.StatusServiceUnavailable, "the service could not serve the request: %v", err)
	}
}

// requestContext bounds the work on one request.
func (d *Door) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d.cfg.RequestTimeout)
}

// readContext bounds a request that may build a resource instance.
func (d *Door) readContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d.cfg.RequestTimeout+d.cfg.BuildTimeout)
}

// readBody reads the request body, up to the configured limit.
func (d *Door) readBody(w http.ResponseWriter, r *http.Request) (reqbody.Body, *apiError) {
	body, err := reqbody.Read(w, r, d.cfg.MaxBody)
	switch {
	case errors.Is(err, reqbody.ErrTooLarge):
		return body, errorf(http.StatusRequestEntityTooLarge, "the request body is larger than the limit of %d bytes (--max-body)", d.cfg.MaxBody)
	case err != nil:
		return body, errorf(http.StatusBadRequest, "reading the request body: %v", err)
	}
	return body, nil
}

// text answers a short plain-text body, as Express's sendStatus does.
func text(w http.ResponseWriter, status int, body string) int {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write([]byte(body))
	return status
}

func (d *Door) serveHealth(w http.ResponseWriter, r *http.Request) int {
	return text(w, http.StatusOK, "OK")
}

func (d *Door) serveNotFound(w http.ResponseWriter, r *http.Request) int {
	return d.writeError(w, errorf(http.StatusNotFound, "no route %s %s", r.Method, r.URL.Path))
}
