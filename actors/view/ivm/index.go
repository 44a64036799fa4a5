package ivm

import (
	"iter"
	"slices"
	"strings"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// An Index finds the views that an event can change, so that an ingest
// runs only those views and not every view of the table. A view whose
// WHERE requires a field to equal a constant (owner = $owner, status IN
// ['open', 'held'], or such a condition AND others) is found by the value
// of that field in the record before and after the change; one whose WHERE
// bounds a number (price > 10) by whether the value lies in its range (see
// rangeIndex); one with ORDER BY and LIMIT by whether the value reaches
// its window's boundary (see windowIndex); other views of the table, and
// views that read the table in a subquery, are found by every event of it.
//
// An Index is not safe for concurrent use.
type Index struct {
	views  map[string]*View
	tables map[string]*tableIndex
	// linking holds the views whose paths may go through record links:
	// every event goes to them, since the tables their links reach are
	// known only from the data (see linker).
	linking map[string]bool
	// windowed holds the views found by their window's boundary, and
	// matched those of them the last match found, whose boundaries the
	// caller's Applies may have moved since.
	windowed map[string]windowed
	matched  []string
}

type tableIndex struct {
	every  map[string]bool        // ids of the views every event can change
	fields map[string]*fieldIndex // by path, joined with "\x00"
	ranges map[string]*rangeIndex // by path: views found by a range of numbers
	// windows finds views without guard or range by their window's
	// boundary, by path and direction.
	windows map[string]*windowIndex
}

// A fieldIndex finds views by the value of one field. A view guarded by
// one value that keeps an ORDER BY + LIMIT window (category = $c ORDER BY
// price DESC LIMIT 10) is held in a windowIndex of its value, so that an
// event of that value visits it only when the record reaches its window.
type fieldIndex struct {
	path    []string
	ids     map[any]map[string]bool         // valueKey -> view ids
	windows map[any]map[string]*windowIndex // valueKey -> window key (see windowKey) -> index
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{views: make(map[string]*View), tables: make(map[string]*tableIndex), linking: make(map[string]bool),
		windowed: make(map[string]windowed)}
}

// Add indexes v under id, replacing the view id had.
func (x *Index) Add(id string, v *View) {
	x.Remove(id)
	x.views[id] = v
	if v.plan.linked {
		x.linking[id] = true
	}
	for ti, g := range x.guards(v) {
		if g == nil {
			if r := x.ranged(v, ti); r != nil {
				ri := ti.ranges[pathKey(r.path)]
				if ri == nil {
					ri = &rangeIndex{path: r.path}
					ti.ranges[pathKey(r.path)] = ri
				}
				ri.add(r, id)
				continue
			}
			if path, desc, ok := x.windowPath(v, ti); ok {
				x.addWindowed(id, v, ti.windows, path, desc)
				continue
			}
			ti.every[id] = true
			continue
		}
		fi := ti.fields[pathKey(g.path)]
		if fi == nil {
			fi = &fieldIndex{path: g.path, ids: make(map[any]map[string]bool), windows: make(map[any]map[string]*windowIndex)}
			ti.fields[pathKey(g.path)] = fi
		}
		if path, desc, ok := x.windowPath(v, ti); ok && len(g.keys) == 1 {
			k := g.keys[0]
			if fi.windows[k] == nil {
				fi.windows[k] = make(map[string]*windowIndex)
			}
			x.addWindowed(id, v, fi.windows[k], path, desc)
			continue
		}
		for _, k := range g.keys {
			if fi.ids[k] == nil {
				fi.ids[k] = make(map[string]bool)
			}
			fi.ids[k][id] = true
		}
	}
}

// windowKey names the windowIndex of a path and direction.
func windowKey(path []string, desc bool) string {
	if desc {
		return pathKey(path) + "\x00desc"
	}
	return pathKey(path)
}

// addWindowed places v, indexed under id, in the windowIndex of windows
// for its path and direction, made if there is none yet.
func (x *Index) addWindowed(id string, v *View, windows map[string]*windowIndex, path []string, desc bool) {
	wi := windows[windowKey(path, desc)]
	if wi == nil {
		wi = &windowIndex{path: path, desc: desc, open: make(map[string]bool)}
		windows[windowKey(path, desc)] = wi
	}
	bound, bounded := v.boundary()
	x.windowed[id] = wi.add(id, bound, bounded)
}

// removeWindowed takes view id out of its windowIndex, and the index out
// of windows when it holds no view any more.
func (x *Index) removeWindowed(id string, windows map[string]*windowIndex) {
	w := x.windowed[id]
	w.wi.remove(id, w)
	delete(x.windowed, id)
	if w.wi.len() == 0 {
		delete(windows, windowKey(w.wi.path, w.wi.desc))
	}
}

// Remove removes the view id, if it is indexed.
func (x *Index) Remove(id string) {
	v, ok := x.views[id]
	if !ok {
		return
	}
	delete(x.views, id)
	delete(x.linking, id)
	for ti, g := range x.guards(v) {
		if g == nil {
			if r := x.ranged(v, ti); r != nil {
				if ri := ti.ranges[pathKey(r.path)]; ri != nil {
					ri.remove(id)
					if ri.len() == 0 {
						delete(ti.ranges, pathKey(r.path))
					}
				}
				continue
			}
			if _, _, ok := x.windowPath(v, ti); ok {
				x.removeWindowed(id, ti.windows)
				continue
			}
			delete(ti.every, id)
			continue
		}
		fi := ti.fields[pathKey(g.path)]
		if _, _, ok := x.windowPath(v, ti); ok && len(g.keys) == 1 {
			k := g.keys[0]
			x.removeWindowed(id, fi.windows[k])
			if len(fi.windows[k]) == 0 {
				delete(fi.windows, k)
			}
		} else {
			for _, k := range g.keys {
				delete(fi.ids[k], id)
				if len(fi.ids[k]) == 0 {
					delete(fi.ids, k)
				}
			}
		}
		if len(fi.ids) == 0 && len(fi.windows) == 0 {
			delete(ti.fields, pathKey(g.path))
		}
	}
}

// guards iterates over the tables v reads, each with the guard that finds
// v by the events of that table, or nil if every event can change v.
func (x *Index) guards(v *View) iter.Seq2[*tableIndex, *guard] {
	return func(yield func(*tableIndex, *guard) bool) {
		p := v.plan
		for _, table := range p.tables {
			ti := x.tables[table]
			if ti == nil {
				ti = &tableIndex{every: make(map[string]bool), fields: make(map[string]*fieldIndex), ranges: make(map[string]*rangeIndex),
					windows: make(map[string]*windowIndex)}
				x.tables[table] = ti
			}
			var g *guard
			if table == p.table && !p.subTables[table] {
				g = p.guard
			}
			if !yield(ti, g) {
				return
			}
		}
	}
}

// ranged returns the range guard that finds v by the events of the table
// of ti, or nil: only for v's own table, when no subquery reads it.
func (x *Index) ranged(v *View, ti *tableIndex) *rangeGuard {
	p := v.plan
	if p.rng == nil || x.tables[p.table] != ti || p.subTables[p.table] {
		return nil
	}
	return p.rng
}

// windowPath returns the path and direction by which a windowIndex of the
// table of ti finds v, or reports false: only for v's own table, when no
// subquery reads it and v keeps a window (plan.windowPath).
func (x *Index) windowPath(v *View, ti *tableIndex) ([]string, bool, bool) {
	p := v.plan
	if x.tables[p.table] != ti || p.subTables[p.table] {
		return nil, false, false
	}
	path, ok := p.windowPath()
	return path, ok && p.order[0].desc, ok
}

func pathKey(path []string) string { return strings.Join(path, "\x00") }

// Match returns the ids of the views that ev can change, sorted. Apply ev
// to each of them before the next Match, which reads the windows of views
// with ORDER BY and LIMIT as the Applies left them; ev changes no other
// view.
func (x *Index) Match(ev Event) []string { return x.AppendMatch(nil, ev) }

// AppendMatch appends to dst the ids Match returns and returns the
// extended slice, so that a caller can reuse one slice for every event.
func (x *Index) AppendMatch(dst []string, ev Event) []string {
	n := len(dst)
	x.rebound()
	for id := range x.linking {
		dst = append(dst, id)
	}
	ti := x.tables[ev.Table]
	if ti == nil {
		slices.Sort(dst[n:])
		return append(dst[:n], slices.Compact(dst[n:])...)
	}
	for id := range ti.every {
		dst = append(dst, id)
	}
	for _, ri := range ti.ranges {
		var old surql.Value
		if ev.Old != nil {
			old = lookup(ev.Old, ri.path)
			dst = ri.appendMatch(dst, old)
		}
		if ev.New != nil {
			if v := lookup(ev.New, ri.path); ev.Old == nil || !identical(v, old) {
				dst = ri.appendMatch(dst, v)
			}
		}
	}
	dst = x.appendWindows(dst, ti.windows, ev.Old, ev.New, ev.Old != nil, ev.New != nil)
	for _, fi := range ti.fields {
		var oldKey, newKey any
		if ev.Old != nil {
			oldKey = valueKey(lookup(ev.Old, fi.path))
		}
		if ev.New != nil {
			newKey = valueKey(lookup(ev.New, fi.path))
		}
		same := ev.Old != nil && ev.New != nil && sameKey(oldKey, newKey)
		if ev.Old != nil {
			for id := range fi.ids[oldKey] {
				dst = append(dst, id)
			}
			// The record before the change is a candidate of the views
			// of its old value, and after it too when the value stays.
			dst = x.appendWindows(dst, fi.windows[oldKey], ev.Old, ev.New, true, same)
		}
		if ev.New != nil && !same {
			for id := range fi.ids[newKey] {
				dst = append(dst, id)
			}
			dst = x.appendWindows(dst, fi.windows[newKey], nil, ev.New, false, true)
		}
	}
	slices.Sort(dst[n:])
	return append(dst[:n], slices.Compact(dst[n:])...)
}

// appendWindows appends the views of windows that a record reaches with
// its values at their paths in old, when hasOld, or in new, when hasNew,
// and notes them for rebound.
func (x *Index) appendWindows(dst []string, windows map[string]*windowIndex, old, new map[string]any, hasOld, hasNew bool) []string {
	for _, wi := range windows {
		var o, n surql.Value
		if hasOld {
			o = lookup(old, wi.path)
		}
		if hasNew {
			n = lookup(new, wi.path)
		}
		m := len(dst)
		dst = wi.appendMatch(dst, o, n, hasOld, hasNew)
		x.matched = append(x.matched, dst[m:]...)
	}
	return dst
}

// rebound reads again the boundaries of the windowed views the last match
// found, which the caller has applied its event to since.
func (x *Index) rebound() {
	for _, id := range x.matched {
		if w, ok := x.windowed[id]; ok {
			bound, bounded := x.views[id].boundary()
			x.windowed[id] = w.wi.move(id, w, bound, bounded)
		}
	}
	x.matched = x.matched[:0]
}

// sameKey reports whether two valueKeys are the same key.
func sameKey(a, b any) bool {
	switch a.(type) {
	case []any, map[string]any: // not comparable; valueKey never returns them
		return false
	}
	return a == b
}

// View returns the view indexed under id.
func (x *Index) View(id string) (*View, bool) {
	v, ok := x.views[id]
	return v, ok
}

// Len returns the number of views indexed.
func (x *Index) Len() int { return len(x.views) }
