package system

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the process's Prometheus metrics, served on each front door's
// /metrics.
type Metrics struct {
	registry  *prometheus.Registry
	handled   *prometheus.CounterVec
	restarts  *prometheus.CounterVec
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	storeSync prometheus.Histogram
	fsyncs    prometheus.Counter
	syncs     atomic.Uint64 // fsyncs, for the dashboard
	// Dropped counts subscribers disconnected because they could not keep up.
	Dropped *prometheus.CounterVec
	// actors are the per-actor figures of the supervisor tree (Tree).
	actors *actorTable
	// doors and commits are the latencies the dashboard reads (figures.go).
	doors   doorLatencies
	commits latencies
}

func newMetrics() *Metrics {
	m := &Metrics{
		actors:   newActorTable(),
		registry: prometheus.NewRegistry(),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "troupe_actor_messages_total", Help: "Messages handled, by actor kind.",
		}, []string{"kind"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "troupe_actor_restarts_total", Help: "Actor restarts (and escalations) by supervisors, by actor kind.",
		}, []string{"kind", "outcome"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "troupe_requests_total", Help: "Requests answered, by front door, command and status code.",
		}, []string{"door", "command", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "troupe_request_duration_seconds", Help: "Request latency, by front door and command.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2.5, 12),
		}, []string{"door", "command"}),
		storeSync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "troupe_store_write_seconds", Help: "Time to write (and, per the fsync policy, sync) one group of batches.",
			Buckets: prometheus.ExponentialBuckets(20e-6, 2.5, 12),
		}),
		fsyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "troupe_store_fsyncs_total", Help: "Times the store made its writes durable: fsyncs of Pebble's log, or PostgreSQL commits.",
		}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "troupe_subscribers_dropped_total", Help: "Subscribers disconnected because their buffer was full, by front door.",
		}, []string{"door"}),
	}
	m.registry.MustRegister(m.handled, m.restarts, m.requests, m.latency, m.storeSync, m.fsyncs, m.Dropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where other parts register their own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the metrics in Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// ObserveRequest records one answered request.
func (m *Metrics) ObserveRequest(door, command string, status int, d time.Duration) {
	m.requests.WithLabelValues(door, command, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(door, command).Observe(d.Seconds())
	m.doors.get(door).observe(d)
}

// ObserveCommit records the time one store write took.
func (m *Metrics) ObserveCommit(d time.Duration) {
	m.storeSync.Observe(d.Seconds())
	m.commits.observe(d)
}

// ObserveSync counts one time the store made its writes durable.
func (m *Metrics) ObserveSync() {
	m.fsyncs.Inc()
	m.syncs.Add(1)
}

// Syncs is how many times the store made its writes durable since the start.
func (m *Metrics) Syncs() uint64 { return m.syncs.Load() }

// observeRestart counts a supervisor's decision about a crashed child.
func (m *Metrics) observeRestart(child *actor.PID, reason any, escalated bool) {
	outcome := "restarted"
	if escalated {
		outcome = "escalated"
	}
	m.restarts.WithLabelValues(kindOf(child.Id), outcome).Inc()
	m.actors.crashed(child.Id, reason, escalated)
}

// countMessages is a receiver middleware counting the messages an actor kind
// handles. The counter is resolved once per kind, so the hot path is one
// atomic add.
func (m *Metrics) countMessages(kind string) actor.ReceiverMiddleware {
	c := m.handled.WithLabelValues(kind)
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
			c.Inc()
			next(ctx, env)
		}
	}
}

// kindOf names an actor's kind from its id: "data/shard-3" is a "data" actor.
func kindOf(id string) string {
	if i := strings.IndexByte(id, '/'); i >= 0 {
		return id[:i]
	}
	return id
}

// SubscriberDropped counts a subscriber of a front door disconnected
// because its buffer was full.
func (m *Metrics) SubscriberDropped(door string) { m.Dropped.WithLabelValues(door).Inc() }
