// Package engine is the incremental computation behind a Skip service:
// collections of JSON keys to multisets of JSON values, the operators of
// Skip's EagerCollection (map, reduce, merge, slice, take), lazy
// collections, and the tracking of reads made inside user code so that a
// change recomputes exactly the keys that depend on it.
//
// An Engine is single-threaded (its owner is one actor). Changes happen in
// a transaction: Begin, Set on inputs, Propagate, then Commit or Rollback;
// a rollback undoes every change to every node, so a write that makes user
// code throw leaves nothing behind. One engine may read the nodes of
// another (a resource instance reads the service graph's collections) while
// that other engine is not changing.
package engine

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Pair is one output of a mapper: a key and one value, as JSON.
type Pair struct{ Key, Value string }

// Mapper is user code mapping one key with its values to pairs.
type Mapper interface {
	MapEntry(key string, values []string) ([]Pair, error)
}

// Compute is user code computing the values of one key of a lazy
// collection.
type Compute interface {
	Compute(key string) ([]string, error)
}

// Reducer folds the values of a key into one accumulated value. Remove
// returns ok=false when it cannot undo (Skip's null): the key is then
// recomputed from its values.
type Reducer interface {
	Initial() (acc string, ok bool)
	Add(acc string, hasAcc bool, v string) (string, error)
	Remove(acc, v string) (next string, ok bool, err error)
}

// Kind of a node.
type Kind int

const (
	KindInput Kind = iota
	KindMap
	KindReduce
	KindMerge
	KindSlice
	KindTake
	KindLazy
)

// Node is one collection.
type Node struct {
	eng     *Engine
	id      int
	kind    Kind
	Name    string
	parents []*Node
	tab     *table

	// watched nodes remember the first old values of each key changed in
	// the current transaction, to report what changed.
	watch bool
	old   map[string][]string

	mapper  Mapper
	contrib map[string][]Pair              // map: source key -> its pairs
	srcOf   map[string]map[string][]string // map: out key -> source -> values
	dirty   map[string]struct{}            // map: out keys whose values need rebuilding

	reducer Reducer
	seen    map[string][]string // reduce over a non-map parent: values last seen

	ranges [][2]any // slice, decoded bounds
	limit  int      // take

	compute  Compute
	computed map[string]struct{} // lazy: memoized keys
}

// Engine owns nodes and their dependency records.
type Engine struct {
	nodes  []*Node
	undo   []func()
	inTx   bool
	reader *reader
	// deps[target][key] lists the readers of target's key; allKey marks a
	// read of the whole collection (size).
	deps    map[*Node]map[string]map[reader]struct{}
	reads   map[reader][]target
	changes Changes
	deltas  map[*Node]map[string]*delta
	pending map[*Node]map[string]struct{}
	watched []*Node
	root    *Node // the reader of Track
}

type reader struct {
	n *Node
	k string
}

type target struct {
	n *Node
	k string
}

type delta struct{ add, rem []string }

const allKey = "\x00all"

// Changes lists the keys changed per node in a transaction.
type Changes map[*Node]map[string]struct{}

// New returns an empty engine.
func New() *Engine {
	return &Engine{deps: map[*Node]map[string]map[reader]struct{}{}, reads: map[reader][]target{}}
}

func (e *Engine) add(n *Node) *Node {
	n.eng = e
	n.id = len(e.nodes)
	n.tab = newTable()
	e.nodes = append(e.nodes, n)
	return n
}

// Owner is the engine a node belongs to.
func (n *Node) Owner() *Engine { return n.eng }

// Kind of the node.
func (n *Node) Kind() Kind { return n.kind }

// NewInput adds an input collection.
func (e *Engine) NewInput(name string) *Node { return e.add(&Node{kind: KindInput, Name: name}) }

// Watch makes n report its changes (Delta).
func (e *Engine) Watch(n *Node) {
	n.watch = true
	e.watched = append(e.watched, n)
}

// Begin starts a transaction.
func (e *Engine) Begin() {
	e.undo = e.undo[:0]
	e.inTx = true
	e.changes = Changes{}
	e.deltas = map[*Node]map[string]*delta{}
	e.pending = map[*Node]map[string]struct{}{}
}

func (e *Engine) log(f func()) {
	if e.inTx {
		e.undo = append(e.undo, f)
	}
}

// Rollback undoes the transaction.
func (e *Engine) Rollback() {
	for i := len(e.undo) - 1; i >= 0; i-- {
		e.undo[i]()
	}
	e.end()
}

