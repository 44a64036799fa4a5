// Package store is Troupe's durable store: an embedded Pebble database and the
// commit pipeline through which actors make their writes durable without
// waiting on fsync themselves.
//
// An actor applies a command to its in-memory state, records the resulting
// writes in a Batch and hands it to Commit with a callback; the pipeline
// writes batches in the order they were handed over and calls each callback
// once its batch is as durable as the fsync policy promises. Callbacks run in
// commit order on the pipeline's goroutine, so replies sent from them leave in
// commit order too.
package store

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"
)

// Policy says when a committed batch counts as durable.
type Policy int

const (
	// SyncAlways: a batch's callback runs after the fsync that covers it. Every
	// batch queued while one fsync runs shares the next one (group commit).
	SyncAlways Policy = iota
	// SyncBatch: a batch's callback runs once Pebble has it in its write-ahead
	// log; an fsync runs every interval. A crash loses at most the writes
	// acknowledged during the last interval.
	SyncBatch
	// SyncNone: never fsync explicitly; the operating system decides.
	SyncNone
)

// ParsePolicy reads the --fsync flag's value.
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "always":
		return SyncAlways, nil
	case "batch":
		return SyncBatch, nil
	case "none":
		return SyncNone, nil
	}
	return 0, fmt.Errorf("fsync policy %q: want always, batch or none", s)
}

func (p Policy) String() string {
	return [...]string{"always", "batch", "none"}[p]
}

// ErrClosed is given to callbacks of batches committed after Close.
var ErrClosed = errors.New("store: closed")

// Options configure a Store.
type Options struct {
	Dir           string        // empty: memory only, nothing is written
	Policy        Policy        //
	SyncInterval  time.Duration // Batch policy: time between fsyncs
	QueueLength   int           // batches waiting for the pipeline before Commit blocks
	Logger        *slog.Logger  //
	ObserveCommit func(d time.Duration)
}

// Store is the process's one database. Keys are namespaced by their owners
// (each actor kind writes under its own prefix).
type Store struct {
	db      *pebble.DB // nil when memory only
	opts    Options
	queue   chan commit
	stop    chan struct{}
	stopped chan struct{}

	mu     sync.RWMutex // guards closed against Commit racing Close
	closed bool
}

type commit struct {
	batch *pebble.Batch
	done  func(error)
}

// Open opens (or creates) the store and starts its commit pipeline.
func Open(opts Options) (*Store, error) {
	if opts.QueueLength <= 0 {
		opts.QueueLength = 4096
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = 10 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Store{
		opts:    opts,
		queue:   make(chan commit, opts.QueueLength),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	if opts.Dir != "" {
		db, err := pebble.Open(opts.Dir, &pebble.Options{Logger: pebbleLogger{opts.Logger}})
		if err != nil {
			return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
		}
		s.db = db
	}
	go s.run()
	return s, nil
}

// Durable reports whether the store writes to disk.
func (s *Store) Durable() bool { return s.db != nil }

// Policy is the store's fsync policy.
func (s *Store) Policy() Policy { return s.opts.Policy }

// NewBatch returns an empty batch. In memory-only mode it records nothing.
func (s *Store) NewBatch() *Batch {
	// The Pebble batch is made by the first write: many batches (a read's,
	// an actor's spare one) never get any, and a Pebble batch that is not
	// committed is garbage rather than reused.
	return &Batch{db: s.db}
}

// Commit hands b to the pipeline; done runs once b is durable (or failed).
// Commit does not wait for the write; it blocks only when the pipeline's
// queue is full, which bounds the memory held by writes in flight.
func (s *Store) Commit(b *Batch, done func(error)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		done(ErrClosed)
		return
	}
	s.queue <- commit{batch: b.take(), done: done}
}

// Barrier waits until every batch committed before it is written. An actor
// restarted after a crash calls it before reading its state back, so that
// a write its previous incarnation handed over is not missed.
func (s *Store) Barrier() error {
	errc := make(chan error, 1)
	s.Commit(&Batch{}, func(err error) { errc <- err })
	return <-errc
}

// Scan calls fn for every key with the prefix, in key order. The slices are
// only valid during the call.
func (s *Store) Scan(prefix []byte, fn func(key, value []byte) error) error {
	if s.db == nil {
		return nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: PrefixEnd(prefix)})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	return errors.Join(it.Error(), it.Close())
}

