package ivm

import (
	"math"
	"slices"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// A rangeGuard is a condition that every record a WHERE accepts
// satisfies: its number at path lies between lo and hi, because the WHERE
// is, or has as conjuncts, comparisons of path with number constants
// (price > 10 AND price <= 20). A strict comparison leaves its bound out
// (loOpen, hiOpen): the numbers it compares convert to floats exactly. An
// Index finds a view by its range guard, so that an ingest visits only the
// views whose range the record's value enters or leaves.
type rangeGuard struct {
	path           []string
	lo, hi         float64 // -Inf, +Inf: unbounded
	loOpen, hiOpen bool    // lo, hi themselves are out of the range
}

// holds reports whether f lies in the range.
func (g *rangeGuard) holds(f float64) bool {
	return (f > g.lo || f == g.lo && !g.loOpen) && (f < g.hi || f == g.hi && !g.hiOpen)
}

// maxExact bounds the numbers a range guard compares: beyond 2^53 an
// integer does not convert to a float exactly.
const maxExact = 1 << 53

// rangeGuard finds a range guard in a WHERE clause, or returns nil. Only
// numbers are ranged: a value of another type (a string orders after every
// number) is sent to every ranged view (Index.AppendMatch).
func (s *scope) rangeGuard(e surql.Expr) *rangeGuard {
	var g *rangeGuard
	var walk func(e surql.Expr)
	walk = func(e surql.Expr) {
		b, ok := e.(*surql.Binary)
		if !ok {
			return
		}
		if b.Op == surql.OpAnd {
			walk(b.X)
			walk(b.Y)
			return
		}
		path, op, c, ok := s.comparison(b)
		if !ok || g != nil && !slices.Equal(g.path, path) {
			return
		}
		if g == nil {
			g = &rangeGuard{path: path, lo: math.Inf(-1), hi: math.Inf(1)}
		}
		switch op {
		case surql.OpGt, surql.OpGe:
			if c > g.lo {
				g.lo, g.loOpen = c, false
			}
			g.loOpen = g.loOpen || c == g.lo && op == surql.OpGt
		case surql.OpLt, surql.OpLe:
			if c < g.hi {
				g.hi, g.hiOpen = c, false
			}
			g.hiOpen = g.hiOpen || c == g.hi && op == surql.OpLt
		}
	}
	walk(e)
	return g
}

// comparison reads path op number, or number op path (turned around).
func (s *scope) comparison(b *surql.Binary) ([]string, surql.Op, float64, bool) {
	flip := map[surql.Op]surql.Op{surql.OpGt: surql.OpLt, surql.OpGe: surql.OpLe, surql.OpLt: surql.OpGt, surql.OpLe: surql.OpGe}
	if _, ok := flip[b.Op]; !ok {
		return nil, 0, 0, false
	}
	x, y, op := b.X, b.Y, b.Op
	if _, ok := x.(*surql.Path); !ok {
		x, y, op = y, x, flip[op]
	}
	p, ok := x.(*surql.Path)
	if !ok || len(p.Parts) > 1 {
		return nil, 0, 0, false
	}
	v, ok, _ := s.constant(y)
	if !ok {
		return nil, 0, 0, false
	}
	f, ok := exactNumber(v)
	if !ok {
		return nil, 0, 0, false
	}
	return p.Parts, op, f, true
}

// exactNumber returns v as a float64 when it is a number a float holds
// exactly enough to be ranged.
func exactNumber(v surql.Value) (float64, bool) {
	switch n := v.(type) {
	case int64:
		if n > -maxExact && n < maxExact {
			return float64(n), true
		}
	case float64:
		if n > -maxExact && n < maxExact {
			return n, true
		}
	}
	return 0, false
}

// A rangeIndex finds the views ranged on one field by the value of that
// field. Views bounded on both sides are sorted by lo, and a value v is
// looked for among those whose lo lies in [v-width, v], width the widest
// range; views bounded on one side are sorted by their bound.
type rangeIndex struct {
	path  []string
	both  []rangeEntry // sorted by lo
	width float64      // the widest hi-lo of both
	above []rangeEntry // lo only (hi +Inf), sorted by lo
	below []rangeEntry // hi only (lo -Inf), sorted by hi
}

type rangeEntry struct {
	rangeGuard
	id string
}

func (ri *rangeIndex) add(g *rangeGuard, id string) {
	e := rangeEntry{rangeGuard: *g, id: id}
	switch {
	case math.IsInf(g.hi, 1):
		ri.above = insertBy(ri.above, e, func(e rangeEntry) float64 { return e.lo })
	case math.IsInf(g.lo, -1):
		ri.below = insertBy(ri.below, e, func(e rangeEntry) float64 { return e.hi })
	default:
		ri.both = insertBy(ri.both, e, func(e rangeEntry) float64 { return e.lo })
		ri.width = max(ri.width, g.hi-g.lo)
	}
}

func (ri *rangeIndex) remove(id string) {
	drop := func(e rangeEntry) bool { return e.id == id }
	ri.above = slices.DeleteFunc(ri.above, drop)
	ri.below = slices.DeleteFunc(ri.below, drop)
	ri.both = slices.DeleteFunc(ri.both, drop)
	ri.width = 0
	for _, e := range ri.both {
		ri.width = max(ri.width, e.hi-e.lo)
	}
}

func (ri *rangeIndex) len() int { return len(ri.above) + len(ri.below) + len(ri.both) }

func insertBy(s []rangeEntry, e rangeEntry, key func(rangeEntry) float64) []rangeEntry {
	i, _ := slices.BinarySearchFunc(s, key(e), func(x rangeEntry, k float64) int {
		if key(x) < k {
			return -1
		}
		return 1
	})
	return slices.Insert(s, i, e)
}

// appendMatch appends the views whose range holds v; a value that is not
// an exact number matches every view of the index.
func (ri *rangeIndex) appendMatch(dst []string, v surql.Value) []string {
	f, ok := exactNumber(v)
	if !ok {
		for _, list := range [][]rangeEntry{ri.above, ri.below, ri.both} {
			for _, e := range list {
				dst = append(dst, e.id)
			}
		}
		return dst
	}
	// above: lo <= f.
	for _, e := range ri.above {
		if e.lo > f {
			break
		}
		if e.holds(f) {
			dst = append(dst, e.id)
		}
	}
	// below: hi >= f, the tail.
	i, _ := slices.BinarySearchFunc(ri.below, f, func(x rangeEntry, k float64) int {
		if x.hi < k {
			return -1
		}
		return 1
	})
	for _, e := range ri.below[i:] {
		if e.holds(f) {
			dst = append(dst, e.id)
		}
	}
	// both: lo in [f-width, f], hi >= f.
	j, _ := slices.BinarySearchFunc(ri.both, f-ri.width, func(x rangeEntry, k float64) int {
		if x.lo < k {
			return -1
		}
		return 1
	})
	for _, e := range ri.both[j:] {
		if e.lo > f {
			break
		}
		if e.holds(f) {
			dst = append(dst, e.id)
		}
	}
	return dst
}
