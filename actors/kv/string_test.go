package kv

import (
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	pb "github.com/troupe-run/troupe/messages"
)

func set(key, value string) *pb.DataRequest {
	return &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: key, Value: js(value)}
}

func get(key string) *pb.DataRequest { return &pb.DataRequest{Op: pb.DataOp_KV_GET, Key: key} }

func found(value string, ttl int64) *pb.DataReply {
	return &pb.DataReply{Found: true, Value: js(value), TtlMs: ttl}
}

var missing = &pb.DataReply{TtlMs: -2}

func TestKVSetGet(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "set and overwrite", steps: []step{
			{req: get("k"), want: missing},
			{req: set("k", `"a"`), want: &pb.DataReply{Ok: true}},
			{req: get("k"), want: found(`"a"`, -1)},
			{req: set("k", `{"b":[1,2]}`), want: &pb.DataReply{Ok: true, Previous: js(`"a"`)}},
			{req: get("k"), want: found(`{"b":[1,2]}`, -1)},
		}},
		{name: "nx", steps: []step{
			{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "k", Value: js(`1`), Nx: true}, want: &pb.DataReply{Ok: true}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "k", Value: js(`2`), Nx: true}, want: &pb.DataReply{Previous: js(`1`)}},
			{req: get("k"), want: found(`1`, -1)},
		}},
		{name: "xx", steps: []step{
			{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "k", Value: js(`1`), Xx: true}, want: &pb.DataReply{}},
			{req: get("k"), want: missing},
			{req: set("k", `1`), want: &pb.DataReply{Ok: true}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "k", Value: js(`2`), Xx: true}, want: &pb.DataReply{Ok: true, Previous: js(`1`)}},
			{req: get("k"), want: found(`2`, -1)},
		}},
		{name: "invalid", steps: []step{
			{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "k", Value: js(`1`), Nx: true, Xx: true}, want: errReply(pb.CodeInvalid)},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "k", Value: js(`1`), KeepTtl: true, TtlMs: 5}, want: errReply(pb.CodeInvalid)},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "k"}, want: errReply(pb.CodeInvalid)},
			{req: get("k"), want: missing},
		}},
		{name: "ttl", steps: []step{
			{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "k", Value: js(`1`), TtlMs: 1000}, want: &pb.DataReply{Ok: true}},
			{at: 250 * time.Millisecond, req: get("k"), want: found(`1`, 750)},
			// keep_ttl keeps the expiry, a plain set clears it.
			{at: 250 * time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "k", Value: js(`2`), KeepTtl: true}, want: &pb.DataReply{Ok: true, Previous: js(`1`)}},
			{at: 500 * time.Millisecond, req: get("k"), want: found(`2`, 500)},
			{at: 500 * time.Millisecond, req: set("k", `3`), want: &pb.DataReply{Ok: true, Previous: js(`2`)}},
			{at: time.Hour, req: get("k"), want: found(`3`, -1)},
		}},
		{name: "expired on read", steps: []step{
			{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "k", Value: js(`1`), TtlMs: 100}, want: &pb.DataReply{Ok: true}},
			{at: 99 * time.Millisecond, req: get("k"), want: found(`1`, 1)},
			{at: 100 * time.Millisecond, req: get("k"), want: missing},
			// An expired key counts as missing for nx, and has no previous value.
			{at: 100 * time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "k", Value: js(`2`), Nx: true}, want: &pb.DataReply{Ok: true}},
			{at: time.Hour, req: get("k"), want: found(`2`, -1)},
		}},
		{name: "keys with any bytes", steps: []step{
			{req: set("", `0`), want: &pb.DataReply{Ok: true}},
			{req: set("a\x00b", `1`), want: &pb.DataReply{Ok: true}},
			{req: set("a", `2`), want: &pb.DataReply{Ok: true}},
			{req: set("\xff\xfe", `3`), want: &pb.DataReply{Ok: true}},
			{req: get("a\x00b"), want: found(`1`, -1)},
			{req: get(""), want: found(`0`, -1)},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_DEL, Key: "a"}, want: &pb.DataReply{Ok: true, Integer: 1}},
			{req: get("a\x00b"), want: found(`1`, -1)},
		}},
	})
}

func incr(key string, amount int64) *pb.DataRequest {
	return &pb.DataRequest{Op: pb.DataOp_KV_INCR, Key: key, Amount: amount}
}

