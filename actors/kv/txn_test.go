package kv

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/troupe-run/troupe/messages"
)

// reserve holds keys for an msetnx (each with the value 0).
func reserve(txn uint64, keys ...string) *pb.DataRequest {
	var kv []string
	for _, k := range keys {
		kv = append(kv, k, `0`)
	}
	return &pb.DataRequest{Op: pb.DataOp_TXN_RESERVE, Txn: txn, Nx: true, Pairs: pairs(kv...)}
}

func commit(txn uint64, kv ...string) *pb.DataRequest {
	return &pb.DataRequest{Op: pb.DataOp_TXN_COMMIT, Txn: txn, Nx: true, Pairs: pairs(kv...)}
}

func abort(txn uint64) *pb.DataRequest { return &pb.DataRequest{Op: pb.DataOp_TXN_ABORT, Txn: txn} }

var busy = errReply(pb.CodeKeyReserved)

func TestTxn(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "reserve then commit", steps: []step{
			{req: set("c", `0`)},
			{req: reserve(1, "a", "b", "a"), want: &pb.DataReply{Ok: true}},
			// Reserved keys are busy for every other command, reads included.
			{req: get("a"), want: busy},
			{req: set("b", `1`), want: busy},
			{req: &pb.DataRequest{Op: pb.DataOp_HASH_SET, Key: "b", Pairs: pairs("f", `1`)}, want: busy},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_DEL, Keys: []string{"x", "a"}}, want: busy},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_MGET, Keys: []string{"c", "b"}}, want: busy},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_MSET, Pairs: pairs("c", `1`, "a", `1`)}, want: busy},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_MSETNX, Pairs: pairs("b", `1`)}, want: busy},
			// Other keys, scans and counts go on.
			{req: set("c", `1`), want: &pb.DataReply{Ok: true, Previous: js(`0`)}},
			{req: scan("", "", 10), want: &pb.DataReply{Keys: []string{"c"}}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_COUNT}, want: &pb.DataReply{Integer: 1}},
			// Another transaction waits for a reserved key (the actor
			// stashes it) and cannot take an existing one.
			{req: reserve(2, "a"), want: busy},
			{req: reserve(2, "c", "d"), want: &pb.DataReply{}},
			{req: reserve(2, "d"), want: &pb.DataReply{Ok: true}},
			// Reserving again for the same transaction is harmless.
			{req: reserve(1, "a"), want: &pb.DataReply{Ok: true}},
			{req: commit(1, "a", `"A"`, "b", `"B"`), want: &pb.DataReply{Ok: true, Integer: 2}},
			{req: get("a"), want: found(`"A"`, -1)},
			{req: get("d"), want: busy},
			{req: abort(2), want: &pb.DataReply{Ok: true}},
			{req: abort(2), want: &pb.DataReply{}},
			{req: get("d"), want: missing},
		}},
		{name: "abort releases", steps: []step{
			{req: reserve(1, "a"), want: &pb.DataReply{Ok: true}},
			{req: abort(1), want: &pb.DataReply{Ok: true}},
			{req: set("a", `1`), want: &pb.DataReply{Ok: true}},
		}},
		{name: "an expired key does not block", steps: []step{
			{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "a", Value: js(`1`), TtlMs: 5}},
			{at: 5 * time.Millisecond, req: reserve(1, "a"), want: &pb.DataReply{Ok: true}},
			{at: 5 * time.Millisecond, req: commit(1, "a", `2`), want: &pb.DataReply{Ok: true, Integer: 1}},
			{at: 5 * time.Millisecond, req: get("a"), want: found(`2`, -1)},
		}},
		// After a restart the reservation is gone: the commit still
		// refuses to overwrite a key that exists.
		{name: "commit without reservation", steps: []step{
			{req: set("b", `1`)},
			{req: commit(7, "a", `1`, "b", `2`), want: &pb.DataReply{}},
			{req: get("a"), want: missing},
			{req: commit(7, "a", `1`), want: &pb.DataReply{Ok: true, Integer: 1}},
		}},
		{name: "commit over another reservation", steps: []step{
			{req: reserve(1, "a"), want: &pb.DataReply{Ok: true}},
			{req: commit(2, "a", `1`), want: busy},
			{req: commit(1, "a", `1`), want: &pb.DataReply{Ok: true, Integer: 1}},
		}},
	})
}

func TestTxnReserved(t *testing.T) {
	s := NewShard(testPrefix, nil)
	j := mapJournal{}
	if s.Reserved() {
		t.Fatal("a fresh shard reports a reservation")
	}
	s.Apply(t0, reserve(3, "k"), j)
	if !s.Reserved() {
		t.Fatal("no reservation reported after TXN_RESERVE")
	}
	s.Apply(t0, commit(3, "k", `1`), j)
	if s.Reserved() {
		t.Fatal("reservation reported after TXN_COMMIT")
	}
}

// A commit is the second half of a decision already taken: the memory limit
// does not refuse it.
func TestTxnCommitPassesMemoryLimit(t *testing.T) {
	mem := NewMemory(keyOverhead + 10)
	s := NewShard(testPrefix, mem)
	j := mapJournal{}
	if r := s.Apply(t0, reserve(1, "a"), j); !r.GetOk() {
		t.Fatal("reserve refused")
	}
	if r := s.Apply(t0, commit(1, "a", `"a value longer than the limit"`), j); !r.GetOk() {
		t.Fatalf("commit refused: %v", r)
	}
	if mem.Used() <= mem.Limit() {
		t.Fatalf("used %d, expected past the limit %d", mem.Used(), mem.Limit())
	}
	if r := s.Apply(t0, set("b", `1`), j); r.GetErrorCode() != pb.CodeMemoryLimit {
		t.Fatalf("set past the limit: %v", r)
	}
}

// TestWithdrawnCommandIsDropped: a command held back behind a reservation
// whose client goes away is withdrawn from the shard: its error says the
// client went away, and it is not applied when the reservation ends.
func TestWithdrawnCommandIsDropped(t *testing.T) {
	_, ks := boot(t, t.TempDir(), 1)
	do(t, ks, reserve(7, "k"))
	rep, err := ks.Do(&goneAfterSend{}, set("k", `"late"`))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("SET of a reserved key, client gone: %v %v, want context.Canceled", rep, err)
	}
	do(t, ks, abort(7))
	if got := do(t, ks, get("k")); got.Found {
		t.Fatalf("the withdrawn SET was applied: %v", got)
	}
}

// goneAfterSend is a context that is live when the request is sent (Ask
// looks at Err once before sending), then cancelled while the reply is
// awaited: the client that goes away at that moment, without a race in the
// test.
type goneAfterSend struct{ looks atomic.Int32 }

var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (*goneAfterSend) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*goneAfterSend) Done() <-chan struct{}       { return closedDone }
func (*goneAfterSend) Value(any) any               { return nil }

func (g *goneAfterSend) Err() error {
	if g.looks.Add(1) == 1 {
		return nil
	}
	return context.Canceled
}
