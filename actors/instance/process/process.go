// Package process runs one sequence as one OS process: the runner shim for
// its engine (embedded in the binary), in a process group of its own, with
// the pipes the hub and the runner talk over.
//
// The runner's file descriptors:
//
//	0 stdin       hub -> sequence   the sequence's own process.stdin / sys.stdin
//	1 stdout      sequence -> hub
//	2 stderr      sequence -> hub
//	3 control     hub -> runner     line-delimited JSON [code, data]
//	4 monitoring  runner -> hub     line-delimited JSON [code, data]
//	5 input       hub -> runner     the input stream, decoded as INPUT_CONTENT_TYPE says
//	6 output      runner -> hub     the output stream
//	7 log         runner -> hub     the sequence's logger and the runner's own lines
//
// The conversation: the runner sends PING, the hub answers PONG with the
// appConfig and args (Process does this itself); then MONITORING every
// second, which Process acknowledges with MONITORING_REPLY; PANG once the
// code is loaded; EVENT either way; ALIVE when the sequence calls
// keepAlive; STOP and KILL from the hub; SEQUENCE_COMPLETED or
// SEQUENCE_STOPPED just before the runner exits 0 or 138.
//
// When the runner exits, whatever is left of its process group is killed.
// A program the sequence starts in a group or session of its own escapes
// that, and keeps the pipes it inherited (and so Output and the others)
// open while it lives. When the hub dies, its pipes close: the runner
// takes the end of the control pipe for KILL. A runner too busy to read it
// is killed by the next hub to start on the same store (orphans.go); the
// process carries MarkerEnv=<instance id> in its environment for that (a
// runner started ahead, warm.go, a token of its own: Process.Marker).
//
// A Process owns three goroutines (the waiter, the monitoring reader, the
// control writer) and a few timers; all of them end when the process has
// exited and its monitoring pipe is drained. The caller must drain
// Messages until it is closed, and read Output, Stdout, Stderr and Log to
// EOF and close them: an unread pipe stops the sequence, which is the
// back-pressure the hub wants, and an unclosed one keeps its descriptor.
package process

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/troupe-run/troupe/actors/sequence"
)

// Spec says what to run and how.
type Spec struct {
	ID        string            // the instance id, context.instanceId in the sequence
	Dir       string            // the unpacked package; the process's working folder
	Package   *sequence.Package // as sequence.Unpack or sequence.Load made it
	Args      json.RawMessage   // a JSON array, passed after the input; nil for none
	AppConfig json.RawMessage   // a JSON object, context.config; nil for {}

	Node      string        // the node executable; "node" from PATH when empty
	Python    string        // the python3 executable; "python3" from PATH when empty
	RunnerDir string        // where runners are written; a private temporary folder when empty
	Env       []string      // the environment; when nil, PATH, HOME, LANG, LC_ALL, TZ and TMPDIR of the hub's; MarkerEnv=ID is added
	ExtraEnv  []string      // added to Env: what the hub tells the runner (TROUPE_SCRAMJET_MODULES, TROUPE_HUB_URL)
	KillGrace time.Duration // from KILL to SIGKILL in Terminate; 5 s when zero
	Logger    *slog.Logger  // for faults of the runner's messages; slog.Default() when nil
}

var (
	ErrExited      = errors.New("instance process has exited")
	ErrControlFull = errors.New("instance runner is not reading its control messages")
)

// DefaultKillGrace is the time from KILL to SIGKILL when Spec.KillGrace is
// zero.
const DefaultKillGrace = 5 * time.Second

const (
	outboxSize   = 256 // control messages waiting for the runner
	messagesSize = 64
)

var monitoringReply = []byte("[4004,{}]\n")

