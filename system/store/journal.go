// Package store holds Troupe's journal: where durable actors keep their
// state, and the commit pipeline through which they make writes durable
// without waiting on fsync themselves.
//
// An actor applies a command to its in-memory state, records the resulting
// writes in a Batch and hands it to Commit with a callback; the journal
// writes batches in the order they were handed over and calls each callback
// once its batch is durable. Callbacks run in commit order, so replies sent
// from them leave in commit order too. An actor's keys live under a prefix
// of its own (its identity), which is what it scans to recover.
//
// Pebble, embedded, is the implementation (memory only when it has no
// folder). The interface asks nothing a database server could not give: a
// PostgreSQL journal keeps one row per key, writes each group of waiting
// batches in one transaction (group commit), runs their callbacks after
// that transaction commits, and scans a prefix as a key range in key order.
package store

import "bytes"

// Journal is the store the durable actors write through.
type Journal interface {
	Reader

	// NewBatch returns an empty batch for one command's writes (or
	// several, by one actor). It belongs to this journal.
	NewBatch() Batch

	// Commit hands b over and returns without waiting for the write; done
	// runs once b is durable, or with the error that kept it from being.
	// Batches are written in the order they were handed over, and their
	// callbacks run in that order, one at a time; a callback may only send
	// messages. Batches waiting together are written together (group
	// commit). Commit blocks only when too many batches wait, which bounds
	// the memory held by writes in flight. Every callback runs, with
	// ErrClosed after Close.
	Commit(b Batch, done func(error))

	// Barrier returns once every batch committed before it is written. An
	// actor restarted after a crash calls it before reading its state back,
	// so that a write its previous incarnation handed over is not missed.
	Barrier() error

	// Durable reports whether writes outlive the process.
	Durable() bool

	// Close writes what is waiting and closes the journal.
	Close() error
}

// Reader reads the journal.
type Reader interface {
	// Scan calls fn for every key with the prefix, in key order (bytewise).
	// The slices are only valid during the call.
	Scan(prefix []byte, fn func(key, value []byte) error) error

	// Get reads one key; found is false when it is absent.
	Get(key []byte) (value []byte, found bool, err error)
}

// Batch collects writes that become durable together.
type Batch interface {
	// Set records key = value. An implementation may keep the slices
	// until the batch is written, so callers must not modify them after
	// handing them over.
	Set(key, value []byte)
	// Delete records the removal of key.
	Delete(key []byte)
	// DeleteRange records the removal of every key in [start, end).
	DeleteRange(start, end []byte)
	// Empty reports whether the batch holds no write.
	Empty() bool
}

// discard is the batch of a journal that keeps nothing: writes go nowhere.
type discard struct{}

func (discard) Set(_, _ []byte)         {}
func (discard) Delete([]byte)           {}
func (discard) DeleteRange(_, _ []byte) {}
func (discard) Empty() bool             { return true }

// PrefixEnd is the first key after every key that starts with prefix.
func PrefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // every byte is 0xff: no upper bound
}
