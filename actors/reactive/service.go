// Package reactive runs users' Skip service modules on Troupe's actors
// (DESIGN.md "The reactive service"): each service's module is bundled
// once by esbuild and compiled once by goja; a graph actor owns the input
// collections and the collections createGraph builds, and every resource
// instance is an actor of its own with its own goja runtime and engine,
// shared by every stream of equal (resource, params).
package reactive

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/dop251/goja"
	"github.com/google/uuid"

	"github.com/troupe-run/troupe/actors/reactive/engine"
	"github.com/troupe-run/troupe/gateway/skip"
	"github.com/troupe-run/troupe/system"
)

// Domain is the actor domain of the reactive services.
const Domain = "reactive"

// Options configure the reactive services.
type Options struct {
	Files        []string      // the service modules (--skip-service)
	CallBudget   time.Duration // longest one call of user code may run
	InstanceTTL  time.Duration // how long an instance outlives its last stream
	BuildTimeout time.Duration // longest an instance's instantiate over all its data may take
	ValueCache   int           // parsed values kept per runtime for getArray
	MaxInstances int           // resource instances per service
	MaxStreams   int           // streams per service
}

func (o *Options) defaults() {
	if o.CallBudget <= 0 {
		o.CallBudget = 5 * time.Second
	}
	if o.InstanceTTL <= 0 {
		o.InstanceTTL = 30 * time.Second
	}
	if o.BuildTimeout <= 0 {
		o.BuildTimeout = 2 * time.Minute
	}
	if o.ValueCache <= 0 {
		o.ValueCache = 10000
	}
	if o.MaxInstances <= 0 {
		o.MaxInstances = 1000
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 10000
	}
}

// Service is one running Skip service. It implements skip.Service.
type Service struct {
	sys  *system.System
	opts Options
	log  *slog.Logger
	file string
	id   string // actor-name-safe
	prog *goja.Program

	control, streaming int
	noCORS             bool
	inputs             map[string]bool
	resources          map[string]bool
	graph              *actor.PID

	qmu      sync.Mutex
	queue    []*patchReq // writes waiting for the graph actor
	inflight []*patchReq // writes the graph actor is applying

	mu        sync.Mutex
	streams   map[string]*instance // uuid -> its instance
	instances map[string]*instance // by instance key
	byName    map[string]*instance // by actor name
	nstreams  int
}

var _ skip.Service = (*Service)(nil)

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// Start bundles and starts every service of opts.Files under the reactive
// domain of sys.
func Start(sys *system.System, opts Options) ([]*Service, error) {
	opts.defaults()
	var svcs []*Service
	byID := map[string]*Service{}
	for i, f := range opts.Files {
		prog, err := Bundle(f)
		if err != nil {
			return nil, err
		}
		base := filepath.Base(f)
		id := unsafeName.ReplaceAllString(strings.TrimSuffix(base, filepath.Ext(base)), "_")
		if _, dup := byID[id]; dup || id == "" {
			id = fmt.Sprintf("%s_%d", id, i)
		}
		s := &Service{
			sys: sys, opts: opts, file: f, id: id, prog: prog,
			log:       sys.Log.With("component", "reactive", "service", base),
			streams:   map[string]*instance{},
			instances: map[string]*instance{},
			byName:    map[string]*instance{},
		}
		byID[id] = s
		svcs = append(svcs, s)
	}
	err := sys.Registry.Domain(Domain, func(name string) actor.Producer {
		id, rest, isInst := strings.Cut(name, ".")
		s := byID[id]
		if s == nil {
			return func() actor.Actor { return &nobody{} }
		}
		if !isInst {
			return func() actor.Actor { return &graphActor{svc: s} }
		}
		_ = rest
		s.mu.Lock()
		inst := s.byName[name]
		s.mu.Unlock()
		return func() actor.Actor { return &instanceActor{svc: s, inst: inst} }
	})
	if err != nil {
		return nil, err
	}
	for _, s := range svcs {
		pid, err := sys.Registry.Get(Domain + "/" + s.id)
		if err != nil {
			return nil, err
		}
		s.graph = pid
		res, err := sys.Request(pid, &initReq{}, time.Minute)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", s.file, err)
		}
		info := res.(*initRes)
		if info.err != nil {
			return nil, fmt.Errorf("start %s: %w", s.file, info.err)
		}
		s.control, s.streaming, s.noCORS = info.control, info.streaming, info.noCORS
		s.inputs, s.resources = map[string]bool{}, map[string]bool{}
		for _, n := range info.inputs {
			s.inputs[n] = true
		}
		for _, n := range info.resources {
			s.resources[n] = true
		}
		s.log.Info("skip service running", "inputs", info.inputs, "resources", info.resources,
			"control_port", s.control, "streaming_port", s.streaming)
	}
	return svcs, nil
}

