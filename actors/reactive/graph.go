package reactive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/dop251/goja"

	"github.com/troupe-run/troupe/actors/reactive/engine"
	"github.com/troupe-run/troupe/gateway/skip"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/durable"
	"github.com/troupe-run/troupe/system/store"
)

// graphActor owns a service's input collections (durable in the journal,
// through the durable-actor lifecycle of system/durable) and the
// collections its createGraph builds, and coordinates every write: it
// computes the tentative change, has each resource instance prepare its
// own, then all commit or all abort.
type graphActor struct {
	svc      *Service
	log      durable.Log
	stored   map[string][]storedEntry // per input collection, from Recover until build
	known    map[string]bool          // input collections the journal has seen
	rt       *runtime
	eng      *engine.Engine
	inputs   map[string]*engine.Node
	exported map[string]*engine.Node
	err      error
	sweep    *time.Timer
	stopped  bool
	ext      *externals
}

// storedEntry is one journaled input key and its values.
type storedEntry struct {
	key  string
	vals []string
}

func (g *graphActor) Receive(ctx actor.Context) {
	g.log.Receive(ctx, g.svc.sys, g)
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		g.err = g.build(ctx)
		if g.err != nil {
			g.svc.log.Error("service failed to start", "err", g.err)
			return
		}
		g.rebuildInstances(ctx)
		g.armSweep(ctx)
		// Writes the last incarnation was applying when it crashed: their
		// outcome is whatever the store kept. Writes still queued are
		// applied now.
		for _, r := range g.svc.takeInflight() {
			answer(r, fmt.Errorf("%w: %s crashed while applying the write; it is applied only if the store has it", system.ErrFailed, ctx.Self().Id))
		}
		ctx.Send(ctx.Self(), &drainReq{})
	case *actor.Restarting, *actor.Stopping:
		g.stopped = true
		if g.sweep != nil {
			g.sweep.Stop()
		}
		if g.ext != nil {
			g.ext.stop()
		}
		if g.rt != nil {
			g.rt.close()
		}
	case *initReq:
		res := &initRes{err: g.err}
		if g.rt != nil {
			res.control, res.streaming, res.noCORS = g.rt.control, g.rt.stream, g.rt.noCORS
			for n := range g.inputs {
				res.inputs = append(res.inputs, n)
			}
			sort.Strings(res.inputs)
			res.resources = g.resourceNames()
		}
		ctx.Respond(res)
	case *drainReq:
		g.drain(ctx)
	case *externalUpdate:
		g.external(ctx, msg)
	case *timerFired:
		if g.rt != nil && msg.rt == g.rt {
			g.rt.fire(msg.id)
		}
	case *externalFetched:
		if g.rt == nil {
			return
		}
		u, err := g.rt.convert(msg)
		if err != nil {
			g.svc.log.Warn("external resource update refused", "err", err)
			return
		}
		g.external(ctx, u)
	case *instanceReq:
		inst, err := g.instance(ctx, msg)
		ctx.Respond(&instanceRes{inst: inst, err: err})
	case *rebuildReq:
		g.rebuild(ctx, msg.inst)
	case *sweepReq:
		g.collect(ctx)
		g.armSweep(ctx)
	}
}

func (g *graphActor) resourceNames() []string {
	hook, _ := goja.AssertFunction(g.rt.hooks.Get("resources"))
	v, err := g.rt.call(hook, g.rt.service)
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range v.Export().([]any) {
		out = append(out, fmt.Sprint(n))
	}
	return out
}

// svcPrefix is where the service's inputs are journaled: an input key
// under "skip\x00<service>\x00<collection>\x00<key>", and the marker of a
// collection that exists (its initial data was applied once and never
// again) under "skip\x00<service>\x00<collection>\x01".
func (g *graphActor) svcPrefix() []byte {
	return []byte("skip\x00" + g.svc.id + "\x00")
}

func (g *graphActor) prefix(collection string) []byte {
	return append(g.svcPrefix(), collection+"\x00"...)
}

func (g *graphActor) marker(collection string) []byte {
	return append(g.svcPrefix(), collection+"\x01"...)
}

