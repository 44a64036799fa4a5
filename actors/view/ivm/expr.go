package ivm

import (
	"fmt"
	"slices"
	"strings"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// An evalFn evaluates a compiled expression for a record; parent is the
// record of the enclosing query when the expression is in a subquery.
type evalFn func(rec, parent map[string]any) surql.Value

// A scope compiles the expressions of one SELECT.
type scope struct {
	params map[string]any // the view's parameters, as Values
	sub    bool           // the SELECT is a subquery: $parent is bound
	parent [][]string     // the paths of $parent the expressions read
	// prefixStar reads = 'text*' as a prefix match (Options.PrefixStar).
	prefixStar bool
	links      *linker // follows links in paths of more than one part
	linked     bool    // some path of more than one part was compiled
}

// condition compiles a WHERE clause.
func (s *scope) condition(e surql.Expr) (func(rec, parent map[string]any) bool, error) {
	fn, err := s.compile(e)
	if err != nil {
		return nil, err
	}
	return func(rec, parent map[string]any) bool { return surql.Truthy(fn(rec, parent)) }, nil
}

func (s *scope) compile(e surql.Expr) (evalFn, error) {
	if v, ok, err := s.constant(e); err != nil {
		return nil, err
	} else if ok {
		return func(_, _ map[string]any) surql.Value { return v }, nil
	}
	switch e := e.(type) {
	case *surql.Path:
		if len(e.Parts) == 1 {
			name := e.Parts[0]
			return func(rec, _ map[string]any) surql.Value {
				if v, ok := rec[name]; ok {
					return v
				}
				return surql.None
			}, nil
		}
		s.linked = true
		lk := s.links
		return func(rec, _ map[string]any) surql.Value { return lk.lookup(rec, e.Parts) }, nil
	case *surql.Param: // $parent: constants were handled above
		s.parent = append(s.parent, e.Path)
		if len(e.Path) < 2 {
			return func(_, parent map[string]any) surql.Value { return lookup(parent, e.Path) }, nil
		}
		// $parent.owner.name reads through the link in owner, as SurrealDB does.
		s.linked = true
		lk := s.links
		return func(_, parent map[string]any) surql.Value { return lk.lookup(parent, e.Path) }, nil
	case *surql.Array:
		elems, err := s.compileAll(e.Elems)
		if err != nil {
			return nil, err
		}
		return func(rec, parent map[string]any) surql.Value {
			out := make([]any, len(elems))
			for i, fn := range elems {
				out[i] = fn(rec, parent)
			}
			return out
		}, nil
	case *surql.Object:
		vals := make([]surql.Expr, len(e.Entries))
		for i, en := range e.Entries {
			vals[i] = en.Value
		}
		fns, err := s.compileAll(vals)
		if err != nil {
			return nil, err
		}
		return func(rec, parent map[string]any) surql.Value {
			out := make(map[string]any, len(fns))
			for i, fn := range fns {
				setPath(out, []string{e.Entries[i].Key}, fn(rec, parent))
			}
			return out
		}, nil
	case *surql.Unary:
		x, err := s.compile(e.X)
		if err != nil {
			return nil, err
		}
		return func(rec, parent map[string]any) surql.Value { return !surql.Truthy(x(rec, parent)) }, nil
	case *surql.Binary:
		return s.binary(e)
	case *surql.Subquery, *surql.Index:
		return nil, fmt.Errorf("subqueries are supported in the projection only, not in %s", e)
	case *surql.Call:
		return s.call(e)
	}
	return nil, fmt.Errorf("unsupported expression %s", e)
}

func (s *scope) compileAll(es []surql.Expr) ([]evalFn, error) {
	fns := make([]evalFn, len(es))
	for i, e := range es {
		fn, err := s.compile(e)
		if err != nil {
			return nil, err
		}
		fns[i] = fn
	}
	return fns, nil
}

// constant evaluates e if it depends on neither the record nor $parent:
// literals, parameters other than $parent, and arrays and objects of them.
func (s *scope) constant(e surql.Expr) (surql.Value, bool, error) {
	switch e := e.(type) {
	case *surql.Literal:
		return e.Value, true, nil
	case *surql.Param:
		if e.Name != "parent" {
			v, ok := s.params[e.Name]
			if !ok {
				return surql.None, true, nil // as in SurrealDB, an unset parameter is NONE
			}
			return lookup(v, e.Path), true, nil
		}
		if !s.sub {
			return nil, false, fmt.Errorf("%s is only defined inside a subquery", e)
		}
	case *surql.Array:
		out := make([]any, len(e.Elems))
		for i, x := range e.Elems {
			v, ok, err := s.constant(x)
			if !ok || err != nil {
				return nil, false, err
			}
			out[i] = v
		}
		return out, true, nil
	case *surql.Object:
		out := make(map[string]any, len(e.Entries))
		for _, en := range e.Entries {
			v, ok, err := s.constant(en.Value)
			if !ok || err != nil {
				return nil, false, err
			}
			setPath(out, []string{en.Key}, v)
		}
		return out, true, nil
	}
	return nil, false, nil
}

func (s *scope) binary(e *surql.Binary) (evalFn, error) {
	if fn, ok, err := s.prefixMatch(e); ok || err != nil {
		return fn, err
	}
	x, err := s.compile(e.X)
	if err != nil {
		return nil, err
	}
	y, err := s.compile(e.Y)
	if err != nil {
		return nil, err
	}
	switch e.Op {
	case surql.OpAnd:
		return func(rec, parent map[string]any) surql.Value {
			return surql.Truthy(x(rec, parent)) && surql.Truthy(y(rec, parent))
		}, nil
	case surql.OpOr:
		return func(rec, parent map[string]any) surql.Value {
			return surql.Truthy(x(rec, parent)) || surql.Truthy(y(rec, parent))
		}, nil
	}
	op, ok := operators[e.Op]
	if !ok {
		return nil, fmt.Errorf("unsupported operator %s", e.Op)
	}
	return func(rec, parent map[string]any) surql.Value {
		return op(x(rec, parent), y(rec, parent))
	}, nil
}

// prefixMatch compiles the original's prefix match: = (or !=) with a string
// literal that ends in *, as in title = 'hel*', matches (or does not) the
// strings that start with the text before the *.
func (s *scope) prefixMatch(e *surql.Binary) (evalFn, bool, error) {
	if !s.prefixStar || e.Op != surql.OpEq && e.Op != surql.OpNe {
		return nil, false, nil
	}
	other, prefix, ok := starPattern(e.X, e.Y)
	if !ok {
		other, prefix, ok = starPattern(e.Y, e.X)
	}
	if !ok {
		return nil, false, nil
	}
	x, err := s.compile(other)
	if err != nil {
		return nil, true, err
	}
	want := e.Op == surql.OpEq
	return func(rec, parent map[string]any) surql.Value {
		v, ok := x(rec, parent).(string)
		return (ok && strings.HasPrefix(v, prefix)) == want
	}, true, nil
}

// starPattern reports whether y is a string literal that ends in *, and
// returns x and the text before the *.
func starPattern(x, y surql.Expr) (surql.Expr, string, bool) {
	lit, ok := y.(*surql.Literal)
	if !ok {
		return nil, "", false
	}
	str, ok := lit.Value.(string)
	if !ok || !strings.HasSuffix(str, "*") {
		return nil, "", false
	}
	return x, strings.TrimSuffix(str, "*"), true
}

// operators evaluates the comparison and containment operators.
var operators = map[surql.Op]func(a, b surql.Value) bool{
	surql.OpEq:           surql.Equal,
	surql.OpNe:           func(a, b surql.Value) bool { return !surql.Equal(a, b) },
	surql.OpLt:           func(a, b surql.Value) bool { return surql.Compare(a, b) < 0 },
	surql.OpLe:           func(a, b surql.Value) bool { return surql.Compare(a, b) <= 0 },
	surql.OpGt:           func(a, b surql.Value) bool { return surql.Compare(a, b) > 0 },
	surql.OpGe:           func(a, b surql.Value) bool { return surql.Compare(a, b) >= 0 },
	surql.OpContains:     contains,
	surql.OpContainsNot:  func(a, b surql.Value) bool { return !contains(a, b) },
	surql.OpContainsAll:  containsAll,
	surql.OpContainsAny:  containsAny,
	surql.OpContainsNone: containsNone,
	surql.OpInside:       func(a, b surql.Value) bool { return contains(b, a) },
	surql.OpNotInside:    func(a, b surql.Value) bool { return !contains(b, a) },
	surql.OpAllInside:    func(a, b surql.Value) bool { return containsAll(b, a) },
	surql.OpAnyInside:    func(a, b surql.Value) bool { return containsAny(b, a) },
	surql.OpNoneInside:   func(a, b surql.Value) bool { return !containsAny(b, a) },
}

// contains reports whether the array a has an element equal to b, or the
// string a contains the string b.
func contains(a, b surql.Value) bool {
	switch a := a.(type) {
	case []any:
		for _, e := range a {
			if surql.Equal(e, b) {
				return true
			}
		}
	case string:
		b, ok := b.(string)
		return ok && strings.Contains(a, b)
	}
	return false
}

// containsAll reports whether a contains every element of the array b;
// as in SurrealDB, any value contains every element of [].
func containsAll(a, b surql.Value) bool {
	bs, ok := b.([]any)
	if !ok {
		return false
	}
	for _, e := range bs {
		if !contains(a, e) {
			return false
		}
	}
	return true
}

// containsAny reports whether a contains some element of the array b.
func containsAny(a, b surql.Value) bool {
	bs, ok := b.([]any)
	if !ok {
		return false
	}
	for _, e := range bs {
		if contains(a, e) {
			return true
		}
	}
	return false
}

// containsNone is the negation of containsAny, as in SurrealDB: a missing
// or scalar value contains none of anything.
func containsNone(a, b surql.Value) bool { return !containsAny(a, b) }

// A guard is a condition that every record a WHERE accepts satisfies: the
// value at path equals one of a few constants, because the WHERE is
// path = constant, or path IN [constants], or has one of these as a
// conjunct. An Index finds a view by its guard.
type guard struct {
	path []string
	keys []any // the valueKey of each constant
}

// guard finds a guard in a WHERE clause, or returns nil.
func (s *scope) guard(e surql.Expr) *guard {
	b, ok := e.(*surql.Binary)
	if !ok {
		return nil
	}
	switch b.Op {
	case surql.OpAnd:
		if g := s.guard(b.X); g != nil {
			return g
		}
		return s.guard(b.Y)
	case surql.OpEq:
		if s.isPrefixMatch(b) {
			return nil
		}
		if g := s.equalityGuard(b.X, b.Y); g != nil {
			return g
		}
		return s.equalityGuard(b.Y, b.X)
	case surql.OpInside:
		return s.membershipGuard(b.X, b.Y)
	case surql.OpContains:
		return s.membershipGuard(b.Y, b.X)
	}
	return nil
}

// equalityGuard returns the guard of path = value.
func (s *scope) equalityGuard(path, value surql.Expr) *guard {
	p, ok := path.(*surql.Path)
	if !ok || len(p.Parts) > 1 { // a longer path may go through a link
		return nil
	}
	v, ok, _ := s.constant(value)
	if !ok {
		return nil
	}
	return &guard{path: p.Parts, keys: []any{valueKey(v)}}
}

// membershipGuard returns the guard of path IN values.
func (s *scope) membershipGuard(path, values surql.Expr) *guard {
	p, ok := path.(*surql.Path)
	if !ok || len(p.Parts) > 1 {
		return nil
	}
	v, ok, _ := s.constant(values)
	arr, isArray := v.([]any)
	if !ok || !isArray {
		return nil
	}
	g := &guard{path: p.Parts}
	for _, e := range arr {
		g.keys = append(g.keys, valueKey(e))
	}
	return g
}

// isPrefixMatch reports whether b is read as a prefix match.
func (s *scope) isPrefixMatch(b *surql.Binary) bool {
	if !s.prefixStar {
		return false
	}
	_, _, x := starPattern(b.X, b.Y)
	_, _, y := starPattern(b.Y, b.X)
	return x || y
}

// A seek finds the records that a WHERE clause can accept by their value
// at path, instead of scanning their table: the clause has a conjunct
// path = x, where x depends on parameters and $parent only.
type seek struct {
	path  []string
	value evalFn
}

// seek finds a seek in a WHERE clause, or returns nil.
func (s *scope) seek(e surql.Expr) *seek {
	b, ok := e.(*surql.Binary)
	if !ok {
		return nil
	}
	switch b.Op {
	case surql.OpAnd:
		if sk := s.seek(b.X); sk != nil {
			return sk
		}
		return s.seek(b.Y)
	case surql.OpEq:
		if s.isPrefixMatch(b) {
			return nil
		}
		for _, x := range [][2]surql.Expr{{b.X, b.Y}, {b.Y, b.X}} {
			p, ok := x[0].(*surql.Path)
			if !ok || len(p.Parts) > 1 || !dependsOnParams(x[1]) {
				continue
			}
			if fn, err := s.compile(x[1]); err == nil {
				return &seek{path: p.Parts, value: fn}
			}
		}
	}
	return nil
}

// dependsOnParams reports whether e is built of literals and parameters
// only, $parent included.
func dependsOnParams(e surql.Expr) bool {
	switch e := e.(type) {
	case *surql.Literal, *surql.Param:
		return true
	case *surql.Array:
		return !slices.ContainsFunc(e.Elems, func(x surql.Expr) bool { return !dependsOnParams(x) })
	case *surql.Object:
		return !slices.ContainsFunc(e.Entries, func(en surql.Entry) bool { return !dependsOnParams(en.Value) })
	}
	return false
}
