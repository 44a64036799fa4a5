// Package supervision holds Troupe's restart policies, their backoff, and the
// fault injection used by chaos tests.
package supervision

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Backoff is an exponential delay: Initial before the first restart within
// the window, doubling for each further one, never more than Max.
// (protoactor's own "exponential" strategy grows linearly.)
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// Delay is the wait before the n-th restart (n >= 1) within the window.
func (b Backoff) Delay(n int) time.Duration {
	if n < 1 || b.Initial <= 0 {
		return 0
	}
	d := b.Initial
	for i := 1; i < n; i++ {
		d *= 2
		if b.Max > 0 && d >= b.Max {
			return b.Max
		}
	}
	if b.Max > 0 && d > b.Max {
		return b.Max
	}
	return d
}

// Policy restarts a failed child at most MaxRestarts times within Window,
// each time after the backoff's delay, and escalates to the supervisor's own
// parent once that budget is spent. It implements actor.SupervisorStrategy.
type Policy struct {
	MaxRestarts int
	Window      time.Duration
	Backoff     Backoff
	Log         *slog.Logger
	// Observe, when set, is told of every restart and escalation (metrics).
	Observe func(child *actor.PID, reason any, escalated bool)
}

// HandleFailure decides what a child's crash means.
func (p *Policy) HandleFailure(system *actor.ActorSystem, supervisor actor.Supervisor, child *actor.PID,
	rs *actor.RestartStatistics, reason any, message any) {
	rs.Fail()
	n := rs.NumberOfFailures(p.Window)
	if n > p.MaxRestarts {
		rs.Reset()
		p.Log.Error("restart budget spent, escalating",
			"actor", child.Id, "panic", fmt.Sprint(reason),
			"restarts", p.MaxRestarts, "window", p.Window)
		if p.Observe != nil {
			p.Observe(child, reason, true)
		}
		supervisor.EscalateFailure(reason, message)
		return
	}
	delay := p.Backoff.Delay(n)
	p.Log.Warn("actor crashed, restarting",
		"actor", child.Id, "panic", fmt.Sprint(reason), "message", fmt.Sprintf("%T", actor.UnwrapEnvelopeMessage(message)),
		"restart", n, "of", p.MaxRestarts, "backoff", delay)
	if p.Observe != nil {
		p.Observe(child, reason, false)
	}
	if delay == 0 {
		supervisor.RestartChildren(child)
		return
	}
	// The child's mailbox stays suspended until the restart, so messages
	// sent meanwhile wait for the new incarnation instead of being lost.
	time.AfterFunc(delay, func() { supervisor.RestartChildren(child) })
}