// Recover reads the service's journaled inputs (durable.State); build
// puts them into the engine once the module has said which inputs exist.
func (g *graphActor) Recover(r store.Reader) error {
	g.stored, g.known = map[string][]storedEntry{}, map[string]bool{}
	p := g.svcPrefix()
	return r.Scan(p, func(key, value []byte) error {
		rest := key[len(p):]
		i := bytes.IndexAny(rest, "\x00\x01")
		if i < 0 {
			return fmt.Errorf("stored input key %q has no collection", key)
		}
		name := string(rest[:i])
		if rest[i] == 1 {
			g.known[name] = true
			return nil
		}
		var vals []json.RawMessage
		if err := json.Unmarshal(value, &vals); err != nil {
			return fmt.Errorf("stored input %s: %w", name, err)
		}
		g.stored[name] = append(g.stored[name], storedEntry{key: string(rest[i+1:]), vals: rawStrings(vals)})
		return nil
	})
}

// build runs the module, restores the inputs Recover read (initial data
// only for a collection the journal does not know) and runs createGraph.
func (g *graphActor) build(ctx actor.Context) error {
	s := g.svc
	stored, known := g.stored, g.known
	g.stored, g.known = nil, nil // the engine holds them from here on
	g.eng = engine.New()
	rt, err := newRuntime(s.prog, g.eng, s.opts.CallBudget, s.log, owner{s.sys.Root, ctx.Self()})
	if err != nil {
		return err
	}
	rt.valueCap = s.opts.ValueCache
	g.rt = rt
	hook, _ := goja.AssertFunction(rt.hooks.Get("inputs"))
	v, err := rt.call(hook, rt.service)
	if err != nil {
		return err
	}
	initial := map[string]string{}
	for k, val := range v.Export().(map[string]any) {
		initial[k] = fmt.Sprint(val)
	}
	g.inputs = map[string]*engine.Node{}
	handles := rt.rt.NewObject()
	names := make([]string, 0, len(initial))
	for n := range initial {
		if strings.ContainsAny(n, "\x00\x01") {
			// The journal's keys use these bytes to end a collection's name.
			return fmt.Errorf("input collection name %q holds a control character", n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		n := g.eng.NewInput(name)
		g.inputs[name] = n
		_ = handles.Set(name, rt.handle(n))
		if known[name] {
			for _, e := range stored[name] {
				g.eng.Set(n, e.key, e.vals)
			}
			continue
		}
		var entries [][2]json.RawMessage
		if err := json.Unmarshal([]byte(initial[name]), &entries); err != nil {
			return fmt.Errorf("initial data of %s must be [key, [values...]] entries: %w", name, err)
		}
		for _, e := range entries {
			k, err := engine.Canonical(e[0])
			if err != nil {
				return fmt.Errorf("initial data of %s: key: %w", name, err)
			}
			var vals []json.RawMessage
			if err := json.Unmarshal(e[1], &vals); err != nil {
				return fmt.Errorf("initial data of %s: values of %s: %w", name, k, err)
			}
			g.eng.Set(n, k, rawStrings(vals))
			g.log.Set(append(g.prefix(name), k...), []byte(jsonArray(rawStrings(vals))))
		}
		g.log.Set(g.marker(name), []byte{1})
	}
	// The initial data is written once; if the process dies before it is
	// durable, the next start applies it again, which is the same thing.
	g.log.Then(func(error) {})

	cg, _ := goja.AssertFunction(rt.hooks.Get("createGraph"))
	out, err := rt.call(cg, rt.service, handles)
	if err != nil {
		return err
	}
	g.exported = map[string]*engine.Node{}
	for name, h := range out.Export().(map[string]any) {
		g.exported[name] = rt.node(rt.rt.ToValue(h))
	}
	g.ext = startExternals(s, ctx.Self(), rt)
	return nil
}

func rawStrings(vs []json.RawMessage) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// drain applies the queued writes: all in one transaction, or, when that
// is refused, one by one so that only the writes that fail are refused.
func (g *graphActor) drain(ctx actor.Context) {
	reqs := g.svc.dequeue()
	if len(reqs) == 0 {
		return
	}
	g.svc.setInflight(reqs)
	defer g.svc.setInflight(nil)
	if g.err != nil {
		for _, r := range reqs {
			answer(r, g.err)
		}
		return
	}
	if len(reqs) > 1 {
		if g.applyWrites(ctx, reqs) == nil {
			return
		}
	}
	for _, r := range reqs {
		if err := g.applyWrites(ctx, []*patchReq{r}); err != nil {
			answer(r, err)
		}
	}
}

// answer gives a write its outcome; a write is answered once (a second
// answer, after a crash, is dropped).
func answer(r *patchReq, err error) {
	select {
	case r.done <- err:
	default:
	}
}

// applyWrites applies writes as one transaction; on success their answers
// go out once the journal has them, on refusal nothing is applied and
// nobody is answered.
func (g *graphActor) applyWrites(ctx actor.Context, reqs []*patchReq) error {
	g.eng.Begin()
	for _, req := range reqs {
		n := g.inputs[req.collection]
		if n == nil {
			g.eng.Rollback()
			return fmt.Errorf("%w: %q", skip.ErrUnknownCollection, req.collection)
		}
		for _, k := range req.keys {
			g.eng.Set(n, k, req.vals[k])
		}
	}
	if err := g.apply(ctx, nil); err != nil {
		return err
	}
	for _, req := range reqs {
		p := g.prefix(req.collection)
		for _, k := range req.keys {
			key := append(p[:len(p):len(p)], k...)
			if len(req.vals[k]) == 0 {
				g.log.Delete(key)
			} else {
				g.log.Set(key, []byte(jsonArray(req.vals[k])))
			}
		}
	}
	g.log.Then(func(err error) {
		if err != nil {
			err = fmt.Errorf("journal the write: %w", err)
		}
		for _, r := range reqs {
			answer(r, err)
		}
	})
	return nil
}

// apply propagates the transaction begun by the caller through the graph
// and every instance; on a refusal everything is rolled back.
func (g *graphActor) apply(ctx actor.Context, ext engine.Changes) error {
	if err := g.eng.Propagate(ext); err != nil {
		g.eng.Rollback()
		return refused(err)
	}
	changes := g.eng.Changed()
	if len(changes) == 0 {
		g.eng.Commit()
		return nil
	}
	g.eng.Settle()
	insts := g.live()
	errs := g.fanout(insts, func(*instance) any { return &prepareReq{changes: changes} })
	var first error
	for i, err := range errs {
		var je *jsError
		if errors.As(err, &je) {
			if first == nil {
				first = err
			}
			errs[i] = nil // nothing to abort there
		} else if err != nil {
			// The instance crashed (it rebuilds from the committed state)
			// or did not answer: it does not veto the write.
			g.svc.log.Warn("resource instance failed to prepare a write", "instance", insts[i].name, "err", err)
			errs[i] = err
		}
	}
	if first != nil {
		var ok []*instance
		for i, inst := range insts {
			if errs[i] == nil {
				ok = append(ok, inst)
			}
		}
		g.fanout(ok, func(*instance) any { return &abortReq{} })
		g.eng.Rollback()
		return refused(first)
	}
	g.eng.Commit()
	g.fanout(insts, func(*instance) any { return &commitReq{} })
	return nil
}

func refused(err error) error {
	return fmt.Errorf("%w: %v", skip.ErrRefused, err)
}

// live lists the instances that are built.
func (g *graphActor) live() []*instance {
	s := g.svc
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*instance, 0, len(s.instances))
	for _, inst := range s.instances {
		if inst.ready.Load() {
			out = append(out, inst)
		}
	}
	return out
}

// fanout asks every instance at once and waits for all answers; an
// answer's error is the instance's refusal.
func (g *graphActor) fanout(insts []*instance, msg func(*instance) any) []error {
	errs := make([]error, len(insts))
	ask := func(i int) {
		res, err := g.svc.sys.Request(insts[i].pid, msg(insts[i]), g.svc.opts.CallBudget*2+g.svc.sys.Config.RequestTimeout)
		if err != nil {
			errs[i] = err
			return
		}
		errs[i] = res.(*reply).err
	}
	if len(insts) == 1 {
		ask(0)
		return errs
	}
	var wg sync.WaitGroup
	for i := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ask(i)
		}()
	}
	wg.Wait()
	return errs
}

