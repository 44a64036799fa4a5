package store

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCommitOrderAndReopen(t *testing.T) {
	for _, policy := range []Policy{SyncAlways, SyncBatch, SyncNone} {
		t.Run(policy.String(), func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(Options{Dir: dir, Policy: policy})
			if err != nil {
				t.Fatal(err)
			}
			const n = 500
			var mu sync.Mutex
			var order []int
			var wg sync.WaitGroup
			wg.Add(n)
			for i := 0; i < n; i++ {
				b := s.NewBatch()
				b.Set([]byte(fmt.Sprintf("k/%04d", i)), []byte(fmt.Sprint(i)))
				if i%10 == 0 {
					b.Delete([]byte(fmt.Sprintf("k/%04d", i)))
				}
				s.Commit(b, func(err error) {
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
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s, err = Open(Options{Dir: dir, Policy: policy})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			count := 0
			err = s.Scan([]byte("k/"), func(k, v []byte) error {
				if !bytes.Equal(k[len("k/"):], []byte(fmt.Sprintf("%04s", v))) {
					t.Errorf("key %s holds %s", k, v)
				}
				count++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := n - n/10; count != want {
				t.Fatalf("reopened store holds %d keys, want %d", count, want)
			}
		})
	}
}

// Syncs are counted as they happen: under always, one per group written
// before its callbacks run; under none, only the one at Close; under
// batch, by the timer, and at Close.
func TestSyncsObserved(t *testing.T) {
	for _, policy := range []Policy{SyncAlways, SyncBatch, SyncNone} {
		t.Run(policy.String(), func(t *testing.T) {
			var syncs atomic.Int64
			s, err := Open(Options{Dir: t.TempDir(), Policy: policy, SyncInterval: time.Hour, ObserveSync: func() { syncs.Add(1) }})
			if err != nil {
				t.Fatal(err)
			}
			const n = 3
			for i := range n {
				done := make(chan error, 1)
				b := s.NewBatch()
				b.Set([]byte(fmt.Sprint("k/", i)), []byte("v"))
				s.Commit(b, func(err error) { done <- err })
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			before := syncs.Load()
			switch policy {
			case SyncAlways:
				if before != n {
					t.Fatalf("%d syncs for %d writes one after another, want one each", before, n)
				}
			default: // the timer's hour has not passed
				if before != 0 {
					t.Fatalf("%d syncs before the interval passed, want 0", before)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := syncs.Load(); got != before+1 {
				t.Fatalf("%d syncs after Close, want %d", got, before+1)
			}
		})
	}
}

func TestMemoryOnlyStoresNothing(t *testing.T) {
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := s.NewBatch()
	b.Set([]byte("a"), []byte("1"))
	done := make(chan error, 1)
	s.Commit(b, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.Get([]byte("a")); found || s.Durable() {
		t.Fatal("memory-only store must not keep writes")
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct{ in, want []byte }{
		{[]byte("a"), []byte("b")},
		{[]byte{'a', 0xff}, []byte("b")},
		{[]byte{0xff, 0xff}, nil},
	} {
		if got := PrefixEnd(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("PrefixEnd(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestIdleCommitterWritesItself checks the committer that finds the
// pipeline idle: it writes its batch and runs the callback before Commit
// returns, and with committers racing each other (some inline, some
// queued) each one's callbacks still run in its commit order, one at a
// time, and every write lands.
func TestIdleCommitterWritesItself(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), Policy: SyncBatch})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	ran := false
	b := s.NewBatch()
	b.Set([]byte("idle"), []byte("1"))
	s.Commit(b, func(err error) {
		if err != nil {
			t.Error(err)
		}
		ran = true
	})
	if !ran {
		t.Fatal("the callback of a batch committed to an idle pipeline had not run when Commit returned")
	}

	const committers, each = 8, 300
	var inside atomic.Int32
	last := make([]int, committers) // under the callbacks' one-at-a-time rule
	var wg sync.WaitGroup
	for c := 0; c < committers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan struct{})
			for i := 1; i <= each; i++ {
				b := s.NewBatch()
				b.Set([]byte(fmt.Sprintf("c%d/%04d", c, i)), []byte("x"))
				s.Commit(b, func(err error) {
					if inside.Add(1) != 1 {
						t.Error("two callbacks ran at once")
					}
					if err != nil {
						t.Error(err)
					}
					if last[c] != i-1 {
						t.Errorf("committer %d: callback of batch %d after that of %d", c, i, last[c])
					}
					last[c] = i
					inside.Add(-1)
					if i == each {
						close(done)
					}
				})
			}
			<-done
		}()
	}
	wg.Wait()
	for c := 0; c < committers; c++ {
		if n := count(t, s, fmt.Sprintf("c%d/", c)); n != each {
			t.Errorf("committer %d: %d keys written, want %d", c, n, each)
		}
	}
}

// TestCommitFromCallback: a callback run by a committer that found the
// pipeline idle may commit again (it sends to an actor that runs on the
// same goroutine): that commit queues behind it, its callback runs after,
// and Close still drains and closes.
func TestCommitFromCallback(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), Policy: SyncBatch})
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	first := s.NewBatch()
	first.Set([]byte("a"), []byte("1"))
	s.Commit(first, func(err error) {
		if err != nil {
			t.Error(err)
		}
		b := s.NewBatch()
		b.Set([]byte("b"), []byte("2"))
		s.Commit(b, func(err error) { second <- err })
	})
	select {
	case err := <-second:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the commit made by a callback never ran its own")
	}
	if got := get(t, s, "b"); got != "2" {
		t.Fatalf("b = %q", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
