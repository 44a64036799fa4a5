package ivm

import (
	"cmp"
	"slices"
)

// Apply brings the view up to date with an event of one of its tables,
// which t already reflects, and returns the change of its result. The
// Delta has the view's hash and generation even when it changes no row.
func (v *View) Apply(t *Tables, ev Event) Delta {
	if v.plan.linked && v.plan.links.reached[ev.Table] {
		return v.recompute(t)
	}
	if ev.Table != v.plan.table && !v.plan.subTables[ev.Table] {
		return Delta{Hash: v.Hash(), Generation: v.gen} // a table it does not read
	}
	c := &v.pending
	if !v.apply(t, ev, c) { // nothing touched: nothing to reset
		return Delta{Hash: v.Hash(), Generation: v.gen}
	}
	d := v.delta(c)
	c.reset()
	return d
}

// pending collects the rows an Apply touched, with what each was before.
// Each view keeps one, which every Apply reuses.
type pending struct {
	touched []touch
	index   map[string]int // touched by id, once there are many
	subsRan bool           // some row's subquery values changed
}

// indexAbove is the number of touched rows past which pending indexes them.
const indexAbove = 8

// reset empties c, keeping its memory unless a large Apply grew it.
func (c *pending) reset() {
	clear(c.touched) // drop the references to entries and records
	c.touched = c.touched[:0]
	if cap(c.touched) > 4*indexAbove {
		c.touched = nil
	}
	c.index, c.subsRan = nil, false
}

type touch struct {
	id    string
	wasIn bool
	prev  Row    // the row before, if it was in the window
	old   *entry // the entry a change replaced or removed, if changed
	moved bool   // changed with a different sort key
	fresh bool   // its subviews were built after the event
}

// find returns the touch of row id, or nil.
func (c *pending) find(id string) *touch {
	if c.index != nil {
		if i, ok := c.index[id]; ok {
			return &c.touched[i]
		}
		return nil
	}
	for i := range c.touched {
		if c.touched[i].id == id {
			return &c.touched[i]
		}
	}
	return nil
}

// touch records that the row id, whose entry is e (or nil), may change.
// The touch it returns is valid until the next call.
func (c *pending) touch(id string, e *entry) *touch {
	if tc := c.find(id); tc != nil {
		return tc
	}
	tc := touch{id: id}
	if e != nil && e.in {
		tc.wasIn, tc.prev = true, e.row()
	}
	c.touched = append(c.touched, tc)
	n := len(c.touched)
	switch {
	case c.index != nil:
		c.index[id] = n - 1
	case n > indexAbove:
		c.index = make(map[string]int, 2*n)
		for i := range c.touched {
			c.index[c.touched[i].id] = i
		}
	}
	return &c.touched[n-1]
}

func (c *pending) fresh(id string) bool {
	tc := c.find(id)
	return tc != nil && tc.fresh
}

// apply updates the view's state, recording in c what it touched, and
// reports whether it touched anything.
func (v *View) apply(t *Tables, ev Event, c *pending) bool {
	v.epoch++
	if ev.Table == v.plan.table {
		v.applyMain(t, ev, c)
	}
	if v.plan.subTables[ev.Table] {
		v.applySubs(t, ev, c)
	}
	return len(c.touched) > 0
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
			e = v.plan.fill(v.spare, ev.ID, ev.New)
			v.spare = nil
			if v.partial && !v.keeps(e) { // it ranks among the rows not kept
				v.spare, e = e, nil
			}
		}
		// The row has an entry only if its record matched before: testing
		// the record, which every view of the event reads, mostly spares a
		// look-up in this view's own map, which the cache rarely holds.
		var old *entry
		if ev.Old != nil && v.plan.matches(ev.Old, v.parent) {
			old = v.rows[ev.ID]
		}
		if e != nil || old != nil {
			changes[0] = change{id: ev.ID, e: e, old: old, found: true}
			n = 1
		}
	}
	reached := false
	for _, ch := range changes[:n] {
		if v.replace(ch, c) {
			reached = true
		}
	}
	if v.partial && v.tree.len() < v.plan.start+v.plan.limit {
		n += v.refill(t, c)
		reached = true
	}
	if reached {
		v.settle(t, n, c)
	}
	v.trim(v.keep())
}

// refill brings a partial view whose window lacks rows back to keep rows
// from the tables, and returns the number of rows it added, each touched.
// The rows it did not keep rank after those it keeps, so the best of them
// go after the last row kept.
func (v *View) refill(t *Tables, c *pending) int {
	p := v.plan
	var more []*entry
	for id, rec := range v.candidates(t) {
		if _, kept := v.rows[id]; !kept && p.matches(rec, v.parent) {
			more = append(more, p.entry(id, rec))
		}
	}
	slices.SortFunc(more, p.compare)
	if k := v.keep() - v.tree.len(); len(more) > k {
		more = more[:k]
	} else {
		v.partial = false
	}
	for _, e := range more {
		v.insert(e)
		// A row this Apply dropped (it ranked past the last row kept) may
		// come back: its new entry then replaces the old one.
		if tc := c.touch(e.id, e); tc.old != nil {
			tc.moved = p.compare(tc.old, e) != 0
		}
	}
	return len(more)
}

