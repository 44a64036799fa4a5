// Package instance is the hub's instances domain: one actor per instance,
// "instances/<id>", owning one OS process (started and spoken to through
// the package process, which knows the runners and their protocol), the
// spools of its output streams, the ports of its input, its events and
// health reports, and the feeds between it and topics. The goroutines
// that pump the process's pipes belong to the instance: they end with it
// and Service.Close joins them.
package instance

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/troupe-run/troupe/actors/instance/process"
	"github.com/troupe-run/troupe/actors/sequence"
	"github.com/troupe-run/troupe/actors/topic"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// Error is a refused instance command; its codes are messages.Code*.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string     { return e.Message }
func (e *Error) ErrorCode() string { return e.Code }

func errorf(code, format string, a ...any) *Error { return &Error{code, fmt.Sprintf(format, a...)} }

// Defaults of Options fields left zero.
const (
	DefaultRetention      = 3 * time.Minute
	DefaultStreamBuffer   = 1 << 20
	DefaultEventBuffer    = 256
	DefaultEventNames     = 1024
	DefaultMaxEnded       = 1000
	DefaultUnhealthyAfter = 5 * time.Second
	DefaultKillAfter      = 30 * time.Second
)

// Options configure the instances.
type Options struct {
	MaxInstances   int           // instances whose process runs; 0: no limit
	Retention      time.Duration // how long an ended instance stays readable
	MaxEnded       int           // ended instances kept readable; past it the oldest are forgotten early
	StreamBuffer   int           // bytes held per stream (output, stdout, stderr, log)
	EventBuffer    int           // events held per /events reader before it is dropped
	EventNames     int           // event names whose last event an instance keeps for GET /event
	UnhealthyAfter time.Duration // no MONITORING for this long: unhealthy
	KillAfter      time.Duration // no MONITORING for this long: killed
	KillGrace      time.Duration // from KILL to SIGKILL
	Node, Python   string        // interpreters; from PATH when empty
	RunnerDir      string        // where the runners are written; private when empty
	// WarmRunners is how many idle runners per engine are kept started
	// ahead of the instances that will take them (process.Warm); 0: none,
	// every runner starts when its instance does.
	WarmRunners int
	// Scramjet is where Node sequences without their own scramjet package
	// get it: ScramjetAuto (npm installs it into ScramjetDir on first
	// use), ScramjetOff or "" (none: a plain Node stream), or a
	// node_modules folder that holds it (an offline host).
	Scramjet    string
	ScramjetDir string
	// HubURL is this hub's API base (http://host:port/api/v1), this.hub
	// in a Node sequence; "" when the hub door is off.
	HubURL string
	// HubKey is the API key this.hub presents, when the hub door asks for
	// one: a key of the instances' own (the operator's keys are not handed
	// to sequences' code).
	HubKey string
}

// Service is the instances domain: one actor per instance,
// "instances/<id>", owning one OS process.
type Service struct {
	sys    *system.System
	opts   Options
	seqs   *sequence.Service
	topics *topic.Service
	log    *slog.Logger
	sj     *scramjet
	warm   *process.Warm

	mu    sync.Mutex
	slots map[string]*slot // every instance not yet forgotten

	// pumps are the goroutines of every instance's process: the pumps of
	// its pipes, the bearers of its messages and of its end, its topic
	// feeds. Close joins them.
	pumps sync.WaitGroup
}

// StartService registers the instances domain.
func StartService(sys *system.System, seqs *sequence.Service, topics *topic.Service, opts Options) (*Service, error) {
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.StreamBuffer <= 0 {
		opts.StreamBuffer = DefaultStreamBuffer
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = DefaultEventBuffer
	}
	if opts.EventNames <= 0 {
		opts.EventNames = DefaultEventNames
	}
	if opts.MaxEnded <= 0 {
		opts.MaxEnded = DefaultMaxEnded
	}
	if opts.UnhealthyAfter <= 0 {
		opts.UnhealthyAfter = DefaultUnhealthyAfter
	}
	if opts.KillAfter <= opts.UnhealthyAfter {
		opts.KillAfter = max(DefaultKillAfter, 2*opts.UnhealthyAfter)
	}
	s := &Service{sys: sys, opts: opts, seqs: seqs, topics: topics, log: sys.Log.With("component", "instances"),
		slots: map[string]*slot{}}
	if opts.Scramjet == ScramjetAuto && opts.ScramjetDir == "" {
		// No data dir: a folder of this process's own.
		dir, err := process.PrivateDir()
		if err != nil {
			return nil, err
		}
		opts.ScramjetDir = filepath.Join(dir, "node")
		s.opts = opts
	}
	s.sj = newScramjet(opts.Scramjet, opts.ScramjetDir, s.log)
	err := sys.Registry.Domain("instances", func(name string) actor.Producer {
		sl := s.slot(name)
		return func() actor.Actor { return &instanceActor{svc: s, s: sl} }
	})
	if err != nil {
		return nil, err
	}
	if err := s.recoverOrphans(); err != nil {
		return nil, fmt.Errorf("instances: recovering from the last run: %w", err)
	}
	s.warm = process.NewWarm(process.WarmOptions{PerEngine: opts.WarmRunners, Node: opts.Node,
		Python: opts.Python, RunnerDir: opts.RunnerDir, Logger: s.log, Env: s.warmEnv})
	return s, nil
}

