package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schemaVersion is the version of the tables Postgres creates. A database
// holding a newer one was written by a newer Troupe and is refused.
const schemaVersion = 1

// The journal is one table of keys and values. bytea compares bytewise,
// so key order is the order Pebble scans in.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS troupe_schema (version integer NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS troupe_journal (key bytea PRIMARY KEY, value bytea NOT NULL)`,
}

// PostgresOptions configure a PostgreSQL journal.
type PostgresOptions struct {
	URL           string // postgres://user@host/db?...
	QueueLength   int    // batches waiting for the pipeline before Commit blocks
	MaxConns      int32  // connections of the pool (the pipeline holds one while it writes)
	Logger        *slog.Logger
	ObserveCommit func(d time.Duration)
	ObserveSync   func() // each transaction committed
	// Timeout bounds each round trip to the server: a Get, a whole Scan,
	// and the write of a group. A server that stops answering then fails
	// the read or the commit (the actor restarts and tries again) instead
	// of holding an actor or the whole pipeline forever. 0: one minute.
	Timeout time.Duration
}

// Postgres is the journal in a PostgreSQL database. Its pipeline writes
// every batch waiting in one transaction (group commit) and runs their
// callbacks once that transaction has committed, which with the server's
// default synchronous_commit means it is on the server's disk.
type Postgres struct {
	pool    *pgxpool.Pool
	opts    PostgresOptions
	queue   chan pgCommit
	stop    chan struct{}
	stopped chan struct{}

	mu     sync.RWMutex // guards closed against Commit racing Close
	closed bool
}

var _ Journal = (*Postgres)(nil)

type pgCommit struct {
	ops  []pgOp // none: an empty batch, or a barrier
	done func(error)
}

// OpenPostgres connects, creates the journal's tables when they are not
// there, and starts the commit pipeline.
func OpenPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	if opts.QueueLength <= 0 {
		opts.QueueLength = 4096
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	p := &Postgres{
		pool:    pool,
		opts:    opts,
		queue:   make(chan pgCommit, opts.QueueLength),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go p.run()
	return p, nil
}

// migrate creates the tables and records their version, in one
// transaction; a lock keeps two Troupes starting on one database apart.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7416)`); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		for _, stmt := range schema {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("journal: creating the tables: %w", err)
			}
		}
		var version int
		err := tx.QueryRow(ctx, `SELECT version FROM troupe_schema`).Scan(&version)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			_, err = tx.Exec(ctx, `INSERT INTO troupe_schema (version) VALUES ($1)`, schemaVersion)
			return err
		case err != nil:
			return fmt.Errorf("journal: reading the schema version: %w", err)
		case version > schemaVersion:
			return fmt.Errorf("journal: the database holds schema version %d, newer than this Troupe's %d", version, schemaVersion)
		}
		return nil
	})
}

// Durable is true: the journal outlives the process.
func (p *Postgres) Durable() bool { return true }

// NewBatch returns an empty batch.
func (p *Postgres) NewBatch() Batch { return &pgBatch{} }

// Commit hands b to the pipeline (see Journal.Commit).
func (p *Postgres) Commit(b Batch, done func(error)) {
	var ops []pgOp
	switch b := b.(type) {
	case *pgBatch:
		ops, b.ops = b.ops, nil
	case discard:
	default:
		panic(fmt.Sprintf("store: a %T committed to the PostgreSQL journal", b))
	}
	// An empty batch goes through the pipeline all the same, so that its
	// callback runs after those of the batches committed before it.
	p.enqueue(pgCommit{ops: ops, done: done})
}

func (p *Postgres) enqueue(c pgCommit) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		c.done(ErrClosed)
		return
	}
	p.queue <- c
}

// Barrier waits until every batch committed before it is written.
func (p *Postgres) Barrier() error {
	errc := make(chan error, 1)
	p.enqueue(pgCommit{done: func(err error) { errc <- err }})
	return <-errc
}

// Scan calls fn for every key with the prefix, in key order.
func (p *Postgres) Scan(prefix []byte, fn func(key, value []byte) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.Timeout)
	defer cancel()
	var rows pgx.Rows
	var err error
	if end := PrefixEnd(prefix); end != nil {
		rows, err = p.pool.Query(ctx, `SELECT key, value FROM troupe_journal WHERE key >= $1 AND key < $2 ORDER BY key`, prefix, end)
	} else {
		rows, err = p.pool.Query(ctx, `SELECT key, value FROM troupe_journal WHERE key >= $1 ORDER BY key`, prefix)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	var key, value []byte
	for rows.Next() {
		if err := rows.Scan(&key, &value); err != nil {
			return err
		}
		if err := fn(key, value); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Get reads one key.
func (p *Postgres) Get(key []byte) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.Timeout)
	defer cancel()
	var value []byte
	err := p.pool.QueryRow(ctx, `SELECT value FROM troupe_journal WHERE key = $1`, key).Scan(&value)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return value, true, nil
}