// replace puts the entry of a change in the index in place of the row's
// old one. It reports whether the change can reach the window: one whose
// row was not in the window and ranks past its end both before and after
// shifts none of the window's rows. Such a change is not touched.
func (v *View) replace(ch change, c *pending) bool {
	old := ch.old
	if !ch.found {
		old = v.rows[ch.id]
	}
	past := true
	if old != nil {
		// A row outside the window is past its end, unless START skips
		// rows: then only its rank tells.
		past = !old.in && v.plan.limit >= 0
		if past && v.plan.start > 0 {
			past = v.pastEnd(v.tree.rank(old))
		}
		if ch.e != nil && v.plan.compare(old, ch.e) == 0 {
			// The row keeps its place, and so its rank: past stays.
			v.tree.replace(old, ch.e)
			v.rows[ch.id] = ch.e
			return v.touchReplaced(ch, c, old, past)
		}
		v.tree.remove(old)
		if ch.e == nil {
			delete(v.rows, ch.id)
			if old.in {
				v.release(old)
			}
		}
	}
	if e := ch.e; e != nil {
		v.rows[ch.id] = e
		past = v.pastEnd(v.tree.insert(e)) && past
	}
	return v.touchReplaced(ch, c, old, past)
}

// touchReplaced ends replace: it touches the change unless past.
func (v *View) touchReplaced(ch change, c *pending, old *entry, past bool) bool {
	if past {
		if old != nil && old.src != nil {
			v.spare = old // nothing refers to it any more
		}
		return false
	}
	tc := c.touch(ch.id, old)
	tc.old = old
	if old != nil && ch.e != nil {
		ch.e.in, ch.e.subs = old.in, old.subs
		tc.moved = v.plan.compare(old, ch.e) != 0
	}
	return true
}

// pastEnd reports whether rank is at or past the end of a LIMIT window.
func (v *View) pastEnd(rank int) bool {
	return v.plan.limit >= 0 && rank >= v.plan.start+v.plan.limit
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
	for i := range c.touched {
		tc := &c.touched[i]
		e := v.rows[tc.id]
		nowIn := e != nil && v.inWindow(v.tree.rank(e))
		switch {
		case nowIn && !e.in:
			v.attach(t, e)
			tc.fresh = true
		case nowIn && tc.old != nil: // a member replaced by a new entry
			if v.plan.parentChanged(tc.old.src, e.src) {
				v.release(e) // the old entry's subviews
				v.attach(t, e)
				tc.fresh = true
			} else {
				e.rec = v.plan.composeRow(e)
			}
		case !nowIn && e != nil && e.in:
			v.release(e)
			e.detach()
		}
	}
}

// applySubs applies an event of a table that subqueries read to each
// subview of the window once, except those built after the event, then
// recomposes the rows whose subquery values changed.
func (v *View) applySubs(t *Tables, ev Event, c *pending) {
	changed := false
	for _, sh := range v.shares {
		s := v.plan.subs[sh.sub]
		if sh.epoch == v.epoch || !s.plan.reads(ev.Table) {
			continue
		}
		sv := sh.view
		touched := sv.apply(t, ev, &sv.pending)
		sv.pending.reset()
		if !touched {
			continue
		}
		if val := s.value(sv.records()); !identical(val, sh.val) {
			sh.val, sh.changed, changed = val, true, true
		}
	}
	if !changed {
		return
	}
	for e := range v.window() {
		if !slices.ContainsFunc(e.subs, func(sh *subShare) bool { return sh.changed }) {
			continue
		}
		// A row built after the event may hold a subview from before it,
		// which the event changed just now.
		if !c.fresh(e.id) {
			c.touch(e.id, e)
			c.subsRan = true
		}
		e.rec = v.plan.composeRow(e)
	}
	for _, sh := range v.shares {
		sh.changed = false
	}
}

// delta turns what an Apply touched into the Delta of the result, and
// updates the hash and generation.
func (v *View) delta(c *pending) Delta {
	if c.subsRan {
		v.gen++
	}
	var d Delta
	for i := range c.touched {
		tc := &c.touched[i]
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
	slices.SortFunc(d.Order, func(a, b Position) int { return cmp.Compare(a.Index, b.Index) })
	d.Hash, d.Generation = v.Hash(), v.gen
	return d
}

func (v *View) position(e *entry) Position {
	return Position{ID: e.id, Index: v.tree.rank(e) - v.plan.start}
}

// recompute brings a view whose paths reached a linked table up to date
// with a change of that table: a linked record's change can change any
// row, so the result is computed again and the Delta replaces it whole:
// every row of the new result is an addition or an update, and Order
// places them all. A change of some row's record (not only of ids and
// versions) bumps the generation, so that the hash changes.
func (v *View) recompute(t *Tables) Delta {
	old := v.Result()
	v.Load(t)
	now := v.Result()
	prev := make(map[string]Row, len(old))
	for _, r := range old {
		prev[r.ID] = r
	}
	var d Delta
	same, changed := len(old) == len(now), false
	for i, r := range now {
		o, kept := prev[r.ID]
		switch {
		case !kept:
			d.Additions = append(d.Additions, r)
		default:
			delete(prev, r.ID)
			if o.Version == r.Version && identical(o.Record, r.Record) {
				d.Updates = append(d.Updates, r) // listed so that Order can place it
			} else {
				d.Updates = append(d.Updates, r)
				changed, same = true, false
			}
		}
		if same && old[i].ID != r.ID {
			same = false
		}
		d.Order = append(d.Order, Position{ID: r.ID, Index: i})
	}
	for _, r := range old {
		if _, gone := prev[r.ID]; gone {
			d.Removals = append(d.Removals, r)
			same = false
		}
	}
	if same && len(d.Additions) == 0 {
		d = Delta{}
	}
	if changed {
		v.gen++
	}
	d.Hash, d.Generation = v.Hash(), v.gen
	return d
}