// Get reads one key; found is false when it is absent.
func (s *Store) Get(key []byte) (value []byte, found bool, err error) {
	if s.db == nil {
		return nil, false, nil
	}
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	value = bytes.Clone(v)
	return value, true, closer.Close()
}

// Close drains the pipeline, syncs and closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.stopped
	if s.db == nil {
		return nil
	}
	err := s.db.LogData(nil, pebble.Sync)
	return errors.Join(err, s.db.Close())
}

// run is the commit pipeline. It takes every batch waiting, writes them in
// order, syncs once for the lot when the policy says so, then runs their
// callbacks in order.
func (s *Store) run() {
	defer close(s.stopped)
	var tick <-chan time.Time
	if s.db != nil && s.opts.Policy == SyncBatch {
		t := time.NewTicker(s.opts.SyncInterval)
		defer t.Stop()
		tick = t.C
	}
	group := make([]commit, 0, 256)
	errs := make([]error, 0, 256)
	for {
		select {
		case c := <-s.queue:
			group = append(group[:0], c)
		drain:
			for len(group) < cap(group) {
				select {
				case c := <-s.queue:
					group = append(group, c)
				default:
					break drain
				}
			}
			s.write(group, errs[:0])
		case <-tick:
			if err := s.db.LogData(nil, pebble.Sync); err != nil {
				s.opts.Logger.Error("store sync failed", "err", err)
			}
		case <-s.stop:
			// Commit cannot add more once closed is set; write what is left.
			for {
				select {
				case c := <-s.queue:
					s.write([]commit{c}, errs[:0])
				default:
					return
				}
			}
		}
	}
}

func (s *Store) write(group []commit, errs []error) {
	start := time.Now()
	// The group's batches go to Pebble as one: one trip through its commit
	// pipeline (and its write-ahead log) instead of one per batch, which is
	// what a hot actor's stream of small writes costs most. The commits stay
	// in order inside it, so a later write to a key still wins.
	var merged *pebble.Batch
	var err error
	for _, c := range group {
		switch {
		case c.batch == nil:
		case merged == nil:
			merged = c.batch
		default:
			if err == nil {
				err = merged.Apply(c.batch, nil)
			}
			c.batch.Close()
		}
	}
	wrote := merged != nil
	if wrote {
		if err == nil {
			err = s.db.Apply(merged, pebble.NoSync)
		}
		merged.Close()
	}
	for _, c := range group {
		if c.batch != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, nil)
		}
	}
	if wrote && s.opts.Policy == SyncAlways {
		if err := s.db.LogData(nil, pebble.Sync); err != nil {
			for i := range errs {
				if errs[i] == nil {
					errs[i] = err
				}
			}
		}
	}
	if wrote && s.opts.ObserveCommit != nil {
		s.opts.ObserveCommit(time.Since(start))
	}
	for i, c := range group {
		c.done(errs[i])
	}
}

// Batch collects the writes of one command (or of several, by one actor).
type Batch struct {
	db *pebble.DB // nil: memory only, the writes go nowhere
	b  *pebble.Batch
}

// open makes the Pebble batch on the first write; false without a store.
func (b *Batch) open() bool {
	if b.b == nil {
		if b.db == nil {
			return false
		}
		b.b = b.db.NewBatch()
	}
	return true
}

// Set records key = value.
func (b *Batch) Set(key, value []byte) {
	if b.open() {
		_ = b.b.Set(key, value, nil) // fails only on a closed batch
	}
}

// Delete records the removal of key.
func (b *Batch) Delete(key []byte) {
	if b.open() {
		_ = b.b.Delete(key, nil)
	}
}

// DeleteRange records the removal of every key in [start, end).
func (b *Batch) DeleteRange(start, end []byte) {
	if b.open() {
		_ = b.b.DeleteRange(start, end, nil)
	}
}

// Empty reports whether the batch holds no write.
func (b *Batch) Empty() bool { return b.b == nil || b.b.Empty() }

// take hands the underlying batch to the pipeline; b is empty afterwards.
func (b *Batch) take() *pebble.Batch {
	pb := b.b
	b.b = nil
	if pb != nil && pb.Empty() {
		pb.Close()
		return nil
	}
	return pb
}

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

// pebbleLogger sends Pebble's own messages to Troupe's log.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble")
	panic(fmt.Sprintf(format, args...))
}