// nobody answers for a name no service owns.
type nobody struct{}

func (nobody) Receive(actor.Context) {}

// Name is the service's module file name.
func (s *Service) Name() string { return filepath.Base(s.file) }

// Ports are the ones given to runService.
func (s *Service) Ports() (control, streaming int) { return s.control, s.streaming }

// NoCORS is runService's no_cors option: the streaming door then lets
// pages of any origin read it.
func (s *Service) NoCORS() bool { return s.noCORS }

func (s *Service) timeout(ctx context.Context) time.Duration {
	d := s.sys.Config.RequestTimeout
	if d <= 0 {
		d = 5 * time.Second
	}
	if s.opts.CallBudget*2 > d {
		d = s.opts.CallBudget * 2
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < d {
			d = left
		}
	}
	return d
}

func (s *Service) ask(ctx context.Context, pid *actor.PID, msg any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.sys.Request(pid, msg, s.timeout(ctx))
}

// Patch writes entries into an input collection, atomically.
func (s *Service) Patch(ctx context.Context, collection string, entries []skip.Entry) error {
	if !s.inputs[collection] {
		return fmt.Errorf("%w: %q (the service's input collections: %s)", skip.ErrUnknownCollection, collection, names(s.inputs))
	}
	keys := make([]string, 0, len(entries))
	vals := make(map[string][]string, len(entries))
	for i, e := range entries {
		k, err := engine.Canonical(e.Key)
		if err != nil {
			return fmt.Errorf("%w: entry %d: key: %v", skip.ErrBadInput, i, err)
		}
		vs := make([]string, len(e.Values))
		for j, v := range e.Values {
			vs[j] = string(v)
		}
		if _, dup := vals[k]; !dup {
			keys = append(keys, k)
		}
		vals[k] = vs // a duplicate key: the last one wins
	}
	req := &patchReq{collection: collection, keys: keys, vals: vals, done: make(chan error, 1)}
	if err := s.enqueue(req); err != nil {
		return err
	}
	wait := s.timeout(ctx)
	t := time.NewTimer(wait)
	defer t.Stop()
	var why error
	select {
	case err := <-req.done:
		return err
	case <-t.C:
		why = fmt.Errorf("the service did not answer within %s", wait)
	case <-ctx.Done():
		why = ctx.Err()
	}
	// Say truthfully what became of the write: taken back from the queue,
	// it will never be applied; already taken by the graph, it may be.
	if s.unqueue(req) {
		return fmt.Errorf("%w; the write was not applied", why)
	}
	return fmt.Errorf("%w; the write is being applied and may yet take effect", why)
}

// unqueue takes req back from the writes waiting for the graph.
func (s *Service) unqueue(req *patchReq) bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	for i, q := range s.queue {
		if q == req {
			s.queue = append(s.queue[:i:i], s.queue[i+1:]...)
			return true
		}
	}
	return false
}

// maxQueued bounds the writes waiting for the graph actor.
const maxQueued = 10000

// enqueue hands a write to the graph actor. Writes that arrive while it is
// busy queue up and are applied together, as one transaction when none of
// them is refused: concurrent writers share one round of the resource
// instances and one journal write.
func (s *Service) enqueue(req *patchReq) error {
	s.qmu.Lock()
	if len(s.queue) >= maxQueued {
		s.qmu.Unlock()
		return fmt.Errorf("%d writes are waiting for the service; try again", len(s.queue))
	}
	s.queue = append(s.queue, req)
	kick := len(s.queue) == 1
	s.qmu.Unlock()
	if kick {
		s.sys.Root.Send(s.graph, &drainReq{})
	}
	return nil
}