// instance finds or builds the instance of (resource, params).
func (g *graphActor) instance(ctx actor.Context, req *instanceReq) (*instance, error) {
	if g.err != nil {
		return nil, g.err
	}
	s := g.svc
	s.mu.Lock()
	inst := s.instances[req.key]
	if inst == nil {
		if len(s.instances) >= s.opts.MaxInstances {
			s.mu.Unlock()
			return nil, fmt.Errorf("the service has %d resource instances, the most --skip-max-instances allows", len(s.instances))
		}
		inst = &instance{svc: s, key: req.key, name: instanceName(s.id, req.key), resource: req.resource, params: req.params,
			uuids: map[string]struct{}{}, sinks: map[string]skip.Sink{}}
		inst.touch()
		s.instances[req.key] = inst
		s.byName[inst.name] = inst
	}
	s.mu.Unlock()
	if inst.ready.Load() {
		return inst, nil
	}
	pid, err := s.sys.Registry.Get(Domain + "/" + inst.name)
	if err == nil {
		inst.pid = pid
		err = g.buildInstance(inst)
	}
	if err != nil {
		g.drop(inst)
		return nil, err
	}
	inst.ready.Store(true)
	return inst, nil
}

func (g *graphActor) buildInstance(inst *instance) error {
	g.eng.Settle()
	res, err := g.svc.sys.Request(inst.pid, &buildReq{graph: g.exported}, g.svc.opts.BuildTimeout+g.svc.opts.CallBudget+time.Second)
	if err != nil {
		return fmt.Errorf("building the resource instance over its data took longer than --skip-build-timeout (%s): %w", g.svc.opts.BuildTimeout, err)
	}
	if err := res.(*reply).err; err != nil {
		var je *jsError
		if errors.As(err, &je) {
			return refused(err)
		}
		return err
	}
	return nil
}