// Commit keeps the transaction's changes.
func (e *Engine) Commit() { e.end() }

func (e *Engine) end() {
	e.undo = e.undo[:0]
	e.inTx = false
	e.changes, e.deltas, e.pending = nil, nil, nil
	for _, n := range e.watched {
		n.old = nil
	}
}

// Changed returns the changes of the current transaction so far.
func (e *Engine) Changed() Changes { return e.changes }

func (e *Engine) mark(n *Node, k string) {
	if e.changes == nil {
		return
	}
	s := e.changes[n]
	if s == nil {
		s = map[string]struct{}{}
		e.changes[n] = s
	}
	s[k] = struct{}{}
}

// setVals replaces k's values in n's table, with undo; it reports whether
// the multiset changed.
func (e *Engine) setVals(n *Node, k string, vals []string) bool {
	old := n.tab.get(k)
	if sameValues(old, vals) {
		return false
	}
	if n.watch && e.inTx {
		if n.old == nil {
			n.old = map[string][]string{}
		}
		if _, ok := n.old[k]; !ok {
			n.old[k] = old
		}
	}
	e.log(func() { n.tab.put(k, old, nil) })
	n.tab.put(k, vals, nil)
	e.mark(n, k)
	return true
}

// Set writes an input key's values (none: deletes the key).
func (e *Engine) Set(n *Node, k string, vals []string) {
	e.setVals(n, k, vals)
}

// Values returns k's values in n, without recording a dependency.
func (n *Node) Values(k string) []string {
	if n.kind == KindMap {
		n.rebuild(k)
	}
	return n.tab.get(k)
}

// has reports whether k has values, without building them.
func (n *Node) has(k string) bool {
	_, ok := n.tab.m[k]
	return ok
}

// Len is the number of keys with values.
func (n *Node) Len() int { return n.tab.len() }

// Entry is one key of a collection with all its values.
type Entry struct {
	Key    string
	Values []string
}

// Entries lists n's contents in key order.
func (n *Node) Entries() []Entry {
	out := make([]Entry, 0, n.tab.len())
	n.tab.ascend(nil, func(en *entry) bool {
		out = append(out, Entry{Key: en.key, Values: n.Values(en.key)})
		return true
	})
	return out
}

// Delta lists the keys of a watched node whose values changed in the
// current transaction, with their new values (none: deleted), in key
// order.
func (n *Node) Delta() []Entry {
	var out []Entry
	for k, old := range n.old {
		nv := n.Values(k)
		if !sameValues(old, nv) {
			out = append(out, Entry{Key: k, Values: nv})
		}
	}
	sort.Slice(out, func(i, j int) bool { return CompareKeys(out[i].Key, out[j].Key) < 0 })
	return out
}

// Get reads k of t on behalf of the user code running now, recording the
// dependency.
func (e *Engine) Get(t *Node, k string) ([]string, error) {
	if e.reader != nil {
		e.addDep(t, k)
	}
	if t.kind == KindLazy {
		if t.eng != e {
			return nil, errors.New("a lazy collection can only be read where it was created")
		}
		return e.lazyGet(t, k)
	}
	return t.Values(k), nil
}

// Size counts the keys of t on behalf of the user code running now.
func (e *Engine) Size(t *Node) int {
	if e.reader != nil {
		e.addDep(t, allKey)
	}
	return t.Len()
}

func (e *Engine) addDep(t *Node, k string) {
	r := *e.reader
	byKey := e.deps[t]
	if byKey == nil {
		byKey = map[string]map[reader]struct{}{}
		e.deps[t] = byKey
	}
	rs := byKey[k]
	if rs == nil {
		rs = map[reader]struct{}{}
		byKey[k] = rs
	}
	if _, ok := rs[r]; ok {
		return
	}
	rs[r] = struct{}{}
	e.reads[r] = append(e.reads[r], target{t, k})
	e.log(func() {
		delete(rs, r)
		if ts := e.reads[r]; len(ts) > 0 {
			e.reads[r] = ts[:len(ts)-1]
		}
	})
}

// clearDeps forgets what r read, before r runs again.
func (e *Engine) clearDeps(r reader) {
	ts, ok := e.reads[r]
	if !ok {
		return
	}
	for _, t := range ts {
		delete(e.deps[t.n][t.k], r)
	}
	delete(e.reads, r)
	e.log(func() {
		for _, t := range ts {
			e.deps[t.n][t.k][r] = struct{}{}
		}
		e.reads[r] = ts
	})
}