func TestKVIncr(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "counts from zero", steps: []step{
			{req: incr("c", 5), want: &pb.DataReply{Ok: true, Integer: 5}},
			{req: incr("c", -7), want: &pb.DataReply{Ok: true, Integer: -2}},
			{req: get("c"), want: found(`-2`, -1)},
		}},
		{name: "string holding an integer", steps: []step{
			{req: set("c", `"41"`)},
			{req: incr("c", 1), want: &pb.DataReply{Ok: true, Integer: 42}},
			{req: get("c"), want: found(`42`, -1)},
		}},
		{name: "keeps the ttl", steps: []step{
			{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "c", Value: js(`1`), TtlMs: 1000}},
			{at: 400 * time.Millisecond, req: incr("c", 1), want: &pb.DataReply{Ok: true, Integer: 2}},
			{at: 400 * time.Millisecond, req: get("c"), want: found(`2`, 600)},
			{at: time.Second, req: incr("c", 1), want: &pb.DataReply{Ok: true, Integer: 1}},
			{at: time.Second, req: get("c"), want: found(`1`, -1)},
		}},
		{name: "overflow", steps: []step{
			{req: set("c", strconv.FormatInt(math.MaxInt64, 10))},
			{req: incr("c", 1), want: errReply(pb.CodeOverflow)},
			{req: incr("c", -1), want: &pb.DataReply{Ok: true, Integer: math.MaxInt64 - 1}},
			{req: set("d", strconv.FormatInt(math.MinInt64, 10))},
			{req: incr("d", -1), want: errReply(pb.CodeOverflow)},
			{req: incr("d", math.MaxInt64), want: &pb.DataReply{Ok: true, Integer: -1}},
			{req: get("c"), want: found(strconv.FormatInt(math.MaxInt64-1, 10), -1)},
		}},
	})

	for _, v := range []string{`"abc"`, `1.5`, `1e3`, `"+5"`, `"05"`, `" 5"`, `"5 "`, `{"a":1}`, `[1]`, `true`, `null`, `"9223372036854775808"`, `-`, `""`, `"\u0035x"`} {
		t.Run("not an integer "+v, func(t *testing.T) {
			runScenarios(t, []scenario{{name: v, steps: []step{
				{req: set("c", v)},
				{req: incr("c", 1), want: errReply(pb.CodeNotInteger)},
				{req: get("c"), want: found(v, -1)},
			}}})
		})
	}
	for v, n := range map[string]int64{`0`: 0, `-0`: 0, `"-12"`: -12, `"\u0035"`: 5, `-9223372036854775808`: math.MinInt64} {
		t.Run("integer "+v, func(t *testing.T) {
			runScenarios(t, []scenario{{name: v, steps: []step{
				{req: set("c", v)},
				{req: incr("c", 0), want: &pb.DataReply{Ok: true, Integer: n}},
			}}})
		})
	}
}

func TestKVMulti(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "mget", steps: []step{
			{req: set("a", `1`)},
			{req: &pb.DataRequest{Op: pb.DataOp_HASH_SET, Key: "h", Pairs: pairs("f", `1`)}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_MGET, Keys: []string{"a", "nope", "h", "a"}},
				want: &pb.DataReply{Values: jsons(`1`, ``, ``, `1`), Flags: []bool{true, false, false, true}}},
		}},
		{name: "mset", steps: []step{
			{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "a", Value: js(`0`), TtlMs: 100}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_MSET, Pairs: pairs("a", `1`, "b", `2`, "a", `3`)}, want: &pb.DataReply{Ok: true, Integer: 2}},
			{req: get("a"), want: found(`3`, -1)},
			{req: get("b"), want: found(`2`, -1)},
		}},
		{name: "mset over another type changes nothing", steps: []step{
			{req: &pb.DataRequest{Op: pb.DataOp_SET_ADD, Key: "s", Members: []string{"m"}}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_MSET, Pairs: pairs("a", `1`, "s", `2`)}, want: errReply(pb.CodeWrongType)},
			{req: get("a"), want: missing},
		}},
		{name: "mset needs pairs with values", steps: []step{
			{req: &pb.DataRequest{Op: pb.DataOp_KV_MSET}, want: errReply(pb.CodeInvalid)},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_MSET, Pairs: []*pb.Pair{{Key: "a", Value: js(`1`)}, {Key: "b"}}}, want: errReply(pb.CodeInvalid)},
			{req: get("a"), want: missing},
		}},
		{name: "msetnx all or none", steps: []step{
			{req: &pb.DataRequest{Op: pb.DataOp_KV_MSETNX, Pairs: pairs("a", `1`, "b", `2`)}, want: &pb.DataReply{Ok: true, Integer: 2}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_MSETNX, Pairs: pairs("c", `3`, "b", `4`)}, want: &pb.DataReply{}},
			{req: get("c"), want: missing},
			{req: get("b"), want: found(`2`, -1)},
		}},
		{name: "msetnx counts any type as existing", steps: []step{
			{req: &pb.DataRequest{Op: pb.DataOp_LIST_RPUSH, Key: "l", Values: jsons(`1`)}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_MSETNX, Pairs: pairs("a", `1`, "l", `2`)}, want: &pb.DataReply{}},
			{req: get("a"), want: missing},
		}},
		{name: "msetnx over an expired key", steps: []step{
			{req: &pb.DataRequest{Op: pb.DataOp_HASH_SET, Key: "h", Pairs: pairs("f", `1`)}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_EXPIRE, Key: "h", TtlMs: 5}},
			{at: 5 * time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_MSETNX, Pairs: pairs("h", `1`)}, want: &pb.DataReply{Ok: true, Integer: 1}},
			{at: 5 * time.Millisecond, req: get("h"), want: found(`1`, -1)},
		}},
	})
}