// Close waits for the goroutines of every instance's process to end; call
// it after the system closed, whose stop of the instances' actors kills
// the processes and closes their pipes. A process that outlives its kill
// grace and a margin is left to the OS, with an error.
func (s *Service) Close() error {
	s.warm.Close()
	done := make(chan struct{})
	go func() {
		s.pumps.Wait()
		close(done)
	}()
	grace := s.opts.KillGrace
	if grace <= 0 {
		grace = process.DefaultKillGrace
	}
	bound := grace + closeMargin
	select {
	case <-done:
		return nil
	case <-time.After(bound):
		return fmt.Errorf("instances: processes' pipes still open %s after the hub's stop", bound)
	}
}

// closeMargin is how long past the kill grace Close waits for the
// processes' goroutines: a killed process exits within its grace, and its
// pipes are closed at once.
const closeMargin = 5 * time.Second

func actorName(id string) string { return "instances/" + id }

func (s *Service) slot(id string) *slot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.slots[id]
}

// StartOptions are the body of POST /sequence/:id/start.
type StartOptions struct {
	Sequence    string          // id, or name
	InstanceID  string          // "" for a new UUID
	AppConfig   json.RawMessage // JSON object, or empty
	Args        json.RawMessage // JSON array, or empty
	InputTopic  string          // read the input from this topic
	OutputTopic string          // publish the output to this topic
}

// Start starts an instance of a sequence and returns its id. The process
// starts in the instance's actor; Start does not wait for the handshake.
func (s *Service) Start(ctx context.Context, o StartOptions) (string, error) {
	id := o.InstanceID
	if id == "" {
		id = sequence.NewID()
	} else if !sequence.ValidID(id) {
		return "", errorf(messages.CodeInvalid, "Invalid Instance id")
	}
	if err := process.CheckArgs(o.Args, o.AppConfig); err != nil {
		return "", errorf(messages.CodeInvalid, "%v", err)
	}
	for _, t := range []string{o.InputTopic, o.OutputTopic} {
		if t != "" && !topic.ValidName(t) {
			return "", errorf(messages.CodeInvalid, "Topic id incorrect format: %q", t)
		}
	}
	sl := &slot{id: id, opts: o, created: time.Now(), status: StatusInitializing, ev: newEvents(s.opts.EventNames)}
	s.mu.Lock()
	running := 0
	for _, other := range s.slots {
		if !other.isEnded() {
			running++
		}
	}
	switch {
	case s.slots[id] != nil:
		s.mu.Unlock()
		return "", errorf(messages.CodeInstanceExists, "Instance with a given ID already exists")
	case s.opts.MaxInstances > 0 && running >= s.opts.MaxInstances:
		s.mu.Unlock()
		return "", errorf(messages.CodeLimit, "%d instances are running, the limit (--hub-max-instances)", running)
	}
	s.slots[id] = sl // reserves the id
	s.mu.Unlock()

	rec, err := s.seqs.Reserve(ctx, o.Sequence, id)
	if err != nil {
		s.drop(id)
		return "", err
	}
	sl.seq = rec
	pkg := sequence.PackageOf(rec)
	if _, err := os.Stat(filepath.Join(rec.Dir, filepath.FromSlash(pkg.Entry))); errors.Is(err, fs.ErrNotExist) {
		// As the original, whose start waits for the runner and answers
		// its early exit (21): no instance is made, and si seq deploy
		// says why and exits 1.
		s.drop(id)
		s.seqs.Ended(rec.Id, id)
		s.seqs.Gone(rec.Id, id)
		return "", errorf(messages.CodeInvalid, "Sequence entrypoint path %s is invalid. Check `main` field in Sequence package.json", pkg.Main)
	}
	if args := pkg.DefaultArgs(); args != nil && (len(o.Args) == 0 || string(o.Args) == "[]" || string(o.Args) == "null") {
		sl.opts.Args = args
	}
	if pkg.Engine != sequence.Python {
		// The first Node start waits for the hub's scramjet, once.
		sl.scramjet = s.sj.modules(ctx)
	}
	sl.publish()
	if _, err := s.sys.Registry.Get(actorName(id)); err != nil {
		s.drop(id)
		s.seqs.Ended(rec.Id, id)
		s.seqs.Gone(rec.Id, id)
		return "", err
	}
	return id, nil
}

