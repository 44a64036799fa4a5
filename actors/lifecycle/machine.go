// Package lifecycle is the views service's scheduler mode: the actor
// "lifecycle/ssp" registers this SSP with the Sp00ky scheduler, bootstraps
// the views engine from the scheduler's proxy, checks the result against
// the scheduler's table hashes and heartbeats while ready, as the original
// SSP does (spec/ssp-api.txt, "Scheduler Integration").
//
// The logic is a pure state machine (Machine): events in, effects out,
// no I/O and no clock of its own, tested without HTTP. The actor
// (lifecycleActor) runs the effects: every HTTP call runs on a goroutine
// the actor owns, with a timeout, and reports back as an event, so the
// actor's mailbox never waits on the network.
package lifecycle

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// State is where the lifecycle is; its name is what /health and /info
// report (standalone is never reported: without a scheduler there is no
// lifecycle).
type State string

const (
	Standalone    State = "standalone"
	Registering   State = "registering"
	Bootstrapping State = "bootstrapping"
	Ready         State = "ready"
	Failed        State = "failed"
)

// Policy bounds the retries. The zero value is not usable; see
// DefaultPolicy.
type Policy struct {
	// RegisterBackoff is the delay after the first failed registration,
	// doubled after each further one up to RegisterBackoffMax.
	RegisterBackoff    time.Duration
	RegisterBackoffMax time.Duration
	// RegisterFor bounds the time spent registering: once the next
	// attempt would start later than this after the first, the lifecycle
	// fails.
	RegisterFor time.Duration
	// BootstrapRetryDelay is the wait after a failed bootstrap, and
	// BootstrapAttempts how many attempts fail before the lifecycle does.
	BootstrapRetryDelay time.Duration
	BootstrapAttempts   int
	// HashAttempts is how many bootstraps in a row may end with hashes that
	// differ from the scheduler's before the lifecycle fails.
	HashAttempts int
}

// DefaultPolicy is the issue's: registration backed off from 1 s doubling
// to 10 s, for 5 minutes; a bootstrap retried every 5 s, 10 attempts; a
// hash mismatch bootstrapped again once.
func DefaultPolicy() Policy {
	return Policy{RegisterBackoff: time.Second, RegisterBackoffMax: 10 * time.Second, RegisterFor: 5 * time.Minute,
		BootstrapRetryDelay: 5 * time.Second, BootstrapAttempts: 10, HashAttempts: 2}
}

// Events. Each result carries the token of the effect it answers; a
// result whose token is not the one the machine waits for belongs to an
// operation the machine has moved past, and is ignored.
type (
	// Event is anything the machine reacts to.
	Event interface{ event() }

	// Begin begins the lifecycle: register.
	Begin struct{ Now time.Time }
	// Registered: the scheduler answered 202 {snapshot_seq, table_hashes}.
	Registered struct {
		Token       uint64
		SnapshotSeq uint64
		TableHashes map[string]string
	}
	// RegisterFailed: the registration failed. Fatal for a 4xx, which
	// retrying cannot mend.
	RegisterFailed struct {
		Token  uint64
		Now    time.Time
		Fatal  bool
		Reason string
	}
	// TimerFired: a timer set by an After effect fired.
	TimerFired struct{ Token uint64 }
	// Bootstrapped: the bootstrap committed; Hashes are the live tables'.
	Bootstrapped struct {
		Token  uint64
		Hashes map[string]string
	}
	// BootstrapFailed: the bootstrap failed (proxy, engine).
	BootstrapFailed struct {
		Token  uint64
		Reason string
	}
	// HeartbeatDue: the heartbeat interval passed.
	HeartbeatDue struct{}
	// HeartbeatDone: the scheduler answered a heartbeat with Status, or
	// not at all (Status 0, Reason says why).
	HeartbeatDone struct {
		Token  uint64
		Now    time.Time
		Status int
		Reason string
	}
)

func (Begin) event()           {}
func (Registered) event()      {}
func (RegisterFailed) event()  {}
func (TimerFired) event()      {}
func (Bootstrapped) event()    {}
func (BootstrapFailed) event() {}
func (HeartbeatDue) event()    {}
func (HeartbeatDone) event()   {}

