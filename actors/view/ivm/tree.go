package ivm

import (
	"iter"
	"math/rand/v2"
)

// A tree is the ordered index of a view: an order-statistic treap of
// entries, so that inserting, removing, ranking an entry and finding the
// entry at a rank all take O(log n), and a window of k rows is read in
// O(log n + k). The links live in the entries themselves, parent links
// included: removing and ranking an entry walk up from it and compare no
// keys, and no operation recurses (an actor's goroutine starts with a
// small stack, which deep recursion would have to grow on every message).
type tree struct {
	root *entry
	cmp  func(a, b *entry) int // a total order: no two entries compare equal
}

// node is the part of an entry that links it into a tree.
type node struct {
	left, right, parent *entry
	prio                uint64 // heap order: a parent's prio is at least its children's
	size                int    // entries in the subtree rooted here
}

func size(e *entry) int {
	if e == nil {
		return 0
	}
	return e.size
}

func (e *entry) fix() { e.size = 1 + size(e.left) + size(e.right) }

func (t *tree) len() int { return size(t.root) }

// insert inserts e and returns its rank: it goes down to a leaf, then
// rotates up to its place in the heap order.
func (t *tree) insert(e *entry) int {
	e.left, e.right, e.parent, e.prio, e.size = nil, nil, nil, rand.Uint64(), 1
	rank := 0
	var parent *entry
	left := false
	for n := t.root; n != nil; {
		n.size++
		parent = n
		if left = t.cmp(e, n) < 0; left {
			n = n.left
		} else {
			rank += size(n.left) + 1
			n = n.right
		}
	}
	e.parent = parent
	switch {
	case parent == nil:
		t.root = e
	case left:
		parent.left = e
	default:
		parent.right = e
	}
	for e.parent != nil && e.parent.prio < e.prio {
		t.rotateUp(e)
	}
	return rank
}

// rotateUp rotates x above its parent, keeping the order.
func (t *tree) rotateUp(x *entry) {
	p := x.parent
	g := p.parent
	if x == p.left {
		p.left = x.right
		if x.right != nil {
			x.right.parent = p
		}
		x.right = p
	} else {
		p.right = x.left
		if x.left != nil {
			x.left.parent = p
		}
		x.left = p
	}
	p.parent, x.parent = x, g
	t.relink(g, p, x)
	p.fix()
	x.fix()
}

// remove removes e, which must be in the tree: e rotates down until it has
// one child at most, which takes its place.
func (t *tree) remove(e *entry) {
	for e.left != nil && e.right != nil {
		c := e.left
		if e.right.prio > c.prio {
			c = e.right
		}
		t.rotateUp(c)
	}
	child := e.left
	if child == nil {
		child = e.right
	}
	p := e.parent
	if child != nil {
		child.parent = p
	}
	t.relink(p, e, child)
	for n := p; n != nil; n = n.parent {
		n.size--
	}
	e.left, e.right, e.parent = nil, nil, nil
}

// replace puts e in the place of old, which must be in the tree, when e
// orders as old does: e takes its links, priority and size, and no walk
// through the tree is needed (an update that leaves a row's place alone,
// such as any update of a view ordered by id).
func (t *tree) replace(old, e *entry) {
	e.node = old.node
	if e.left != nil {
		e.left.parent = e
	}
	if e.right != nil {
		e.right.parent = e
	}
	t.relink(e.parent, old, e)
	old.left, old.right, old.parent = nil, nil, nil
}

// relink makes x the child of p that old was (the root when p is nil).
func (t *tree) relink(p, old, x *entry) {
	switch {
	case p == nil:
		t.root = x
	case p.left == old:
		p.left = x
	default:
		p.right = x
	}
}

// rank returns the number of entries ordered before e, which must be in
// the tree.
func (t *tree) rank(e *entry) int {
	r := size(e.left)
	for n := e; n.parent != nil; n = n.parent {
		if n == n.parent.right {
			r += size(n.parent.left) + 1
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

// next returns the entry after e, or nil.
func next(e *entry) *entry {
	if e.right != nil {
		e = e.right
		for e.left != nil {
			e = e.left
		}
		return e
	}
	for e.parent != nil && e == e.parent.right {
		e = e.parent
	}
	return e.parent
}

// from iterates over the entries in order, starting at rank i.
func (t *tree) from(i int) iter.Seq[*entry] {
	return func(yield func(*entry) bool) {
		if i < 0 || i >= t.len() {
			return
		}
		for e := t.at(i); e != nil; e = next(e) {
			if !yield(e) {
				return
			}
		}
	}
}
