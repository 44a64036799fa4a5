package view

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/troupe-run/troupe/actors/view/ivm"
	"github.com/troupe-run/troupe/actors/view/surql"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/store"
)

// Store layout: one record per ingested row and one per registered view.
const (
	recordPrefix = "vt/" // vt/<table>\x00<id> -> record JSON
	viewPrefix   = "vv/" // vv/<id> -> RegisterView, with its generation and lastActiveAt
)

func recordKey(table, id string) []byte { return []byte(recordPrefix + table + "\x00" + id) }
func viewKey(id string) []byte          { return []byte(viewPrefix + id) }

// engine owns the tables and the compiled views. It is the only actor that
// touches them, so the views need no locks.
type engine struct {
	svc     *Service
	self    *actor.PID
	tables  *ivm.Tables
	index   *ivm.Index
	views   map[string]*registered
	batch   *store.Batch
	epoch   uint64 // this incarnation's number: the high half of every seq
	ttlTick *time.Ticker
	stop    chan struct{}
}

// registered is one view as the engine knows it.
type registered struct {
	spec *messages.RegisterView // as registered; last_active_ms kept current
	view *ivm.View
	pid  *actor.PID
	seq  uint64 // deltas sent to the view actor
	gen  uint64 // generation last stored
}

func (e *engine) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		e.self = ctx.Self()
		e.epoch = e.svc.epoch.Add(1)
		e.rebuild()
		e.startTTL()
		e.svc.ready.Store(true)
	case *actor.Restarting, *actor.Stopping:
		e.svc.ready.Store(false)
		e.stopTTL()
	case *messages.IngestRequest:
		e.begin()
		e.ingest(ctx, msg)
	case *messages.RegisterView:
		e.begin()
		e.reply(ctx, e.register(msg, time.Now()))
	case *messages.UnregisterView:
		e.begin()
		e.reply(ctx, e.unregister(msg.Id))
	case *messages.ResetViews:
		e.begin()
		e.reset()
		e.reply(ctx, &messages.ResetViews{})
	case *messages.ViewsInfo:
		ctx.Respond(e.info())
	case *messages.DebugView:
		ctx.Respond(e.debug(msg.Id))
	case *messages.DebugDeps:
		ctx.Respond(e.deps())
	case *messages.SubscribeViews:
		ctx.Respond(e.subscribe(ctx, msg))
	case *messages.UnsubscribeViews:
		e.unsubscribe(ctx, msg)
	case *messages.ViewSeedRequest:
		if r, ok := e.views[msg.ViewId]; ok {
			ctx.Respond(e.seed(msg.ViewId, r))
		} else {
			ctx.Respond(&messages.ViewSeed{ViewId: msg.ViewId})
		}
	case *messages.Tick:
		e.begin()
		e.expire(time.Now())
		e.svc.sys.Commit(e.self, nil, e.batch, nil, storeFailed)
	case *messages.StoreFailed:
		panic("store write failed: " + msg.Reason)
	}
}

func (e *engine) begin() { e.batch = e.svc.sys.Store.NewBatch() }

// reply answers once the command's writes are durable.
func (e *engine) reply(ctx actor.Context, r any) {
	e.svc.sys.Commit(e.self, ctx.Sender(), e.batch, r, storeFailed)
}

// rebuild loads the tables, then compiles and loads every view.
func (e *engine) rebuild() {
	st := e.svc.sys.Store
	if err := st.Barrier(); err != nil {
		panic(fmt.Sprintf("store barrier: %v", err))
	}
	e.tables, e.index, e.views = ivm.NewTables(), ivm.NewIndex(), map[string]*registered{}
	err := st.Scan([]byte(recordPrefix), func(key, value []byte) error {
		table, id, ok := bytes.Cut(key[len(recordPrefix):], []byte{0})
		if !ok {
			return fmt.Errorf("corrupt record key %q", key)
		}
		rec, err := decodeRecord(value)
		if err != nil {
			return fmt.Errorf("record %s: %w", id, err)
		}
		_, err = e.tables.Apply(ivm.Change{Op: ivm.Create, Table: string(table), ID: string(id), Record: rec})
		return err
	})
	if err != nil {
		panic(fmt.Sprintf("rebuild tables: %v", err))
	}
	var specs []*messages.RegisterView
	err = st.Scan([]byte(viewPrefix), func(_, value []byte) error {
		spec := &messages.RegisterView{}
		if err := proto.Unmarshal(value, spec); err != nil {
			return err
		}
		specs = append(specs, spec)
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("rebuild views: %v", err))
	}
	for _, spec := range specs {
		v, err := compile(spec)
		if err != nil {
			e.svc.sys.Log.Error("a stored view no longer compiles; dropping it", "view", spec.Id, "err", err)
			continue
		}
		v.SetGeneration(spec.Generation)
		v.Load(e.tables)
		e.add(spec, v, spec.Generation)
	}
	if len(specs) > 0 {
		e.svc.sys.Log.Info("views rebuilt", "views", len(e.views), "tables", len(e.tables.Names()))
	}
}

