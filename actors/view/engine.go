package view

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/troupe-run/troupe/actors/view/ivm"
	"github.com/troupe-run/troupe/actors/view/surql"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/durable"
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
//
// Registered views with the same query, the same values of the parameters
// it reads and the same generation share one ivm.View: an ingest applies
// the change to it once, and each registered view gets the delta.
type engine struct {
	svc     *Service
	self    *actor.PID
	tables  *ivm.Tables
	index   *ivm.Index             // the shared views, by name
	views   map[string]*registered // by view id
	shared  map[shareKey]*shared   // the shared view a new registration joins
	byName  map[string]*shared
	names   uint64     // shared views named so far
	matched []string   // the shared views an ingest matched; reused
	plans   *ivm.Plans // subquery plans the compiled views share
	dec     ivm.Decoder
	log     durable.Log // the journal the tables and views write through
	ttlTick *time.Ticker
	stop    chan struct{}

	// hashes keeps the content hash of every table (Options.KeepHashes);
	// nil when /info computes them on demand.
	hashes *tableHashes
	// staging holds the scheduler's snapshot while a bootstrap loads it.
	staging *staging
}

// registered is one view as the engine knows it.
type registered struct {
	spec *messages.RegisterView // as registered; generation and last_active_ms kept current
	sh   *shared
	pid  *actor.PID
	out  *delivery
}

// A shareKey finds the shared view of a registration: its query, the
// values of the parameters the query reads (ivm.View.ParamsKey) and its
// generation, which the hash covers.
type shareKey struct {
	query, params string
	gen           uint64
}

// A shared view is one ivm.View and the registered views it serves.
type shared struct {
	name    string
	key     shareKey
	view    *ivm.View
	members []*registered
	// live counts the members whose actor is live (delivery.live): an
	// ingest that changes the view looks at its members only when some
	// actor reads their deltas, rather than at each member's delivery,
	// mostly out of the cache, for views that hundreds of unwatched
	// registrations share.
	live int
	gen  uint64 // the generation its members have stored
}

// A delivery is what the engine keeps of a view actor across the engine's
// own restarts: the number of the last message (seed or delta) it sent
// the actor, so that a restarted engine numbers on from there, and whether
// the actor is live. A view actor is live once a subscriber came: until
// then nobody reads its result, and the engine sends it nothing.
type delivery struct {
	seq  uint64
	live bool
}

func (e *engine) Receive(ctx actor.Context) {
	e.log.Receive(ctx, e.svc.sys, e)
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		e.startTTL()
		e.svc.ready.Store(true)
	case *actor.Restarting, *actor.Stopping:
		e.svc.ready.Store(false)
		e.stopTTL()
	case *messages.IngestRequest:
		e.ingest(ctx, msg)
	case *messages.RegisterView:
		e.reply(ctx, e.register(msg, time.Now()))
	case *messages.UnregisterView:
		e.reply(ctx, e.unregister(msg.Id))
	case *messages.ResetViews:
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
		e.expire(time.Now())
		e.log.Reply(nil, nil, storeFailed)
	case *messages.BootstrapBegin:
		ctx.Respond(e.bootstrapBegin(msg))
	case *messages.BootstrapRows:
		ctx.Respond(e.bootstrapRows(msg))
	case *messages.BootstrapCommit:
		e.reply(ctx, e.bootstrapCommit(msg, time.Now()))
	case *messages.TableHashes:
		ctx.Respond(&messages.TableHashesReply{Hashes: e.tableHashes()})
	}
}

// reply answers once the command's writes are durable.
func (e *engine) reply(ctx actor.Context, r any) {
	e.log.Reply(ctx.Sender(), r, storeFailed)
}

