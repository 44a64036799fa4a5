package ssp

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
)

// Views is the views domain behind the door: the table actor and the view
// actors. A failure of a command itself (a query outside the supported
// subset, an unknown view) is a reply with error_code set; INVALID_ARGUMENT
// carries a message that names what was wrong, and the door answers it 400.
// A non-nil error means the command could not be executed at all (deadline
// passed, actor unavailable): the door answers 503.
type Views interface {
	Ingest(ctx context.Context, req *messages.IngestRequest) (*messages.IngestReply, error)
	// Register creates the view, or returns the current result of an
	// existing one with the same query and params (replacing one with a
	// different query).
	Register(ctx context.Context, req *messages.RegisterView) (*messages.ViewResult, error)
	// Unregister removes a view: error_code NOT_FOUND when it is unknown.
	Unregister(ctx context.Context, id string) (*messages.ViewResult, error)
	Reset(ctx context.Context) error
	Info(ctx context.Context) (*messages.ViewsInfoReply, error)
	// Debug describes a view: error_code NOT_FOUND when it is unknown.
	Debug(ctx context.Context, id string) (*messages.DebugViewReply, error)
	Deps(ctx context.Context) (*messages.DebugDepsReply, error)
	// Subscribe makes each view push to subscriber: first a ViewDelta with
	// initial=true holding the current result, then a ViewDelta after each
	// ingest that changes it, in ingest order. The reply lists the ids
	// that are no view.
	Subscribe(ctx context.Context, ids []string, subscriber *actor.PID) (*messages.SubscribeReply, error)
	// Unsubscribe stops the pushes of the views ids to subscriber, fire and
	// forget.
	Unsubscribe(ids []string, subscriber *actor.PID)
	// Ready reports whether the service has finished rebuilding from the
	// store.
	Ready() bool
}

// Lifecycle is the scheduler lifecycle (scheduler mode): until it is
// ready, the door answers 503 SSP_NOT_READY to ingests and view requests
// and /health reports it.
type Lifecycle interface {
	// State is "registering", "bootstrapping", "ready" or "failed".
	State() string
}

// Sessions starts the actor of one WebSocket connection under the door's
// supervisor; a crashed session actor is stopped (its connection closed),
// not restarted.
type Sessions interface {
	Spawn(name string, producer actor.Producer) (*actor.PID, error)
	// Stop stops a session actor, after the messages already sent to it.
	Stop(pid *actor.PID)
	// Send hands msg to pid, fire and forget.
	Send(pid *actor.PID, msg any)
}

// Metrics records what the door does.
type Metrics interface {
	// ObserveRequest records one request: the front door, the route (or
	// the reason it was refused) and the HTTP status it got, and how long
	// it took.
	ObserveRequest(door, command string, status int, d time.Duration)
	// SubscriberDropped counts a WebSocket client disconnected because it
	// could not keep up with its pushes.
	SubscriberDropped(door string)
}

type noMetrics struct{}

func (noMetrics) ObserveRequest(string, string, int, time.Duration) {}
func (noMetrics) SubscriberDropped(string)                          {}
