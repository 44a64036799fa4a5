package kv

import "container/heap"

// expiryHeap orders the keys that have an expiry, soonest first, so that a
// sweep finds what is due without scanning the shard. Each entry knows its
// index, so a changed or removed expiry is fixed in O(log n).
type expiryHeap []*entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expireAt < h[j].expireAt }

func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}

func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.heapIdx = len(*h)
	*h = append(*h, e)
}

func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.heapIdx = -1
	return e
}

// countExpired counts the entries expired at now. It visits only those and
// their children: a heap's subtree never holds an earlier expiry than its
// root.
func (h expiryHeap) countExpired(now int64) int {
	n := 0
	stack := []int{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i >= len(h) || !h[i].expired(now) {
			continue
		}
		n++
		stack = append(stack, 2*i+1, 2*i+2)
	}
	return n
}

// setExpiry gives e the absolute expiry at (0 = never).
func (s *Shard) setExpiry(e *entry, at int64) {
	e.expireAt = at
	switch {
	case at == 0 && e.heapIdx >= 0:
		heap.Remove(&s.expiry, e.heapIdx)
	case at != 0 && e.heapIdx >= 0:
		heap.Fix(&s.expiry, e.heapIdx)
	case at != 0:
		heap.Push(&s.expiry, e)
	}
}