// Recover loads the tables, then compiles and loads every view
// (durable.State).
func (e *engine) Recover(st store.Reader) error {
	e.self = e.log.Self()
	e.clear()
	err := st.Scan([]byte(recordPrefix), func(key, value []byte) error {
		table, id, ok := bytes.Cut(key[len(recordPrefix):], []byte{0})
		if !ok {
			return fmt.Errorf("corrupt record key %q", key)
		}
		rec, err := e.dec.Decode(value)
		if err != nil {
			return fmt.Errorf("record %s: %w", id, err)
		}
		ev, err := e.tables.Apply(ivm.Change{Op: ivm.Create, Table: string(table), ID: string(id), Record: rec, Normalized: true})
		if err == nil && e.hashes != nil {
			e.hashes.set(string(table), string(id), ev.New)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("rebuild tables: %w", err)
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
		return fmt.Errorf("rebuild views: %w", err)
	}
	for _, spec := range specs {
		v, err := e.compile(spec)
		if err != nil {
			e.svc.sys.Log.Error("a stored view no longer compiles; dropping it", "view", spec.Id, "err", err)
			continue
		}
		e.add(spec, v)
	}
	if len(specs) > 0 {
		e.svc.sys.Log.Info("views rebuilt", "views", len(e.views), "tables", len(e.tables.Names()))
	}
	return nil
}

// clear drops the tables and views (not the view actors).
func (e *engine) clear() {
	e.tables, e.index, e.views = ivm.NewTables(), ivm.NewIndex(), map[string]*registered{}
	e.shared, e.byName = map[shareKey]*shared{}, map[string]*shared{}
	e.hashes = nil
	if e.svc.opts.KeepHashes {
		e.hashes = newTableHashes()
	}
}

// add registers spec, whose compiled (empty) view is v, at the generation
// spec holds: it joins the shared view of its key, or loads v as a new
// one. Its actor is spawned, and seeded if it is live. A registration that
// replaces another of the same id has left its shared view already.
func (e *engine) add(spec *messages.RegisterView, v *ivm.View) {
	key := shareKey{query: spec.Surql, params: v.ParamsKey(), gen: spec.Generation}
	sh := e.shared[key]
	if sh == nil {
		e.names++
		sh = &shared{name: strconv.FormatUint(e.names, 36), key: key, view: v, gen: spec.Generation}
		v.SetGeneration(spec.Generation)
		v.Load(e.tables)
		e.shared[key] = sh
		e.byName[sh.name] = sh
		e.index.Add(sh.name, v)
	}
	r := &registered{spec: spec, sh: sh, out: e.svc.delivery(spec.Id)}
	if old, ok := e.views[spec.Id]; ok {
		r.pid = old.pid
	}
	sh.members = append(sh.members, r)
	e.views[spec.Id] = r
	if r.out.live {
		sh.live++
		e.spawn(r)
		e.svc.sys.Root.Send(r.pid, e.seed(spec.Id, r))
	}
}

// spawn starts r's view actor unless it runs. A view's actor is started
// when its first subscriber comes: until then nobody reads its deltas, and
// an actor (its mailbox, context and name) would be most of the memory of
// a view that no client watches.
func (e *engine) spawn(r *registered) {
	if r.pid != nil {
		return
	}
	pid, err := e.svc.sys.Registry.Get("views/" + r.spec.Id)
	if err != nil {
		panic(fmt.Sprintf("spawn view %s: %v", r.spec.Id, err))
	}
	r.pid = pid
}

// leave takes r out of its shared view, which goes when r was its last
// member.
func (e *engine) leave(r *registered) {
	sh := r.sh
	if i := slices.Index(sh.members, r); i >= 0 {
		sh.members = slices.Delete(sh.members, i, i+1)
		if r.out.live {
			sh.live--
		}
	}
	if len(sh.members) == 0 {
		e.index.Remove(sh.name)
		delete(e.byName, sh.name)
		if e.shared[sh.key] == sh {
			delete(e.shared, sh.key)
		}
	}
}

// regenerate records that a shared view's generation changed: each member
// stores it, and new registrations of the old generation no longer join.
func (e *engine) regenerate(sh *shared, gen uint64) {
	sh.gen = gen
	for _, r := range sh.members {
		r.spec.Generation = gen
		e.store(r)
	}
	if e.shared[sh.key] == sh {
		delete(e.shared, sh.key)
	}
	sh.key.gen = gen
	if _, taken := e.shared[sh.key]; !taken {
		e.shared[sh.key] = sh
	}
}

// seed numbers the next message to r's actor and returns the view's
// current result as that message.
func (e *engine) seed(id string, r *registered) *messages.ViewSeed {
	r.out.seq++
	v := r.sh.view
	return &messages.ViewSeed{ViewId: id, Hash: v.Hash(), Generation: v.Generation(),
		Records: wireRows(v.Result(), r.spec.Format), Seq: r.out.seq}
}

// ingest applies a change to the tables and to every view it can change.
// The reply and the views' deltas leave once the change is durable, so no
// subscriber sees a change that a crash could take back.
func (e *engine) ingest(ctx actor.Context, req *messages.IngestRequest) {
	sender := ctx.Sender()
	ev, err := e.record(req)
	if err != nil {
		e.svc.sys.Root.Send(sender, &messages.IngestReply{ErrorCode: messages.CodeInvalid, ErrorMessage: err.Error()})
		return
	}
	var sends []send
	changed := 0
	e.matched = e.index.AppendMatch(e.matched[:0], ev)
	for _, name := range e.matched {
		sh := e.byName[name]
		if n := e.apply(sh, ev, &sends); n > 0 {
			changed += n
		}
	}
	reply := &messages.IngestReply{ViewsChanged: int64(changed)}
	e.log.Then(func(err error) { e.deliver(sender, sends, reply, err) })
}

// record applies an ingested change to the tables and the batch.
func (e *engine) record(req *messages.IngestRequest) (ivm.Event, error) {
	op, err := ivm.ParseOp(req.Op)
	if err != nil {
		return ivm.Event{}, err
	}
	var rec map[string]any
	if op != ivm.Delete {
		if rec, err = e.dec.Decode(req.Record); err != nil {
			return ivm.Event{}, fmt.Errorf("record: %w", err)
		}
	}
	ev, err := e.tables.Apply(ivm.Change{Op: op, Table: req.Table, ID: req.Id, Record: rec, Normalized: true})
	if err != nil {
		return ivm.Event{}, err
	}
	if e.hashes != nil {
		if op == ivm.Delete {
			e.hashes.del(req.Table, req.Id)
		} else {
			e.hashes.set(req.Table, req.Id, ev.New)
		}
	}
	if e.svc.sys.Store.Durable() {
		if op == ivm.Delete {
			e.log.Delete(recordKey(req.Table, req.Id))
		} else {
			e.log.Set(recordKey(req.Table, req.Id), req.Record)
		}
	}
	return ev, nil
}

// apply applies an event to a shared view and, when that changes it,
// appends the delta of each of its live members to sends. It returns the
// number of registered views the event changed.
func (e *engine) apply(sh *shared, ev ivm.Event, sends *[]send) int {
	d := sh.view.Apply(e.tables, ev)
	if d.Empty() && d.Generation == sh.gen {
		return 0
	}
	if d.Generation != sh.gen {
		e.regenerate(sh, d.Generation)
	}
	e.send(sh, &d, sends)
	return len(sh.members)
}

// send appends the delta of each live member of sh to sends.
func (e *engine) send(sh *shared, d *ivm.Delta, sends *[]send) {
	if sh.live == 0 {
		return
	}
	var wired [2]*wiredDelta // by format, encoded once
	for _, r := range sh.members {
		if !r.out.live {
			continue
		}
		f := 0
		if r.spec.Format == "ids" {
			f = 1
		}
		if wired[f] == nil {
			wired[f] = wireDelta(d, r.spec.Format)
		}
		r.out.seq++
		*sends = append(*sends, send{r.pid, wired[f].message(r.spec.Id, r.out.seq)})
	}
}

// A send is a delta for a view actor.
type send struct {
	to    *actor.PID
	delta *messages.ViewDelta
}

// deliver sends an ingest's deltas and its reply once its write is
// durable; it runs on the store's pipeline, so it only sends.
func (e *engine) deliver(sender *actor.PID, sends []send, reply *messages.IngestReply, err error) {
	root := e.svc.sys.Root
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
		root.Send(sender, reply)
	}
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
		params, err := decodeParams(req.Params)
		if err != nil {
			return &messages.ViewResult{ErrorCode: messages.CodeInvalid, ErrorMessage: "params: " + err.Error()}
		}
		req.Params, _ = json.Marshal(params) // map keys come out sorted; links as their text
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
	v, err := e.compile(req)
	if err != nil {
		return &messages.ViewResult{ErrorCode: messages.CodeInvalid, ErrorMessage: err.Error()}
	}
	spec := proto.Clone(req).(*messages.RegisterView)
	spec.Generation = 0
	if old, ok := e.views[req.Id]; ok {
		spec.Generation = old.sh.view.Generation() + 1 // a replaced view never repeats a hash
		e.leave(old)
	}
	e.add(spec, v)
	r := e.views[req.Id]
	e.store(r)
	return e.result(req.Id, r, req.Format)
}

func (e *engine) result(id string, r *registered, format string) *messages.ViewResult {
	v := r.sh.view
	return &messages.ViewResult{Id: id, Hash: v.Hash(), Generation: v.Generation(),
		Records: wireRows(v.Result(), format)}
}

// store writes a view's registration (with its generation and activity).
func (e *engine) store(r *registered) {
	raw, _ := proto.Marshal(r.spec)
	e.log.Set(viewKey(r.spec.Id), raw)
}

func (e *engine) unregister(id string) *messages.ViewResult {
	r, ok := e.views[id]
	if !ok {
		return &messages.ViewResult{ErrorCode: messages.CodeNotFound, ErrorMessage: fmt.Sprintf("view %q is not registered", id)}
	}
	e.drop(id, r)
	return &messages.ViewResult{Id: id}
}

func (e *engine) drop(id string, r *registered) {
	delete(e.views, id)
	e.leave(r)
	e.svc.dropDelivery(id)
	e.log.Delete(viewKey(id))
	if r.pid != nil {
		// The actor tells its subscribers that the view is gone; asked,
		// not stopped, so that subscriptions still in its mailbox are told
		// too. It never waits on the engine (see viewActor.resync).
		if _, err := e.svc.sys.Request(r.pid, &messages.UnregisterView{Id: id}, e.svc.sys.Config.RequestTimeout); err != nil {
			e.svc.sys.Log.Warn("telling a view's subscribers it is gone", "view", id, "err", err)
		}
		if err := e.svc.sys.Registry.Forget("views/" + id); err != nil {
			e.svc.sys.Log.Warn("stopping a view actor", "view", id, "err", err)
		}
	}
	e.svc.dropCell(id)
}

func (e *engine) reset() {
	for id, r := range e.views {
		e.drop(id, r)
	}
	e.log.DeleteRange([]byte(recordPrefix), store.PrefixEnd([]byte(recordPrefix)))
	e.log.DeleteRange([]byte(viewPrefix), store.PrefixEnd([]byte(viewPrefix)))
	e.clear()
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
	}
	out.CircuitHashes = e.tableHashes()
	return out
}

