package reactive

import (
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/dop251/goja"
	"github.com/segmentio/ksuid"

	"github.com/troupe-run/troupe/actors/reactive/engine"
	"github.com/troupe-run/troupe/gateway/skip"
)

// errTooSlow closes a subscriber whose buffer is full.
var errTooSlow = errors.New("the subscriber did not keep up with the stream's updates")

// instanceActor is one resource instance: its own runtime and engine over
// the graph's collections, and the subscribers of its streams.
type instanceActor struct {
	svc   *Service
	inst  *instance
	rt    *runtime
	eng   *engine.Engine
	out   *engine.Node
	runID string
	tick  uint64
	ext   *externals

	prepared bool
	deferred []deferred
	graph    map[string]*engine.Node
	next     *built // the instance instantiated again by the prepared write
}

// deferred is a message that arrived while a write was prepared; it is
// handled once the write is committed or aborted, so that nobody sees a
// change that may still be refused.
type deferred struct {
	msg    any
	sender *actor.PID
}

func (a *instanceActor) Receive(ctx actor.Context) {
	msg, sender := ctx.Message(), ctx.Sender()
	if a.prepared {
		switch msg.(type) {
		case *commitReq, *abortReq, *actor.Started, *actor.Restarting, *actor.Stopping, *actor.Stopped:
		default:
			a.deferred = append(a.deferred, deferred{msg, sender})
			return
		}
	}
	a.handle(ctx, msg, sender)
	for !a.prepared && len(a.deferred) > 0 {
		d := a.deferred[0]
		a.deferred = a.deferred[1:]
		a.handle(ctx, d.msg, d.sender)
	}
}

func (a *instanceActor) respond(to *actor.PID, v any) {
	if to != nil {
		a.svc.sys.Root.Send(to, v)
	}
}

func (a *instanceActor) handle(ctx actor.Context, m any, sender *actor.PID) {
	switch msg := m.(type) {
	case *actor.Started:
		if a.inst != nil && a.inst.built {
			// Restarted after a crash: its state died with it; the graph
			// rebuilds it over the current data.
			a.svc.sys.Root.Send(a.svc.graph, &rebuildReq{inst: a.inst})
		}
	case *actor.Restarting:
		a.teardown()
	case *actor.Stopping:
		a.teardown()
		for id, sink := range a.inst.sinks {
			delete(a.inst.sinks, id)
			sink.Closed(fmt.Errorf("%w: the resource instance was stopped", skip.ErrUnknownStream))
		}
		a.inst.attached.Store(0)
	case *buildReq:
		a.respond(sender, &reply{err: a.build(ctx, msg)})
	case *prepareReq:
		if a.eng == nil {
			a.respond(sender, &reply{})
			return
		}
		a.respond(sender, &reply{err: a.prepare(ctx, msg.changes)})
	case *commitReq:
		if a.eng != nil && a.prepared {
			if a.next != nil {
				a.swap(ctx.Self())
			} else {
				a.commit()
			}
		}
		a.prepared = false
		a.respond(sender, &reply{})
	case *abortReq:
		if a.eng != nil && a.prepared {
			a.eng.Rollback()
			if a.next != nil {
				a.next.rt.close()
				a.next = nil
			}
		}
		a.prepared = false
		a.respond(sender, &reply{})
	case *snapshotReq:
		if a.out == nil {
			a.respond(sender, &snapshotRes{err: errors.New("the resource instance is being rebuilt")})
			return
		}
		if msg.key != nil {
			vals := a.out.Values(*msg.key)
			var es []engine.Entry
			if len(vals) > 0 {
				es = []engine.Entry{{Key: *msg.key, Values: vals}}
			}
			a.respond(sender, &snapshotRes{entries: es})
			return
		}
		a.respond(sender, &snapshotRes{entries: a.out.Entries()})
	case *attachReq:
		a.respond(sender, &reply{err: a.attach(msg)})
	case *detachReq:
		a.detach(msg)
	case *timerFired:
		if a.rt != nil && msg.rt == a.rt {
			a.rt.fire(msg.id)
		}
	case *externalFetched:
		if a.rt == nil {
			return
		}
		u, err := a.rt.convert(msg)
		if err != nil {
			a.svc.log.Warn("external resource update refused", "instance", a.inst.name, "err", err)
			return
		}
		a.external(u)
	case *externalUpdate:
		a.external(msg)
	}
}

