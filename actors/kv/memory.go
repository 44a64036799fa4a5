package kv

import "sync/atomic"

// Approximate bytes charged per key and per collection element on top of the
// bytes of keys, fields, members and values: roughly what the Go maps, btree
// nodes and headers holding them cost. The figures only need to be stable,
// so that removing what was added returns the count to where it was.
const (
	keyOverhead     = 64
	elementOverhead = 32
	zsetOverhead    = 48 // a member sits in the score tree and the member map
)

// Memory is the byte budget shared by every shard of a process. Shards charge
// it for what they hold; a write that would take it past a non-zero limit is
// refused before it changes anything. Deletes are always allowed.
type Memory struct {
	used  atomic.Int64
	limit int64
}

// NewMemory returns a budget of limit bytes; 0 means no limit.
func NewMemory(limit int64) *Memory {
	return &Memory{limit: limit}
}

// Used returns the bytes currently charged by all shards.
func (m *Memory) Used() int64 { return m.used.Load() }

// Limit returns the budget; 0 means none.
func (m *Memory) Limit() int64 { return m.limit }

// add charges n bytes (n < 0 gives them back). It refuses, changing nothing,
// a growth that would pass the limit. Shards charge concurrently, hence the
// compare-and-swap rather than a check followed by an add.
func (m *Memory) add(n int64) bool {
	if n <= 0 || m.limit <= 0 {
		m.used.Add(n)
		return true
	}
	for {
		used := m.used.Load()
		if used+n > m.limit {
			return false
		}
		if m.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}