func TestKVUsage(t *testing.T) {
	runScenarios(t, []scenario{{name: "usage", steps: []step{
		{req: &pb.DataRequest{Op: pb.DataOp_KV_USAGE, Key: "k"}, want: &pb.DataReply{}},
		{req: set("k", `"abc"`)},
		{req: &pb.DataRequest{Op: pb.DataOp_KV_USAGE, Key: "k"}, want: &pb.DataReply{Found: true, Integer: keyOverhead + 1 + 5}},
		{req: &pb.DataRequest{Op: pb.DataOp_HASH_SET, Key: "h", Pairs: pairs("f", `12`)}},
		{req: &pb.DataRequest{Op: pb.DataOp_KV_USAGE, Key: "h"}, want: &pb.DataReply{Found: true, Integer: keyOverhead + 1 + elementOverhead + 1 + 2}},
	}}})
}

func scan(prefix, cursor string, count int64) *pb.DataRequest {
	return &pb.DataRequest{Op: pb.DataOp_KV_SCAN, Prefix: prefix, Cursor: cursor, Count: count}
}

func TestKVScan(t *testing.T) {
	var fill []step
	for _, k := range []string{"user:1", "user:2", "user:3", "user:30", "user;", "user", "usex", "a", "user:\xff"} {
		fill = append(fill, step{req: set(k, `1`)})
	}
	fill = append(fill, step{req: &pb.DataRequest{Op: pb.DataOp_SET_ADD, Key: "user:4", Members: []string{"m"}}})
	fill = append(fill, step{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "user:25", Value: js(`1`), TtlMs: 10}})
	later := 10 * time.Millisecond
	steps := append(fill,
		step{at: later, req: scan("user:", "", 2), want: &pb.DataReply{Keys: []string{"user:1", "user:2"}, HasMore: true}},
		// user:25 has expired: skipped, not counted.
		step{at: later, req: scan("user:", "user:2", 2), want: &pb.DataReply{Keys: []string{"user:3", "user:30"}, HasMore: true}},
		step{at: later, req: scan("user:", "user:30", 2), want: &pb.DataReply{Keys: []string{"user:4", "user:\xff"}}},
		step{at: later, req: scan("user:", "user:\xff", 2), want: &pb.DataReply{}},
		// A cursor that sorts before the prefix starts at the prefix.
		step{at: later, req: scan("user:", "a", 1), want: &pb.DataReply{Keys: []string{"user:1"}, HasMore: true}},
		step{at: later, req: scan("user:", "zzz", 5), want: &pb.DataReply{}},
		step{at: later, req: scan("nothing", "", 5), want: &pb.DataReply{}},
		step{at: later, req: scan("", "user:\xff", 5), want: &pb.DataReply{Keys: []string{"user;", "usex"}}},
		step{at: later, req: scan("", "", 0), want: &pb.DataReply{Keys: []string{"a", "user", "user:1", "user:2", "user:3", "user:30", "user:4", "user:\xff", "user;", "usex"}}},
	)
	runScenarios(t, []scenario{{name: "scan", steps: steps}})
}

func TestKVScanDefaultCount(t *testing.T) {
	s := NewShard(testPrefix, nil)
	j := mapJournal{}
	for i := range defaultScanCount + 1 {
		s.Apply(t0, set(fmt.Sprintf("k%04d", i), `1`), j)
	}
	got := s.Apply(t0, scan("k", "", 0), j)
	if len(got.GetKeys()) != defaultScanCount || !got.GetHasMore() {
		t.Fatalf("got %d keys, has_more %v; want %d and more", len(got.GetKeys()), got.GetHasMore(), defaultScanCount)
	}
}

func BenchmarkApply(b *testing.B) {
	const keys = 100_000
	value := js(`{"name":"Alice","age":30,"email":"alice@example.com"}`)
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("user:%d", i)
	}
	s := NewShard(testPrefix, nil)
	for _, k := range names {
		s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: k, Value: value}, discard{})
	}
	b.Run("KV_SET", func(b *testing.B) {
		req := &pb.DataRequest{Op: pb.DataOp_KV_SET, Value: value}
		i := 0
		for b.Loop() {
			req.Key = names[i%keys]
			s.Apply(t0, req, discard{})
			i++
		}
	})
	b.Run("KV_GET", func(b *testing.B) {
		req := &pb.DataRequest{Op: pb.DataOp_KV_GET}
		i := 0
		for b.Loop() {
			req.Key = names[i%keys]
			if !s.Apply(t0, req, discard{}).GetFound() {
				b.Fatal("not found")
			}
			i++
		}
	})
}

// discard is a journal that keeps nothing, to time Apply alone.
type discard struct{}

func (discard) Set(key, value []byte)         {}
func (discard) Delete(key []byte)             {}
func (discard) DeleteRange(start, end []byte) {}
