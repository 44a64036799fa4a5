package instance

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/troupe-run/troupe/actors/instance/process"
	"github.com/troupe-run/troupe/messages"
)

// Instance statuses while the process runs (StatusCompleted and
// StatusErrored follow its end).
const (
	StatusInitializing = "initializing" // the actor exists, the process does not yet
	StatusStarting     = "starting"     // the process runs, the sequence's code is not loaded yet
	StatusRunning      = "running"      // the code is loaded (the runner's first PANG)
	StatusStopping     = "stopping"     // asked to stop (_stop)
	StatusKilling      = "killing"      // being killed (_kill, the watchdog, a crashed actor)
)

// slot is what an instance's actor keeps across its restarts: the process
// and its streams, which a new incarnation cannot open again, and the
// instance's story. Only the actor touches it, one incarnation at a time,
// but for ended and snapshot, which others read.
type slot struct {
	id   string
	opts StartOptions
	seq  *messages.SequenceRecord // set by Service.Start before the actor starts

	status     string
	created    time.Time
	started    time.Time // the runner's handshake
	endedAt    time.Time
	healthy    bool
	reported   bool // a health report came: healthy is the runner's
	terminated bool
	exitCode   int
	reason     string
	failure    string // why the hub ended the instance; overrides the exit's own reason
	keepAlive  bool   // the stop in progress lets the sequence keep itself alive
	lastReport time.Time

	scramjet  string // the node_modules folder of the hub's scramjet, or ""
	launched  bool
	restored  bool // ended before this run of the hub: see recoverOrphans
	proc      *process.Process
	feeds     context.Context    // the process's life and the topic feeds'
	cancel    context.CancelFunc // kills the process and ends the topic feeds
	inputFeed context.Context    // the feed from an input topic; ends with the process
	endInput  context.CancelFunc
	streams   [streamCount]*spool
	input     *Port
	stdin     *Port

	inputType string // the content type the runner was told, once told
	requires  string // the topic the input comes from; /input is refused
	provides  string // the topic the output goes to
	ev        events
	mon       monitors

	watchdog  *time.Timer
	retention *time.Timer

	ended atomic.Bool
	// forgotten is set, under the service's mu, by the first forget.
	forgotten bool
	snapshot  atomic.Pointer[messages.InstanceInfo]
}

func (s *slot) isEnded() bool { return s.ended.Load() }

// publish stores the instance's description for lists.
func (s *slot) publish() { s.snapshot.Store(s.info()) }

func (s *slot) info() *messages.InstanceInfo {
	i := &messages.InstanceInfo{
		Id:         s.id,
		AppConfig:  orDefault(s.opts.AppConfig, "{}"),
		Args:       orDefault(s.opts.Args, "[]"),
		Status:     s.status,
		CreatedMs:  s.created.UnixMilli(),
		Healthy:    s.healthy,
		Reported:   s.reported,
		Terminated: s.terminated,
		ExitCode:   int32(s.exitCode),
		Reason:     s.reason,
		Provides:   s.provides,
		Requires:   s.requires,
		InputType:  s.inputType,
	}
	if s.seq != nil {
		i.SequenceId = s.seq.Id
	}
	if !s.started.IsZero() {
		i.StartedMs = s.started.UnixMilli()
	}
	if !s.endedAt.IsZero() {
		i.EndedMs = s.endedAt.UnixMilli()
	}
	if s.proc != nil {
		i.Pid = int32(s.proc.PID())
	}
	return i
}

func orDefault(raw json.RawMessage, def string) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return []byte(def)
	}
	return raw
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}