// run calls f as reader r: reads inside f become r's dependencies.
func (e *Engine) run(r reader, f func() error) error {
	e.clearDeps(r)
	prev := e.reader
	e.reader = &r
	err := f()
	e.reader = prev
	return err
}

// trigger queues the readers of t's changed keys for recomputation.
func (e *Engine) trigger(t *Node, keys map[string]struct{}) {
	byKey := e.deps[t]
	if len(byKey) == 0 {
		return
	}
	add := func(rs map[reader]struct{}) {
		for r := range rs {
			s := e.pending[r.n]
			if s == nil {
				s = map[string]struct{}{}
				e.pending[r.n] = s
			}
			s[r.k] = struct{}{}
		}
	}
	if len(keys) > 0 {
		add(byKey[allKey])
	}
	if len(byKey) < len(keys) {
		for k, rs := range byKey {
			if _, ok := keys[k]; ok {
				add(rs)
			}
		}
		return
	}
	for k := range keys {
		add(byKey[k])
	}
}

// Propagate recomputes every node of e affected by the transaction's input
// changes and by ext, the changes of other engines' nodes that e reads.
// On error the caller rolls back.
func (e *Engine) Propagate(ext Changes) error {
	for t, keys := range ext {
		e.trigger(t, keys)
	}
	for t, keys := range e.changes {
		e.trigger(t, keys)
	}
	changesOf := func(p *Node) map[string]struct{} {
		if p.eng == e {
			return e.changes[p]
		}
		return ext[p]
	}
	for _, n := range e.nodes {
		if n.kind == KindInput {
			continue
		}
		var keys map[string]struct{}
		whole := false
		for _, p := range n.parents {
			ch := changesOf(p)
			if len(ch) == 0 {
				continue
			}
			if n.kind == KindTake {
				whole = true
				break
			}
			if keys == nil {
				keys = map[string]struct{}{}
			}
			for k := range ch {
				keys[k] = struct{}{}
			}
		}
		if dep := e.pending[n]; len(dep) > 0 {
			if keys == nil {
				keys = map[string]struct{}{}
			}
			for k := range dep {
				keys[k] = struct{}{}
			}
		}
		if !whole && len(keys) == 0 {
			continue
		}
		before := len(e.changes[n])
		if err := e.update(n, keys, whole, changesOf); err != nil {
			return err
		}
		if len(e.changes[n]) > before {
			e.trigger(n, e.changes[n])
		}
	}
	return nil
}

