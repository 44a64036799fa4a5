package ivm

import "github.com/troupe-run/troupe/actors/view/surql"

// A linker follows record links in the paths of one view's plans: in
// author.name, where author holds the link user:u1, name is read from the
// record user:u1 of the ingested table user, as SurrealDB reads it. It
// remembers the tables it reached, whose changes can then change the view:
// the view recomputes its result on each of their events (see View.Apply),
// and the Index sends it every event (Index.linking).
//
// A view's plans (its subqueries' too) share one linker; like the View, it
// is not safe for concurrent use.
type linker struct {
	t       *Tables
	reached map[string]bool
}

// lookupLinks is lookup that follows record links: a RecordID met before
// the path's end is replaced by the record it names (NONE when there is
// none).
func (lk *linker) lookup(v surql.Value, path []string) surql.Value {
	for i, part := range path {
		if id, ok := v.(surql.RecordID); ok {
			v = lk.follow(id)
		}
		switch x := v.(type) {
		case map[string]any:
			e, ok := x[part]
			if !ok {
				return surql.None
			}
			v = e
		case []any:
			out := make([]any, len(x))
			for j, e := range x {
				out[j] = lk.lookup(e, path[i:])
			}
			return out
		default:
			return surql.None
		}
	}
	return v
}

// follow returns the record a link names, or NONE, and notes its table as
// reached (also when the record is missing: its creation changes the view).
func (lk *linker) follow(id surql.RecordID) surql.Value {
	if lk.reached == nil {
		lk.reached = make(map[string]bool)
	}
	lk.reached[id.Table] = true
	if lk.t == nil {
		return surql.None
	}
	if rec, ok := lk.t.Get(id.Table, id.String()); ok {
		return rec
	}
	return surql.None
}
