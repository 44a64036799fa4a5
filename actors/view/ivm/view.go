package ivm

import (
	"cmp"
	"fmt"
	"iter"
	"slices"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// A Row is one row of a view's result.
type Row struct {
	ID      string
	Version int64
	// Record is the projected record, with the values of the subqueries
	// under their aliases. It is shared with the view: do not modify it.
	Record map[string]any
}

// A Delta is the exact change of a view's result made by one Event.
//
// To replay it on the previous result: drop the Removals and every row
// that Order lists; replace the Updates; then insert the rows Order lists,
// in its order, each at its Index (the row is in Additions or Updates).
// The rows Order does not list keep their relative order.
type Delta struct {
	Additions []Row // rows that entered the result
	Removals  []Row // rows that left it, as they were
	Updates   []Row // rows that stayed and whose version or record changed

	// Order places the rows whose position is new: every addition and every
	// update whose sort key changed, by increasing Index.
	Order []Position

	Hash       string // the view's hash after the change
	Generation uint64 // the view's generation after the change
}

// A Position is the index of a row in a view's new result.
type Position struct {
	ID    string
	Index int
}

// Empty reports whether d changes nothing.
func (d Delta) Empty() bool {
	return len(d.Additions) == 0 && len(d.Removals) == 0 && len(d.Updates) == 0
}

// A View is a query kept up to date incrementally. Compile makes one; Load
// fills it from the tables; Apply brings it up to date with each Event of a
// table it reads (see Tables).
//
// The view keeps every row that matches its WHERE in an ordered index,
// and its result is the window that START and LIMIT cut from it, so a row
// that leaves the window is replaced from the index without a scan. A row
// in the window holds one subview per subquery, bound to the row's record
// as $parent. A grouped view keeps its groups' aggregates.
//
// A View is not safe for concurrent use.
type View struct {
	plan   *plan
	parent map[string]any // the record bound to $parent, for a subview
	rows   map[string]*entry
	tree   tree
	groups map[string]*group // for a grouped view
	hash   uint64            // the sum of the window's row hashes
	gen    uint64
}

// An entry is a row in a view's ordered index. While the row is in the
// window (in), it also holds its subviews and its projected record.
type entry struct {
	node
	id      string
	version int64
	src     map[string]any // the source record; nil for a group row
	base    map[string]any // the projected record without subqueries
	key     []any          // see plan.sortKey

	in   bool
	subs []*View
	vals []any          // the subqueries' values
	rec  map[string]any // base with vals
}

func (e *entry) row() Row { return Row{ID: e.id, Version: e.version, Record: e.rec} }

// A change replaces the entry of a row; e is nil when the row is gone.
type change struct {
	id string
	e  *entry
}

// Compile compiles a query into an empty View, as of empty tables; Load
// fills it. params are the view's parameters ($name), as decoded from JSON.
// It fails for what the engine does not evaluate, with a message that
// names it.
func Compile(sel *surql.Select, params map[string]any) (*View, error) {
	p, err := compileQuery(sel, params)
	if err != nil {
		return nil, err
	}
	return newView(p, nil), nil
}

func compileQuery(sel *surql.Select, params map[string]any) (*plan, error) {
	v, err := surql.Normalize(params)
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	np, _ := v.(map[string]any)
	return compile(sel, np, false)
}

func newView(p *plan, parent map[string]any) *View {
	v := &View{plan: p, parent: parent}
	v.tree.cmp = p.compare
	v.rows = make(map[string]*entry)
	if p.group != nil {
		v.groups = make(map[string]*group)
	}
	return v
}

// Load computes the view's result from the tables, dropping its state.
// The generation is kept.
func (v *View) Load(t *Tables) {
	p := v.plan
	clear(v.rows)
	v.tree.root = nil
	v.hash = 0
	if p.group == nil {
		for id, rec := range t.All(p.table) {
			if p.matches(rec, v.parent) {
				v.insert(p.entry(id, rec))
			}
		}
	} else {
		clear(v.groups)
		for _, rec := range t.All(p.table) {
			if p.matches(rec, v.parent) {
				id, values := p.groupOf(rec)
				g := v.groups[id]
				if g == nil {
					g = p.newGroup(id, values)
					v.groups[id] = g
				}
				g.add(p, rec, 1)
			}
		}
		for _, g := range v.groups {
			v.insert(p.groupEntry(g))
		}
	}
	for e := range v.window() {
		v.attach(t, e)
		v.hash += rowHash(e.id, e.version)
	}
}

func (v *View) insert(e *entry) {
	v.rows[e.id] = e
	v.tree.insert(e)
}

// Result returns the view's rows, in order.
func (v *View) Result() []Row {
	rows := make([]Row, 0, v.Len())
	for e := range v.window() {
		rows = append(rows, e.row())
	}
	return rows
}

// Len returns the number of rows in the result.
func (v *View) Len() int {
	n := max(v.tree.len()-v.plan.start, 0)
	if v.plan.limit >= 0 {
		n = min(n, v.plan.limit)
	}
	return n
}

// Hash returns a stable hash of the result's ids and versions and of the
// generation. The rows count as a set, as the original hashes its sorted
// ids: an Apply updates it in O(1) per changed row.
func (v *View) Hash() string { return formatHash(v.hash, v.gen) }

// Generation counts the Applies that changed a row's subquery values.
// Such a change can leave every id and version as it was; the generation
// makes the hash change all the same.
func (v *View) Generation() uint64 { return v.gen }

// Table returns the table the view selects from.
func (v *View) Table() string { return v.plan.table }

// Tables returns every table whose changes can change the view: its own
// and its subqueries', sorted.
func (v *View) Tables() []string { return slices.Clone(v.plan.tables) }

// window iterates over the entries of the result, in order.
func (v *View) window() iter.Seq[*entry] {
	return func(yield func(*entry) bool) {
		n := v.plan.limit
		for e := range v.tree.from(v.plan.start) {
			if n == 0 || !yield(e) {
				return
			}
			n--
		}
	}
}

func (v *View) inWindow(rank int) bool {
	return rank >= v.plan.start && (v.plan.limit < 0 || rank < v.plan.start+v.plan.limit)
}

// records iterates over the records of the result, in order.
func (v *View) records() iter.Seq[map[string]any] {
	return func(yield func(map[string]any) bool) {
		for e := range v.window() {
			if !yield(e.rec) {
				return
			}
		}
	}
}

// attach makes e a member of the window: it builds e's subviews from the
// tables and its projected record.
func (v *View) attach(t *Tables, e *entry) {
	e.in = true
	if len(v.plan.subs) == 0 {
		e.rec = e.base
		return
	}
	e.subs = make([]*View, len(v.plan.subs))
	e.vals = make([]any, len(v.plan.subs))
	for i, s := range v.plan.subs {
		sv := newView(s.plan, e.src)
		sv.Load(t)
		e.subs[i], e.vals[i] = sv, s.value(sv.records())
	}
	e.rec = v.plan.compose(e.base, e.vals)
}

func (e *entry) detach() {
	e.in, e.subs, e.vals, e.rec = false, nil, nil, nil
}

// Apply brings the view up to date with an event of one of its tables,
// which t already reflects, and returns the change of its result. It
// returns the zero Delta when the result did not change.
func (v *View) Apply(t *Tables, ev Event) Delta {
	c := v.apply(t, ev)
	if c == nil {
		return Delta{}
	}
	return v.delta(c)
}

// pending collects the rows an Apply touched, with what each was before.
type pending struct {
	touched []*touch
	index   map[string]*touch
	subsRan bool // some row's subquery values changed
}

type touch struct {
	id    string
	wasIn bool
	prev  Row    // the row before, if it was in the window
	old   *entry // the entry a change replaced or removed, if changed
	moved bool   // changed with a different sort key
	fresh bool   // its subviews were built after the event
}

// touch records that the row id, whose entry is e (or nil), may change.
func (c *pending) touch(id string, e *entry) *touch {
	if tc := c.index[id]; tc != nil {
		return tc
	}
	tc := &touch{id: id}
	if e != nil && e.in {
		tc.wasIn, tc.prev = true, e.row()
	}
	if c.index == nil {
		c.index = make(map[string]*touch)
	}
	c.index[id] = tc
	c.touched = append(c.touched, tc)
	return tc
}

func (c *pending) fresh(id string) bool {
	tc := c.index[id]
	return tc != nil && tc.fresh
}

// apply updates the view's state and returns what it touched, or nil.
func (v *View) apply(t *Tables, ev Event) *pending {
	var c pending
	if ev.Table == v.plan.table {
		v.applyMain(t, ev, &c)
	}
	if v.plan.subTables[ev.Table] {
		v.applySubs(t, ev, &c)
	}
	if len(c.touched) == 0 {
		return nil
	}
	return &c
}

// applyMain applies an event of the view's own table: it replaces the
// entries of the changed rows in the index, then settles which rows are in
// the window.
func (v *View) applyMain(t *Tables, ev Event, c *pending) {
	var changes [2]change
	n := 0
	if v.plan.group != nil {
		n = v.regroup(ev, &changes)
	} else {
		var e *entry
		if ev.New != nil && v.plan.matches(ev.New, v.parent) {
			e = v.plan.entry(ev.ID, ev.New)
		}
		if e != nil || v.rows[ev.ID] != nil {
			changes[0] = change{id: ev.ID, e: e}
			n = 1
		}
	}
	if n == 0 {
		return
	}
	for _, ch := range changes[:n] {
		v.replace(ch, c)
	}
	v.settle(t, n, c)
}

func (v *View) replace(ch change, c *pending) {
	old := v.rows[ch.id]
	tc := c.touch(ch.id, old)
	tc.old = old
	if old != nil {
		v.tree.remove(old)
		delete(v.rows, ch.id)
	}
	if e := ch.e; e != nil {
		if old != nil {
			e.in, e.subs, e.vals = old.in, old.subs, old.vals
			tc.moved = v.plan.compare(old, e) != 0
		}
		v.insert(e)
	}
}

// settle brings the window up to date after n changes to the index. Rows
// that no change touched keep their relative order and shift by at most n
// places, so besides the changed rows only those within n places of the
// window's edges can have entered or left it.
func (v *View) settle(t *Tables, n int, c *pending) {
	edge := func(at int) {
		for r := max(at-n, 0); r < min(at+n, v.tree.len()); r++ {
			e := v.tree.at(r)
			c.touch(e.id, e)
		}
	}
	if v.plan.start > 0 {
		edge(v.plan.start)
	}
	if v.plan.limit >= 0 {
		edge(v.plan.start + v.plan.limit)
	}
	for _, tc := range c.touched {
		e := v.rows[tc.id]
		nowIn := e != nil && v.inWindow(v.tree.rank(e))
		switch {
		case nowIn && !e.in:
			v.attach(t, e)
			tc.fresh = true
		case nowIn && tc.old != nil: // a member replaced by a new entry
			if v.plan.parentChanged(tc.old.src, e.src) {
				v.attach(t, e)
				tc.fresh = true
			} else {
				e.rec = v.plan.compose(e.base, e.vals)
			}
		case !nowIn && e != nil && e.in:
			e.detach()
		}
	}
}

// applySubs applies an event of a table that subqueries read to the
// subviews of the window's rows, except those built after the event.
func (v *View) applySubs(t *Tables, ev Event, c *pending) {
	for e := range v.window() {
		if c.fresh(e.id) {
			continue
		}
		changed := false
		for i, s := range v.plan.subs {
			if !s.plan.reads(ev.Table) {
				continue
			}
			if e.subs[i].apply(t, ev) == nil {
				continue
			}
			val := s.value(e.subs[i].records())
			if identical(val, e.vals[i]) {
				continue
			}
			if !changed {
				c.touch(e.id, e)
				changed = true
			}
			e.vals[i] = val
		}
		if changed {
			e.rec = v.plan.compose(e.base, e.vals)
			c.subsRan = true
		}
	}
}

// delta turns what an Apply touched into the Delta of the result, and
// updates the hash and generation.
func (v *View) delta(c *pending) Delta {
	if c.subsRan {
		v.gen++
	}
	var d Delta
	for _, tc := range c.touched {
		e := v.rows[tc.id]
		nowIn := e != nil && e.in
		switch {
		case tc.wasIn && !nowIn:
			d.Removals = append(d.Removals, tc.prev)
			v.hash -= rowHash(tc.prev.ID, tc.prev.Version)
		case !tc.wasIn && nowIn:
			d.Additions = append(d.Additions, e.row())
			d.Order = append(d.Order, v.position(e))
			v.hash += rowHash(e.id, e.version)
		case tc.wasIn && nowIn:
			if e.version == tc.prev.Version && identical(e.rec, tc.prev.Record) {
				continue
			}
			d.Updates = append(d.Updates, e.row())
			if tc.moved {
				d.Order = append(d.Order, v.position(e))
			}
			v.hash += rowHash(e.id, e.version) - rowHash(tc.prev.ID, tc.prev.Version)
		}
	}
	if d.Empty() {
		return Delta{}
	}
	slices.SortFunc(d.Order, func(a, b Position) int { return cmp.Compare(a.Index, b.Index) })
	d.Hash, d.Generation = v.Hash(), v.gen
	return d
}

func (v *View) position(e *entry) Position {
	return Position{ID: e.id, Index: v.tree.rank(e) - v.plan.start}
}