// tableHashes returns the content hash of every table that has rows.
func (e *engine) tableHashes() map[string]string {
	out := map[string]string{}
	for _, table := range e.tables.Names() {
		if e.hashes != nil {
			out[table] = e.hashes.sum(table)
		} else {
			out[table] = hashTable(e.tables, table)
		}
	}
	return out
}

func (e *engine) debug(id string) *messages.DebugViewReply {
	r, ok := e.views[id]
	if !ok {
		return &messages.DebugViewReply{ErrorCode: messages.CodeNotFound, ErrorMessage: fmt.Sprintf("view %q is not registered", id)}
	}
	v := r.sh.view
	tables := v.Tables()
	var sub []string
	for _, t := range tables {
		if t != v.Table() {
			sub = append(sub, t)
		}
	}
	return &messages.DebugViewReply{
		ViewId: id, CacheSize: int64(v.Len()), LastHash: v.Hash(), Format: r.spec.Format,
		Cache: wireRows(v.Result(), r.spec.Format), SubqueryTables: sub, ReferencedTables: tables,
		ContentGeneration: v.Generation(), Surql: r.spec.Surql, ClientId: r.spec.ClientId,
		TtlMs: r.spec.TtlMs, LastActiveMs: r.spec.LastActiveMs,
	}
}

