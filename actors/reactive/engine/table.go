package engine

import (
	"slices"

	"github.com/tidwall/btree"
)

// entry is one key of a collection with its values (never empty while in
// a table).
type entry struct {
	key  string
	dec  any // decoded key, for ordering
	vals []string
}

// table holds a collection's contents: a map for lookups and a B-tree for
// Skip's key order (snapshots, slice, take).
type table struct {
	m map[string]*entry
	t *btree.BTreeG[*entry]
}

func newTable() *table {
	return &table{
		m: map[string]*entry{},
		t: btree.NewBTreeGOptions(func(a, b *entry) bool { return Compare(a.dec, b.dec) < 0 }, btree.Options{NoLocks: true}),
	}
}

func (t *table) get(k string) []string {
	if e, ok := t.m[k]; ok {
		return e.vals
	}
	return nil
}

// put sets k's values (none: deletes k) without undo.
func (t *table) put(k string, vals []string, dec any) {
	e, ok := t.m[k]
	if len(vals) == 0 {
		if ok {
			delete(t.m, k)
			t.t.Delete(e)
		}
		return
	}
	if ok {
		e.vals = vals
		return
	}
	if dec == nil && k != "null" {
		dec = decode(k)
	}
	e = &entry{key: k, dec: dec, vals: vals}
	t.m[k] = e
	t.t.Set(e)
}

func (t *table) len() int { return len(t.m) }

// ascend visits entries in key order from the first key >= from (nil: all).
func (t *table) ascend(from *entry, fn func(e *entry) bool) {
	if from == nil {
		t.t.Scan(fn)
		return
	}
	t.t.Ascend(from, fn)
}

// SameValues reports whether a and b hold the same multiset of values.
func SameValues(a, b []string) bool { return sameValues(a, b) }

// sameValues reports whether a and b hold the same multiset of values.
func sameValues(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	if slices.Equal(a, b) {
		return true
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
