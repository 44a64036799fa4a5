package ivm

import (
	"slices"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// Evaluate computes a query's result from scratch: it scans the table,
// filters, groups, sorts, cuts the window and runs the subqueries of each
// row. It is the reference that the incremental View is tested against,
// and it is what a View's result equals after every Apply.
func Evaluate(t *Tables, sel *surql.Select, params map[string]any) ([]Row, error) {
	return EvaluateWith(t, sel, params, Options{})
}

// EvaluateWith is Evaluate with compile options.
func EvaluateWith(t *Tables, sel *surql.Select, params map[string]any, opts Options) ([]Row, error) {
	p, err := compileQuery(sel, params, opts)
	if err != nil {
		return nil, err
	}
	return p.evaluate(t, nil), nil
}

func (p *plan) evaluate(t *Tables, parent map[string]any) []Row {
	p.links.t = t
	var entries []*entry
	if p.group == nil {
		for id, rec := range t.All(p.table) {
			if p.matches(rec, parent) {
				entries = append(entries, p.entry(id, rec))
			}
		}
	} else {
		groups := make(map[string]*group)
		for _, rec := range t.All(p.table) {
			if p.matches(rec, parent) {
				id, values := p.groupOf(rec)
				g := groups[id]
				if g == nil {
					g = p.newGroup(id, values)
					groups[id] = g
				}
				g.add(p, rec, 1)
			}
		}
		for _, g := range groups {
			entries = append(entries, p.groupEntry(g))
		}
	}
	slices.SortFunc(entries, p.compare)
	entries = entries[min(p.start, len(entries)):]
	if p.limit >= 0 && p.limit < len(entries) {
		entries = entries[:p.limit]
	}
	rows := make([]Row, len(entries))
	for i, e := range entries {
		vals := make([]any, len(p.subs))
		for j, s := range p.subs {
			sub := s.plan.evaluate(t, e.src)
			vals[j] = s.value(func(yield func(map[string]any) bool) {
				for _, r := range sub {
					if !yield(r.Record) {
						return
					}
				}
			})
		}
		rows[i] = Row{ID: e.id, Version: e.version, Record: p.compose(e.base, func(j int) any { return vals[j] })}
	}
	return rows
}
