package ivm

import (
	"iter"
	"slices"
)

// An ordered column also keeps its numeric keys in order, so that a view
// ranged on its path (price > 10 AND price < 20, see rangeGuard) loads and
// refills from the records in its range and not from the whole table. Its
// other keys (strings, NONE, numbers too large to range) are kept apart:
// a WHERE can accept them too (a string is greater than every number), so
// their records are candidates of every range.
type ordered struct {
	chunks [][]numKey // sorted, each of at most maxChunk keys
	others map[any]bool
}

// A numKey is a column key that is a number, with its value as a float
// (exact: see exactNumber).
type numKey struct {
	f   float64
	key any
}

// maxChunk bounds a chunk of ordered keys: a key comes or goes at the cost
// of a search and a shift within one chunk.
const maxChunk = 256

// ordering returns the column's ordered keys, building them the first time.
func (c *column) ordering() *ordered {
	if c.order == nil {
		c.order = &ordered{others: make(map[any]bool)}
		for k := range c.buckets {
			c.order.add(k)
		}
	}
	return c.order
}

// find returns the chunk and index within it where f is or would go.
func (o *ordered) find(f float64) (int, int) {
	ci, _ := slices.BinarySearchFunc(o.chunks, f, func(ch []numKey, f float64) int {
		if ch[len(ch)-1].f < f {
			return -1
		}
		return 1
	})
	if ci == len(o.chunks) {
		if ci == 0 {
			return 0, 0
		}
		ci--
		return ci, len(o.chunks[ci])
	}
	i, _ := slices.BinarySearchFunc(o.chunks[ci], f, func(k numKey, f float64) int {
		if k.f < f {
			return -1
		}
		return 1
	})
	return ci, i
}

// add adds a key of the column, new to it.
func (o *ordered) add(key any) {
	f, ok := exactNumber(key)
	if !ok {
		o.others[key] = true
		return
	}
	ci, i := o.find(f)
	if ci == len(o.chunks) {
		o.chunks = append(o.chunks, nil)
	}
	ch := slices.Insert(o.chunks[ci], i, numKey{f: f, key: key})
	if len(ch) > maxChunk { // split in two halves
		half := slices.Clone(ch[len(ch)/2:])
		ch = ch[: len(ch)/2 : len(ch)/2]
		o.chunks = slices.Insert(o.chunks, ci+1, half)
	}
	o.chunks[ci] = ch
}

// remove removes a key the column no longer has.
func (o *ordered) remove(key any) {
	f, ok := exactNumber(key)
	if !ok {
		delete(o.others, key)
		return
	}
	// Keys equal as floats are one key: valueKey makes 2.0 the integer 2.
	ci, i := o.find(f)
	ch := slices.Delete(o.chunks[ci], i, i+1)
	if len(ch) == 0 {
		o.chunks = slices.Delete(o.chunks, ci, ci+1)
		return
	}
	o.chunks[ci] = ch
}

// keys iterates over the numeric keys in [lo, hi], then the other keys.
func (o *ordered) keys(lo, hi float64) iter.Seq[any] {
	return func(yield func(any) bool) {
		ci, i := o.find(lo)
	numbers:
		for ; ci < len(o.chunks); ci, i = ci+1, 0 {
			for _, k := range o.chunks[ci][i:] {
				if k.f > hi {
					break numbers
				}
				if !yield(k.key) {
					return
				}
			}
		}
		for k := range o.others {
			if !yield(k) {
				return
			}
		}
	}
}
