package lifecycle

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/troupe-run/troupe/actors/view"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func testPolicy() Policy {
	p := DefaultPolicy()
	p.RegisterFor = 30 * time.Second
	return p
}

// harness drives a machine: it remembers the token of the last effect of
// each kind, so a step can answer "the register in flight".
type harness struct {
	t        *testing.T
	m        *Machine
	register uint64
	boot     uint64
	hb       uint64
	timer    uint64
	delay    time.Duration
	logs     []string
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, m: NewMachine(testPolicy(), 0)}
}

// step handles ev and returns the kinds of the effects, e.g.
// ["log", "register"], recording their tokens.
func (h *harness) step(ev Event) []string {
	var kinds []string
	for _, eff := range h.m.Handle(ev) {
		switch e := eff.(type) {
		case DoRegister:
			h.register = e.Token
			kinds = append(kinds, "register")
		case DoBootstrap:
			h.boot = e.Token
			kinds = append(kinds, "bootstrap")
		case DoHeartbeat:
			h.hb = e.Token
			kinds = append(kinds, "heartbeat")
		case After:
			h.timer, h.delay = e.Token, e.Delay
			kinds = append(kinds, "after")
		case Log:
			h.logs = append(h.logs, e.Msg+fmt.Sprint(e.Args...))
			kinds = append(kinds, "log")
		}
	}
	return kinds
}

func (h *harness) want(ev Event, state State, kinds ...string) {
	h.t.Helper()
	got := h.step(ev)
	if !slices.Equal(got, kinds) || h.m.State() != state {
		h.t.Fatalf("after %T%+v: state %s, effects %v; want %s, %v", ev, ev, h.m.State(), got, state, kinds)
	}
}

var hashes = map[string]string{"user": "b3:aa", "thread": "b3:bb"}

// toReady brings a machine to ready.
func (h *harness) toReady() {
	h.t.Helper()
	h.want(Begin{Now: t0}, Registering, "log", "register")
	h.want(Registered{Token: h.register, SnapshotSeq: 7, TableHashes: hashes}, Bootstrapping, "log", "bootstrap")
	h.want(Bootstrapped{Token: h.boot, Hashes: hashes}, Ready, "log")
}

func TestMachineHappyPath(t *testing.T) {
	h := newHarness(t)
	if h.m.State() != Standalone {
		t.Fatalf("a new machine is %s", h.m.State())
	}
	h.toReady()
	if h.m.SnapshotSeq() != 7 {
		t.Fatalf("snapshot seq %d", h.m.SnapshotSeq())
	}
	h.want(HeartbeatDue{}, Ready, "heartbeat")
	h.want(HeartbeatDue{}, Ready) // one heartbeat at a time
	h.want(HeartbeatDone{Token: h.hb, Status: 200}, Ready)
	h.want(HeartbeatDue{}, Ready, "heartbeat")
	h.want(HeartbeatDone{Token: h.hb, Status: 500, Reason: "oops"}, Ready, "log")
	h.want(HeartbeatDue{}, Ready, "heartbeat")
	h.want(HeartbeatDone{Token: h.hb, Reason: "connection refused"}, Ready, "log")
}

func TestMachineNoHeartbeatUntilReady(t *testing.T) {
	h := newHarness(t)
	h.want(HeartbeatDue{}, Standalone)
	h.want(Begin{Now: t0}, Registering, "log", "register")
	h.want(HeartbeatDue{}, Registering)
	h.want(Registered{Token: h.register, TableHashes: hashes}, Bootstrapping, "log", "bootstrap")
	h.want(HeartbeatDue{}, Bootstrapping)
}

func TestMachineRegisterBackoff(t *testing.T) {
	h := newHarness(t)
	h.want(Begin{Now: t0}, Registering, "log", "register")
	now := t0
	var delays []time.Duration
	for range 5 {
		h.want(RegisterFailed{Token: h.register, Now: now, Reason: "HTTP 503"}, Registering, "log", "after")
		delays = append(delays, h.delay)
		now = now.Add(h.delay)
		h.want(TimerFired{Token: h.timer}, Registering, "register")
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second}
	if !slices.Equal(delays, want) {
		t.Fatalf("backoff %v, want %v", delays, want)
	}
	// 25 s after the first attempt, the next would start 35 s after it,
	// past RegisterFor (30 s).
	h.want(RegisterFailed{Token: h.register, Now: now, Reason: "HTTP 502"}, Failed, "log")
	if !strings.Contains(h.m.Reason(), "HTTP 502") {
		t.Fatalf("reason %q does not carry the last error", h.m.Reason())
	}
	// A failed lifecycle stays failed: late results change nothing.
	h.want(Registered{Token: h.register}, Failed)
	h.want(TimerFired{Token: h.timer}, Failed)
	h.want(HeartbeatDue{}, Failed)
}