// warmEnv is what an idle runner of engine may load ahead: the hub's
// scramjet, which a Node runner loads first (once the hub has it).
func (s *Service) warmEnv(engine sequence.Engine) []string {
	if dir := s.sj.known(); engine == sequence.Node && dir != "" {
		return []string{"TROUPE_SCRAMJET_MODULES=" + dir}
	}
	return nil
}

func (s *Service) drop(id string) {
	s.mu.Lock()
	delete(s.slots, id)
	s.mu.Unlock()
}

// forget stops an instance's actor for good, once its retention is over
// or trimEnded found it among the oldest; the first call does it.
func (s *Service) forget(id, sequenceID string) {
	s.mu.Lock()
	sl := s.slots[id]
	if sl == nil || sl.forgotten {
		s.mu.Unlock()
		return
	}
	sl.forgotten = true
	s.mu.Unlock()
	if err := s.sys.Registry.Forget(actorName(id)); err != nil {
		s.log.Warn("stopping an ended instance's actor", "instance", id, "err", err)
	}
	s.drop(id)
	s.seqs.Gone(sequenceID, id)
}

// trimEnded forgets the instances that ended longest ago, before their
// retention is over, while more than MaxEnded ended ones are kept: a
// client that starts short-lived instances quickly does not hold their
// streams in memory for the whole retention. It is called by the actor of
// instance last, which just ended: that one is kept (its description is
// not published yet).
func (s *Service) trimEnded(last string) {
	s.mu.Lock()
	count := 0
	var older []*messages.InstanceInfo
	for id, sl := range s.slots {
		if !sl.isEnded() || sl.forgotten {
			continue
		}
		count++
		if info := sl.snapshot.Load(); id != last && info != nil {
			older = append(older, info)
		}
	}
	s.mu.Unlock()
	excess := min(count-s.opts.MaxEnded, len(older))
	if excess <= 0 {
		return
	}
	slices.SortFunc(older, func(a, b *messages.InstanceInfo) int {
		return cmp.Or(cmp.Compare(a.EndedMs, b.EndedMs), cmp.Compare(a.Id, b.Id))
	})
	for _, info := range older[:excess] {
		s.pumps.Go(func() { s.forget(info.Id, info.SequenceId) })
	}
}

func (s *Service) pid(id string) (*actor.PID, error) {
	if s.slot(id) == nil {
		return nil, errorf(messages.CodeNotFound, "Instance %s not found", id)
	}
	pid, ok := s.sys.Registry.Lookup(actorName(id))
	if !ok {
		return nil, errorf(messages.CodeNotFound, "Instance %s not found", id)
	}
	return pid, nil
}

func (s *Service) ask(ctx context.Context, id string, msg any) (*messages.InstanceInfo, error) {
	pid, err := s.pid(id)
	if err != nil {
		return nil, err
	}
	// Every command is answered at once: a client that hangs up frees
	// its wait, and the command, already sent, is carried out.
	res, err := s.sys.Ask(ctx, pid, msg)
	if err != nil {
		return nil, err
	}
	r := res.(*messages.InstanceReply)
	if r.ErrorCode != "" {
		return nil, &Error{r.ErrorCode, r.ErrorMessage}
	}
	return r.Info, nil
}

