package view

import (
	"fmt"
	"slices"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
)

// cell is what a view actor keeps across its restarts: the result as its
// subscribers last saw it, the number of the last delta in it, and the
// subscribers. Only the view actor touches it (one incarnation at a time).
type cell struct {
	seeded  bool
	records []*messages.ViewRecord
	hash    string
	gen     uint64
	seq     uint64
	subs    []*actor.PID
}

// viewActor delivers one view's result and deltas to its subscribers.
type viewActor struct {
	svc  *Service
	id   string
	cell *cell
	// resyncing is set while a seed asked of the engine is awaited: deltas
	// that arrive meanwhile with a gap are covered by it, or by the next
	// resync, and ask nothing more.
	resyncing bool
}

func (a *viewActor) Receive(ctx actor.Context) {
	c := a.cell
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		if c.seeded {
			// Restarted: a delta may have died with the last incarnation;
			// catch up from the engine.
			a.resync(ctx)
		}
	case *messages.ViewSeed:
		if !c.seeded || msg.Seq > c.seq {
			a.catchUp(msg)
		}
	case *messages.ViewDelta:
		switch {
		case msg.Seq <= c.seq:
			// Already in the seed this actor was rebuilt from.
		case msg.Seq != c.seq+1 || !c.seeded:
			a.resync(ctx)
		default:
			c.records = replay(c.records, msg)
			c.hash, c.gen, c.seq = msg.Hash, msg.Generation, msg.Seq
			a.push(ctx, msg)
		}
	case *messages.SubscribeViews:
		a.subscribe(ctx, msg.Subscriber)
	case *messages.UnsubscribeViews:
		a.drop(msg.Subscriber)
		ctx.Unwatch(msg.Subscriber)
	case *actor.Terminated:
		a.drop(msg.Who)
	case *messages.UnregisterView:
		// The view was unregistered, expired or reset: the engine asks
		// before it stops this actor, as a message queued behind the
		// subscriptions it handed over (a stop would overtake them), so
		// every subscriber is told that the view is gone.
		for _, sub := range c.subs {
			ctx.Unwatch(sub)
			ctx.Send(sub, &messages.UnsubscribeViews{Ids: []string{a.id}})
		}
		c.subs = nil
		ctx.Respond(msg)
	}
}

// resync asks the engine for the view's current result. The answer is
// awaited without blocking the mailbox: the engine may itself be waiting
// on this actor (see the UnregisterView case).
func (a *viewActor) resync(ctx actor.Context) {
	if a.resyncing {
		return
	}
	a.resyncing = true
	f := ctx.RequestFuture(a.svc.engine, &messages.ViewSeedRequest{ViewId: a.id}, a.svc.sys.Config.RequestTimeout)
	ctx.ReenterAfter(f, func(res any, err error) {
		a.resyncing = false
		if err != nil {
			panic(fmt.Sprintf("view %s: no seed from the engine: %v", a.id, err))
		}
		if seed := res.(*messages.ViewSeed); seed.Seq > a.cell.seq {
			a.catchUp(seed)
		}
	})
}

// catchUp replaces the result with seed's, and sends subscribers the whole
// new result as a replacement (initial) frame: after a re-registration
// with another query, or a restart that may have lost deltas, a client
// replaces what it held instead of patching it.
func (a *viewActor) catchUp(seed *messages.ViewSeed) {
	c := a.cell
	if c.seeded && len(c.subs) > 0 {
		d := &messages.ViewDelta{ViewId: a.id, Hash: seed.Hash, Generation: seed.Generation,
			Additions: seed.Records, Initial: true, Seq: seed.Seq}
		for _, sub := range c.subs {
			a.svc.sys.Root.Send(sub, d)
		}
	}
	c.seeded = true
	c.records, c.hash, c.gen, c.seq = seed.Records, seed.Hash, seed.Generation, seed.Seq
}

func (a *viewActor) push(ctx actor.Context, d *messages.ViewDelta) {
	for _, sub := range a.cell.subs {
		ctx.Send(sub, d)
	}
}

// subscribe adds a subscriber and sends it the current result; a subscriber
// that asks again gets the current result again.
func (a *viewActor) subscribe(ctx actor.Context, pid *actor.PID) {
	c := a.cell
	if pid == nil {
		return
	}
	if !slices.ContainsFunc(c.subs, pid.Equal) {
		if max := a.svc.opts.SubsPerView; max > 0 && len(c.subs) >= max {
			a.svc.sys.Log.Warn("view subscriber refused: limit reached", "view", a.id, "limit", max)
			return
		}
		c.subs = append(c.subs, pid)
		ctx.Watch(pid)
	}
	ctx.Send(pid, &messages.ViewDelta{ViewId: a.id, Hash: c.hash, Generation: c.gen, Additions: c.records,
		Initial: true, Seq: c.seq})
}

func (a *viewActor) drop(pid *actor.PID) {
	if pid != nil {
		a.cell.subs = slices.DeleteFunc(a.cell.subs, pid.Equal)
	}
}

// replay applies a delta to a result: drop the removals and the rows the
// order lists, replace the updates, insert the ordered rows at their
// indexes. An ordered row that is neither added nor updated only moves.
func replay(prev []*messages.ViewRecord, d *messages.ViewDelta) []*messages.ViewRecord {
	drop := make(map[string]bool, len(d.Removals)+len(d.Order))
	for _, r := range d.Removals {
		drop[r.Id] = true
	}
	for _, p := range d.Order {
		drop[p.Id] = true
	}
	changed := make(map[string]*messages.ViewRecord, len(d.Additions)+len(d.Updates))
	for _, r := range d.Additions {
		changed[r.Id] = r
	}
	for _, r := range d.Updates {
		changed[r.Id] = r
	}
	out := make([]*messages.ViewRecord, 0, len(prev)+len(d.Additions))
	for _, r := range prev {
		if drop[r.Id] {
			if _, ok := changed[r.Id]; !ok {
				changed[r.Id] = r
			}
			continue
		}
		if u, ok := changed[r.Id]; ok {
			r = u
		}
		out = append(out, r)
	}
	for _, p := range d.Order {
		r := changed[p.Id]
		if r == nil {
			continue // an engine bug; the next seed mends it
		}
		out = slices.Insert(out, min(int(p.Index), len(out)), r)
	}
	return out
}
