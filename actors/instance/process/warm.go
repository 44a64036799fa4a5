package process

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"

	"github.com/troupe-run/troupe/actors/sequence"
)

// Warm runners: most of an instance's start is its interpreter's own
// (node takes tens of milliseconds to boot and to compile the runner), so
// Warm keeps a few runners started ahead, each idle in a process of its
// own until a LOAD names the sequence it is to run. A runner serves one
// instance only, as a cold one does: once taken, its place is filled by a
// new one, started when the taken runner has loaded its sequence (its
// first message, PANG, or its end) so that the two do not boot at once.
//
// An idle runner is started as
//
//	<interpreter> <runner> --warm <token>
//
// with the hub's default environment and MarkerEnv=<token> (the token a
// random hex string, which a later hub looks for in a lost instance's
// processes: Process.Marker). LOAD brings what the command line and the
// environment bring a cold runner: the entry, the working folder, the
// instance id, the runner's extra environment, and the handshake's
// appConfig and args (so no PING/PONG round trip follows). An idle
// runner whose hub goes away reads the end of its control pipe and exits.

// CodeLoad is the hub's LOAD to a warm runner; the number is Troupe's own,
// outside the original's codes.
const CodeLoad Code = 4100

// loadRequest is LOAD's payload.
type loadRequest struct {
	Entry     string            `json:"entry"`
	Dir       string            `json:"dir"`
	ID        string            `json:"id"`
	Env       map[string]string `json:"env,omitempty"`
	AppConfig json.RawMessage   `json:"appConfig"`
	Args      json.RawMessage   `json:"args"`
}

// WarmOptions configure a Warm.
type WarmOptions struct {
	PerEngine int    // idle runners kept per engine; 0 or less: none, every start is cold
	Node      string // as Spec.Node
	Python    string // as Spec.Python
	RunnerDir string // as Spec.RunnerDir
	// Env, when set, is added to an idle runner's environment as it
	// starts: what it may load before its sequence is known (the Node
	// runner requires the scramjet of TROUPE_SCRAMJET_MODULES while idle).
	Env    func(sequence.Engine) []string
	Logger *slog.Logger
}

// Warm starts instances on runners started ahead. An engine gets its
// first idle runner after its first start, so a hub that never runs
// Python holds no idle python3. Its methods are safe for concurrent use.
type Warm struct {
	opts   WarmOptions
	ctx    context.Context // the idle runners' lifetime
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	idle    map[sequence.Engine][]*Process
	pending map[sequence.Engine]int // refills under way
	refills sync.WaitGroup
}

// NewWarm makes a Warm; Close stops its idle runners.
func NewWarm(o WarmOptions) *Warm {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Warm{opts: o, ctx: ctx, cancel: cancel,
		idle: map[sequence.Engine][]*Process{}, pending: map[sequence.Engine]int{}}
}

// Start starts spec's sequence as the package's Start does, on an idle
// runner of its engine when one is there (spec's Node, Python and
// RunnerDir are then Warm's). A spec with an Env of its own always starts
// cold. The process lives until it exits, is killed, or ctx is done.
func (w *Warm) Start(ctx context.Context, spec Spec) (*Process, error) {
	if w == nil || w.opts.PerEngine <= 0 || spec.Env != nil || spec.Package == nil {
		return Start(ctx, spec)
	}
	// Bad args fail here, as in Start, before a runner is spent on them.
	if _, err := pongLine(spec.Args, spec.AppConfig); err != nil {
		return nil, err
	}
	engine := spec.Package.Engine
	p := w.take(engine)
	if p != nil {
		if err := p.load(ctx, spec); err != nil {
			w.discard(p)
			p = nil
		}
	}
	if p == nil {
		var err error
		if p, err = Start(ctx, spec); err != nil {
			return nil, err
		}
	}
	w.refill(engine, p.ready)
	return p, nil
}

// Idle is how many idle runners of engine there are (started, some perhaps
// still booting: a start that takes one waits in its control pipe).
func (w *Warm) Idle(engine sequence.Engine) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.idle[engine])
}

// Close kills the idle runners and waits for them and for the refills
// under way. Processes already taken are their instances'.
func (w *Warm) Close() {
	w.mu.Lock()
	w.closed = true
	var idle []*Process
	for _, ps := range w.idle {
		idle = append(idle, ps...)
	}
	clear(w.idle)
	w.mu.Unlock()
	w.cancel()
	w.refills.Wait()
	for _, p := range idle {
		w.discard(p)
	}
}

