package ivm

import (
	"cmp"
	"fmt"
	"iter"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// A plan is a compiled SELECT: what a View maintains and Evaluate
// computes. It is immutable, and shared by the subviews of a subquery.
type plan struct {
	table  string
	where  func(rec, parent map[string]any) bool // nil: every record
	star   bool
	fields []field
	subs   []*subquery
	group  *grouping // nil without GROUP BY or GROUP ALL
	order  []order
	start  int
	limit  int         // -1: no LIMIT
	parent [][]string  // the paths of $parent that WHERE reads
	guard  *guard      // nil when WHERE has none
	rng    *rangeGuard // nil when WHERE has none, or has a guard
	seek   *seek       // nil when WHERE has none

	links  *linker // shared by a view's plans
	linked bool    // this plan or a subquery's reads a path that may go through a link

	tables    []string        // every table read: its own and its subqueries', sorted
	subTables map[string]bool // the tables its subqueries read
	paramsKey string          // see View.ParamsKey; set for a top-level query
}

// A field projects the value at a source path to an output path.
type field struct{ src, out []string }

// A subquery is a projected (SELECT ...) AS alias or (SELECT ...)[i] AS alias.
type subquery struct {
	alias   string
	plan    *plan
	index   int64
	indexed bool
}

type grouping struct {
	keys []field // the GROUP BY fields
	aggs []aggregate
}

// An aggregate is count() (sum == nil) or math::sum(sum).
type aggregate struct {
	out string
	sum []string
}

type order struct {
	path []string
	desc bool
}

// maxWindow bounds LIMIT and START so that their sum cannot overflow.
const maxWindow = 1 << 40

// compile checks that sel is within what the engine evaluates and compiles
// it. params are the view's parameters, as Values; sub tells whether sel is
// a subquery, where $parent is bound.
func compile(sel *surql.Select, params map[string]any, sub bool, opts Options) (*plan, error) {
	return compileLinked(sel, params, sub, opts, &linker{})
}

func compileLinked(sel *surql.Select, params map[string]any, sub bool, opts Options, lk *linker) (*plan, error) {
	p := &plan{table: sel.From, star: sel.All, limit: -1, links: lk}
	if sel.Where != nil {
		sc := &scope{params: params, sub: sub, prefixStar: opts.PrefixStar, links: lk}
		where, err := sc.condition(sel.Where)
		if err != nil {
			return nil, fmt.Errorf("WHERE: %w", err)
		}
		p.guard, p.seek = sc.guard(sel.Where), sc.seek(sel.Where)
		if p.guard == nil {
			p.rng = sc.rangeGuard(sel.Where)
		}
		p.where, p.parent = where, sc.parent
		p.linked = sc.linked
	}
	grouped := sel.GroupAll || len(sel.GroupBy) > 0
	var aggs []aggregate
	var names [][]string // the output paths, to reject overlaps
	for _, f := range sel.Fields {
		var out []string
		switch x := f.Expr.(type) {
		case *surql.Path:
			out = x.Parts
			if f.Alias != "" {
				out = []string{f.Alias}
			}
			p.fields = append(p.fields, field{src: x.Parts, out: out})
			p.linked = p.linked || len(x.Parts) > 1
		case *surql.Subquery, *surql.Index:
			s, err := compileSubquery(f, params, opts, lk)
			if err != nil {
				return nil, err
			}
			p.subs = append(p.subs, s)
			out = []string{f.Alias}
		case *surql.Call:
			if !grouped {
				return nil, fmt.Errorf("%s needs GROUP BY or GROUP ALL", x)
			}
			a, err := compileAggregate(x, f.Alias)
			if err != nil {
				return nil, err
			}
			aggs = append(aggs, a)
			p.linked = p.linked || len(a.sum) > 1
			out = []string{a.out}
		default:
			return nil, fmt.Errorf("unsupported field %s", f.Expr)
		}
		for _, n := range names {
			if overlaps(n, out) {
				return nil, fmt.Errorf("the projection has two fields named %s", strings.Join(shorter(n, out), "."))
			}
		}
		names = append(names, out)
	}
	if grouped {
		if err := p.compileGroup(sel, aggs); err != nil {
			return nil, err
		}
	}
	for _, o := range sel.OrderBy {
		if err := p.orderable(o.Path.Parts, names); err != nil {
			return nil, fmt.Errorf("ORDER BY %s: %w", o.Path, err)
		}
		p.order = append(p.order, order{path: o.Path.Parts, desc: o.Desc})
	}
	if sel.Limit != nil {
		p.limit = int(min(*sel.Limit, maxWindow))
	}
	if sel.Start != nil {
		p.start = int(min(*sel.Start, maxWindow))
	}
	p.subTables = make(map[string]bool)
	for _, s := range p.subs {
		for _, t := range s.plan.tables {
			p.subTables[t] = true
		}
		p.linked = p.linked || s.plan.linked
	}
	p.tables = slices.Sorted(maps.Keys(p.subTables))
	if !p.subTables[p.table] {
		p.tables = append(p.tables, p.table)
		slices.Sort(p.tables)
	}
	return p, nil
}

func compileSubquery(f surql.Field, params map[string]any, opts Options, lk *linker) (*subquery, error) {
	if f.Alias == "" {
		return nil, fmt.Errorf("the subquery %s needs a name: (SELECT ...) AS name", f.Expr)
	}
	s := &subquery{alias: f.Alias}
	x := f.Expr
	if ix, ok := x.(*surql.Index); ok {
		x, s.index, s.indexed = ix.X, ix.Index, true
	}
	sq, ok := x.(*surql.Subquery)
	if !ok {
		return nil, fmt.Errorf("unsupported field %s", f.Expr)
	}
	sp, err := opts.Plans.subplan(sq.Select, params, opts, lk)
	if err != nil {
		return nil, fmt.Errorf("subquery %s: %w", f.Alias, err)
	}
	s.plan = sp
	return s, nil
}

func compileAggregate(c *surql.Call, alias string) (aggregate, error) {
	a := aggregate{out: alias}
	if a.out == "" {
		a.out = c.Name
	}
	switch {
	case c.Name == "count" && len(c.Args) == 0:
		return a, nil
	case c.Name == "math::sum" && len(c.Args) == 1:
		if p, ok := c.Args[0].(*surql.Path); ok {
			a.sum = p.Parts
			return a, nil
		}
	}
	return a, fmt.Errorf("unsupported function call %s: the projection supports count() and math::sum(field)", c)
}

// compileGroup checks that the projection of a grouped SELECT holds only
// the GROUP BY fields and aggregates, as SurrealDB requires, and replaces
// the plan's fields by the grouping.
func (p *plan) compileGroup(sel *surql.Select, aggs []aggregate) error {
	switch {
	case sel.All:
		return fmt.Errorf("SELECT * cannot be grouped: project the GROUP BY fields and aggregates")
	case len(p.subs) > 0:
		return fmt.Errorf("subqueries in a grouped SELECT are not supported")
	}
	g := &grouping{aggs: aggs}
	grouped := make([]bool, len(p.fields))
	for _, path := range sel.GroupBy {
		i := slices.IndexFunc(p.fields, func(f field) bool { return slices.Equal(f.out, path.Parts) })
		if i < 0 {
			return fmt.Errorf("GROUP BY %s: the field is not in the projection", path)
		}
		grouped[i] = true
		g.keys = append(g.keys, p.fields[i])
	}
	for i, f := range p.fields {
		if !grouped[i] {
			return fmt.Errorf("%s is neither in GROUP BY nor an aggregate", strings.Join(f.out, "."))
		}
	}
	p.fields, p.group = nil, g
	return nil
}

// orderable checks that ORDER BY path sorts on a projected field: SurrealDB
// sorts the projected records, so any other field would be NONE throughout.
func (p *plan) orderable(path []string, names [][]string) error {
	for _, s := range p.subs {
		if s.alias == path[0] {
			return fmt.Errorf("ordering by a subquery is not supported")
		}
	}
	if p.star {
		return nil
	}
	for _, n := range names {
		if n[0] == path[0] {
			return nil
		}
	}
	return fmt.Errorf("the field is not in the projection")
}

// overlaps reports whether one output path is a prefix of the other: both
// would write the same field.
func overlaps(a, b []string) bool {
	n := min(len(a), len(b))
	return slices.Equal(a[:n], b[:n])
}

func shorter(a, b []string) []string {
	if len(a) < len(b) {
		return a
	}
	return b
}

// reads reports whether the plan or its subqueries read a table.
func (p *plan) reads(table string) bool { return table == p.table || p.subTables[table] }

func (p *plan) matches(rec, parent map[string]any) bool {
	return p.where == nil || p.where(rec, parent)
}

// entry returns the entry of a record that matches the plan's WHERE.
func (p *plan) entry(id string, rec map[string]any) *entry { return p.fill(nil, id, rec) }

// fill makes e (or a new entry if e is nil) the entry of a record that
// matches the plan's WHERE.
func (p *plan) fill(e *entry, id string, rec map[string]any) *entry {
	if e == nil {
		e = new(entry)
	} else {
		*e = entry{}
	}
	e.id, e.version, e.src, e.base = id, Version(rec), rec, p.project(rec)
	tie, ok := rec["id"].(surql.RecordID) // ties break by id, as SurrealDB orders ids
	if !ok {
		e.key = p.sortKey(e.keyBuf[:0], e.base, id)
	} else {
		e.key = p.sortKey(e.keyBuf[:0], e.base, tie)
	}
	e.first = makeFastKey(e.key[0], p.table)
	return e
}

// project applies the projection but for subqueries. * contributes every
// field of the record, wherever it is written; named fields override it.
func (p *plan) project(rec map[string]any) map[string]any {
	if p.star && len(p.fields) == 0 {
		return rec // records are never modified: share it
	}
	out := make(map[string]any, len(p.fields))
	if p.star {
		maps.Copy(out, rec)
	}
	for _, f := range p.fields {
		projectPath(out, f.out, p.links.lookup(rec, f.src))
	}
	return out
}

// sortKey appends to key the key that orders a row: the ORDER BY values of
// its projected record, then tie, which makes the order total: the record
// id, or for a group its GROUP BY values.
func (p *plan) sortKey(key []any, rec map[string]any, tie surql.Value) []any {
	for _, o := range p.order {
		// SurrealDB does not follow links in ORDER BY: owner.age on a
		// link is NONE there, and so here.
		key = append(key, lookup(rec, o.path))
	}
	return append(key, tie)
}

func (p *plan) compare(a, b *entry) int {
	if c, ok := a.first.compare(&b.first); ok {
		if c != 0 {
			if len(p.order) > 0 && p.order[0].desc {
				return -c
			}
			return c
		}
		if len(p.order) == 0 {
			return 0
		}
	} else if c := p.compareAt(a, b, 0); c != 0 {
		return c
	}
	for i := 1; i <= len(p.order); i++ {
		if c := p.compareAt(a, b, i); c != 0 {
			return c
		}
	}
	return 0
}

// compareAt compares the keys of a and b at index i.
func (p *plan) compareAt(a, b *entry, i int) int {
	c := surql.Compare(a.key[i], b.key[i])
	if i < len(p.order) && p.order[i].desc {
		return -c
	}
	return c
}

// A fastKey holds the first value of an entry's sort key in the entry
// itself when it is an integer, a float, a string or a record id with a
// numeric key or of the view's own table, so that comparing two entries,
// the work of the ordered index, mostly reads neither the key slice nor a
// boxed value. A view without ORDER BY orders its rows by their ids alone.
type fastKey struct {
	kind uint8 // 0: another type, see key[0]
	n    uint64
	s    string // a string, a record id's table, or a key of the own table
}

const (
	fastInt = 1 + iota
	fastFloat
	fastString
	fastRecord   // table:n, n a numeric key
	fastOwnTable // a string key of the view's own table, which the key leaves out
)

// makeFastKey returns the fast key of v in a view of table own (none for
// a grouped view, whose rows are no records). A record id of table own
// with a string key holds only its key: the fast keys of one view, the
// only ones compared with each other, then all have the same table.
func makeFastKey(v surql.Value, own string) fastKey {
	switch v := v.(type) {
	case int64:
		return fastKey{kind: fastInt, n: uint64(v)}
	case float64:
		return fastKey{kind: fastFloat, n: math.Float64bits(v)}
	case string:
		return fastKey{kind: fastString, s: v}
	case surql.RecordID:
		// Numeric keys are int64s of at least 0: they order as numbers,
		// before every string key (a mix of the two takes the slow path).
		if !v.Num {
			if own != "" && v.Table == own {
				return fastKey{kind: fastOwnTable, s: v.Key}
			}
			break
		}
		if n, err := strconv.ParseUint(v.Key, 10, 64); err == nil {
			return fastKey{kind: fastRecord, n: n, s: v.Table}
		}
	}
	return fastKey{}
}

// compare compares two fast keys as surql.Compare compares their values,
// or reports false when it cannot: a value of another type, or an integer
// and a float.
func (k *fastKey) compare(o *fastKey) (int, bool) {
	if k.kind != o.kind || k.kind == 0 {
		return 0, false
	}
	switch k.kind {
	case fastInt:
		return cmp.Compare(int64(k.n), int64(o.n)), true
	case fastFloat:
		return cmp.Compare(math.Float64frombits(k.n), math.Float64frombits(o.n)), true
	case fastRecord:
		if k.s != o.s {
			return strings.Compare(k.s, o.s), true
		}
		return cmp.Compare(k.n, o.n), true
	}
	return strings.Compare(k.s, o.s), true
}

// compose returns the projected record: base with the subquery values,
// val(i) that of subquery i.
func (p *plan) compose(base map[string]any, val func(i int) any) map[string]any {
	if len(p.subs) == 0 {
		return base
	}
	out := make(map[string]any, len(base)+len(p.subs))
	maps.Copy(out, base)
	for i, s := range p.subs {
		setPath(out, []string{s.alias}, val(i))
	}
	return out
}

// composeRow is compose for a row of the window, with the values of the
// subviews it holds.
func (p *plan) composeRow(e *entry) map[string]any {
	return p.compose(e.base, func(i int) any { return e.subs[i].val })
}

// shareKey is the key of subquery i's subview for a row whose record is
// src: the subquery and the values it reads of $parent (through links, as
// it reads them; a change of a linked record recomputes the whole view).
func (p *plan) shareKey(i int, src map[string]any) string {
	b := strconv.AppendInt(nil, int64(i), 10)
	for _, path := range p.subs[i].plan.parent {
		b = appendValueKey(append(b, '|'), p.links.lookup(src, path))
	}
	return string(b)
}

// parentChanged reports whether the update of a record from old to new
// changes what its subqueries read of it as $parent.
func (p *plan) parentChanged(old, new map[string]any) bool {
	for _, s := range p.subs {
		for _, path := range s.plan.parent {
			// Through links: a parent whose owner moves from one link to
			// another changes $parent.owner.name, which a plain lookup
			// reads as NONE both times.
			if !identical(p.links.lookup(old, path), p.links.lookup(new, path)) {
				return true
			}
		}
	}
	return false
}

// value returns a subquery's value from the records of its result, in
// order: the array of them, or with an index the one at that index (NONE
// when there is none).
func (s *subquery) value(recs iter.Seq[map[string]any]) surql.Value {
	if s.indexed {
		i := int64(0)
		for rec := range recs {
			if i == s.index {
				return rec
			}
			i++
		}
		return surql.None
	}
	out := []any{}
	for rec := range recs {
		out = append(out, rec)
	}
	return out
}
