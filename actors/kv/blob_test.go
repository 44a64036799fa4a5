package kv

import (
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"

	pb "github.com/troupe-run/troupe/messages"
)

func TestHyperLogLog(t *testing.T) {
	add := func(key string, members ...string) *pb.DataRequest {
		return &pb.DataRequest{Op: pb.DataOp_HLL_ADD, Key: key, Members: members}
	}
	other := hyperloglog.New14()
	other.Insert([]byte("z"))
	otherRaw, _ := other.MarshalBinary()
	runScenarios(t, []scenario{
		{"add counts distinct members, and a repeat changes nothing", []step{
			{req: add("h", "a", "b", "c"), want: &pb.DataReply{Ok: true, Integer: 3}},
			{req: add("h", "a", "b"), want: &pb.DataReply{Integer: 3}},
			{req: add("h", "d"), want: &pb.DataReply{Ok: true, Integer: 4}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_TYPE, Key: "h"}, want: &pb.DataReply{Found: true, Type: "hyperloglog"}},
		}},
		{"merge into a new key", []step{
			{req: add("a", "x", "y")},
			{req: &pb.DataRequest{Op: pb.DataOp_HLL_MERGE, Key: "m", Values: [][]byte{otherRaw}}, want: &pb.DataReply{Ok: true, Integer: 1}},
			{req: &pb.DataRequest{Op: pb.DataOp_HLL_MERGE, Key: "a", Values: [][]byte{otherRaw}}, want: &pb.DataReply{Ok: true, Integer: 3}},
		}},
		{"a damaged sketch is refused", []step{
			{req: &pb.DataRequest{Op: pb.DataOp_HLL_MERGE, Key: "m", Values: [][]byte{[]byte("junk")}}, want: errReply(pb.CodeInvalid)},
		}},
		{"wrong type both ways", []step{
			{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "s", Value: js(`1`)}},
			{req: add("s", "a"), want: errReply(pb.CodeWrongType)},
			{req: add("h", "a")},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_GET, Key: "h"}, want: errReply(pb.CodeWrongType)},
			{req: &pb.DataRequest{Op: pb.DataOp_BIT_SET, Key: "h", Start: 1, Amount: 1}, want: errReply(pb.CodeWrongType)},
		}},
		{"a key type count", []step{
			{req: add("h1", "a")},
			{req: add("h2", "a")},
			{req: &pb.DataRequest{Op: pb.DataOp_BIT_SET, Key: "b", Start: 1, Amount: 1}},
		}},
	})
}

// TestTypeTotals: KV_COUNT of a type counts its keys, their elements (a
// sketch's estimate, a bitmap's bits, a collection's members) and bytes.
func TestTypeTotals(t *testing.T) {
	s := NewShard([]byte("t"), nil)
	j := mapJournal{}
	now := time.Now()
	for _, req := range []*pb.DataRequest{
		{Op: pb.DataOp_HLL_ADD, Key: "h1", Members: []string{"a", "b"}},
		{Op: pb.DataOp_HLL_ADD, Key: "h2", Members: []string{"a"}},
		{Op: pb.DataOp_BIT_SET, Key: "b", Start: 9, Amount: 1},
		{Op: pb.DataOp_SET_ADD, Key: "s", Members: []string{"x", "y", "z"}},
	} {
		if r := s.Apply(now, req, j); r.ErrorCode != "" {
			t.Fatal(r.ErrorMessage)
		}
	}
	for _, tc := range []struct {
		kind           string
		keys, elements int64
	}{{"hyperloglog", 2, 3}, {"bitmap", 1, 16}, {"set", 1, 3}, {"hash", 0, 0}} {
		r := s.Apply(now, &pb.DataRequest{Op: pb.DataOp_KV_COUNT, Field: tc.kind}, j)
		if r.Integer != tc.keys || r.Elements != tc.elements || (tc.keys > 0) != (r.Bytes > 0) {
			t.Errorf("%s: %d keys, %d elements, %d bytes; want %d keys, %d elements", tc.kind, r.Integer, r.Elements, r.Bytes,
				tc.keys, tc.elements)
		}
	}
}