// add indexes a loaded view, spawns its actor and seeds it.
func (e *engine) add(spec *messages.RegisterView, v *ivm.View, gen uint64) {
	// A restarted engine numbers deltas above every number of its previous
	// incarnation, so that the view actors take its seeds as news.
	r := &registered{spec: spec, view: v, gen: gen, seq: e.epoch << 32}
	if old, ok := e.views[spec.Id]; ok {
		r.pid, r.seq = old.pid, old.seq
	}
	e.views[spec.Id] = r
	e.index.Add(spec.Id, v)
	if r.pid == nil {
		pid, err := e.svc.sys.Registry.Get("views/" + spec.Id)
		if err != nil {
			panic(fmt.Sprintf("spawn view %s: %v", spec.Id, err))
		}
		r.pid = pid
	}
	r.seq++
	e.svc.sys.Root.Send(r.pid, e.seed(spec.Id, r))
}

func (e *engine) seed(id string, r *registered) *messages.ViewSeed {
	return &messages.ViewSeed{ViewId: id, Hash: r.view.Hash(), Generation: r.view.Generation(),
		Records: wireRows(r.view.Result(), r.spec.Format), Seq: r.seq}
}

// ingest applies a change to the tables and to every view it can change.
// The reply and the views' deltas leave once the change is durable, so no
// subscriber sees a change that a crash could take back.
func (e *engine) ingest(ctx actor.Context, req *messages.IngestRequest) {
	sender := ctx.Sender()
	fail := func(msg string) {
		e.svc.sys.Root.Send(sender, &messages.IngestReply{ErrorCode: messages.CodeInvalid, ErrorMessage: msg})
	}
	op, err := ivm.ParseOp(req.Op)
	if err != nil {
		fail(err.Error())
		return
	}
	var rec map[string]any
	if op != ivm.Delete {
		if rec, err = decodeRecord(req.Record); err != nil {
			fail("record: " + err.Error())
			return
		}
	}
	ev, err := e.tables.Apply(ivm.Change{Op: op, Table: req.Table, ID: req.Id, Record: rec})
	if err != nil {
		fail(err.Error())
		return
	}
	if op == ivm.Delete {
		e.batch.Delete(recordKey(req.Table, req.Id))
	} else {
		e.batch.Set(recordKey(req.Table, req.Id), req.Record)
	}
	type send struct {
		to    *actor.PID
		delta *messages.ViewDelta
	}
	var sends []send
	for _, id := range e.index.Match(ev) {
		r := e.views[id]
		d := r.view.Apply(e.tables, ev)
		if d.Empty() && d.Generation == r.gen {
			continue
		}
		r.seq++
		if d.Generation != r.gen {
			r.gen = d.Generation
			r.spec.Generation = d.Generation
			e.store(r)
		}
		delta := wireDelta(id, d, r.spec.Format)
		delta.Seq = r.seq
		sends = append(sends, send{r.pid, delta})
	}
	root := e.svc.sys.Root
	e.svc.sys.AfterCommit(e.self, e.batch, func(err error) {
		if err != nil {
			if sender != nil {
				root.Send(sender, storeFailed(err))
			}
			return
		}
		for _, s := range sends {
			root.Send(s.to, s.delta)
		}
		if sender != nil {
			root.Send(sender, &messages.IngestReply{ViewsChanged: int64(len(sends))})
		}
	})
}

