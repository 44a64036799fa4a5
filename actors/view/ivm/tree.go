package ivm

import (
	"iter"
	"math/rand/v2"
)

// A tree is the ordered index of a view: an order-statistic treap of
// entries, so that inserting, removing, ranking an entry and finding the
// entry at a rank all take O(log n), and a window of k rows is read in
// O(log n + k). The links live in the entries themselves.
type tree struct {
	root *entry
	cmp  func(a, b *entry) int // a total order: no two entries compare equal
}

// node is the part of an entry that links it into a tree.
type node struct {
	left, right *entry
	prio        uint64 // heap order: a parent's prio is at least its children's
	size        int    // entries in the subtree rooted here
}

func size(e *entry) int {
	if e == nil {
		return 0
	}
	return e.size
}

func (e *entry) fix() { e.size = 1 + size(e.left) + size(e.right) }

func (t *tree) len() int { return size(t.root) }

// insert inserts e and returns its rank.
func (t *tree) insert(e *entry) int {
	e.left, e.right, e.prio, e.size = nil, nil, rand.Uint64(), 1
	l, r := t.split(t.root, e)
	rank := size(l)
	t.root = merge(merge(l, e), r)
	return rank
}

// split divides the subtree n into the entries before e and those after.
func (t *tree) split(n, e *entry) (l, r *entry) {
	if n == nil {
		return nil, nil
	}
	if t.cmp(n, e) < 0 {
		n.right, r = t.split(n.right, e)
		n.fix()
		return n, r
	}
	l, n.left = t.split(n.left, e)
	n.fix()
	return l, n
}

// merge joins two subtrees whose entries are all ordered l before r.
func merge(l, r *entry) *entry {
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	case l.prio > r.prio:
		l.right = merge(l.right, r)
		l.fix()
		return l
	}
	r.left = merge(l, r.left)
	r.fix()
	return r
}

// remove removes e, which must be in the tree, and returns the rank it had.
func (t *tree) remove(e *entry) int {
	var rank int
	t.root = t.removeFrom(t.root, e, &rank)
	return rank
}

func (t *tree) removeFrom(n, e *entry, rank *int) *entry {
	if n == nil {
		return nil
	}
	switch c := t.cmp(e, n); {
	case c < 0:
		n.left = t.removeFrom(n.left, e, rank)
	case c > 0:
		*rank += size(n.left) + 1
		n.right = t.removeFrom(n.right, e, rank)
	default:
		*rank += size(n.left)
		return merge(n.left, n.right)
	}
	n.fix()
	return n
}

// rank returns the number of entries ordered before e.
func (t *tree) rank(e *entry) int {
	r := 0
	for n := t.root; n != nil; {
		switch c := t.cmp(e, n); {
		case c < 0:
			n = n.left
		case c > 0:
			r += size(n.left) + 1
			n = n.right
		default:
			return r + size(n.left)
		}
	}
	return r
}

// at returns the entry of rank i, which must be less than t.len().
func (t *tree) at(i int) *entry {
	n := t.root
	for {
		switch l := size(n.left); {
		case i < l:
			n = n.left
		case i == l:
			return n
		default:
			i -= l + 1
			n = n.right
		}
	}
}

// from iterates over the entries in order, starting at rank i.
func (t *tree) from(i int) iter.Seq[*entry] {
	return func(yield func(*entry) bool) {
		// The stack holds the entries yet to visit, the next one last;
		// each one's right subtree comes right after it.
		var stack []*entry
		for n := t.root; n != nil; {
			switch l := size(n.left); {
			case i < l:
				stack = append(stack, n)
				n = n.left
			case i == l:
				stack = append(stack, n)
				n = nil
			default:
				i -= l + 1
				n = n.right
			}
		}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if !yield(n) {
				return
			}
			for m := n.right; m != nil; m = m.left {
				stack = append(stack, m)
			}
		}
	}
}