// Close writes what is waiting and closes the pool.
func (p *Postgres) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	close(p.stop)
	<-p.stopped
	p.pool.Close()
	return nil
}

// run is the commit pipeline: it takes every batch waiting and writes
// them in one transaction, then runs their callbacks in order.
func (p *Postgres) run() {
	defer close(p.stopped)
	group := make([]pgCommit, 0, 256)
	for {
		select {
		case c := <-p.queue:
			group = append(group[:0], c)
		drain:
			for len(group) < cap(group) {
				select {
				case c := <-p.queue:
					group = append(group, c)
				default:
					break drain
				}
			}
			p.write(group)
		case <-p.stop:
			// Commit cannot add more once closed is set; write what is left.
			for {
				select {
				case c := <-p.queue:
					p.write([]pgCommit{c})
				default:
					return
				}
			}
		}
	}
}

func (p *Postgres) write(group []pgCommit) {
	start := time.Now()
	var batch pgx.Batch
	statements(group, &batch)
	var err error
	if batch.Len() > 0 {
		// One round trip: the statements of a batch sent together run in
		// one implicit transaction, committed at its end, all or none.
		// The pipeline outlives every request, so no caller's context
		// bounds it; Timeout does. A write cut off by it may still commit
		// on the server: its actors restart and recover what is there.
		ctx, cancel := context.WithTimeout(context.Background(), p.opts.Timeout)
		err = p.pool.SendBatch(ctx, &batch).Close()
		cancel()
		if err != nil {
			p.opts.Logger.Error("journal write failed", "batches", len(group), "err", err)
		} else if p.opts.ObserveSync != nil {
			p.opts.ObserveSync()
		}
		if p.opts.ObserveCommit != nil {
			p.opts.ObserveCommit(time.Since(start))
		}
	}
	for _, c := range group {
		if len(c.ops) == 0 { // it wrote nothing, so nothing of it failed
			c.done(nil)
			continue
		}
		c.done(err)
	}
}

// pgBatch is a Batch of the PostgreSQL journal: its writes, in order.
type pgBatch struct{ ops []pgOp }

type pgOpKind byte

const (
	pgSet pgOpKind = iota
	pgDelete
	pgDeleteRange
)

type pgOp struct {
	kind       pgOpKind
	key, value []byte // value: the end of a range
}

// statements queues the writes of a group in b, in order. Each run of Sets
// between two deletes becomes one statement over arrays of keys and values
// (a row per key, its last value in the run), which costs the server far
// less than a statement per Set; a delete ends the run, so that it applies
// between the Sets before and after it.
func statements(group []pgCommit, b *pgx.Batch) {
	var keys, values [][]byte
	at := map[string]int{} // a key's place in the run
	flush := func() {
		if len(keys) == 0 {
			return
		}
		b.Queue(`INSERT INTO troupe_journal (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[])
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, keys, values)
		keys, values = nil, nil // b holds the old ones
		clear(at)
	}
	for _, c := range group {
		for _, o := range c.ops {
			switch o.kind {
			case pgSet:
				// One statement may not update a row twice: a key set again
				// in the run keeps its place and takes the later value.
				if i, ok := at[string(o.key)]; ok {
					values[i] = o.value
					continue
				}
				at[string(o.key)] = len(keys)
				keys, values = append(keys, o.key), append(values, o.value)
			case pgDelete:
				flush()
				b.Queue(`DELETE FROM troupe_journal WHERE key = $1`, o.key)
			case pgDeleteRange:
				flush()
				if o.value == nil {
					b.Queue(`DELETE FROM troupe_journal WHERE key >= $1`, o.key)
				} else {
					b.Queue(`DELETE FROM troupe_journal WHERE key >= $1 AND key < $2`, o.key, o.value)
				}
			}
		}
	}
	flush()
}

// Set records key = value. The slices are copied: the batch is written
// later, on the pipeline's goroutine.
func (b *pgBatch) Set(key, value []byte) {
	b.ops = append(b.ops, pgOp{kind: pgSet, key: clone(key), value: clone(value)})
}

func (b *pgBatch) Delete(key []byte) {
	b.ops = append(b.ops, pgOp{kind: pgDelete, key: clone(key)})
}

func (b *pgBatch) DeleteRange(start, end []byte) {
	var e []byte
	if end != nil {
		e = clone(end)
	}
	b.ops = append(b.ops, pgOp{kind: pgDeleteRange, key: clone(start), value: e})
}

func (b *pgBatch) Empty() bool { return len(b.ops) == 0 }

// clone copies b, never into nil: an empty value is stored as empty, not
// as NULL.
func clone(b []byte) []byte { return append(make([]byte, 0, len(b)), b...) }
