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

// A fieldIndex finds views by the value of one field.
type fieldIndex struct {
	path []string
	ids  map[any]map[string]bool // valueKey -> view ids
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
				key := pathKey(path)
				if desc {
					key += "\x00desc"
				}
				wi := ti.windows[key]
				if wi == nil {
					wi = &windowIndex{path: path, desc: desc, open: make(map[string]bool)}
					ti.windows[key] = wi
				}
				bound, bounded := v.boundary()
				x.windowed[id] = wi.add(id, bound, bounded)
				continue
			}
			ti.every[id] = true
			continue
		}
		fi := ti.fields[pathKey(g.path)]
		if fi == nil {
			fi = &fieldIndex{path: g.path, ids: make(map[any]map[string]bool)}
			ti.fields[pathKey(g.path)] = fi
		}
		for _, k := range g.keys {
			if fi.ids[k] == nil {
				fi.ids[k] = make(map[string]bool)
			}
			fi.ids[k][id] = true
		}
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
				w := x.windowed[id]
				w.wi.remove(id, w)
				delete(x.windowed, id)
				if w.wi.len() == 0 {
					for key, wi := range ti.windows {
						if wi == w.wi {
							delete(ti.windows, key)
						}
					}
				}
				continue
			}
			delete(ti.every, id)
			continue
		}
		fi := ti.fields[pathKey(g.path)]
		for _, k := range g.keys {
			delete(fi.ids[k], id)
			if len(fi.ids[k]) == 0 {
				delete(fi.ids, k)
			}
		}
		if len(fi.ids) == 0 {
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
	for _, wi := range ti.windows {
		var old, new surql.Value
		if ev.Old != nil {
			old = lookup(ev.Old, wi.path)
		}
		if ev.New != nil {
			new = lookup(ev.New, wi.path)
		}
		m := len(dst)
		dst = wi.appendMatch(dst, old, new, ev.Old != nil, ev.New != nil)
		x.matched = append(x.matched, dst[m:]...)
	}
	for _, fi := range ti.fields {
		var oldKey any
		if ev.Old != nil {
			oldKey = valueKey(lookup(ev.Old, fi.path))
			for id := range fi.ids[oldKey] {
				dst = append(dst, id)
			}
		}
		if ev.New != nil {
			if k := valueKey(lookup(ev.New, fi.path)); ev.Old == nil || !sameKey(k, oldKey) {
				for id := range fi.ids[k] {
					dst = append(dst, id)
				}
			}
		}
	}
	slices.Sort(dst[n:])
	return append(dst[:n], slices.Compact(dst[n:])...)
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