// Process is a running sequence. Its methods are safe for concurrent use.
type Process struct {
	pid    int
	proc   *os.Process
	marker string            // MarkerEnv's value in its environment
	pong   []byte            // the PONG line, ready for the PING; nil for a warm runner, whose LOAD carries it
	pipes  [fdCount]*os.File // the hub's ends

	messages chan Message
	outbox   chan []byte
	ready    chan struct{} // closed at the runner's first PANG (its sequence loaded), or the end of its monitoring pipe
	done     chan struct{}

	mu        sync.Mutex
	grace     time.Duration
	log       *slog.Logger
	stopCtx   func() bool // ends the kill on the done of Start's ctx
	exited    bool        // the process is dead, about to be reaped: never signal its pid again
	keptAlive bool        // an ALIVE came after the last STOP
	stopTimer *time.Timer
	killTimer *time.Timer

	code int // set before done is closed
	err  error
}

// Start starts the runner for spec.Package. The process lives until it
// exits, is killed, or ctx is done, which kills its process group.
// Start returns once the process runs; the handshake follows on its own.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	if spec.Package == nil {
		return nil, errors.New("instance: Spec.Package is nil")
	}
	pong, err := pongLine(spec.Args, spec.AppConfig)
	if err != nil {
		return nil, err
	}
	argv, err := command(spec)
	if err != nil {
		return nil, err
	}
	env := spec.Env
	if env == nil {
		env = defaultEnv()
	}
	env = append(slices.Clip(env), spec.ExtraEnv...)
	return spawn(ctx, argv, spec.Dir, env, spec.ID, pong, spec.KillGrace, spec.Logger)
}

// spawn starts argv in dir, in a process group of its own, with the pipes
// and the goroutines of a Process. marker, when set, goes into its
// environment as MarkerEnv; pong answers its PING (nil: it is not asked).
func spawn(ctx context.Context, argv []string, dir string, env []string, marker string, pong []byte,
	grace time.Duration, log *slog.Logger) (*Process, error) {
	if marker != "" {
		// The mark by which a later hub knows the process as the instance's.
		env = append(slices.Clip(env), MarkerEnv+"="+marker)
	}
	child, pipes, err := openPipes()
	if err != nil {
		return nil, err
	}
	p := &Process{
		marker:   marker,
		pipes:    pipes,
		pong:     pong,
		grace:    grace,
		log:      log,
		messages: make(chan Message, messagesSize),
		outbox:   make(chan []byte, outboxSize),
		ready:    make(chan struct{}),
		done:     make(chan struct{}),
	}
	if p.grace <= 0 {
		p.grace = DefaultKillGrace
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.proc, err = os.StartProcess(argv[0], argv, &os.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: child[:],
		// Its own group, so that a kill reaches whatever the sequence started.
		Sys: &syscall.SysProcAttr{Setpgid: true},
	})
	closeAll(child[:])
	if err != nil {
		closeAll(p.pipes[:])
		return nil, fmt.Errorf("instance: starting %s: %w", argv[0], err)
	}
	p.pid = p.proc.Pid
	p.stopCtx = context.AfterFunc(ctx, func() { p.Kill() })
	go p.wait()
	go p.readMonitoring()
	go p.writeControl()
	return p, nil
}

// command is the runner's command line: interpreter, runner, the absolute
// path of the sequence's entry file, the instance id.
func command(spec Spec) ([]string, error) {
	entry, err := filepath.Abs(filepath.Join(spec.Dir, filepath.FromSlash(spec.Package.Entry)))
	if err != nil {
		return nil, err
	}
	argv, err := runnerArgv(spec.Package.Engine, spec.Node, spec.Python, spec.RunnerDir)
	if err != nil {
		return nil, err
	}
	return append(argv, entry, spec.ID), nil
}

// runnerArgv is the interpreter and the runner of engine, the runner
// written to runnerDir first if it is not there yet.
func runnerArgv(engine sequence.Engine, node, python, runnerDir string) ([]string, error) {
	interp, name, script, flags := node, "runner.js", nodeRunner, []string(nil)
	if interp == "" {
		interp = "node"
	}
	if engine == sequence.Python {
		// -u: the sequence's print() reaches stdout when it is called.
		interp, name, script, flags = python, "runner.py", pythonRunner, []string{"-u"}
		if interp == "" {
			interp = "python3"
		}
	}
	path, err := exec.LookPath(interp)
	if err != nil {
		return nil, fmt.Errorf("instance: %w", err)
	}
	runner, err := installRunner(runnerDir, name, script)
	if err != nil {
		return nil, fmt.Errorf("instance: installing %s: %w", name, err)
	}
	argv := append([]string{path}, flags...)
	return append(argv, runner), nil
}

