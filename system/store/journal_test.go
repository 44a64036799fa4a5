package store

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/troupe-run/troupe/system/store/pgtest"
)

// The same suite runs against every implementation of Journal: what the
// durable actors rely on does not depend on which one holds their state.

type opener func(t *testing.T) Journal

func TestPebbleJournal(t *testing.T) {
	dir := t.TempDir()
	testJournal(t, func(t *testing.T) Journal {
		j, err := Open(Options{Dir: dir, Policy: SyncAlways})
		if err != nil {
			t.Fatal(err)
		}
		return j
	})
}

func TestPostgresJournal(t *testing.T) {
	url := pgtest.Start(t)
	testJournal(t, func(t *testing.T) Journal {
		j, err := OpenPostgres(context.Background(), PostgresOptions{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		return j
	})
}

// testJournal runs the suite. open opens the same journal each time it is
// called (after the previous one was closed); each part writes under its
// own prefix.
func testJournal(t *testing.T, open opener) {
	j := open(t)
	defer func() { j.Close() }()

	t.Run("callbacks in commit order", func(t *testing.T) {
		const n = 300
		var mu sync.Mutex
		var order []int
		var wg sync.WaitGroup
		wg.Add(n)
		for i := range n {
			b := j.NewBatch()
			if i%7 != 0 { // some batches are empty: they keep their place too
				b.Set(fmt.Appendf(nil, "order/%04d", i), fmt.Append(nil, i))
			}
			j.Commit(b, func(err error) {
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				wg.Done()
			})
		}
		wg.Wait()
		for i, got := range order {
			if got != i {
				t.Fatalf("callback %d ran for batch %d: callbacks must run in commit order", i, got)
			}
		}
	})

	t.Run("later writes win", func(t *testing.T) {
		for i := range 50 {
			b := j.NewBatch()
			b.Set([]byte("win/k"), fmt.Append(nil, i))
			if i%2 == 0 {
				b.Delete([]byte("win/gone"))
			} else {
				b.Set([]byte("win/gone"), []byte("back"))
			}
			j.Commit(b, func(error) {})
		}
		mustBarrier(t, j)
		if v := get(t, j, "win/k"); v != "49" {
			t.Fatalf("win/k = %q after 50 writes, want 49", v)
		}
		if v := get(t, j, "win/gone"); v != "back" {
			t.Fatalf("win/gone = %q, want the last write's", v)
		}
	})

	t.Run("scan by prefix in key order", func(t *testing.T) {
		keys := [][]byte{
			[]byte("scan/b"), []byte("scan/a"), []byte("scan/a\x00"), []byte("scan/\xff\xff"),
			[]byte("scan/"), []byte("scan/a/z"), []byte("scan0"), []byte("sca"), []byte("scan"),
		}
		b := j.NewBatch()
		for _, k := range keys {
			b.Set(k, append([]byte("v:"), k...))
		}
		b.Set([]byte("scan/empty"), nil)
		mustCommit(t, j, b)
		var got []string
		err := j.Scan([]byte("scan/"), func(k, v []byte) error {
			if k := string(k); k != "scan/empty" && string(v) != "v:"+k {
				t.Errorf("%q holds %q", k, v)
			}
			got = append(got, string(k))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"scan/", "scan/a", "scan/a\x00", "scan/a/z", "scan/b", "scan/empty", "scan/\xff\xff"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("scan of scan/ found %q, want %q", got, want)
		}
		if v, found, err := j.Get([]byte("scan/empty")); err != nil || !found || len(v) != 0 {
			t.Fatalf("an empty value reads %q, found %v, err %v", v, found, err)
		}
		if _, found, err := j.Get([]byte("scan/none")); err != nil || found {
			t.Fatalf("a missing key: found %v, err %v", found, err)
		}
	})

	t.Run("delete range", func(t *testing.T) {
		b := j.NewBatch()
		for i := range 10 {
			b.Set(fmt.Appendf(nil, "range/%d", i), []byte("x"))
		}
		b.Set([]byte("range0"), []byte("neighbour"))
		mustCommit(t, j, b)
		b = j.NewBatch()
		b.DeleteRange([]byte("range/3"), []byte("range/7"))
		mustCommit(t, j, b)
		if got := count(t, j, "range/"); got != 6 {
			t.Fatalf("%d keys left after deleting [3, 7) of 10, want 6", got)
		}
		b = j.NewBatch()
		b.DeleteRange([]byte("range/"), PrefixEnd([]byte("range/")))
		mustCommit(t, j, b)
		if got := count(t, j, "range/"); got != 0 {
			t.Fatalf("%d keys left after deleting the prefix", got)
		}
		if v := get(t, j, "range0"); v != "neighbour" {
			t.Fatal("deleting a prefix's range removed a key outside it")
		}
	})

	t.Run("barrier waits for earlier commits", func(t *testing.T) {
		for i := range 100 {
			b := j.NewBatch()
			b.Set(fmt.Appendf(nil, "barrier/%03d", i), []byte("v"))
			j.Commit(b, func(error) {})
		}
		mustBarrier(t, j)
		if got := count(t, j, "barrier/"); got != 100 {
			t.Fatalf("%d of 100 keys written when the barrier returned", got)
		}
	})

	t.Run("reopen keeps what was committed", func(t *testing.T) {
		b := j.NewBatch()
		b.Set([]byte("reopen/k"), []byte("kept"))
		mustCommit(t, j, b)
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		var got error
		j.Commit(j.NewBatch(), func(err error) { got = err })
		if got != ErrClosed {
			t.Fatalf("commit after close: got %v, want ErrClosed", got)
		}
		j = open(t)
		if v := get(t, j, "reopen/k"); v != "kept" {
			t.Fatalf("after reopening, reopen/k = %q", v)
		}
		if got := count(t, j, "order/"); got != 300-300/7-1 {
			t.Fatalf("after reopening, %d keys under order/", got)
		}
	})
}

func mustCommit(t *testing.T, j Journal, b Batch) {
	t.Helper()
	errc := make(chan error, 1)
	j.Commit(b, func(err error) { errc <- err })
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func mustBarrier(t *testing.T, j Journal) {
	t.Helper()
	if err := j.Barrier(); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, j Journal, key string) string {
	t.Helper()
	v, found, err := j.Get([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		return "<absent>"
	}
	return string(v)
}

func count(t *testing.T, j Journal, prefix string) int {
	t.Helper()
	n := 0
	err := j.Scan([]byte(prefix), func(k, _ []byte) error {
		if !bytes.HasPrefix(k, []byte(prefix)) {
			t.Errorf("scan of %q found %q", prefix, k)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A batch the server refuses is written not at all, its callback gets the
// error, and the journal goes on with the next one.
func TestPostgresFailedBatchWritesNothing(t *testing.T) {
	url := pgtest.Start(t)
	j, err := OpenPostgres(context.Background(), PostgresOptions{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	// A constraint the journal knows nothing of makes long values fail.
	if _, err := j.pool.Exec(context.Background(), `ALTER TABLE troupe_journal ADD CONSTRAINT short CHECK (length(value) < 10)`); err != nil {
		t.Fatal(err)
	}
	b := j.NewBatch()
	b.Set([]byte("fail/a"), []byte("short"))
	b.Set([]byte("fail/b"), []byte("far too long a value"))
	errc := make(chan error, 1)
	j.Commit(b, func(err error) { errc <- err })
	if err := <-errc; err == nil {
		t.Fatal("a batch the server refused was acknowledged")
	}
	if got := count(t, j, "fail/"); got != 0 {
		t.Fatalf("%d writes of a refused batch were kept: a batch is all or nothing", got)
	}
	b = j.NewBatch()
	b.Set([]byte("fail/c"), []byte("ok"))
	mustCommit(t, j, b)
	if v := get(t, j, "fail/c"); v != "ok" {
		t.Fatalf("after a refused batch the next one wrote %q", v)
	}
}

// One group written at once keeps the order of its writes, though its runs
// of Sets go to the server as one statement each.
func TestPostgresGroupKeepsOrder(t *testing.T) {
	j, err := OpenPostgres(context.Background(), PostgresOptions{URL: pgtest.Start(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	set := func(k, v string) pgOp { return pgOp{kind: pgSet, key: []byte(k), value: []byte(v)} }
	del := func(k string) pgOp { return pgOp{kind: pgDelete, key: []byte(k)} }
	var errs []error
	done := func(err error) { errs = append(errs, err) }
	j.write([]pgCommit{
		{ops: []pgOp{set("g/a", "1"), set("g/b", "1"), set("g/a", "2")}, done: done},
		{ops: []pgOp{del("g/b"), set("g/a", "3"), set("g/c", "1")}, done: done},
		{ops: []pgOp{set("g/b", "2"), {kind: pgDeleteRange, key: []byte("g/c"), value: []byte("g/d")}, set("g/a", "4")}, done: done},
		{done: done}, // a barrier
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	for k, want := range map[string]string{"g/a": "4", "g/b": "2", "g/c": "<absent>"} {
		if got := get(t, j, k); got != want {
			t.Errorf("%s = %q after the group, want %q", k, got, want)
		}
	}
}
