package kv

import (
	"fmt"
	"sync"
	"testing"

	pb "github.com/troupe-run/troupe/messages"
)

// Every write that grows a shard is refused at the limit and changes
// nothing; deletes always pass; what was added comes back to 0.
func TestMemoryLimit(t *testing.T) {
	growers := []*pb.DataRequest{
		set("k", `"a long enough value"`),
		{Op: pb.DataOp_KV_SET, Key: "small", Value: js(`"a long enough value"`), Xx: true},
		{Op: pb.DataOp_KV_MSET, Pairs: pairs("m1", `1`, "m2", `2`)},
		{Op: pb.DataOp_KV_MSETNX, Pairs: pairs("m1", `1`, "m2", `2`)},
		{Op: pb.DataOp_KV_INCR, Key: "n", Amount: 1},
		{Op: pb.DataOp_HASH_SET, Key: "h", Pairs: pairs("f", `1`)},
		{Op: pb.DataOp_HASH_SET, Key: "hash", Pairs: pairs("f", `"a long enough value"`)},
		{Op: pb.DataOp_HASH_INCRBY, Key: "hash", Field: "g", Amount: 1},
		{Op: pb.DataOp_LIST_RPUSH, Key: "list", Values: jsons(`1`)},
		{Op: pb.DataOp_LIST_LPUSH, Key: "l", Values: jsons(`1`)},
		{Op: pb.DataOp_LIST_SET, Key: "list", Start: 0, Value: js(`"a long enough value"`)},
		{Op: pb.DataOp_SET_ADD, Key: "set", Members: []string{"new"}},
		{Op: pb.DataOp_ZSET_ADD, Key: "zset", Scored: scored("new", 1.0)},
		{Op: pb.DataOp_ZSET_INCRBY, Key: "zset", Member: "other", Score: 1},
	}
	for _, req := range growers {
		t.Run(req.GetOp().String(), func(t *testing.T) {
			mem := NewMemory(0)
			s := NewShard(testPrefix, mem)
			j := mapJournal{}
			for _, fill := range []*pb.DataRequest{
				set("small", `1`),
				{Op: pb.DataOp_HASH_SET, Key: "hash", Pairs: pairs("f", `1`)},
				{Op: pb.DataOp_LIST_RPUSH, Key: "list", Values: jsons(`1`)},
				{Op: pb.DataOp_SET_ADD, Key: "set", Members: []string{"m"}},
				{Op: pb.DataOp_ZSET_ADD, Key: "zset", Scored: scored("m", 1.0)},
			} {
				if r := s.Apply(t0, fill, j); r.GetErrorCode() != "" {
					t.Fatal(r.GetErrorMessage())
				}
			}
			mem.limit = mem.Used() + 1 // full, but for one byte
			before, records := dump(s), len(j)
			got := s.Apply(t0, req, j)
			if got.GetErrorCode() != pb.CodeMemoryLimit || got.GetErrorMessage() == "" {
				t.Fatalf("got %v, want MEMORY_LIMIT_EXCEEDED", got)
			}
			if dump(s) != before || len(j) != records {
				t.Fatal("a refused write changed the shard")
			}
			// Deleting always works, and frees everything.
			r := s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_KV_DEL, Keys: []string{"small", "hash", "list", "set", "zset"}}, j)
			if r.GetInteger() != 5 || mem.Used() != 0 || s.Bytes() != 0 || len(j) != 0 {
				t.Fatalf("deleted %d; %d bytes used, %d records left", r.GetInteger(), mem.Used(), len(j))
			}
			mem.limit = 0
			if r := s.Apply(t0, req, j); r.GetErrorCode() != "" && req.GetOp() != pb.DataOp_LIST_SET {
				t.Fatalf("without a limit: %s", r.GetErrorMessage())
			}
		})
	}
}

// A write that needs exactly what is left passes; one byte more is refused.
func TestMemoryBoundary(t *testing.T) {
	need := stringGrowth(nil, "k", js(`1`))
	for _, c := range []struct {
		limit int64
		ok    bool
	}{{need - 1, false}, {need, true}, {need + 1, true}} {
		s := NewShard(testPrefix, NewMemory(c.limit))
		r := s.Apply(t0, set("k", `1`), mapJournal{})
		if r.GetOk() != c.ok {
			t.Fatalf("limit %d for a write of %d bytes: got %v", c.limit, need, r)
		}
	}
}

