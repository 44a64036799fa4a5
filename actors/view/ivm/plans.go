package ivm

import (
	"weak"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// Plans shares the compiled plans of subqueries between views: a subquery
// that reads no parameter and follows no link compiles to the same plan in
// every view it appears in, whatever the views' params or the rest of
// their queries (SELECT name FROM user WHERE id = $parent.owner, in each
// of a thousand views of one owner's products), and a plan is immutable.
// The plans are held weakly: one that no view uses any more is collected,
// and its entry dropped at a later sweep, so the entries stay within twice
// the live plans (and 64). A shared plan has a linker of its own, which
// follows nothing, since the plan reads no path through a link.
//
// Plans is not safe for concurrent use; a nil *Plans shares nothing.
type Plans struct {
	subs  map[string]weak.Pointer[plan]
	swept int // len(subs) after the last sweep
}

// NewPlans returns an empty Plans.
func NewPlans() *Plans { return &Plans{subs: make(map[string]weak.Pointer[plan])} }

// Len returns the number of plans held, live or not yet swept.
func (ps *Plans) Len() int { return len(ps.subs) }

// subplan compiles a subquery, or returns the plan compiled for the same
// subquery before, if it can be shared (see Plans). lk is the linker of
// the view's other plans, for a subquery that cannot.
func (ps *Plans) subplan(sel *surql.Select, params map[string]any, opts Options, lk *linker) (*plan, error) {
	var names []string
	if paramsRead(sel, &names); ps == nil || len(names) > 0 {
		return compileLinked(sel, params, true, opts, lk)
	}
	key := sel.String()
	if opts.PrefixStar {
		key += "|prefix*"
	}
	if p := ps.subs[key].Value(); p != nil {
		return p, nil
	}
	p, err := compileLinked(sel, params, true, opts, &linker{})
	if err != nil {
		return nil, err
	}
	if p.linked { // its links must be noted where the view looks for them
		return compileLinked(sel, params, true, opts, lk)
	}
	if len(ps.subs) >= 2*ps.swept+64 {
		for k, w := range ps.subs {
			if w.Value() == nil {
				delete(ps.subs, k)
			}
		}
		ps.swept = len(ps.subs)
	}
	ps.subs[key] = weak.Make(p)
	return p, nil
}