// rebuild re-instantiates an instance whose actor restarted.
func (g *graphActor) rebuild(ctx actor.Context, inst *instance) {
	if g.err != nil {
		return
	}
	if err := g.buildInstance(inst); err != nil {
		g.svc.log.Error("resource instance could not be rebuilt", "instance", inst.name, "err", err)
		g.drop(inst)
	}
}

// rebuildInstances rebuilds every instance over a rebuilt graph.
func (g *graphActor) rebuildInstances(ctx actor.Context) {
	for _, inst := range g.live() {
		g.rebuild(ctx, inst)
	}
}

// drop forgets an instance and its streams.
func (g *graphActor) drop(inst *instance) {
	s := g.svc
	s.mu.Lock()
	if s.instances[inst.key] == inst {
		delete(s.instances, inst.key)
		delete(s.byName, inst.name)
	}
	for id := range inst.uuids {
		delete(s.streams, id)
		s.nstreams--
	}
	inst.uuids = map[string]struct{}{}
	s.mu.Unlock()
	inst.ready.Store(false)
	if inst.pid != nil {
		if err := s.sys.Registry.Forget(Domain + "/" + inst.name); err != nil {
			s.log.Warn("resource instance did not stop", "instance", inst.name, "err", err)
		}
	}
}

func (g *graphActor) armSweep(ctx actor.Context) {
	if g.stopped {
		return
	}
	every := g.svc.opts.InstanceTTL / 2
	if every < 10*time.Millisecond {
		every = 10 * time.Millisecond
	}
	self, root := ctx.Self(), g.svc.sys.Root
	g.sweep = time.AfterFunc(every, func() { root.Send(self, &sweepReq{}) })
}

// collect stops the instances without a subscriber for longer than
// --skip-instance-ttl.
func (g *graphActor) collect(ctx actor.Context) {
	cutoff := time.Now().Add(-g.svc.opts.InstanceTTL).UnixNano()
	for _, inst := range g.live() {
		if inst.attached.Load() == 0 && inst.lastUsed.Load() < cutoff {
			g.svc.log.Debug("resource instance collected", "instance", inst.name, "resource", inst.resource)
			g.drop(inst)
		}
	}
}

// external applies an update of an external resource used by createGraph.
func (g *graphActor) external(ctx actor.Context, u *externalUpdate) {
	if g.err != nil {
		return
	}
	g.eng.Begin()
	applyExternal(g.eng, u)
	if err := g.apply(ctx, nil); err != nil {
		g.svc.log.Warn("external update refused", "collection", u.node.Name, "err", err)
	}
}

// applyExternal writes an external update into its node: an init replaces
// everything, an update the keys it names.
func applyExternal(eng *engine.Engine, u *externalUpdate) {
	if u.init {
		seen := map[string]bool{}
		for _, e := range u.entries {
			seen[e.Key] = true
		}
		for _, e := range u.node.Entries() {
			if !seen[e.Key] {
				eng.Set(u.node, e.Key, nil)
			}
		}
	}
	for _, e := range u.entries {
		eng.Set(u.node, e.Key, e.Values)
	}
}