// Effects: what the actor is to do.
type (
	// Effect is anything the machine asks for.
	Effect interface{ effect() }

	// DoRegister: POST /ssp/register, answer Registered or RegisterFailed.
	DoRegister struct{ Token uint64 }
	// DoBootstrap: bootstrap from the proxy, answer Bootstrapped or
	// BootstrapFailed.
	DoBootstrap struct{ Token uint64 }
	// DoHeartbeat: POST /ssp/heartbeat, answer HeartbeatDone.
	DoHeartbeat struct{ Token uint64 }
	// After: send TimerFired{Token} after Delay.
	After struct {
		Token uint64
		Delay time.Duration
	}
	// Log: write a log record.
	Log struct {
		Level slog.Level
		Msg   string
		Args  []any
	}
)

func (DoRegister) effect()  {}
func (DoBootstrap) effect() {}
func (DoHeartbeat) effect() {}
func (After) effect()       {}
func (Log) effect()         {}

// Machine is the lifecycle's state. Its zero value is not usable; see
// NewMachine.
type Machine struct {
	policy Policy
	state  State
	reason string // why it failed

	seq     uint64 // the last token given
	token   uint64 // of the effect awaited (register, bootstrap, or a timer)
	waiting bool   // a token is awaited

	regStart time.Time
	regDelay time.Duration
	regTries int

	snapshotSeq uint64
	expected    map[string]string
	bootTries   int // failed bootstraps in a row
	mismatches  int // bootstraps in a row whose hashes differed

	hbToken    uint64
	hbInFlight bool
}