func (e *engine) deps() *messages.DebugDepsReply {
	out := &messages.DebugDepsReply{DependencyMap: map[string]*messages.TableViews{}, TablesInStore: e.tables.Names(),
		ViewCount: int64(len(e.views))}
	for id, r := range e.views {
		for _, t := range r.sh.view.Tables() {
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
		if !r.out.live { // from now on the actor gets every delta
			r.out.live = true
			r.sh.live++
			e.spawn(r)
			ctx.Send(r.pid, e.seed(id, r))
		}
		ctx.Send(r.pid, &messages.SubscribeViews{Ids: []string{id}, Subscriber: req.Subscriber})
	}
	return out
}

func (e *engine) unsubscribe(ctx actor.Context, req *messages.UnsubscribeViews) {
	for id, r := range e.views {
		if r.pid != nil && (len(req.Ids) == 0 || slices.Contains(req.Ids, id)) {
			ctx.Send(r.pid, &messages.UnsubscribeViews{Ids: []string{id}, Subscriber: req.Subscriber})
		}
	}
}

// compile compiles a view, sharing its subqueries' plans with the views
// compiled before (plans starts with the engine's first compile).
func (e *engine) compile(spec *messages.RegisterView) (*ivm.View, error) {
	if e.plans == nil {
		e.plans = ivm.NewPlans()
	}
	sel, err := surql.Parse(spec.Surql)
	if err != nil {
		return nil, err
	}
	var params map[string]any
	if len(spec.Params) > 0 {
		if params, err = decodeParams(spec.Params); err != nil {
			return nil, fmt.Errorf("params: %w", err)
		}
	}
	return ivm.CompileWith(sel, params, ivm.Options{PrefixStar: spec.Format == FormatSp00ky, Plans: e.plans})
}

// FormatSp00ky is the format of views registered by Sp00ky's clients that
// keep the original SSP's reading of = 'text*' as a prefix match.
const FormatSp00ky = "sp00ky"

// decodeParams decodes a view's params: a JSON object, or an object in
// SurrealQL's text, as SurrealDB renders one (Sp00ky's register function
// sends that). Strings that spell record ids are links either way
// (surql.Link), as in ingested records.
func decodeParams(raw []byte) (map[string]any, error) {
	if json.Valid(raw) {
		return ivm.DecodeRecord(raw)
	}
	v, err := surql.ParseValue(string(raw))
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("params must be an object, not %s", surql.Format(v))
	}
	return m, nil
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

// A wiredDelta is a delta as messages, encoded once for every view that
// shares it.
type wiredDelta struct {
	hash                         string
	gen                          uint64
	additions, removals, updates []*messages.ViewRecord
	order                        []*messages.ViewPosition
}

func wireDelta(d *ivm.Delta, format string) *wiredDelta {
	w := &wiredDelta{hash: d.Hash, gen: d.Generation, additions: wireRows(d.Additions, format),
		removals: wireRows(d.Removals, "ids"), updates: wireRows(d.Updates, format)}
	for _, p := range d.Order {
		w.order = append(w.order, &messages.ViewPosition{Id: p.ID, Index: int64(p.Index)})
	}
	return w
}

// message is the delta for one view; the views that share it share its
// rows, which nobody modifies.
func (w *wiredDelta) message(id string, seq uint64) *messages.ViewDelta {
	return &messages.ViewDelta{ViewId: id, Hash: w.hash, Generation: w.gen, Additions: w.additions,
		Removals: w.removals, Updates: w.updates, Order: w.order, Seq: seq}
}

func storeFailed(err error) any {
	return &messages.IngestReply{ErrorCode: messages.CodeStore, ErrorMessage: "write not stored: " + err.Error()}
}