// update recomputes keys of n (whole: all of it).
func (e *Engine) update(n *Node, keys map[string]struct{}, whole bool, changesOf func(*Node) map[string]struct{}) error {
	switch n.kind {
	case KindMap:
		for _, k := range sortedSet(keys) {
			if err := e.remap(n, k); err != nil {
				return err
			}
		}
	case KindReduce:
		for _, k := range sortedSet(keys) {
			if err := e.rereduce(n, k); err != nil {
				return err
			}
		}
	case KindMerge:
		for k := range keys {
			e.setVals(n, k, n.merged(k))
		}
	case KindSlice:
		for k := range keys {
			if n.inRanges(decode(k)) {
				e.setVals(n, k, n.parents[0].Values(k))
			}
		}
	case KindTake:
		e.retake(n)
	case KindLazy:
		// A lazy key may read other keys of its own collection: forget
		// every memoized key that depends on a changed one, then compute
		// them again, each reading its own dependencies afresh.
		stale := map[string]struct{}{}
		var visit func(k string)
		visit = func(k string) {
			if _, done := stale[k]; done {
				return
			}
			if _, ok := n.computed[k]; !ok {
				return
			}
			stale[k] = struct{}{}
			for r := range e.deps[n][k] {
				if r.n == n {
					visit(r.k)
				}
			}
		}
		for k := range keys {
			visit(k)
		}
		for k := range stale {
			delete(n.computed, k)
			e.log(func() { n.computed[k] = struct{}{} })
		}
		for _, k := range sortedSet(stale) {
			if _, err := e.lazyGet(n, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// sortedSet orders keys as strings, so that user code runs in a
// deterministic order.
func sortedSet(s map[string]struct{}) []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ---- map

// Map adds a node mapping parent's entries through m.
func (e *Engine) Map(parent *Node, m Mapper) (*Node, error) {
	n := e.add(&Node{kind: KindMap, parents: []*Node{parent}, mapper: m,
		contrib: map[string][]Pair{}, srcOf: map[string]map[string][]string{}, dirty: map[string]struct{}{}})
	var err error
	parent.tab.ascend(nil, func(en *entry) bool {
		err = e.remap(n, en.key)
		return err == nil
	})
	return n, err
}

func (e *Engine) remap(n *Node, k string) error {
	vals := n.parents[0].Values(k)
	var pairs []Pair
	err := e.run(reader{n, k}, func() error {
		if len(vals) == 0 {
			return nil
		}
		var err error
		pairs, err = n.mapper.MapEntry(k, vals)
		return err
	})
	if err != nil {
		return err
	}
	old := n.contrib[k]
	if slices.Equal(old, pairs) {
		return nil
	}
	if len(pairs) == 0 {
		delete(n.contrib, k)
	} else {
		n.contrib[k] = pairs
	}
	e.log(func() {
		if len(old) == 0 {
			delete(n.contrib, k)
		} else {
			n.contrib[k] = old
		}
	})
	byOut := map[string][]string{}
	for _, p := range pairs {
		byOut[p.Key] = append(byOut[p.Key], p.Value)
	}
	oldByOut := map[string][]string{}
	for _, p := range old {
		oldByOut[p.Key] = append(oldByOut[p.Key], p.Value)
	}
	for ok := range oldByOut {
		if _, still := byOut[ok]; !still {
			byOut[ok] = nil
		}
	}
	for ok, vs := range byOut {
		ov := oldByOut[ok]
		if sameValues(ov, vs) {
			continue
		}
		e.contribute(n, ok, k, vs)
		d := e.deltaOf(n, ok)
		if d != nil {
			d.rem = append(d.rem, ov...)
			d.add = append(d.add, vs...)
		}
	}
	return nil
}

func (e *Engine) deltaOf(n *Node, k string) *delta {
	if e.deltas == nil {
		return nil
	}
	m := e.deltas[n]
	if m == nil {
		m = map[string]*delta{}
		e.deltas[n] = m
	}
	d := m[k]
	if d == nil {
		d = &delta{}
		m[k] = d
	}
	return d
}

// contribute sets the values source src gives to out key ok.
func (e *Engine) contribute(n *Node, ok, src string, vs []string) {
	srcs := n.srcOf[ok]
	old, had := srcs[src]
	e.setContribution(n, ok, src, vs)
	e.log(func() {
		if had {
			e.setContribution(n, ok, src, old)
		} else {
			e.setContribution(n, ok, src, nil)
		}
	})
	if n.watch && e.inTx {
		if n.old == nil {
			n.old = map[string][]string{}
		}
		if _, seen := n.old[ok]; !seen {
			n.old[ok] = slices.Clone(n.valuesFrom(srcs, src, old, had))
		}
	}
	e.mark(n, ok)
}

// valuesFrom is ok's values before src's contribution changed.
func (n *Node) valuesFrom(srcs map[string][]string, src string, old []string, had bool) []string {
	var out []string
	for _, s := range sortedKeys2(srcs) {
		if s == src {
			continue
		}
		out = append(out, srcs[s]...)
	}
	if had {
		out = append(out, old...)
	}
	return out
}

func (e *Engine) setContribution(n *Node, ok, src string, vs []string) {
	srcs := n.srcOf[ok]
	if len(vs) == 0 {
		if srcs != nil {
			delete(srcs, src)
			if len(srcs) == 0 {
				delete(n.srcOf, ok)
				delete(n.dirty, ok)
				n.tab.put(ok, nil, nil)
				return
			}
		}
	} else {
		if srcs == nil {
			srcs = map[string][]string{}
			n.srcOf[ok] = srcs
		}
		srcs[src] = vs
	}
	if srcs == nil {
		return
	}
	n.dirty[ok] = struct{}{}
	if n.tab.get(ok) == nil {
		n.tab.put(ok, []string{""}, nil) // placeholder, filled on read
		if en := n.tab.m[ok]; en != nil {
			en.vals = nil
		}
	}
}

// rebuild fills a map node's values of ok from its sources.
func (n *Node) rebuild(ok string) {
	if _, d := n.dirty[ok]; !d {
		return
	}
	delete(n.dirty, ok)
	srcs := n.srcOf[ok]
	en := n.tab.m[ok]
	if en == nil {
		return
	}
	if len(srcs) == 1 {
		for _, vs := range srcs {
			en.vals = vs
		}
		return
	}
	var out []string
	for _, s := range sortedKeys2(srcs) {
		out = append(out, srcs[s]...)
	}
	en.vals = out
}

func sortedKeys2(m map[string][]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// ---- merge, slice, take

// Merge adds a node whose values per key are those of all parents.
func (e *Engine) Merge(parents ...*Node) *Node {
	n := e.add(&Node{kind: KindMerge, parents: parents})
	for _, p := range parents {
		p.tab.ascend(nil, func(en *entry) bool {
			if n.tab.get(en.key) == nil {
				n.tab.put(en.key, n.merged(en.key), en.dec)
			}
			return true
		})
	}
	return n
}

func (n *Node) merged(k string) []string {
	if len(n.parents) == 1 {
		return n.parents[0].Values(k)
	}
	var out []string
	for _, p := range n.parents {
		out = append(out, p.Values(k)...)
	}
	return out
}

// Slice adds a node keeping the keys within any of ranges (both ends
// included).
func (e *Engine) Slice(parent *Node, ranges [][2]string) *Node {
	n := e.add(&Node{kind: KindSlice, parents: []*Node{parent}})
	for _, r := range ranges {
		n.ranges = append(n.ranges, [2]any{decode(r[0]), decode(r[1])})
	}
	parent.tab.ascend(nil, func(en *entry) bool {
		if n.inRanges(en.dec) {
			n.tab.put(en.key, parent.Values(en.key), en.dec)
		}
		return true
	})
	return n
}

func (n *Node) inRanges(k any) bool {
	for _, r := range n.ranges {
		if Compare(k, r[0]) >= 0 && Compare(k, r[1]) <= 0 {
			return true
		}
	}
	return false
}

// Take adds a node keeping the first limit key/value pairs in key order.
func (e *Engine) Take(parent *Node, limit int) *Node {
	n := e.add(&Node{kind: KindTake, parents: []*Node{parent}, limit: limit})
	for _, en := range n.taken() {
		n.tab.put(en.Key, en.Values, nil)
	}
	return n
}

func (n *Node) taken() []Entry {
	var out []Entry
	left := n.limit
	p := n.parents[0]
	if left <= 0 {
		return nil
	}
	p.tab.ascend(nil, func(en *entry) bool {
		vs := p.Values(en.key)
		if len(vs) > left {
			vs = vs[:left]
		}
		out = append(out, Entry{Key: en.key, Values: vs})
		left -= len(vs)
		return left > 0
	})
	return out
}

func (e *Engine) retake(n *Node) {
	now := n.taken()
	keep := make(map[string]struct{}, len(now))
	for _, en := range now {
		keep[en.Key] = struct{}{}
		e.setVals(n, en.Key, en.Values)
	}
	var gone []string
	n.tab.ascend(nil, func(en *entry) bool {
		if _, ok := keep[en.key]; !ok {
			gone = append(gone, en.key)
		}
		return true
	})
	for _, k := range gone {
		e.setVals(n, k, nil)
	}
}

// ---- lazy

// Lazy adds a lazy collection whose keys are computed on first read.
func (e *Engine) Lazy(c Compute) *Node {
	return e.add(&Node{kind: KindLazy, compute: c, computed: map[string]struct{}{}})
}

func (e *Engine) lazyGet(n *Node, k string) ([]string, error) {
	if _, ok := n.computed[k]; ok {
		return n.tab.get(k), nil
	}
	// Memoize before computing: a compute that reads its own key sees
	// nothing instead of recursing forever.
	n.computed[k] = struct{}{}
	e.log(func() { delete(n.computed, k) })
	if err := e.recompute(n, k); err != nil {
		return nil, err
	}
	return n.tab.get(k), nil
}

func (e *Engine) recompute(n *Node, k string) error {
	var vals []string
	err := e.run(reader{n, k}, func() error {
		var err error
		vals, err = n.compute.Compute(k)
		return err
	})
	if err != nil {
		return err
	}
	e.setVals(n, k, vals)
	return nil
}

// ---- reduce

// Reduce adds a node folding each key's values with r.
func (e *Engine) Reduce(parent *Node, r Reducer) (*Node, error) {
	n := e.add(&Node{kind: KindReduce, parents: []*Node{parent}, reducer: r})
	if parent.kind != KindMap {
		n.seen = map[string][]string{}
	}
	var err error
	parent.tab.ascend(nil, func(en *entry) bool {
		err = e.refold(n, en.key)
		return err == nil
	})
	return n, err
}

// refold computes k's accumulator from all its values.
func (e *Engine) refold(n *Node, k string) error {
	vals := n.parents[0].Values(k)
	if n.seen != nil {
		old, had := n.seen[k]
		if len(vals) == 0 {
			delete(n.seen, k)
		} else {
			n.seen[k] = vals
		}
		e.log(func() {
			if had {
				n.seen[k] = old
			} else {
				delete(n.seen, k)
			}
		})
	}
	if len(vals) == 0 {
		// A key that had an accumulator keeps one when its last value
		// goes, as Skip's reduce does: the reducer's initial value (Sum
		// and Count 0), none for Min and Max, which start from nothing.
		// A key that never had values has no accumulator.
		var keep []string
		if len(n.tab.get(k)) > 0 {
			if init, ok := n.reducer.Initial(); ok {
				keep = []string{init}
			}
		}
		e.setVals(n, k, keep)
		return nil
	}
	acc, has := n.reducer.Initial()
	for _, v := range vals {
		next, err := n.reducer.Add(acc, has, v)
		if err != nil {
			return err
		}
		acc, has = next, true
	}
	e.setVals(n, k, []string{acc})
	return nil
}

func (e *Engine) rereduce(n *Node, k string) error {
	var add, rem []string
	if n.seen != nil {
		old := n.seen[k]
		add, rem = diff(old, n.parents[0].Values(k))
	} else if d := e.deltas[n.parents[0]][k]; d != nil {
		add, rem = d.add, d.rem
	} else {
		return e.refold(n, k)
	}
	cur := n.tab.get(k)
	if len(cur) == 0 || !n.parents[0].has(k) {
		// No accumulator to update, or no values left: fold afresh
		// (refold keeps a vanished key at the initial value).
		return e.refold(n, k)
	}
	acc := cur[0]
	for _, v := range rem {
		next, ok, err := n.reducer.Remove(acc, v)
		if err != nil {
			return err
		}
		if !ok {
			return e.refold(n, k)
		}
		acc = next
	}
	for _, v := range add {
		next, err := n.reducer.Add(acc, true, v)
		if err != nil {
			return err
		}
		acc = next
	}
	if n.seen != nil {
		old, had := n.seen[k]
		n.seen[k] = n.parents[0].Values(k)
		e.log(func() {
			if had {
				n.seen[k] = old
			} else {
				delete(n.seen, k)
			}
		})
	}
	e.setVals(n, k, []string{acc})
	return nil
}

// diff returns the values added and removed from old to now (multisets).
func diff(old, now []string) (add, rem []string) {
	count := map[string]int{}
	for _, v := range old {
		count[v]++
	}
	for _, v := range now {
		if count[v] > 0 {
			count[v]--
			continue
		}
		add = append(add, v)
	}
	for _, v := range old {
		if count[v] > 0 {
			count[v]--
			rem = append(rem, v)
		}
	}
	return add, rem
}

// ErrNotNumber is returned by the native numeric reducers.
var ErrNotNumber = errors.New("not an integer")

// numberOf reads a value for Sum, Min or Max as Skip's native reducers
// do: they work on 64-bit integers, take a boolean as 1 or 0 (Skip stores
// booleans as those integers) and refuse anything else, fractions
// included.
func numberOf(what, v string) (float64, error) {
	switch v {
	case "true":
		return 1, nil
	case "false":
		return 0, nil
	}
	f, ok := parseNumber(v)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("%s: value %s is %w (Skip's Sum, Min and Max take integers and booleans only)", what, v, ErrNotNumber)
	}
	return f, nil
}

// Settle fills every value list that is built on first read, so that other
// engines may read e's nodes concurrently without writing to them.
func (e *Engine) Settle() {
	for _, n := range e.nodes {
		if n.kind != KindMap || len(n.dirty) == 0 {
			continue
		}
		for k := range n.dirty {
			n.rebuild(k)
		}
	}
}

// Track runs f (a resource's instantiate) recording what it reads: a later
// change of those keys makes Stale true, because what f built depends on
// data it read once instead of through an operator.
func (e *Engine) Track(f func() error) error {
	if e.root == nil {
		e.root = &Node{eng: e, kind: KindInput, Name: "instantiate"}
	}
	return e.run(reader{e.root, ""}, f)
}

// Stale reports whether the current transaction changed data that Track's
// function read.
func (e *Engine) Stale() bool {
	return e.root != nil && len(e.pending[e.root]) > 0
}
