package ivm

import (
	"slices"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// A view with ORDER BY and a LIMIT keeps only the first rows of its order
// (see View.keep): once it has dropped some, an event whose record ranks
// past the last row kept, before and after the change, changes nothing of
// it. A windowIndex finds such views of a table whose WHERE gives no guard
// by their boundary, the first ORDER BY value of their last row kept, so
// that an ingest visits only the views whose boundary it crosses or
// reaches, and not every ORDER BY + LIMIT view of the table.
//
// A view's boundary moves as it applies events. The Index reads again the
// boundaries of the windowed views it matched at its next match, when the
// caller has applied the event to them (views it does not match do not
// change: their boundaries stay).
type windowIndex struct {
	path []string // the record's path that gives the first ORDER BY value
	desc bool
	// bounded holds the views that dropped rows, by boundary in the order
	// of the views (descending for desc), ties in any order.
	bounded []windowEntry
	open    map[string]bool // views that keep every row their WHERE accepts
}

type windowEntry struct {
	bound surql.Value
	id    string
}

// windowed is where a view is in a windowIndex.
type windowed struct {
	wi    *windowIndex
	open  bool
	bound surql.Value // when not open
}

// windowPath returns the path of the records of the plan's table whose
// value is the first ORDER BY value of their rows, and reports whether the
// plan keeps a window that a windowIndex can hold: a LIMIT, an ORDER BY on
// a field the projection takes from the record unchanged (by *, or a field
// named or aliased without following a link), no grouping, no links.
func (p *plan) windowPath() ([]string, bool) {
	if p.limit < 0 || len(p.order) == 0 || p.group != nil || p.linked {
		return nil, false
	}
	o := p.order[0].path
	for _, f := range p.fields {
		if slices.Equal(f.out, o) && len(f.src) == 1 {
			return f.src, true
		}
		if f.out[0] == o[0] {
			return nil, false
		}
	}
	if p.star {
		return o, true
	}
	return nil, false
}

// boundary returns the first ORDER BY value of the last row v keeps, or
// reports false when v keeps every row its WHERE accepts: then every event
// of its table may change it.
func (v *View) boundary() (surql.Value, bool) {
	if !v.partial || v.tree.len() == 0 {
		return nil, false
	}
	return v.tree.at(v.tree.len() - 1).key[0], true
}

// before reports whether a ranks before b in the index's order.
func (wi *windowIndex) before(a, b surql.Value) bool {
	c := surql.Compare(a, b)
	if wi.desc {
		return c > 0
	}
	return c < 0
}

// search returns the index of the first bounded entry that does not rank
// before bound.
func (wi *windowIndex) search(bound surql.Value) int {
	i, _ := slices.BinarySearchFunc(wi.bounded, bound, func(e windowEntry, b surql.Value) int {
		if wi.before(e.bound, b) {
			return -1
		}
		return 1
	})
	return i
}

// add places view id by its boundary.
func (wi *windowIndex) add(id string, bound surql.Value, bounded bool) windowed {
	if !bounded {
		wi.open[id] = true
		return windowed{wi: wi, open: true}
	}
	wi.bounded = slices.Insert(wi.bounded, wi.search(bound), windowEntry{bound: bound, id: id})
	return windowed{wi: wi, bound: bound}
}

// at returns the index of view id's bounded entry.
func (wi *windowIndex) at(id string, bound surql.Value) int {
	for i := wi.search(bound); i < len(wi.bounded); i++ {
		if wi.bounded[i].id == id {
			return i
		}
	}
	panic("ivm: a windowed view is missing from its index")
}

// remove takes view id, placed at w, out of the index.
func (wi *windowIndex) remove(id string, w windowed) {
	if w.open {
		delete(wi.open, id)
		return
	}
	wi.bounded = slices.Delete(wi.bounded, wi.at(id, w.bound), wi.at(id, w.bound)+1)
}

// move places view id, placed at w, by its new boundary. A boundary mostly
// moves by a few places, and so does its entry, shifting the entries in
// between.
func (wi *windowIndex) move(id string, w windowed, bound surql.Value, bounded bool) windowed {
	if w.open && !bounded {
		return w
	}
	if w.open || !bounded {
		wi.remove(id, w)
		return wi.add(id, bound, bounded)
	}
	if identical(w.bound, bound) {
		return w
	}
	s := wi.bounded
	i := wi.at(id, w.bound)
	e := windowEntry{bound: bound, id: id}
	switch {
	case i > 0 && wi.before(bound, s[i-1].bound):
		j := i - 1
		for j > 0 && wi.before(bound, s[j-1].bound) {
			j--
		}
		copy(s[j+1:i+1], s[j:i])
		s[j] = e
	case i+1 < len(s) && wi.before(s[i+1].bound, bound):
		j := i + 1
		for j+1 < len(s) && wi.before(s[j+1].bound, bound) {
			j++
		}
		copy(s[i:j], s[i+1:j+1])
		s[j] = e
	default:
		s[i] = e
	}
	return windowed{wi: wi, bound: bound}
}

func (wi *windowIndex) len() int { return len(wi.bounded) + len(wi.open) }

// appendMatch appends the views that an event can change whose records
// have the values old and new at the index's path (has tells which of them
// the event has): the open views, and those whose boundary either value
// ranks before or ties with.
func (wi *windowIndex) appendMatch(dst []string, old, new surql.Value, hasOld, hasNew bool) []string {
	for id := range wi.open {
		dst = append(dst, id)
	}
	var first surql.Value // of old and new, the one ranking first
	switch {
	case hasOld && hasNew:
		first = old
		if wi.before(new, old) {
			first = new
		}
	case hasOld:
		first = old
	case hasNew:
		first = new
	default:
		return dst
	}
	for _, e := range wi.bounded[wi.search(first):] {
		dst = append(dst, e.id)
	}
	return dst
}