// register compiles and loads a view. The same id with the same query and
// params only refreshes lastActiveAt; with another query it replaces the
// view, and its subscribers get the difference as one delta.
func (e *engine) register(req *messages.RegisterView, now time.Time) *messages.ViewResult {
	if req.LastActiveMs == 0 {
		req.LastActiveMs = now.UnixMilli()
	}
	// Equal params are the same view whatever their key order or spacing.
	if len(req.Params) > 0 {
		params, err := decodeRecord(req.Params)
		if err != nil {
			return &messages.ViewResult{ErrorCode: messages.CodeInvalid, ErrorMessage: "params: " + err.Error()}
		}
		req.Params, _ = json.Marshal(params) // map keys come out sorted
	}
	if r, ok := e.views[req.Id]; ok && r.spec.Surql == req.Surql && bytes.Equal(r.spec.Params, req.Params) {
		r.spec.LastActiveMs, r.spec.TtlMs, r.spec.ClientId = req.LastActiveMs, req.TtlMs, req.ClientId
		e.store(r)
		return e.result(req.Id, r, req.Format)
	}
	if _, ok := e.views[req.Id]; !ok && e.svc.opts.MaxViews > 0 && len(e.views) >= e.svc.opts.MaxViews {
		return &messages.ViewResult{ErrorCode: messages.CodeLimit,
			ErrorMessage: fmt.Sprintf("%d views are registered, the limit (--max-views)", len(e.views))}
	}
	v, err := compile(req)
	if err != nil {
		return &messages.ViewResult{ErrorCode: messages.CodeInvalid, ErrorMessage: err.Error()}
	}
	spec := proto.Clone(req).(*messages.RegisterView)
	if old, ok := e.views[req.Id]; ok {
		v.SetGeneration(old.view.Generation() + 1) // a replaced view never repeats a hash
		e.index.Remove(req.Id)
	}
	spec.Generation = v.Generation()
	v.Load(e.tables)
	e.add(spec, v, spec.Generation)
	r := e.views[req.Id]
	e.store(r)
	return e.result(req.Id, r, req.Format)
}

func (e *engine) result(id string, r *registered, format string) *messages.ViewResult {
	return &messages.ViewResult{Id: id, Hash: r.view.Hash(), Generation: r.view.Generation(),
		Records: wireRows(r.view.Result(), format)}
}

// store writes a view's registration (with its generation and activity).
func (e *engine) store(r *registered) {
	raw, _ := proto.Marshal(r.spec)
	e.batch.Set(viewKey(r.spec.Id), raw)
}

func (e *engine) unregister(id string) *messages.ViewResult {
	r, ok := e.views[id]
	if !ok {
		return &messages.ViewResult{ErrorCode: messages.CodeNotFound, ErrorMessage: fmt.Sprintf("view %q is not registered", id)}
	}
	e.drop(id, r)
	return &messages.ViewResult{Id: id}
}

func (e *engine) drop(id string, _ *registered) {
	delete(e.views, id)
	e.index.Remove(id)
	e.batch.Delete(viewKey(id))
	if err := e.svc.sys.Registry.Forget("views/" + id); err != nil {
		e.svc.sys.Log.Warn("stopping a view actor", "view", id, "err", err)
	}
	e.svc.dropCell(id)
}

func (e *engine) reset() {
	for id, r := range e.views {
		e.drop(id, r)
	}
	e.batch.DeleteRange([]byte(recordPrefix), store.PrefixEnd([]byte(recordPrefix)))
	e.batch.DeleteRange([]byte(viewPrefix), store.PrefixEnd([]byte(viewPrefix)))
	e.tables, e.index = ivm.NewTables(), ivm.NewIndex()
}

// expire removes the views whose lastActiveAt + ttl has passed.
func (e *engine) expire(now time.Time) {
	for id, r := range e.views {
		if r.spec.TtlMs > 0 && now.UnixMilli() > r.spec.LastActiveMs+r.spec.TtlMs {
			e.svc.sys.Log.Info("view expired", "view", id, "client", r.spec.ClientId)
			e.drop(id, r)
		}
	}
}

func (e *engine) startTTL() {
	e.ttlTick = time.NewTicker(e.svc.opts.TTLInterval)
	e.stop = make(chan struct{})
	tick, stop, self, root := e.ttlTick.C, e.stop, e.self, e.svc.sys.Root
	go func() {
		for {
			select {
			case <-tick:
				root.Send(self, &messages.Tick{})
			case <-stop:
				return
			}
		}
	}()
}

func (e *engine) stopTTL() {
	if e.ttlTick != nil {
		e.ttlTick.Stop()
		close(e.stop)
		e.ttlTick = nil
	}
}

func (e *engine) info() *messages.ViewsInfoReply {
	out := &messages.ViewsInfoReply{Views: int64(len(e.views)), CircuitTables: map[string]int64{}, CircuitHashes: map[string]string{}}
	for _, table := range e.tables.Names() {
		out.CircuitTables[table] = int64(e.tables.Len(table))
		out.CircuitHashes[table] = tableHash(e.tables, table)
	}
	return out
}