func (s *Service) setInflight(reqs []*patchReq) {
	s.qmu.Lock()
	s.inflight = reqs
	s.qmu.Unlock()
}

func (s *Service) takeInflight() []*patchReq {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	r := s.inflight
	s.inflight = nil
	return r
}

// dequeue takes every queued write.
func (s *Service) dequeue() []*patchReq {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	q := s.queue
	s.queue = nil
	return q
}

func names(m map[string]bool) string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// instanceFor finds or creates the instance of (resource, params).
func (s *Service) instanceFor(ctx context.Context, resource string, params json.RawMessage, stream bool) (*instance, error) {
	if !s.resources[resource] {
		return nil, fmt.Errorf("%w: %q (the service's resources: %s)", skip.ErrUnknownResource, resource, names(s.resources))
	}
	p, err := engine.Canonical(params)
	if err != nil {
		return nil, fmt.Errorf("%w: params: %v", skip.ErrBadInput, err)
	}
	key := resource + "\x00" + p
	s.mu.Lock()
	inst := s.instances[key]
	s.mu.Unlock()
	if inst != nil && inst.ready.Load() {
		inst.touch()
		return inst, nil
	}
	// Building an instance maps all of its data through user code: it
	// may take longer than a request, up to --skip-build-timeout (the
	// door gives these requests that long).
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d := s.opts.BuildTimeout + s.opts.CallBudget + 2*time.Second
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		d = time.Until(dl)
	}
	res, err := s.sys.Request(s.graph, &instanceReq{resource: resource, params: p, key: key}, d)
	if err != nil {
		return nil, err
	}
	r := res.(*instanceRes)
	if r.err != nil {
		return nil, r.err
	}
	r.inst.touch()
	return r.inst, nil
}

// askInstance asks the instance, retrying once through the graph when the
// instance was collected in between.
func (s *Service) askInstance(ctx context.Context, resource string, params json.RawMessage, msg any) (any, error) {
	for attempt := 0; ; attempt++ {
		inst, err := s.instanceFor(ctx, resource, params, false)
		if err != nil {
			return nil, err
		}
		res, err := s.ask(ctx, inst.pid, msg)
		if err != nil && errors.Is(err, actor.ErrDeadLetter) && attempt == 0 {
			continue
		}
		return res, err
	}
}

// Snapshot reads a whole resource instance.
func (s *Service) Snapshot(ctx context.Context, resource string, params json.RawMessage) ([]skip.Entry, error) {
	res, err := s.askInstance(ctx, resource, params, &snapshotReq{})
	if err != nil {
		return nil, err
	}
	r := res.(*snapshotRes)
	if r.err != nil {
		return nil, r.err
	}
	out := make([]skip.Entry, len(r.entries))
	for i, e := range r.entries {
		out[i] = toEntry(e)
	}
	return out, nil
}

func toEntry(e engine.Entry) skip.Entry {
	vs := make([]json.RawMessage, len(e.Values))
	for i, v := range e.Values {
		vs[i] = json.RawMessage(v)
	}
	return skip.Entry{Key: json.RawMessage(e.Key), Values: vs}
}

// Lookup reads one key of a resource instance.
func (s *Service) Lookup(ctx context.Context, resource string, params json.RawMessage, key json.RawMessage) ([]json.RawMessage, error) {
	k, err := engine.Canonical(key)
	if err != nil {
		return nil, fmt.Errorf("%w: key: %v", skip.ErrBadInput, err)
	}
	res, err := s.askInstance(ctx, resource, params, &snapshotReq{key: &k})
	if err != nil {
		return nil, err
	}
	r := res.(*snapshotRes)
	if r.err != nil {
		return nil, r.err
	}
	out := []json.RawMessage{}
	if len(r.entries) == 1 {
		out = toEntry(r.entries[0]).Values
	}
	return out, nil
}

