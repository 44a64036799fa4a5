package supervision

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

func TestBackoffDoubles(t *testing.T) {
	b := Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	want := []time.Duration{0, 10, 20, 40, 80, 100, 100}
	for n, w := range want {
		if got := b.Delay(n); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w*time.Millisecond)
		}
	}
	if got := (Backoff{}).Delay(3); got != 0 {
		t.Errorf("zero backoff: Delay(3) = %v", got)
	}
}

// supervisorSpy records what a policy asked of the supervisor.
type supervisorSpy struct {
	restarted chan *actor.PID
	escalated chan any
}

func (s *supervisorSpy) Children() []*actor.PID             { return nil }
func (s *supervisorSpy) EscalateFailure(reason any, _ any)  { s.escalated <- reason }
func (s *supervisorSpy) RestartChildren(pids ...*actor.PID) { s.restarted <- pids[0] }
func (s *supervisorSpy) StopChildren(pids ...*actor.PID)    {}
func (s *supervisorSpy) ResumeChildren(pids ...*actor.PID)  {}

func TestPolicyRestartsThenEscalates(t *testing.T) {
	spy := &supervisorSpy{restarted: make(chan *actor.PID, 10), escalated: make(chan any, 10)}
	var observed []bool
	p := &Policy{
		MaxRestarts: 3,
		Window:      time.Hour,
		Backoff:     Backoff{Initial: time.Microsecond, Max: time.Millisecond},
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Observe:     func(_ *actor.PID, _ any, escalated bool) { observed = append(observed, escalated) },
	}
	child := actor.NewPID("local", "data/shard-1")
	rs := actor.NewRestartStatistics()
	for i := 0; i < 3; i++ {
		p.HandleFailure(nil, spy, child, rs, "boom", nil)
		if got := <-spy.restarted; got != child {
			t.Fatalf("restart %d restarted %v", i, got)
		}
	}
	p.HandleFailure(nil, spy, child, rs, "boom", nil)
	select {
	case reason := <-spy.escalated:
		if reason != "boom" {
			t.Fatalf("escalated %v", reason)
		}
	case <-spy.restarted:
		t.Fatal("the fourth failure within the window restarted the child instead of escalating")
	}
	if want := []bool{false, false, false, true}; len(observed) != 4 || observed[3] != true || observed[0] {
		t.Fatalf("observed %v, want %v", observed, want)
	}
	// The budget starts afresh after an escalation.
	p.HandleFailure(nil, spy, child, rs, "again", nil)
	<-spy.restarted
}