// defaultEnv passes on the little of the hub's environment a program
// needs; the hub's own settings, keys included, stay out of sequences.
func defaultEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func pongLine(args, appConfig json.RawMessage) ([]byte, error) {
	if len(args) == 0 {
		args = json.RawMessage("[]")
	}
	if len(appConfig) == 0 || string(appConfig) == "null" {
		appConfig = json.RawMessage("{}")
	}
	var list []json.RawMessage
	if err := json.Unmarshal(args, &list); err != nil {
		return nil, fmt.Errorf("instance: args must be a JSON array: %w", err)
	}
	var object map[string]json.RawMessage
	if err := json.Unmarshal(appConfig, &object); err != nil || object == nil {
		return nil, fmt.Errorf("instance: appConfig must be a JSON object")
	}
	return encode(CodePong, pongData{AppConfig: appConfig, Args: args})
}

// PID is the runner's process id, which is also its process group id.
func (p *Process) PID() int { return p.pid }

// Marker is the value of MarkerEnv in the process's environment (and
// among its arguments): the instance id, or for a runner started ahead of
// its instance (Warm), a token of its own.
func (p *Process) Marker() string { return p.marker }

func (p *Process) logger() *slog.Logger {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log
}

// Input is the sequence's input stream. Closing it ends the input. The
// runner reads it once it knows the content type (SetInputContentType).
func (p *Process) Input() io.WriteCloser { return p.pipes[fdInput] }

// Stdin is the process's standard input.
func (p *Process) Stdin() io.WriteCloser { return p.pipes[fdStdin] }

// Output is the sequence's output stream.
func (p *Process) Output() io.ReadCloser { return p.pipes[fdOutput] }

// Stdout is the process's standard output.
func (p *Process) Stdout() io.ReadCloser { return p.pipes[fdStdout] }

// Stderr is the process's standard error.
func (p *Process) Stderr() io.ReadCloser { return p.pipes[fdStderr] }

// Log carries the lines of the sequence's logger and of the runner.
func (p *Process) Log() io.ReadCloser { return p.pipes[fdLog] }

// Messages delivers the runner's messages, PING and MONITORING included,
// and is closed when the runner's monitoring pipe ends.
func (p *Process) Messages() <-chan Message { return p.messages }

// Done is closed when the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns its exit code; a process
// ended by a signal gets 128 plus the signal's number, like in a shell.
// By then the rest of its process group has been sent SIGKILL.
func (p *Process) Wait() (int, error) {
	<-p.done
	return p.code, p.err
}

// Send queues a control message for the runner. It never blocks: when the
// runner has stopped reading (a busy sequence), it fails with
// ErrControlFull.
func (p *Process) Send(code Code, data any) error {
	line, err := encode(code, data)
	if err != nil {
		return err
	}
	return p.enqueue(line)
}

// SetInputContentType tells the runner how to decode Input:
// "application/x-ndjson" (and "text/x-ndjson") into JSON values,
// "text/plain" into strings, anything else into bytes.
func (p *Process) SetInputContentType(contentType string) error {
	return p.Send(CodeInputContentType, inputContentType{ContentType: contentType})
}

func (p *Process) enqueue(line []byte) error {
	select {
	case <-p.done:
		return ErrExited
	default:
	}
	select {
	case p.outbox <- line:
		return nil
	default:
		return ErrControlFull
	}
}

// Stop asks the sequence to stop: its stop handlers get timeout (in
// milliseconds) and canCallKeepalive, then it exits 138. If it has not
// exited when timeout has passed, it is terminated, unless canCallKeepalive
// is set and the sequence called keepAlive since this request: then it
// runs on. The original hub does the same and reads nothing into the
// milliseconds keepAlive gives.
func (p *Process) Stop(timeout time.Duration, canCallKeepalive bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return ErrExited
	}
	err := p.Send(CodeStop, stopRequest{Timeout: timeout.Milliseconds(), CanCallKeepalive: canCallKeepalive})
	if err != nil {
		return err
	}
	p.keptAlive = false
	if p.stopTimer != nil {
		p.stopTimer.Stop()
	}
	p.stopTimer = time.AfterFunc(timeout, func() { p.stopDeadline(canCallKeepalive) })
	return nil
}