// CreateStream instantiates (or shares) the instance and returns a new
// stream uuid.
func (s *Service) CreateStream(ctx context.Context, resource string, params json.RawMessage) (string, error) {
	inst, err := s.instanceFor(ctx, resource, params, true)
	if err != nil {
		return "", err
	}
	id := uuid.NewString()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nstreams >= s.opts.MaxStreams {
		return "", fmt.Errorf("the service has %d streams, the most --skip-max-streams allows", s.nstreams)
	}
	if s.instances[inst.key] != inst {
		return "", fmt.Errorf("the resource instance was collected while the stream was being created; try again")
	}
	s.streams[id] = inst
	inst.uuids[id] = struct{}{}
	s.nstreams++
	inst.touch()
	return id, nil
}

// DeleteStream ends a stream for good.
func (s *Service) DeleteStream(ctx context.Context, id string) error {
	s.mu.Lock()
	inst := s.streams[id]
	if inst != nil {
		delete(s.streams, id)
		delete(inst.uuids, id)
		s.nstreams--
	}
	s.mu.Unlock()
	if inst == nil {
		return fmt.Errorf("%w: %q", skip.ErrUnknownStream, id)
	}
	inst.touch()
	s.sys.Root.Send(inst.pid, &detachReq{uuid: id, close: true, reason: fmt.Errorf("%w: %s was deleted", skip.ErrUnknownStream, id)})
	return nil
}

// Subscribe attaches sink to a stream; its first update is an Init.
func (s *Service) Subscribe(ctx context.Context, id string, sink skip.Sink) (func(), error) {
	s.mu.Lock()
	inst := s.streams[id]
	s.mu.Unlock()
	if inst == nil {
		return nil, fmt.Errorf("%w: %q", skip.ErrUnknownStream, id)
	}
	res, err := s.ask(ctx, inst.pid, &attachReq{uuid: id, sink: sink})
	if err != nil {
		return nil, err
	}
	if err := res.(*reply).err; err != nil {
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() { s.sys.Root.Send(inst.pid, &detachReq{uuid: id, sink: sink}) })
	}, nil
}

// instance is a resource instance as the service knows it; it outlives
// the restarts of its actor.
type instance struct {
	svc              *Service
	key, name        string
	resource, params string
	pid              *actor.PID
	ready            atomic.Bool
	uuids            map[string]struct{} // guarded by svc.mu
	attached         atomic.Int32
	lastUsed         atomic.Int64

	// touched by the instance actor only
	sinks map[string]skip.Sink
	built bool
}

func (i *instance) touch() { i.lastUsed.Store(time.Now().UnixNano()) }

func instanceName(svcID, key string) string {
	h := sha1.Sum([]byte(key))
	return svcID + "." + hex.EncodeToString(h[:10])
}

// ---- messages between the service, its graph and its instances (local
// only: the reactive service stays on one node, DESIGN.md).

type initReq struct{}

type initRes struct {
	err                error
	control, streaming int
	noCORS             bool
	inputs, resources  []string
}

type patchReq struct {
	collection string
	keys       []string
	vals       map[string][]string
	done       chan error // buffered: the graph never waits on it
}

// drainReq tells the graph actor that writes are queued.
type drainReq struct{}

type reply struct{ err error }

type instanceReq struct{ resource, params, key string }

type instanceRes struct {
	inst *instance
	err  error
}

type buildReq struct {
	graph map[string]*engine.Node
}

type prepareReq struct{ changes engine.Changes }

type commitReq struct{}

type abortReq struct{}

type snapshotReq struct{ key *string }

type snapshotRes struct {
	entries []engine.Entry
	err     error
}

type attachReq struct {
	uuid string
	sink skip.Sink
}

type detachReq struct {
	uuid   string
	sink   skip.Sink // detach only this sink (nil: whichever)
	close  bool
	reason error
}

type rebuildReq struct{ inst *instance }

type sweepReq struct{}

type externalUpdate struct {
	node    *engine.Node
	entries []engine.Entry
	init    bool
}
