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
		a.eng.Begin()
		err := a.eng.Propagate(msg.changes)
		if err != nil {
			a.eng.Rollback()
		} else {
			a.prepared = true
		}
		a.respond(sender, &reply{err: err})
	case *commitReq:
		if a.eng != nil && a.prepared {
			a.commit()
		}
		a.prepared = false
		a.respond(sender, &reply{})
	case *abortReq:
		if a.eng != nil && a.prepared {
			a.eng.Rollback()
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
	eng := engine.New()
	rt, err := newRuntime(a.svc.prog, eng, a.svc.opts.CallBudget, a.svc.log)
	if err != nil {
		return err
	}
	colls := rt.rt.NewObject()
	for name, n := range req.graph {
		_ = colls.Set(name, rt.handle(n))
	}
	hook, _ := goja.AssertFunction(rt.hooks.Get("instantiate"))
	h, err := rt.call(hook, rt.service, rt.rt.ToValue(a.inst.resource), rt.rt.ToValue(a.inst.params), colls)
	if err != nil {
		rt.close()
		return err
	}
	// The instance's own output node: it is what streams watch, even when
	// instantiate returned one of the graph's collections as it is.
	out := eng.Merge(rt.node(h))
	eng.Watch(out)
	a.rt, a.eng, a.out = rt, eng, out
	a.runID = ksuid.New().String()
	a.tick = 0
	a.inst.built = true
	a.ext = startExternals(a.svc, ctx.Self(), rt)
	for id, sink := range a.inst.sinks {
		if !sink.Push(a.init()) {
			a.drop(id, sink, errTooSlow)
		}
	}
	return nil
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
	for id, sink := range a.inst.sinks {
		if !sink.Push(u) {
			a.drop(id, sink, errTooSlow)
		}
	}
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