// NewMachine returns a machine in state standalone. Its tokens start
// after base: an actor restarted after a crash gives a base past every
// token of its previous incarnation, whose late results are then ignored.
func NewMachine(p Policy, base uint64) *Machine {
	return &Machine{policy: p, state: Standalone, seq: base}
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Reason says why the lifecycle failed ("" unless failed).
func (m *Machine) Reason() string { return m.reason }

// SnapshotSeq is the snapshot_seq of the last registration.
func (m *Machine) SnapshotSeq() uint64 { return m.snapshotSeq }

// next gives the token of the effect the machine now waits for.
func (m *Machine) next() uint64 {
	m.seq++
	m.token, m.waiting = m.seq, true
	return m.token
}

// awaited reports whether tok is the token the machine waits for, and
// stops waiting for it.
func (m *Machine) awaited(tok uint64) bool {
	if !m.waiting || tok != m.token {
		return false
	}
	m.waiting = false
	return true
}

// Handle applies an event and returns the effects to run, in order.
func (m *Machine) Handle(ev Event) []Effect {
	switch ev := ev.(type) {
	case Begin:
		return m.register(ev.Now, "starting")
	case Registered:
		if m.state != Registering || !m.awaited(ev.Token) {
			return nil
		}
		m.snapshotSeq = ev.SnapshotSeq
		m.expected = maps.Clone(ev.TableHashes)
		m.bootTries, m.mismatches = 0, 0
		return append([]Effect{Log{slog.LevelInfo, "registered with the scheduler",
			[]any{"snapshot_seq", ev.SnapshotSeq, "tables", len(ev.TableHashes)}}}, m.bootstrap()...)
	case RegisterFailed:
		if m.state != Registering || !m.awaited(ev.Token) {
			return nil
		}
		if ev.Fatal {
			return m.fail("the scheduler refused the registration: " + ev.Reason)
		}
		if ev.Now.Add(m.regDelay).Sub(m.regStart) > m.policy.RegisterFor {
			return m.fail(fmt.Sprintf("no registration within %s (%d attempts); last error: %s",
				m.policy.RegisterFor, m.regTries, ev.Reason))
		}
		delay := m.regDelay
		m.regDelay = min(2*m.regDelay, m.policy.RegisterBackoffMax)
		return []Effect{
			Log{slog.LevelWarn, "registration failed; retrying", []any{"err", ev.Reason, "attempt", m.regTries, "retry_in", delay}},
			After{Token: m.next(), Delay: delay},
		}
	case TimerFired:
		if !m.awaited(ev.Token) {
			return nil
		}
		switch m.state {
		case Registering:
			m.regTries++
			return []Effect{DoRegister{Token: m.next()}}
		case Bootstrapping:
			return m.bootstrap()
		}
	case Bootstrapped:
		if m.state != Bootstrapping || !m.awaited(ev.Token) {
			return nil
		}
		m.bootTries = 0
		if len(m.expected) > 0 {
			if diffs := DiffHashes(m.expected, ev.Hashes, emptyHash); len(diffs) > 0 {
				m.mismatches++
				effects := []Effect{Log{slog.LevelError, "bootstrap integrity mismatch",
					[]any{"tables", diffs, "attempt", m.mismatches}}}
				if m.mismatches >= m.policy.HashAttempts {
					return append(effects, m.fail(fmt.Sprintf("table hashes differ from the scheduler's after %d bootstraps: %v",
						m.mismatches, diffs))...)
				}
				return append(effects, m.bootstrap()...)
			}
		}
		m.state = Ready
		return []Effect{Log{slog.LevelInfo, "bootstrap complete; ready",
			[]any{"tables", len(ev.Hashes), "verified", len(m.expected) > 0}}}
	case BootstrapFailed:
		if m.state != Bootstrapping || !m.awaited(ev.Token) {
			return nil
		}
		m.bootTries++
		if m.bootTries >= m.policy.BootstrapAttempts {
			return m.fail(fmt.Sprintf("bootstrap failed %d times; last error: %s", m.bootTries, ev.Reason))
		}
		return []Effect{
			Log{slog.LevelWarn, "bootstrap failed; retrying", []any{"err", ev.Reason, "attempt", m.bootTries,
				"retry_in", m.policy.BootstrapRetryDelay}},
			After{Token: m.next(), Delay: m.policy.BootstrapRetryDelay},
		}
	case HeartbeatDue:
		if m.state != Ready || m.hbInFlight {
			return nil // the original heartbeats only once ready
		}
		m.seq++
		m.hbInFlight, m.hbToken = true, m.seq
		return []Effect{DoHeartbeat{Token: m.hbToken}}
	case HeartbeatDone:
		if !m.hbInFlight || ev.Token != m.hbToken {
			return nil
		}
		m.hbInFlight = false
		if m.state != Ready {
			return nil
		}
		switch {
		case ev.Status == 404:
			return m.register(ev.Now, "the scheduler does not know this SSP (heartbeat 404)")
		case ev.Status == 409:
			// The scheduler wants a clean circuit from a fresh snapshot; the
			// original exits so that its supervisor restarts it, which
			// registers again (the scheduler clears its overflow flag and
			// replays only on a registration) and bootstraps. So do we, in
			// process.
			return m.register(ev.Now, "the scheduler asked for a re-bootstrap (heartbeat 409): "+ev.Reason)
		case ev.Status == 0 || ev.Status >= 300 || ev.Status < 200:
			return []Effect{Log{slog.LevelWarn, "heartbeat failed", []any{"status", ev.Status, "err", ev.Reason}}}
		}
	}
	return nil
}

func (m *Machine) register(now time.Time, why string) []Effect {
	m.state = Registering
	m.regStart, m.regDelay, m.regTries = now, m.policy.RegisterBackoff, 1
	m.expected = nil
	return []Effect{
		Log{slog.LevelInfo, "registering with the scheduler", []any{"why", why}},
		DoRegister{Token: m.next()},
	}
}

func (m *Machine) bootstrap() []Effect {
	m.state = Bootstrapping
	return []Effect{DoBootstrap{Token: m.next()}}
}

func (m *Machine) fail(reason string) []Effect {
	m.state, m.reason, m.waiting = Failed, reason, false
	return []Effect{Log{slog.LevelError, "scheduler lifecycle failed; the views door answers 503 until a restart",
		[]any{"reason", reason}}}
}

// emptyHash is the hash of a table without rows (view.EmptyTableHash),
// which a table missing on one side is compared as, as the original does.
// Set by the service; a plain value keeps the machine free of the engine.
var emptyHash = "b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"

// DiffHashes returns the tables whose hashes differ between expected and
// actual, a table missing on one side counting as empty (the original's
// diff_table_hashes), sorted.
func DiffHashes(expected, actual map[string]string, empty string) []string {
	var out []string
	for _, t := range slices.Sorted(maps.Keys(expected)) {
		if or(actual[t], empty) != or(expected[t], empty) {
			out = append(out, t)
		}
	}
	for _, t := range slices.Sorted(maps.Keys(actual)) {
		if _, ok := expected[t]; !ok && or(actual[t], empty) != empty {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