func (a *instanceActor) external(msg *externalUpdate) {
	{
		if a.eng == nil {
			return
		}
		a.eng.Begin()
		applyExternal(a.eng, msg)
		if err := a.eng.Propagate(nil); err != nil {
			a.eng.Rollback()
			a.svc.log.Warn("external update refused", "instance", a.inst.name, "err", err)
			return
		}
		a.commit()
	}
}

func (a *instanceActor) teardown() {
	a.prepared = false
	if a.next != nil {
		a.next.rt.close()
		a.next = nil
	}
	if a.ext != nil {
		a.ext.stop()
		a.ext = nil
	}
	if a.rt != nil {
		a.rt.close()
		a.rt = nil
	}
	a.eng, a.out = nil, nil
}

// build instantiates the resource over the graph's collections; streams
// already attached get an init of the new contents.
func (a *instanceActor) build(ctx actor.Context, req *buildReq) error {
	a.teardown()
	b, err := a.instantiate(ctx, req.graph)
	if err != nil {
		return err
	}
	a.graph = req.graph
	a.rt, a.eng, a.out = b.rt, b.eng, b.out
	a.runID = ksuid.New().String()
	a.tick = 0
	a.inst.built = true
	a.ext = startExternals(a.svc, ctx.Self(), b.rt)
	for id, sink := range a.inst.sinks {
		if !sink.Push(a.init()) {
			a.drop(id, sink, errTooSlow)
		}
	}
	return nil
}

// built is one instantiation of the resource.
type built struct {
	rt  *runtime
	eng *engine.Engine
	out *engine.Node
}

// instantiate runs the resource's instantiate in a new runtime and engine,
// recording what it reads.
func (a *instanceActor) instantiate(ctx actor.Context, graph map[string]*engine.Node) (*built, error) {
	eng := engine.New()
	rt, err := newRuntime(a.svc.prog, eng, a.svc.opts.CallBudget, a.svc.log, owner{a.svc.sys.Root, ctx.Self()})
	if err != nil {
		return nil, err
	}
	rt.valueCap = a.svc.opts.ValueCache
	colls := rt.rt.NewObject()
	for name, n := range graph {
		_ = colls.Set(name, rt.handle(n))
	}
	hook, _ := goja.AssertFunction(rt.hooks.Get("instantiate"))
	var h goja.Value
	err = eng.Track(func() error {
		var err error
		h, err = rt.callBuild(a.svc.opts.BuildTimeout, hook, rt.service, rt.rt.ToValue(a.inst.resource), rt.rt.ToValue(a.inst.params), colls)
		return err
	})
	if err != nil {
		rt.close()
		return nil, err
	}
	// The instance's own output node: it is what streams watch, even when
	// instantiate returned one of the graph's collections as it is.
	out := eng.Merge(rt.node(h))
	eng.Watch(out)
	return &built{rt: rt, eng: eng, out: out}, nil
}

// prepare computes the instance's side of a write. When the write changes
// data instantiate read, the resource is instantiated again over the
// tentative data (a throw refuses the write) and swapped in at commit.
func (a *instanceActor) prepare(ctx actor.Context, changes engine.Changes) error {
	a.eng.Begin()
	if err := a.eng.Propagate(changes); err != nil {
		a.eng.Rollback()
		return err
	}
	if a.eng.Stale() {
		b, err := a.instantiate(ctx, a.graph)
		if err != nil {
			a.eng.Rollback()
			return err
		}
		a.next = b
	}
	a.prepared = true
	return nil
}