func TestMachineRegisterRefused(t *testing.T) {
	h := newHarness(t)
	h.want(Begin{Now: t0}, Registering, "log", "register")
	h.want(RegisterFailed{Token: h.register, Now: t0, Fatal: true, Reason: "HTTP 400: SSP URL must start with http://"}, Failed, "log")
	if !strings.Contains(h.m.Reason(), "SSP URL must start") {
		t.Fatalf("reason %q does not carry the scheduler's body", h.m.Reason())
	}
}

func TestMachineStaleResults(t *testing.T) {
	h := newHarness(t)
	h.want(Begin{Now: t0}, Registering, "log", "register")
	first := h.register
	h.want(RegisterFailed{Token: first, Now: t0, Reason: "timeout"}, Registering, "log", "after")
	// The failed attempt's token is spent: a late answer to it is ignored.
	h.want(Registered{Token: first, TableHashes: hashes}, Registering)
	h.want(TimerFired{Token: h.timer + 100}, Registering)
	h.want(TimerFired{Token: h.timer}, Registering, "register")
	h.want(Registered{Token: h.register, TableHashes: hashes}, Bootstrapping, "log", "bootstrap")
	h.want(Bootstrapped{Token: h.boot - 1, Hashes: hashes}, Bootstrapping)
	h.want(BootstrapFailed{Token: h.boot + 1}, Bootstrapping)
	h.want(Bootstrapped{Token: h.boot, Hashes: hashes}, Ready, "log")
	h.want(HeartbeatDue{}, Ready, "heartbeat")
	h.want(HeartbeatDone{Token: h.hb + 1, Status: 404}, Ready)
}

func TestMachineBootstrapRetries(t *testing.T) {
	h := newHarness(t)
	h.want(Begin{Now: t0}, Registering, "log", "register")
	h.want(Registered{Token: h.register, TableHashes: hashes}, Bootstrapping, "log", "bootstrap")
	for i := 1; i < 10; i++ {
		h.want(BootstrapFailed{Token: h.boot, Reason: "proxy down"}, Bootstrapping, "log", "after")
		if h.delay != 5*time.Second {
			t.Fatalf("retry %d after %s, want 5s", i, h.delay)
		}
		h.want(TimerFired{Token: h.timer}, Bootstrapping, "bootstrap")
	}
	h.want(BootstrapFailed{Token: h.boot, Reason: "proxy down"}, Failed, "log")
	if !strings.Contains(h.m.Reason(), "10 times") {
		t.Fatalf("reason %q", h.m.Reason())
	}
}

// A success resets the count of failed bootstraps.
func TestMachineBootstrapRetriesReset(t *testing.T) {
	h := newHarness(t)
	h.want(Begin{Now: t0}, Registering, "log", "register")
	h.want(Registered{Token: h.register, TableHashes: hashes}, Bootstrapping, "log", "bootstrap")
	for range 9 {
		h.want(BootstrapFailed{Token: h.boot}, Bootstrapping, "log", "after")
		h.want(TimerFired{Token: h.timer}, Bootstrapping, "bootstrap")
	}
	h.want(Bootstrapped{Token: h.boot, Hashes: hashes}, Ready, "log")
	h.want(HeartbeatDue{}, Ready, "heartbeat")
	h.want(HeartbeatDone{Token: h.hb, Status: 409, Reason: "Buffer overflow"}, Registering, "log", "register")
	h.want(Registered{Token: h.register, TableHashes: hashes}, Bootstrapping, "log", "bootstrap")
	h.want(BootstrapFailed{Token: h.boot}, Bootstrapping, "log", "after")
}