func TestBitmaps(t *testing.T) {
	set := func(off, bit int64) *pb.DataRequest {
		return &pb.DataRequest{Op: pb.DataOp_BIT_SET, Key: "b", Start: off, Amount: bit}
	}
	field := func(ops string) *pb.DataRequest {
		return &pb.DataRequest{Op: pb.DataOp_BIT_FIELD, Key: "f", Value: js(ops)}
	}
	runScenarios(t, []scenario{
		{"set answers the old bit and grows the bitmap", []step{
			{req: set(5, 1), want: &pb.DataReply{Ok: true, Integer: 0}},
			{req: set(5, 1), want: &pb.DataReply{Integer: 1}},
			{req: set(17, 1), want: &pb.DataReply{Ok: true, Integer: 0}},
			{req: &pb.DataRequest{Op: pb.DataOp_BIT_GET, Key: "b"}, want: &pb.DataReply{Found: true, Value: []byte{0x04, 0, 0x40}}},
			{req: set(5, 0), want: &pb.DataReply{Ok: true, Integer: 1}},
			{req: set(-1, 1), want: errReply(pb.CodeInvalid)},
			{req: set(MaxBitOffset+1, 1), want: errReply(pb.CodeInvalid)},
			{req: set(1, 2), want: errReply(pb.CodeInvalid)},
		}},
		{"store replaces any type, and empty deletes", []step{
			{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "d", Value: js(`1`)}},
			{req: &pb.DataRequest{Op: pb.DataOp_BIT_STORE, Key: "d", Value: []byte{1, 2}}, want: &pb.DataReply{Ok: true, Integer: 2}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_TYPE, Key: "d"}, want: &pb.DataReply{Found: true, Type: "bitmap"}},
			{req: &pb.DataRequest{Op: pb.DataOp_BIT_STORE, Key: "d"}, want: &pb.DataReply{Ok: true}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_TYPE, Key: "d"}, want: &pb.DataReply{Type: "none"}},
		}},
		{"bitfield set, get, incrby with each overflow", []step{
			{req: field(`[{"operation":"SET","offset":0,"width":8,"value":250}]`), want: &pb.DataReply{Ok: true, Values: jsons(`0`)}},
			{req: field(`[{"operation":"GET","offset":0,"width":8}]`), want: &pb.DataReply{Values: jsons(`250`)}},
			{req: field(`[{"operation":"INCRBY","offset":0,"width":8,"increment":10}]`), want: &pb.DataReply{Ok: true, Values: jsons(`4`)}},
			{req: field(`[{"operation":"INCRBY","offset":0,"width":8,"increment":300,"overflow":"SAT"}]`), want: &pb.DataReply{Ok: true, Values: jsons(`255`)}},
			{req: field(`[{"operation":"INCRBY","offset":0,"width":8,"increment":1,"overflow":"FAIL"}]`), want: &pb.DataReply{Values: jsons(`null`)}},
			{req: field(`[{"operation":"SET","offset":8,"width":4,"signed":true,"value":-3},{"operation":"GET","offset":8,"width":4,"signed":true}]`),
				want: &pb.DataReply{Ok: true, Values: jsons(`0`, `-3`)}},
			{req: field(`[{"operation":"GET","offset":8,"width":4}]`), want: &pb.DataReply{Values: jsons(`13`)}},
			{req: field(`[{"operation":"NOPE","offset":0,"width":8}]`), want: errReply(pb.CodeInvalid)},
			{req: field(`[{"operation":"GET","offset":0,"width":64}]`), want: errReply(pb.CodeInvalid)},
			{req: field(`{`), want: errReply(pb.CodeInvalid)},
		}},
	})
}

func TestBitmapMemoryLimit(t *testing.T) {
	s := NewShard(testPrefix, NewMemory(200))
	j := mapJournal{}
	if rep := s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_BIT_SET, Key: "b", Start: 8 * 1000, Amount: 1}, j); rep.ErrorCode != pb.CodeMemoryLimit {
		t.Fatalf("a 1000-byte bitmap under a 200-byte budget: %v", rep)
	}
	if s.Len() != 0 || s.Bytes() != 0 {
		t.Fatalf("a refused write left %d keys, %d bytes", s.Len(), s.Bytes())
	}
}

// TestTransactionHoldAndWatch: a hold keeps other commands off its keys but
// lets its own through; a watched key's version moves with each write.
func TestTransactionHoldAndWatch(t *testing.T) {
	set := func(txn uint64) *pb.DataRequest {
		return &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "k", Value: js(`1`), Txn: txn}
	}
	ver := func(v string) []*pb.Pair { return []*pb.Pair{{Key: "k", Value: []byte(v)}} }
	runScenarios(t, []scenario{
		{"hold, watch, release", []step{
			{req: &pb.DataRequest{Op: pb.DataOp_TXN_WATCH, Keys: []string{"k"}}, want: &pb.DataReply{Ok: true, Pairs: ver("0")}},
			{req: set(0), want: &pb.DataReply{Ok: true}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_GET, Key: "k"}},
			{req: &pb.DataRequest{Op: pb.DataOp_TXN_HOLD, Txn: 7, Keys: []string{"k"}, Fields: []string{"k"}},
				want: &pb.DataReply{Ok: true, Pairs: ver("1")}},
			{req: set(0), want: errReply(pb.CodeKeyReserved)},
			{req: &pb.DataRequest{Op: pb.DataOp_TXN_HOLD, Txn: 8, Keys: []string{"k"}}, want: errReply(pb.CodeKeyReserved)},
			{req: set(7), want: &pb.DataReply{Ok: true, Previous: js(`1`)}},
			{req: &pb.DataRequest{Op: pb.DataOp_TXN_ABORT, Txn: 7}, want: &pb.DataReply{Ok: true}},
			{req: &pb.DataRequest{Op: pb.DataOp_TXN_WATCH, Keys: []string{"k"}}, want: &pb.DataReply{Ok: true, Pairs: ver("2")}},
			{req: &pb.DataRequest{Op: pb.DataOp_TXN_UNWATCH, Keys: []string{"k"}}, want: &pb.DataReply{Ok: true}},
			{req: &pb.DataRequest{Op: pb.DataOp_TXN_UNWATCH, Keys: []string{"k"}}, want: &pb.DataReply{Ok: true}},
			{req: set(0), want: &pb.DataReply{Ok: true, Previous: js(`1`)}},
			{req: &pb.DataRequest{Op: pb.DataOp_TXN_HOLD, Txn: 9, Fields: []string{"k"}}, want: &pb.DataReply{Ok: true, Pairs: []*pb.Pair{{Key: "k"}}}},
		}},
	})
}