// stopDeadline is Stop's timeout passing.
func (p *Process) stopDeadline(canCallKeepalive bool) {
	p.mu.Lock()
	spared := p.exited || canCallKeepalive && p.keptAlive
	p.mu.Unlock()
	if !spared {
		p.Terminate()
	}
}

// Terminate sends KILL, on which the runner runs the kill handlers and
// exits 137, and kills the process group if the process is still there
// after the grace period (Spec.KillGrace).
func (p *Process) Terminate() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited || p.killTimer != nil {
		return
	}
	// A runner too busy to read KILL gets SIGKILL all the same.
	p.Send(CodeKill, nil)
	p.killTimer = time.AfterFunc(p.grace, func() { p.Kill() })
}

// Kill sends SIGKILL to the process group now. It is a no-op once the
// process has exited.
func (p *Process) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return nil
	}
	return syscall.Kill(-p.pid, syscall.SIGKILL)
}

// wait reaps the process and releases what the hub holds for it.
func (p *Process) wait() {
	state, err := reap(p.proc, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		// Whatever the sequence started and left behind goes with it.
		syscall.Kill(-p.pid, syscall.SIGKILL)
		p.exited = true
		for _, t := range []*time.Timer{p.stopTimer, p.killTimer} {
			if t != nil {
				t.Stop()
			}
		}
	})
	p.err = err
	if state != nil {
		p.code = state.ExitCode()
		if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.code = 128 + int(ws.Signal())
		}
	}
	p.mu.Lock()
	p.stopCtx()
	p.mu.Unlock()
	// Writers blocked on pipes that no one reads any more return now. The
	// readers' pipes end by themselves once the process group is gone.
	for _, fd := range []int{fdStdin, fdControl, fdInput} {
		p.pipes[fd].Close()
	}
	close(p.done)
}

// readMonitoring decodes the runner's messages, answers the ones the
// protocol answers, and passes all of them on.
func (p *Process) readMonitoring() {
	defer close(p.messages)
	f := p.pipes[fdMonitoring]
	defer f.Close()
	ready := false
	defer func() {
		if !ready {
			close(p.ready)
		}
	}()
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := readLine(r, maxMessageBytes)
		if len(line) > 0 {
			var m Message
			if jerr := json.Unmarshal(line, &m); jerr != nil {
				p.logger().Warn("instance: undecodable runner message", "pid", p.pid, "err", jerr)
			} else {
				p.handle(m)
				p.messages <- m
				if !ready && m.Code == CodePang {
					ready = true
					close(p.ready)
				}
			}
		}
		if errors.Is(err, errLineTooLong) {
			p.logger().Warn("instance: runner message dropped", "pid", p.pid, "err", err)
			continue
		}
		if err != nil {
			return
		}
	}
}

func (p *Process) handle(m Message) {
	switch m.Code {
	case CodePing:
		if p.pong != nil {
			p.enqueue(p.pong)
		}
	case CodeMonitoring:
		// Dropped when the queue is full: the next report brings another.
		p.enqueue(monitoringReply)
	case CodeAlive:
		p.mu.Lock()
		p.keptAlive = true
		p.mu.Unlock()
	}
}

// writeControl writes queued messages to the runner, one whole line at a
// time, so that Send never waits on the pipe.
func (p *Process) writeControl() {
	for {
		select {
		case <-p.done:
			return
		case line := <-p.outbox:
			if _, err := p.pipes[fdControl].Write(line); err != nil {
				return
			}
		}
	}
}

// CheckArgs reports whether args and appConfig can start a sequence: args
// a JSON array and appConfig a JSON object, each possibly empty.
func CheckArgs(args, appConfig json.RawMessage) error {
	_, err := pongLine(args, appConfig)
	return err
}