// local asks an instance's actor a local question and waits for the
// answer on reply, which the actor fills.
func local[T any](ctx context.Context, s *Service, id string, msg any, reply chan T) (T, error) {
	var zero T
	pid, err := s.pid(id)
	if err != nil {
		return zero, err
	}
	s.sys.Root.Send(pid, msg)
	timer := time.NewTimer(s.sys.Config.RequestTimeout)
	defer timer.Stop()
	select {
	case r := <-reply:
		return r, nil
	case <-timer.C:
		return zero, fmt.Errorf("instance %s did not answer within %s", id, s.sys.Config.RequestTimeout)
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Do executes a command on an instance: InstanceInfoRequest (GET
// /instance/:id), InstanceStop (POST /_stop: the sequence's stop handlers
// run, then it is killed past the timeout unless it called keepAlive and
// may), InstanceKill (POST /_kill), InstanceEvent (POST /_event) or
// InstanceMonitoringRate (POST /_monitoring_rate). The answer describes
// the instance after the command.
func (s *Service) Do(ctx context.Context, id string, cmd proto.Message) (*messages.InstanceInfo, error) {
	switch cmd := cmd.(type) {
	case *messages.InstanceInfoRequest, *messages.InstanceStop, *messages.InstanceKill, *messages.InstanceEvent:
	case *messages.InstanceMonitoringRate:
		if cmd.Rate <= 0 {
			return nil, errorf(messages.CodeInvalid, "monitoringRate must be a positive number")
		}
	default:
		return nil, errorf(messages.CodeInvalid, "%T is no instance command", cmd)
	}
	return s.ask(ctx, id, cmd)
}

// List describes every instance not yet forgotten, oldest first. Each actor
// publishes its description on every change, so a list costs no round
// trip per instance.
func (s *Service) List() []*messages.InstanceInfo {
	s.mu.Lock()
	out := make([]*messages.InstanceInfo, 0, len(s.slots))
	for _, sl := range s.slots {
		if info := sl.snapshot.Load(); info != nil {
			out = append(out, info)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *messages.InstanceInfo) int {
		return cmp.Or(cmp.Compare(a.CreatedMs, b.CreatedMs), cmp.Compare(a.Id, b.Id))
	})
	return out
}

// broadcast hands an event an instance emitted to every other instance
// whose process runs, as the original hub's event bus does.
func (s *Service) broadcast(from string, ev process.Event) {
	s.mu.Lock()
	var to []string
	for id, sl := range s.slots {
		if id != from && !sl.isEnded() {
			to = append(to, id)
		}
	}
	s.mu.Unlock()
	msg := &messages.InstanceEvent{EventName: ev.EventName, Message: ev.Message, Source: from}
	for _, id := range to {
		if pid, ok := s.sys.Registry.Lookup(actorName(id)); ok {
			s.sys.Root.Send(pid, msg)
		}
	}
}

// Local messages: the Go values they carry (byte streams, reply channels)
// are bound to this node, with the process and the client's connection.
type (
	waitEvent struct {
		w    *eventWaiter
		next bool
	}
	cancelWait  struct{ ch chan process.Event }
	watchEvents struct {
		name  string
		reply chan *EventStream
	}
	unwatchEvents struct{ s *EventStream }
	openStream    struct {
		kind  Stream
		reply chan *Reader
	}
	openInput struct {
		stdin       bool
		contentType string
		reply       chan inputReply
	}
	inputReply struct {
		port *Port
		err  *Error
	}
)

// errGone ends a wait for an event of an instance that was forgotten.
var errGone = errorf(messages.CodeNotFound, "the instance is gone")

// Event returns the last event of that name (any name when ""), or waits
// for one; with next set it waits for the next one.
func (s *Service) Event(ctx context.Context, id, name string, next bool) (process.Event, error) {
	w := &eventWaiter{name: name, ch: make(chan process.Event, 1)}
	pid, err := s.pid(id)
	if err != nil {
		return process.Event{}, err
	}
	s.sys.Root.Send(pid, &waitEvent{w: w, next: next})
	select {
	case ev, ok := <-w.ch:
		if !ok {
			return process.Event{}, errGone
		}
		return ev, nil
	case <-ctx.Done():
		s.sys.Root.Send(pid, &cancelWait{w.ch})
		return process.Event{}, ctx.Err()
	}
}

// Events streams the events of one name from now on. The stream must be
// closed.
func (s *Service) Events(ctx context.Context, id, name string) (*EventStream, error) {
	reply := make(chan *EventStream, 1)
	return local(ctx, s, id, &watchEvents{name: name, reply: reply}, reply)
}

// Stream names an instance's output streams.
type Stream int

const (
	Output Stream = iota
	Stdout
	Stderr
	Log
	streamCount
)

// Reader reads one of an instance's output streams. It must be closed.
type Reader struct {
	r *spoolReader
}

// Read waits for the next bytes; io.EOF ends the stream.
func (r *Reader) Read(ctx context.Context, p []byte) (int, error) { return r.r.Read(ctx, p) }

// Close detaches the reader.
func (r *Reader) Close() { r.r.Close() }

// Open attaches a reader to one of an instance's output streams: it gets
// what no reader has been given yet, then what comes, until the stream
// ends with the process.
func (s *Service) Open(ctx context.Context, id string, kind Stream) (*Reader, error) {
	reply := make(chan *Reader, 1)
	return local(ctx, s, id, &openStream{kind: kind, reply: reply}, reply)
}

// Input returns the port of an instance's input. The first request sets
// the content type the sequence decodes its input with.
func (s *Service) Input(ctx context.Context, id, contentType string) (*Port, error) {
	return s.input(ctx, id, false, contentType)
}

// Stdin returns the port of an instance's standard input.
func (s *Service) Stdin(ctx context.Context, id string) (*Port, error) {
	return s.input(ctx, id, true, "")
}

func (s *Service) input(ctx context.Context, id string, stdin bool, ct string) (*Port, error) {
	reply := make(chan inputReply, 1)
	r, err := local(ctx, s, id, &openInput{stdin: stdin, contentType: ct, reply: reply}, reply)
	if err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.port, nil
}
