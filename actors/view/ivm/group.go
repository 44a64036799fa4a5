package ivm

import (
	"math/big"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// A group is one row of a grouped view: the records that share GROUP BY
// values, kept as the aggregates over them.
//
// A group row's id is the table and its GROUP BY values in SurrealDB's
// array record id syntax, such as product:['books', 3] (product:[] for
// GROUP ALL); its version is the sum of its members' versions, so that it
// changes when a member joins, leaves or changes version.
type group struct {
	id       string
	values   []any // the GROUP BY values, canonical
	count    int64
	versions int64
	sums     []sum // by aggregate; unused for count()
}

// A sum is math::sum over a group, kept exactly so that it does not depend
// on the order in which members came and went: integers add as integers
// and floats as the exact rationals they are, rounded once when read. It
// adds numbers and ignores other values.
type sum struct {
	total  big.Rat
	floats int64 // members whose value is a float
}

func (s *sum) add(v surql.Value, sign int64) {
	var x big.Rat
	switch v := v.(type) {
	case int64:
		x.SetInt64(v)
	case float64:
		x.SetFloat64(v)
		s.floats += sign
	default:
		return
	}
	if sign > 0 {
		s.total.Add(&s.total, &x)
	} else {
		s.total.Sub(&s.total, &x)
	}
}

// value is an integer if every summed value is and the total fits, and
// the nearest float otherwise.
func (s *sum) value() surql.Value {
	if s.floats == 0 && s.total.IsInt() && s.total.Num().IsInt64() {
		return s.total.Num().Int64()
	}
	f, _ := s.total.Float64()
	return f
}

func (p *plan) newGroup(id string, values []any) *group {
	return &group{id: id, values: values, sums: make([]sum, len(p.group.aggs))}
}

// add adds a record to g (sign 1) or removes it (sign -1).
func (g *group) add(p *plan, rec map[string]any, sign int64) {
	g.count += sign
	g.versions += sign * Version(rec)
	for i, a := range p.group.aggs {
		if a.sum != nil {
			g.sums[i].add(p.links.lookup(rec, a.sum), sign)
		}
	}
}

// groupOf returns the id and the GROUP BY values of a record's group.
func (p *plan) groupOf(rec map[string]any) (string, []any) {
	values := make([]any, len(p.group.keys))
	for i, k := range p.group.keys {
		values[i] = canonical(p.links.lookup(rec, k.src)) // through links, as SurrealDB groups
	}
	return p.table + ":" + surql.Format(values), values
}

// groupEntry returns the entry of a group's row.
func (p *plan) groupEntry(g *group) *entry {
	rec := make(map[string]any, len(p.group.keys)+len(p.group.aggs))
	for i, k := range p.group.keys {
		setPath(rec, k.out, g.values[i])
	}
	for i, a := range p.group.aggs {
		if a.sum == nil {
			rec[a.out] = g.count
		} else {
			rec[a.out] = g.sums[i].value()
		}
	}
	e := &entry{id: g.id, version: g.versions, base: rec}
	e.key = p.sortKey(e.keyBuf[:0], rec, g.values)
	e.first = makeFastKey(e.key[0], "")
	return e
}

// regroup applies an event to the groups of a grouped view and returns the
// changes of the group rows: at most two, the group the record left and
// the one it joined.
func (v *View) regroup(ev Event, out *[2]change) int {
	p := v.plan
	var touched [2]*group
	n := 0
	if ev.Old != nil && p.matches(ev.Old, v.parent) {
		id, _ := p.groupOf(ev.Old)
		if g := v.groups[id]; g != nil {
			g.add(p, ev.Old, -1)
			touched[n] = g
			n++
		}
	}
	if ev.New != nil && p.matches(ev.New, v.parent) {
		id, values := p.groupOf(ev.New)
		g := v.groups[id]
		if g == nil {
			g = p.newGroup(id, values)
			v.groups[id] = g
		}
		g.add(p, ev.New, 1)
		if n == 0 || touched[0] != g {
			touched[n] = g
			n++
		}
	}
	for i, g := range touched[:n] {
		out[i] = change{id: g.id}
		if g.count > 0 {
			out[i].e = p.groupEntry(g)
		} else {
			delete(v.groups, g.id)
		}
	}
	return n
}