// tableHash hashes a table's ids and versions, in id order.
func tableHash(t *ivm.Tables, table string) string {
	var ids []string
	for id := range t.All(table) {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	h := fnv.New64a()
	for _, id := range ids {
		rec, _ := t.Get(table, id)
		fmt.Fprintf(h, "%s\x00%d\x00", id, ivm.Version(rec))
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

func (e *engine) debug(id string) *messages.DebugViewReply {
	r, ok := e.views[id]
	if !ok {
		return &messages.DebugViewReply{ErrorCode: messages.CodeNotFound, ErrorMessage: fmt.Sprintf("view %q is not registered", id)}
	}
	tables := r.view.Tables()
	var sub []string
	for _, t := range tables {
		if t != r.view.Table() {
			sub = append(sub, t)
		}
	}
	return &messages.DebugViewReply{
		ViewId: id, CacheSize: int64(r.view.Len()), LastHash: r.view.Hash(), Format: r.spec.Format,
		Cache: wireRows(r.view.Result(), r.spec.Format), SubqueryTables: sub, ReferencedTables: tables,
		ContentGeneration: r.view.Generation(), Surql: r.spec.Surql, ClientId: r.spec.ClientId,
		TtlMs: r.spec.TtlMs, LastActiveMs: r.spec.LastActiveMs,
	}
}

func (e *engine) deps() *messages.DebugDepsReply {
	out := &messages.DebugDepsReply{DependencyMap: map[string]*messages.TableViews{}, TablesInStore: e.tables.Names(),
		ViewCount: int64(len(e.views))}
	for id, r := range e.views {
		for _, t := range r.view.Tables() {
			tv := out.DependencyMap[t]
			if tv == nil {
				tv = &messages.TableViews{}
				out.DependencyMap[t] = tv
			}
			tv.Views = append(tv.Views, id)
		}
	}
	for _, tv := range out.DependencyMap {
		slices.Sort(tv.Views)
	}
	return out
}

// subscribe hands the subscriber to each view's actor, which sends it the
// view's result and then its deltas.
func (e *engine) subscribe(ctx actor.Context, req *messages.SubscribeViews) *messages.SubscribeReply {
	out := &messages.SubscribeReply{}
	if req.Subscriber == nil {
		return &messages.SubscribeReply{ErrorCode: messages.CodeInvalid, ErrorMessage: "no subscriber"}
	}
	for _, id := range req.Ids {
		r, ok := e.views[id]
		if !ok {
			out.Unknown = append(out.Unknown, id)
			continue
		}
		ctx.Send(r.pid, &messages.SubscribeViews{Ids: []string{id}, Subscriber: req.Subscriber})
	}
	return out
}

func (e *engine) unsubscribe(ctx actor.Context, req *messages.UnsubscribeViews) {
	for id, r := range e.views {
		if len(req.Ids) == 0 || slices.Contains(req.Ids, id) {
			ctx.Send(r.pid, &messages.UnsubscribeViews{Ids: []string{id}, Subscriber: req.Subscriber})
		}
	}
}

func compile(spec *messages.RegisterView) (*ivm.View, error) {
	sel, err := surql.Parse(spec.Surql)
	if err != nil {
		return nil, err
	}
	var params map[string]any
	if len(spec.Params) > 0 {
		if params, err = decodeRecord(spec.Params); err != nil {
			return nil, fmt.Errorf("params: %w", err)
		}
	}
	return ivm.Compile(sel, params)
}

// decodeRecord decodes a JSON object keeping numbers exact.
func decodeRecord(raw []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var rec map[string]any
	if err := d.Decode(&rec); err != nil {
		return nil, err
	}
	return rec, nil
}

func wireRows(rows []ivm.Row, format string) []*messages.ViewRecord {
	out := make([]*messages.ViewRecord, len(rows))
	for i, r := range rows {
		out[i] = wireRow(r, format)
	}
	return out
}

func wireRow(r ivm.Row, format string) *messages.ViewRecord {
	vr := &messages.ViewRecord{Id: r.ID, Version: r.Version}
	if format != "ids" {
		vr.Record, _ = json.Marshal(r.Record) // Values are JSON values
	}
	return vr
}

func wireDelta(id string, d ivm.Delta, format string) *messages.ViewDelta {
	out := &messages.ViewDelta{ViewId: id, Hash: d.Hash, Generation: d.Generation,
		Additions: wireRows(d.Additions, format), Removals: wireRows(d.Removals, "ids"), Updates: wireRows(d.Updates, format)}
	for _, p := range d.Order {
		out.Order = append(out.Order, &messages.ViewPosition{Id: p.ID, Index: int64(p.Index)})
	}
	return out
}

func storeFailed(err error) any {
	return &messages.IngestReply{ErrorCode: messages.CodeStore, ErrorMessage: "write not stored: " + err.Error()}
}
