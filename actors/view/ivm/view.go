package ivm

import (
	"fmt"
	"iter"
	"slices"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// A Row is one row of a view's result.
type Row struct {
	ID      string
	Version int64
	// Record is the projected record, with the values of the subqueries
	// under their aliases. It is shared with the view: do not modify it.
	Record map[string]any
}

// A Delta is the exact change of a view's result made by one Event.
//
// To replay it on the previous result: drop the Removals and every row
// that Order lists; replace the Updates; then insert the rows Order lists,
// in its order, each at its Index (the row is in Additions or Updates).
// The rows Order does not list keep their relative order.
type Delta struct {
	Additions []Row // rows that entered the result
	Removals  []Row // rows that left it, as they were
	Updates   []Row // rows that stayed and whose version or record changed

	// Order places the rows whose position is new: every addition and every
	// update whose sort key changed, by increasing Index.
	Order []Position

	Hash       string // the view's hash after the change
	Generation uint64 // the view's generation after the change
}

// A Position is the index of a row in a view's new result.
type Position struct {
	ID    string
	Index int
}

// Empty reports whether d changes no row.
func (d Delta) Empty() bool {
	return len(d.Additions) == 0 && len(d.Removals) == 0 && len(d.Updates) == 0
}

// A View is a query kept up to date incrementally. Compile makes one; Load
// fills it from the tables; Apply brings it up to date with each Event of a
// table it reads (see Tables).
//
// The view keeps the rows that match its WHERE in an ordered index, and
// its result is the window that START and LIMIT cut from it, so a row that
// leaves the window is mostly replaced from the index without a scan. A
// view with a LIMIT keeps only the first rows of its order: the window and
// a margin past it (see keep). A row in the window holds one subview per
// subquery, bound to the row's record as $parent. A grouped view keeps its
// groups' aggregates.
//
// A View is not safe for concurrent use.
type View struct {
	plan   *plan
	parent map[string]any // the record bound to $parent, for a subview
	rows   map[string]*entry
	tree   tree
	groups map[string]*group // for a grouped view
	hash   uint64            // the sum of the window's row hashes
	gen    uint64

	pending pending // what the current Apply touched
	spare   *entry  // an entry that left the index, to fill again

	// partial is set when the view keeps fewer rows than its WHERE
	// accepts (see keep): every row it does not keep then ranks after
	// every row it keeps.
	partial bool

	// shares holds the subviews of the window's rows, by subShare key;
	// epoch counts the Applies, to tell the subviews built during the
	// current one.
	shares map[string]*subShare
	epoch  uint64

	// hashText is Hash's result for hash and gen as hashOf holds them.
	hashText string
	hashOf   [2]uint64
}

// An entry is a row in a view's ordered index. While the row is in the
// window (in), it also holds its subviews and its projected record.
type entry struct {
	node
	first   fastKey // key[0], when it is a number or a string
	id      string
	version int64
	src     map[string]any // the source record; nil for a group row
	base    map[string]any // the projected record without subqueries
	key     []any          // see plan.sortKey
	keyBuf  [2]any         // holds key when it is short, saving an allocation and a pointer chase

	in   bool
	subs []*subShare    // by subquery
	rec  map[string]any // base with the subqueries' values
}

// A subShare is the subview of one subquery for the rows of the window
// whose records hold the same values at the $parent paths it reads: their
// subqueries have the same result, so one subview serves them all (in a
// view of one owner's products, a subquery on $parent.owner has one, not
// one per product; a subquery without $parent has one for the window).
type subShare struct {
	key     string
	sub     int // the index of the subquery
	view    *View
	val     any    // the subquery's value
	refs    int    // the rows that hold it
	epoch   uint64 // the parent's epoch when it was built
	changed bool   // its value changed in the current Apply
}

func (e *entry) row() Row { return Row{ID: e.id, Version: e.version, Record: e.rec} }

// A change replaces the entry of a row; e is nil when the row is gone.
// When found is set, old is the row's entry before (nil for none).
type change struct {
	id    string
	e     *entry
	old   *entry
	found bool
}

// Compile compiles a query into an empty View, as of empty tables; Load
// fills it. params are the view's parameters ($name), as decoded from JSON.
// It fails for what the engine does not evaluate, with a message that
// names it.
func Compile(sel *surql.Select, params map[string]any) (*View, error) {
	return CompileWith(sel, params, Options{})
}

// Options change how a query is compiled.
type Options struct {
	// PrefixStar keeps the original SSP's reading of = 'text*' (and !=) as
	// a prefix match, for views registered with format "sp00ky". Otherwise
	// the * is a character, as in SurrealDB.
	PrefixStar bool
	// Plans, if set, shares the plans of subqueries with the other views
	// compiled with it.
	Plans *Plans
}

// CompileWith is Compile with options.
func CompileWith(sel *surql.Select, params map[string]any, opts Options) (*View, error) {
	p, err := compileQuery(sel, params, opts)
	if err != nil {
		return nil, err
	}
	return newView(p, nil), nil
}

func compileQuery(sel *surql.Select, params map[string]any, opts Options) (*plan, error) {
	v, err := surql.Normalize(params)
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	np, _ := surql.Links(v).(map[string]any) // as in ingested records
	p, err := compile(sel, np, false, opts)
	if err != nil {
		return nil, err
	}
	p.paramsKey = paramsKey(sel, np)
	if opts.PrefixStar {
		p.paramsKey += "|prefix*"
	}
	return p, nil
}

func newView(p *plan, parent map[string]any) *View {
	v := &View{plan: p, parent: parent}
	v.tree.cmp = p.compare
	v.rows = make(map[string]*entry)
	if p.group != nil {
		v.groups = make(map[string]*group)
	}
	return v
}

// Load computes the view's result from the tables, dropping its state.
// The generation is kept.
func (v *View) Load(t *Tables) {
	p := v.plan
	p.links.t = t
	clear(v.rows)
	v.tree.root = nil
	v.hash, v.partial, v.shares = 0, false, nil
	if p.group == nil {
		keep := v.keep()
		for id, rec := range v.candidates(t) {
			if p.matches(rec, v.parent) {
				v.insert(p.entry(id, rec))
				if keep >= 0 && v.tree.len() > 2*keep { // bound the memory a large table takes
					v.trim(keep)
				}
			}
		}
		v.trim(keep)
	} else {
		clear(v.groups)
		for _, rec := range v.candidates(t) {
			if p.matches(rec, v.parent) {
				id, values := p.groupOf(rec)
				g := v.groups[id]
				if g == nil {
					g = p.newGroup(id, values)
					v.groups[id] = g
				}
				g.add(p, rec, 1)
			}
		}
		for _, g := range v.groups {
			v.insert(p.groupEntry(g))
		}
	}
	for e := range v.window() {
		v.attach(t, e)
		v.hash += rowHash(e.id, e.version)
	}
}

// candidates iterates over the records that can match the view's WHERE:
// those its seek finds, or those in its range, or all of its table.
func (v *View) candidates(t *Tables) iter.Seq2[string, map[string]any] {
	p := v.plan
	if p.seek != nil {
		return t.seek(p.table, p.seek.path, p.seek.value(nil, v.parent))
	}
	if p.rng != nil {
		return t.seekRange(p.table, p.rng.path, p.rng.lo, p.rng.hi)
	}
	return t.All(p.table)
}

func (v *View) insert(e *entry) {
	v.rows[e.id] = e
	v.tree.insert(e)
}

// windowMargin is the number of rows past the end of its window that a view
// with a LIMIT keeps, beyond LIMIT more: rows that leave the window are
// replaced from them, and only when the margin is used up are the tables
// scanned again (View.refill). A variable so that tests can make it small.
var windowMargin = 16

// keep is the number of rows a view keeps in its index: with a LIMIT, the
// rows START skips, the window and a margin of LIMIT + windowMargin rows
// (ORDER BY price LIMIT 10 over 10,000 rows keeps 36 of them); -1, every
// row, without a LIMIT or when grouped (a group's row depends on all its
// members).
func (v *View) keep() int {
	p := v.plan
	if p.limit < 0 || p.group != nil {
		return -1
	}
	return p.start + 2*p.limit + windowMargin
}

// trim drops the rows past the first keep of the order (keep -1: none).
// They are past the window's end, so no row of the result changes.
func (v *View) trim(keep int) {
	if keep < 0 {
		return
	}
	for v.tree.len() > keep {
		e := v.tree.at(v.tree.len() - 1)
		v.tree.remove(e)
		delete(v.rows, e.id)
		v.partial = true
	}
}

// keeps reports whether a partial view keeps e, the new entry of a row:
// only if it ranks before the last row kept (or is that row, unmoved), as
// the rows not kept may rank anywhere after it.
func (v *View) keeps(e *entry) bool {
	n := v.tree.len()
	return n > 0 && v.plan.compare(e, v.tree.at(n-1)) <= 0
}

// Result returns the view's rows, in order.
func (v *View) Result() []Row {
	rows := make([]Row, 0, v.Len())
	for e := range v.window() {
		rows = append(rows, e.row())
	}
	return rows
}

// Len returns the number of rows in the result.
func (v *View) Len() int {
	n := max(v.tree.len()-v.plan.start, 0)
	if v.plan.limit >= 0 {
		n = min(n, v.plan.limit)
	}
	return n
}

// Hash returns a stable hash of the result's ids and versions and of the
// generation. The rows count as a set, as the original hashes its sorted
// ids: an Apply updates it in O(1) per changed row.
func (v *View) Hash() string {
	if v.hashText == "" || v.hashOf != [2]uint64{v.hash, v.gen} {
		v.hashText, v.hashOf = formatHash(v.hash, v.gen), [2]uint64{v.hash, v.gen}
	}
	return v.hashText
}

// Generation counts the Applies that changed a row's subquery values.
// Such a change can leave every id and version as it was; the generation
// makes the hash change all the same.
func (v *View) Generation() uint64 { return v.gen }

// Table returns the table the view selects from.
func (v *View) Table() string { return v.plan.table }

// Tables returns every table whose changes can change the view: its own
// and its subqueries', sorted.
func (v *View) Tables() []string { return slices.Clone(v.plan.tables) }

// window iterates over the entries of the result, in order.
func (v *View) window() iter.Seq[*entry] {
	return func(yield func(*entry) bool) {
		n := v.plan.limit
		for e := range v.tree.from(v.plan.start) {
			if n == 0 || !yield(e) {
				return
			}
			n--
		}
	}
}

func (v *View) inWindow(rank int) bool {
	return rank >= v.plan.start && (v.plan.limit < 0 || rank < v.plan.start+v.plan.limit)
}

// records iterates over the records of the result, in order.
func (v *View) records() iter.Seq[map[string]any] {
	return func(yield func(map[string]any) bool) {
		for e := range v.window() {
			if !yield(e.rec) {
				return
			}
		}
	}
}

// attach makes e a member of the window: it builds e's subviews from the
// tables and its projected record.
func (v *View) attach(t *Tables, e *entry) {
	e.in = true
	if len(v.plan.subs) == 0 {
		e.rec = e.base
		return
	}
	e.subs = make([]*subShare, len(v.plan.subs))
	for i := range v.plan.subs {
		e.subs[i] = v.share(t, i, e.src)
	}
	e.rec = v.plan.composeRow(e)
}

// share returns the subview of subquery i for a row whose record is src,
// held once more: the one the window has for src's $parent values, or a
// new one loaded from the tables.
func (v *View) share(t *Tables, i int, src map[string]any) *subShare {
	key := v.plan.shareKey(i, src)
	if sh := v.shares[key]; sh != nil {
		sh.refs++
		return sh
	}
	s := v.plan.subs[i]
	sv := newView(s.plan, src) // src is never modified: the subview may keep it
	sv.Load(t)
	sh := &subShare{key: key, sub: i, view: sv, val: s.value(sv.records()), refs: 1, epoch: v.epoch}
	if v.shares == nil {
		v.shares = make(map[string]*subShare)
	}
	v.shares[key] = sh
	return sh
}

// release lets go of the subviews e holds, as it leaves the window.
func (v *View) release(e *entry) {
	for _, sh := range e.subs {
		if sh.refs--; sh.refs == 0 {
			delete(v.shares, sh.key)
		}
	}
}

func (e *entry) detach() {
	e.in, e.subs, e.rec = false, nil, nil
}
