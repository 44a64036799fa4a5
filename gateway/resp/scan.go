package resp

import (
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sync"
)

// cursorTable maps SCAN cursors to the key a page ended at. It is the
// server's, not a connection's: a pooled client (go-redis, rueidis) may
// ask for the next page on another connection. Cursors are random, so a
// cursor from before a restart is unknown rather than silently another
// scan's; the oldest are forgotten past the bound.
type cursorTable struct {
	mu    sync.Mutex
	after map[uint64]string
	ring  []uint64 // cursors in the order given, oldest at next
	next  int
}

func newCursorTable(bound int) *cursorTable {
	return &cursorTable{after: make(map[uint64]string, min(bound, 1024)), ring: make([]uint64, bound)}
}

// add remembers where a page ended and returns its cursor (never 0).
func (t *cursorTable) add(after string) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var cur uint64
	for cur == 0 || t.has(cur) {
		cur = rand.Uint64() >> 1 // positive as a signed integer too, for clients that parse it so
	}
	if old := t.ring[t.next]; old != 0 {
		delete(t.after, old)
	}
	t.ring[t.next] = cur
	t.next = (t.next + 1) % len(t.ring)
	t.after[cur] = after
	return cur
}

func (t *cursorTable) has(cur uint64) bool {
	_, ok := t.after[cur]
	return ok
}

// get returns where cursor's page ended.
func (t *cursorTable) get(cur uint64) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	after, ok := t.after[cur]
	return after, ok
}

// smallCollection is the size up to which HSCAN, SSCAN and ZSCAN answer a
// collection in one page, as Redis does for its compact encodings (128
// entries by default).
const smallCollection = 128

// scanHash places an element in a collection scan's order. It is never 0
// (cursor 0 starts and ends a scan) and depends on the element only, so a
// cursor stays valid across writes, connections and restarts.
func scanHash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64() | 1
}

// pageOf is one page of a collection scan (HSCAN, SSCAN, ZSCAN): the
// elements (by index into names) whose scanHash is past cursor, in hash
// order, at least count of them when there are that many, and the cursor
// of the next page (0 after the last). Elements of equal hash are never
// split between pages, so an element present for the whole scan is
// returned exactly once, however the collection changes meanwhile, the
// guarantee Redis gives (which allows repeats).
func pageOf(names []string, cursor uint64, count int) ([]int, uint64) {
	if cursor == 0 && len(names) <= smallCollection {
		all := make([]int, len(names))
		for i := range all {
			all[i] = i
		}
		return all, 0
	}
	type hashed struct {
		h uint64
		i int
	}
	var rest []hashed
	for i, n := range names {
		if h := scanHash(n); h > cursor {
			rest = append(rest, hashed{h, i})
		}
	}
	slices.SortFunc(rest, func(a, b hashed) int {
		switch {
		case a.h < b.h:
			return -1
		case a.h > b.h:
			return 1
		}
		return a.i - b.i
	})
	n := min(count, len(rest))
	for n < len(rest) && n > 0 && rest[n].h == rest[n-1].h {
		n++
	}
	page := make([]int, n)
	for i := range page {
		page[i] = rest[i].i
	}
	if n == len(rest) {
		return page, 0
	}
	return page, rest[n-1].h
}

// collectionScan reads HSCAN/SSCAN/ZSCAN's cursor and options.
func collectionScan(c *conn, a [][]byte) (cursor uint64, match string, count int, ok bool) {
	cursor, ok = parseUint(a[2])
	if !ok {
		c.w.err("ERR invalid cursor")
		return 0, "", 0, false
	}
	count = 10
	for i := 3; i < len(a); i++ {
		switch {
		case eq(a[i], "MATCH") && i+1 < len(a):
			match = string(a[i+1])
			i++
		case eq(a[i], "COUNT") && i+1 < len(a):
			n, ok := argInt(a[i+1])
			if !ok {
				c.w.err(notInteger)
				return 0, "", 0, false
			}
			if n < 1 {
				c.w.err(syntaxErr)
				return 0, "", 0, false
			}
			count = int(min(n, 1<<20))
			i++
		default:
			c.w.err(syntaxErr)
			return 0, "", 0, false
		}
	}
	return cursor, match, count, true
}