func TestMachineHashMismatch(t *testing.T) {
	h := newHarness(t)
	h.want(Begin{Now: t0}, Registering, "log", "register")
	h.want(Registered{Token: h.register, TableHashes: hashes}, Bootstrapping, "log", "bootstrap")
	wrong := map[string]string{"user": "b3:aa", "thread": "b3:cc"}
	h.want(Bootstrapped{Token: h.boot, Hashes: wrong}, Bootstrapping, "log", "bootstrap")
	if !strings.Contains(h.logs[len(h.logs)-1], "thread") || strings.Contains(h.logs[len(h.logs)-1], "user") {
		t.Fatalf("the mismatch log names the wrong tables: %s", h.logs[len(h.logs)-1])
	}
	// Bootstrapped again once: a match is ready.
	h.want(Bootstrapped{Token: h.boot, Hashes: hashes}, Ready, "log")

	h = newHarness(t)
	h.want(Begin{Now: t0}, Registering, "log", "register")
	h.want(Registered{Token: h.register, TableHashes: hashes}, Bootstrapping, "log", "bootstrap")
	h.want(Bootstrapped{Token: h.boot, Hashes: wrong}, Bootstrapping, "log", "bootstrap")
	h.want(Bootstrapped{Token: h.boot, Hashes: wrong}, Failed, "log", "log")
}

func TestMachineNoExpectedHashes(t *testing.T) {
	h := newHarness(t)
	h.want(Begin{Now: t0}, Registering, "log", "register")
	h.want(Registered{Token: h.register}, Bootstrapping, "log", "bootstrap")
	// Without table_hashes nothing is checked, as in the original.
	h.want(Bootstrapped{Token: h.boot, Hashes: map[string]string{"x": "b3:zz"}}, Ready, "log")
}

func TestMachineHeartbeat404And409(t *testing.T) {
	h := newHarness(t)
	h.toReady()
	h.want(HeartbeatDue{}, Ready, "heartbeat")
	h.want(HeartbeatDone{Token: h.hb, Now: t0, Status: 404}, Registering, "log", "register")
	changed := map[string]string{"user": "b3:dd"}
	h.want(Registered{Token: h.register, SnapshotSeq: 9, TableHashes: changed}, Bootstrapping, "log", "bootstrap")
	h.want(Bootstrapped{Token: h.boot, Hashes: changed}, Ready, "log")
	if h.m.SnapshotSeq() != 9 {
		t.Fatalf("snapshot seq %d after re-registering", h.m.SnapshotSeq())
	}
	h.want(HeartbeatDue{}, Ready, "heartbeat")
	h.want(HeartbeatDone{Token: h.hb, Now: t0, Status: 409, Reason: "Buffer overflow detected"}, Registering, "log", "register")
	if !strings.Contains(h.logs[len(h.logs)-1], "Buffer overflow") {
		t.Fatalf("the 409's body is not logged: %v", h.logs)
	}
}

// A registration that retries after a 404 has the full time again.
func TestMachineReRegisterBudget(t *testing.T) {
	h := newHarness(t)
	h.toReady()
	h.want(HeartbeatDue{}, Ready, "heartbeat")
	later := t0.Add(time.Hour)
	h.want(HeartbeatDone{Token: h.hb, Now: later, Status: 404}, Registering, "log", "register")
	h.want(RegisterFailed{Token: h.register, Now: later, Reason: "refused"}, Registering, "log", "after")
	if h.delay != time.Second {
		t.Fatalf("the backoff did not start over: %s", h.delay)
	}
}

func TestDiffHashes(t *testing.T) {
	empty := view.EmptyTableHash()
	if emptyHash != empty {
		t.Fatalf("the machine's empty hash %s is not the engine's %s", emptyHash, empty)
	}
	for _, tc := range []struct {
		exp, act map[string]string
		want     []string
	}{
		{map[string]string{"a": "1"}, map[string]string{"a": "1"}, nil},
		{map[string]string{"a": "1"}, map[string]string{"a": "2"}, []string{"a"}},
		{map[string]string{"a": "1"}, map[string]string{}, []string{"a"}},
		{map[string]string{}, map[string]string{"b": "1"}, []string{"b"}},
		// A table empty on one side and missing on the other agrees.
		{map[string]string{"a": empty}, map[string]string{}, nil},
		{map[string]string{"b": "2", "a": "1"}, map[string]string{"c": "3", "a": "9"}, []string{"a", "b", "c"}},
	} {
		if got := DiffHashes(tc.exp, tc.act, empty); !slices.Equal(got, tc.want) {
			t.Errorf("DiffHashes(%v, %v) = %v, want %v", tc.exp, tc.act, got, tc.want)
		}
	}
}