// take removes an idle runner of engine that is still alive; the dead
// ones (killed from outside) are discarded on the way.
func (w *Warm) take(engine sequence.Engine) *Process {
	for {
		w.mu.Lock()
		ps := w.idle[engine]
		if len(ps) == 0 {
			w.mu.Unlock()
			return nil
		}
		p := ps[len(ps)-1]
		w.idle[engine] = ps[:len(ps)-1]
		w.mu.Unlock()
		select {
		case <-p.done:
			w.discard(p)
		default:
			return p
		}
	}
}

// refill tops engine's idle runners up to PerEngine, starting the new ones
// once after is closed (the runner just started has loaded its sequence).
func (w *Warm) refill(engine sequence.Engine, after <-chan struct{}) {
	w.mu.Lock()
	missing := w.opts.PerEngine - len(w.idle[engine]) - w.pending[engine]
	if w.closed || missing <= 0 {
		w.mu.Unlock()
		return
	}
	w.pending[engine] += missing
	w.refills.Add(1)
	w.mu.Unlock()
	go func() {
		defer w.refills.Done()
		select {
		case <-after:
		case <-w.ctx.Done():
		}
		for range missing {
			p, err := w.spawnIdle(engine)
			w.mu.Lock()
			w.pending[engine]--
			keep := err == nil && !w.closed
			if keep {
				w.idle[engine] = append(w.idle[engine], p)
			}
			w.mu.Unlock()
			if err != nil {
				w.opts.Logger.Warn("instance: starting a warm runner", "engine", engine, "err", err)
			} else if !keep {
				w.discard(p)
			}
		}
	}()
}

// spawnIdle starts an idle runner of engine.
func (w *Warm) spawnIdle(engine sequence.Engine) (*Process, error) {
	if err := w.ctx.Err(); err != nil {
		return nil, err
	}
	argv, err := runnerArgv(engine, w.opts.Node, w.opts.Python, w.opts.RunnerDir)
	if err != nil {
		return nil, err
	}
	var b [16]byte
	rand.Read(b[:])
	token := "warm-" + hex.EncodeToString(b[:])
	argv = append(argv, "--warm", token)
	env := defaultEnv()
	if w.opts.Env != nil {
		env = append(env, w.opts.Env(engine)...)
	}
	return spawn(w.ctx, argv, "/", env, token, nil, 0, w.opts.Logger)
}

// load gives an idle runner its instance: spec's sequence, the instance's
// ctx (in place of the Warm's), kill grace and logger.
func (p *Process) load(ctx context.Context, spec Spec) error {
	entry, err := filepath.Abs(filepath.Join(spec.Dir, filepath.FromSlash(spec.Package.Entry)))
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(spec.Dir)
	if err != nil {
		return err
	}
	req := loadRequest{Entry: entry, Dir: dir, ID: spec.ID, AppConfig: spec.AppConfig, Args: spec.Args}
	if len(req.Args) == 0 {
		req.Args = json.RawMessage("[]")
	}
	if len(req.AppConfig) == 0 || string(req.AppConfig) == "null" {
		req.AppConfig = json.RawMessage("{}")
	}
	for _, kv := range spec.ExtraEnv {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			if req.Env == nil {
				req.Env = map[string]string{}
			}
			req.Env[k] = v
		}
	}
	p.mu.Lock()
	if p.exited {
		p.mu.Unlock()
		return ErrExited
	}
	p.stopCtx()
	p.stopCtx = context.AfterFunc(ctx, func() { p.Kill() })
	if spec.KillGrace > 0 {
		p.grace = spec.KillGrace
	}
	if spec.Logger != nil {
		p.log = spec.Logger
	}
	p.mu.Unlock()
	return p.Send(CodeLoad, req)
}

// discard kills a runner no instance has and releases what the hub holds
// for it.
func (w *Warm) discard(p *Process) {
	p.Kill()
	for _, fd := range []int{fdStdout, fdStderr, fdOutput, fdLog} {
		p.pipes[fd].Close()
	}
	for range p.messages {
	}
	p.Wait()
}
