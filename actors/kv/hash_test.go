package kv

import (
	"math"
	"strconv"
	"testing"
	"time"

	pb "github.com/troupe-run/troupe/messages"
)

func hset(key string, kv ...string) *pb.DataRequest {
	return &pb.DataRequest{Op: pb.DataOp_HASH_SET, Key: key, Pairs: pairs(kv...)}
}

func hreq(op pb.DataOp, key string, fields ...string) *pb.DataRequest {
	r := &pb.DataRequest{Op: op, Key: key, Fields: fields}
	if len(fields) == 1 {
		r.Field = fields[0]
	}
	return r
}

func TestHash(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "set counts new fields", steps: []step{
			{req: hset("h", "b", `1`, "a", `"x"`), want: &pb.DataReply{Ok: true, Integer: 2}},
			{req: hset("h", "a", `"y"`, "c", `3`), want: &pb.DataReply{Ok: true, Integer: 1}},
			// A field given twice counts once and keeps its last value.
			{req: hset("h", "d", `1`, "d", `2`), want: &pb.DataReply{Ok: true, Integer: 1}},
			{req: hreq(pb.DataOp_HASH_GET, "h", "a"), want: &pb.DataReply{Found: true, Value: js(`"y"`)}},
			{req: hreq(pb.DataOp_HASH_GET, "h", "d"), want: &pb.DataReply{Found: true, Value: js(`2`)}},
			{req: hreq(pb.DataOp_HASH_GET, "h", "zz"), want: &pb.DataReply{}},
			{req: hreq(pb.DataOp_HASH_GETALL, "h"), want: &pb.DataReply{Found: true, Pairs: pairs("a", `"y"`, "b", `1`, "c", `3`, "d", `2`)}},
			{req: hreq(pb.DataOp_HASH_KEYS, "h"), want: &pb.DataReply{Found: true, Keys: []string{"a", "b", "c", "d"}}},
			{req: hreq(pb.DataOp_HASH_VALS, "h"), want: &pb.DataReply{Found: true, Values: jsons(`"y"`, `1`, `3`, `2`)}},
			{req: hreq(pb.DataOp_HASH_LEN, "h"), want: &pb.DataReply{Found: true, Integer: 4}},
			{req: hreq(pb.DataOp_HASH_EXISTS, "h", "c"), want: &pb.DataReply{Found: true}},
			{req: hreq(pb.DataOp_HASH_EXISTS, "h", "e"), want: &pb.DataReply{}},
			{req: hreq(pb.DataOp_HASH_MGET, "h", "a", "e", "b"), want: &pb.DataReply{Values: jsons(`"y"`, ``, `1`), Flags: []bool{true, false, true}}},
		}},
		{name: "missing hash", steps: []step{
			{req: hreq(pb.DataOp_HASH_GET, "h", "a"), want: &pb.DataReply{}},
			{req: hreq(pb.DataOp_HASH_GETALL, "h"), want: &pb.DataReply{}},
			{req: hreq(pb.DataOp_HASH_KEYS, "h"), want: &pb.DataReply{}},
			{req: hreq(pb.DataOp_HASH_VALS, "h"), want: &pb.DataReply{}},
			{req: hreq(pb.DataOp_HASH_LEN, "h"), want: &pb.DataReply{}},
			{req: hreq(pb.DataOp_HASH_EXISTS, "h", "a"), want: &pb.DataReply{}},
			{req: hreq(pb.DataOp_HASH_MGET, "h", "a", "b"), want: &pb.DataReply{Values: jsons(``, ``), Flags: []bool{false, false}}},
			{req: hreq(pb.DataOp_HASH_DEL, "h", "a"), want: &pb.DataReply{}},
		}},
		{name: "del to empty removes the key", steps: []step{
			{req: hset("h", "a", `1`, "b", `2`, "c", `3`)},
			{req: hreq(pb.DataOp_HASH_DEL, "h", "a", "zz", "a"), want: &pb.DataReply{Ok: true, Integer: 1}},
			{req: hreq(pb.DataOp_HASH_DEL, "h", "b", "c"), want: &pb.DataReply{Ok: true, Integer: 2}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_TYPE, Key: "h"}, want: &pb.DataReply{Type: "none"}},
			{req: hset("h", "a", `1`), want: &pb.DataReply{Ok: true, Integer: 1}},
		}},
		{name: "fields with any bytes", steps: []step{
			{req: hset("h", "", `0`, "a\x00", `1`, "a", `2`, "\xff", `3`)},
			{req: hreq(pb.DataOp_HASH_KEYS, "h"), want: &pb.DataReply{Found: true, Keys: []string{"", "a", "a\x00", "\xff"}}},
			{req: hreq(pb.DataOp_HASH_DEL, "h", "a"), want: &pb.DataReply{Ok: true, Integer: 1}},
			{req: hreq(pb.DataOp_HASH_GET, "h", "a\x00"), want: &pb.DataReply{Found: true, Value: js(`1`)}},
		}},
		{name: "invalid set", steps: []step{
			{req: hset("h"), want: errReply(pb.CodeInvalid)},
			{req: &pb.DataRequest{Op: pb.DataOp_HASH_SET, Key: "h", Pairs: []*pb.Pair{{Key: "a", Value: js(`1`)}, {Key: "b"}}}, want: errReply(pb.CodeInvalid)},
			{req: hreq(pb.DataOp_HASH_LEN, "h"), want: &pb.DataReply{}},
		}},
		{name: "expired hash", steps: []step{
			{req: hset("h", "a", `1`)},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_EXPIRE, Key: "h", TtlMs: 50}},
			{at: 50 * time.Millisecond, req: hreq(pb.DataOp_HASH_GET, "h", "a"), want: &pb.DataReply{}},
			{at: 50 * time.Millisecond, req: hset("h", "b", `2`), want: &pb.DataReply{Ok: true, Integer: 1}},
			{at: 50 * time.Millisecond, req: hreq(pb.DataOp_HASH_GETALL, "h"), want: &pb.DataReply{Found: true, Pairs: pairs("b", `2`)}},
			{at: 50 * time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_TTL, Key: "h"}, want: &pb.DataReply{Found: true, TtlMs: -1}},
		}},
		{name: "incrby", steps: []step{
			{req: &pb.DataRequest{Op: pb.DataOp_HASH_INCRBY, Key: "h", Field: "n", Amount: 3}, want: &pb.DataReply{Ok: true, Integer: 3}},
			{req: &pb.DataRequest{Op: pb.DataOp_HASH_INCRBY, Key: "h", Field: "n", Amount: -10}, want: &pb.DataReply{Ok: true, Integer: -7}},
			{req: hset("h", "s", `"12"`, "x", `"twelve"`, "big", strconv.FormatInt(math.MaxInt64, 10))},
			{req: &pb.DataRequest{Op: pb.DataOp_HASH_INCRBY, Key: "h", Field: "s", Amount: 1}, want: &pb.DataReply{Ok: true, Integer: 13}},
			{req: &pb.DataRequest{Op: pb.DataOp_HASH_INCRBY, Key: "h", Field: "x", Amount: 1}, want: errReply(pb.CodeNotInteger)},
			{req: &pb.DataRequest{Op: pb.DataOp_HASH_INCRBY, Key: "h", Field: "big", Amount: 1}, want: errReply(pb.CodeOverflow)},
			{req: hreq(pb.DataOp_HASH_MGET, "h", "n", "s", "x", "big"), want: &pb.DataReply{
				Values: jsons(`-7`, `13`, `"twelve"`, strconv.FormatInt(math.MaxInt64, 10)), Flags: []bool{true, true, true, true}}},
		}},
	})
}
