package store

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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

// Options configure a Pebble journal.
type Options struct {
	Dir           string        // empty: memory only, nothing is written
	Policy        Policy        //
	SyncInterval  time.Duration // Batch policy: time between fsyncs
	QueueLength   int           // batches waiting for the pipeline before Commit blocks
	Logger        *slog.Logger  //
	ObserveCommit func(d time.Duration)
	ObserveSync   func() // each fsync of the log
}

// Pebble is the journal in an embedded Pebble database, or in no database
// at all (memory only: every batch is empty, every scan finds nothing).
// Keys are namespaced by their owners (each actor writes under its own
// prefix).
type Pebble struct {
	db      *pebble.DB // nil when memory only
	opts    Options
	queue   chan commit
	stop    chan struct{}
	stopped chan struct{}

	// wmu is held by whoever writes batches and runs their callbacks: the
	// pipeline's goroutine, or a committer that found it idle (see
	// enqueue). It keeps the writes, and the callbacks, one at a time.
	wmu sync.Mutex
	// pending counts the commits handed to the queue and not yet written;
	// a committer writes its batch itself only when it is zero, so a batch
	// is never written before one committed earlier.
	pending atomic.Int64
	// unsynced: batches were written since the last fsync (under wmu).
	unsynced bool

	mu     sync.RWMutex // guards closed against Commit racing Close
	closed bool
}

var _ Journal = (*Pebble)(nil)

type commit struct {
	batch *pebble.Batch
	done  func(error)
}

// Open opens (or creates) the Pebble journal and starts its commit
// pipeline.
func Open(opts Options) (*Pebble, error) {
	if opts.QueueLength <= 0 {
		opts.QueueLength = 4096
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = 10 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Pebble{
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
func (s *Pebble) Durable() bool { return s.db != nil }

// Policy is the store's fsync policy.
func (s *Pebble) Policy() Policy { return s.opts.Policy }

// NewBatch returns an empty batch. In memory-only mode it records nothing.
func (s *Pebble) NewBatch() Batch {
	if s.db == nil {
		return discard{}
	}
	// The Pebble batch is made by the first write: many batches (a read's,
	// an actor's spare one) never get any, and a Pebble batch that is not
	// committed is garbage rather than reused.
	return &pebbleBatch{db: s.db}
}

// Commit hands b to the pipeline (see Journal.Commit); it blocks only when
// QueueLength batches wait.
func (s *Pebble) Commit(b Batch, done func(error)) {
	var raw *pebble.Batch
	switch b := b.(type) {
	case *pebbleBatch:
		raw = b.take()
	case discard:
	default:
		panic(fmt.Sprintf("store: a %T committed to the Pebble journal", b))
	}
	s.enqueue(commit{batch: raw, done: done})
}

func (s *Pebble) enqueue(c commit) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		c.done(ErrClosed)
		return
	}
	// A pipeline with nothing waiting and nothing being written: the
	// committer writes its batch and runs its callback itself, as
	// system.CallerRuns runs an idle actor, saving the hand-off to the
	// pipeline's goroutine and back (one park and wake-up each) on every
	// unpipelined durable write. Under SyncAlways the pipeline's goroutine
	// keeps the writes, so that batches arriving during an fsync share the
	// next one. A callback run here that commits again (by sending to an
	// actor that runs on this goroutine) finds wmu held and queues: at most
	// --caller-runs-batch such commits, far below QueueLength. The write
	// runs without mu: such a commit takes it again, which a Close waiting
	// for mu would block; Close waits for wmu before closing the database.
	if s.opts.Policy != SyncAlways && s.pending.Load() == 0 && s.wmu.TryLock() {
		if s.pending.Load() == 0 {
			s.mu.RUnlock()
			var errs [1]error
			s.write([]commit{c}, errs[:0])
			s.wmu.Unlock()
			return
		}
		s.wmu.Unlock()
	}
	s.pending.Add(1)
	s.queue <- c
	s.mu.RUnlock()
}

// Barrier waits until every batch committed before it is written (see
// Journal.Barrier).
func (s *Pebble) Barrier() error {
	errc := make(chan error, 1)
	s.enqueue(commit{done: func(err error) { errc <- err }})
	return <-errc
}

// Scan calls fn for every key with the prefix, in key order (see Reader).
func (s *Pebble) Scan(prefix []byte, fn func(key, value []byte) error) error {
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
func (s *Pebble) Get(key []byte) (value []byte, found bool, err error) {
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
func (s *Pebble) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.stopped
	// A committer that found the pipeline idle may still be writing.
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.sync() // the pipeline has stopped: its state is ours
	return errors.Join(err, s.db.Close())
}

// run is the commit pipeline. It takes every batch waiting, writes them in
// order, syncs once for the lot when the policy says so, then runs their
// callbacks in order.
func (s *Pebble) run() {
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
			s.wmu.Lock()
			s.write(group, errs[:0])
			s.pending.Add(-int64(len(group)))
			s.wmu.Unlock()
		case <-tick:
			// An idle store has nothing to make durable: no fsync.
			s.wmu.Lock()
			if s.unsynced {
				s.sync()
			}
			s.wmu.Unlock()
		case <-s.stop:
			// Commit cannot add more once closed is set; write what is left.
			for {
				select {
				case c := <-s.queue:
					s.wmu.Lock()
					s.write([]commit{c}, errs[:0])
					s.pending.Add(-1)
					s.wmu.Unlock()
				default:
					return
				}
			}
		}
	}
}

func (s *Pebble) write(group []commit, errs []error) {
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
		if err := s.sync(); err != nil {
			for i := range errs {
				if errs[i] == nil {
					errs[i] = err
				}
			}
		}
	}
	s.unsynced = s.unsynced || wrote
	if wrote && s.opts.ObserveCommit != nil {
		s.opts.ObserveCommit(time.Since(start))
	}
	for i, c := range group {
		c.done(errs[i])
	}
}

// sync makes the log durable. Its caller holds wmu, or the pipeline has
// stopped.
func (s *Pebble) sync() error {
	if err := s.db.LogData(nil, pebble.Sync); err != nil {
		s.opts.Logger.Error("store sync failed", "err", err)
		return err
	}
	s.unsynced = false
	if s.opts.ObserveSync != nil {
		s.opts.ObserveSync()
	}
	return nil
}

// pebbleBatch is a Batch of the Pebble journal.
type pebbleBatch struct {
	db *pebble.DB
	b  *pebble.Batch // made by the first write
}

func (b *pebbleBatch) open() *pebble.Batch {
	if b.b == nil {
		b.b = b.db.NewBatch()
	}
	return b.b
}

func (b *pebbleBatch) Set(key, value []byte) {
	_ = b.open().Set(key, value, nil) // fails only on a closed batch
}

func (b *pebbleBatch) Delete(key []byte) { _ = b.open().Delete(key, nil) }

func (b *pebbleBatch) DeleteRange(start, end []byte) { _ = b.open().DeleteRange(start, end, nil) }

func (b *pebbleBatch) Empty() bool { return b.b == nil || b.b.Empty() }

// take hands the underlying batch to the pipeline; b is empty afterwards.
func (b *pebbleBatch) take() *pebble.Batch {
	pb := b.b
	b.b = nil
	if pb != nil && pb.Empty() {
		pb.Close()
		return nil
	}
	return pb
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