// Writes that shrink or keep the size pass a full budget.
func TestMemoryShrinkingWritesPass(t *testing.T) {
	mem := NewMemory(0)
	s := NewShard(testPrefix, mem)
	j := mapJournal{}
	s.Apply(t0, set("k", `"long value"`), j)
	s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_ZSET_ADD, Key: "z", Scored: scored("m", 1.0)}, j)
	mem.limit = mem.Used()
	for _, req := range []*pb.DataRequest{
		set("k", `"short"`),
		{Op: pb.DataOp_ZSET_ADD, Key: "z", Scored: scored("m", 2.0)},
		{Op: pb.DataOp_KV_EXPIRE, Key: "k", TtlMs: 100},
	} {
		if r := s.Apply(t0, req, j); r.GetErrorCode() != "" {
			t.Fatalf("%v: %s", req.GetOp(), r.GetErrorMessage())
		}
	}
}

// Shards share one budget; Release gives a shard's bytes back.
func TestMemorySharedAndReleased(t *testing.T) {
	mem := NewMemory(0)
	a, b := NewShard([]byte("d\x00"), mem), NewShard([]byte("d\x01"), mem)
	ja, jb := mapJournal{}, mapJournal{}
	a.Apply(t0, set("x", `1`), ja)
	b.Apply(t0, &pb.DataRequest{Op: pb.DataOp_LIST_RPUSH, Key: "y", Values: jsons(`1`, `2`)}, jb)
	if mem.Used() != a.Bytes()+b.Bytes() || a.Bytes() == 0 || b.Bytes() == 0 {
		t.Fatalf("used %d, shards %d + %d", mem.Used(), a.Bytes(), b.Bytes())
	}
	a.Release()
	if mem.Used() != b.Bytes() {
		t.Fatalf("after release used %d, want %d", mem.Used(), b.Bytes())
	}
}

// Concurrent charges never take the budget past its limit.
func TestMemoryConcurrentLimit(t *testing.T) {
	const limit, workers, tries = 1000, 8, 500
	mem := NewMemory(limit)
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for range workers {
		wg.Go(func() {
			n := 0
			for range tries {
				if mem.add(3) {
					n++
				}
			}
			mu.Lock()
			granted += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if granted != limit/3 || mem.Used() != int64(granted*3) {
		t.Fatalf("granted %d charges, %d bytes used; want %d", granted, mem.Used(), limit/3)
	}
}

func TestMemoryReturnsToZero(t *testing.T) {
	mem := NewMemory(0)
	s := NewShard(testPrefix, mem)
	j := mapJournal{}
	for i := range 50 {
		k := fmt.Sprint(i)
		for _, req := range []*pb.DataRequest{
			set("s"+k, `"7"`),
			{Op: pb.DataOp_KV_INCR, Key: "s" + k, Amount: 0},
			{Op: pb.DataOp_HASH_SET, Key: "h" + k, Pairs: pairs("a", `1`, "b", `"two"`)},
			{Op: pb.DataOp_HASH_INCRBY, Key: "h" + k, Field: "a", Amount: 1000},
			{Op: pb.DataOp_LIST_LPUSH, Key: "l" + k, Values: jsons(`1`, `22`, `333`)},
			{Op: pb.DataOp_LIST_SET, Key: "l" + k, Start: 1, Value: js(`"longer"`)},
			{Op: pb.DataOp_LIST_TRIM, Key: "l" + k, Start: 1, Stop: 1},
			{Op: pb.DataOp_SET_ADD, Key: "t" + k, Members: []string{"x", "yy"}},
			{Op: pb.DataOp_ZSET_ADD, Key: "z" + k, Scored: scored("x", 1.0, "yy", 2.0)},
			{Op: pb.DataOp_ZSET_INCRBY, Key: "z" + k, Member: "zzz", Score: 3},
		} {
			if r := s.Apply(t0, req, j); r.GetErrorCode() != "" {
				t.Fatal(r.GetErrorMessage())
			}
		}
	}
	checkInvariants(t, s)
	if s.Sweep(t0, j, 1000) != 0 {
		t.Fatal("swept keys without expiry")
	}
	for i := range 50 {
		k := fmt.Sprint(i)
		s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_HASH_DEL, Key: "h" + k, Fields: []string{"a", "b"}}, j)
		s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_LIST_RPOP, Key: "l" + k, Count: 5}, j)
		s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_SET_POP, Key: "t" + k, Count: 5}, j)
		s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_ZSET_REM, Key: "z" + k, Members: []string{"x", "yy", "zzz"}}, j)
		s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_KV_EXPIRE, Key: "s" + k, TtlMs: 1}, j)
	}
	s.Sweep(t0.Add(1e6), j, 1000)
	if mem.Used() != 0 || s.Bytes() != 0 || s.Len() != 0 || len(j) != 0 {
		t.Fatalf("%d bytes used, %d keys, %d records left", mem.Used(), s.Len(), len(j))
	}
}