// swap replaces the instance by its new instantiation and sends every
// stream what changed, deletions included.
func (a *instanceActor) swap(self *actor.PID) {
	b := a.next
	a.next = nil
	a.eng.Commit()
	old := a.out.Entries()
	if a.ext != nil {
		a.ext.stop()
	}
	a.rt.close()
	a.rt, a.eng, a.out = b.rt, b.eng, b.out
	a.ext = startExternals(a.svc, self, b.rt)
	a.tick++
	now := a.out.Entries()
	delta := diffEntries(old, now)
	if len(delta) == 0 {
		return
	}
	a.push(skip.Update{RunID: a.runID, Tick: a.tick, Entries: delta}.Shared())
}

// diffEntries lists the keys whose values differ from old to now (both in
// key order), a key gone with no values.
func diffEntries(old, now []engine.Entry) []skip.Entry {
	var out []skip.Entry
	i, j := 0, 0
	for i < len(old) || j < len(now) {
		switch {
		case j == len(now) || (i < len(old) && engine.CompareKeys(old[i].Key, now[j].Key) < 0):
			out = append(out, toEntry(engine.Entry{Key: old[i].Key}))
			i++
		case i == len(old) || engine.CompareKeys(old[i].Key, now[j].Key) > 0:
			out = append(out, toEntry(now[j]))
			j++
		default:
			if !engine.SameValues(old[i].Values, now[j].Values) {
				out = append(out, toEntry(now[j]))
			}
			i++
			j++
		}
	}
	return out
}

func (a *instanceActor) push(u skip.Update) {
	for id, sink := range a.inst.sinks {
		if !sink.Push(u) {
			a.drop(id, sink, errTooSlow)
		}
	}
}

func (a *instanceActor) init() skip.Update {
	es := a.out.Entries()
	u := skip.Update{Init: true, RunID: a.runID, Tick: a.tick, Entries: make([]skip.Entry, len(es))}
	for i, e := range es {
		u.Entries[i] = toEntry(e)
	}
	return u
}

// commit keeps the prepared change and sends its update to every stream.
func (a *instanceActor) commit() {
	delta := a.out.Delta()
	a.eng.Commit()
	a.tick++
	if len(delta) == 0 || len(a.inst.sinks) == 0 {
		return
	}
	u := skip.Update{RunID: a.runID, Tick: a.tick, Entries: make([]skip.Entry, len(delta))}
	for i, e := range delta {
		u.Entries[i] = toEntry(e)
	}
	a.push(u.Shared())
}

func (a *instanceActor) attach(req *attachReq) error {
	a.svc.mu.Lock()
	_, live := a.inst.uuids[req.uuid]
	a.svc.mu.Unlock()
	if !live {
		return fmt.Errorf("%w: %q", skip.ErrUnknownStream, req.uuid)
	}
	if _, taken := a.inst.sinks[req.uuid]; taken {
		return fmt.Errorf("%w: %s", skip.ErrStreamTaken, req.uuid)
	}
	if a.out == nil {
		return errors.New("the resource instance is being rebuilt; try again")
	}
	a.inst.sinks[req.uuid] = req.sink
	a.inst.attached.Add(1)
	a.inst.touch()
	if !req.sink.Push(a.init()) {
		a.drop(req.uuid, req.sink, errTooSlow)
	}
	return nil
}

func (a *instanceActor) detach(req *detachReq) {
	sink, ok := a.inst.sinks[req.uuid]
	if !ok || (req.sink != nil && sink != req.sink) {
		return
	}
	delete(a.inst.sinks, req.uuid)
	a.inst.attached.Add(-1)
	a.inst.touch()
	if req.close {
		sink.Closed(req.reason)
	}
}

func (a *instanceActor) drop(id string, sink skip.Sink, reason error) {
	delete(a.inst.sinks, id)
	a.inst.attached.Add(-1)
	a.inst.touch()
	sink.Closed(reason)
}
