package kv

import (
	"math"
	"testing"

	pb "github.com/troupe-run/troupe/messages"
)

func scored(ms ...any) []*pb.ScoredMember {
	out := make([]*pb.ScoredMember, 0, len(ms)/2)
	for i := 0; i+1 < len(ms); i += 2 {
		out = append(out, &pb.ScoredMember{Member: ms[i].(string), Score: ms[i+1].(float64)})
	}
	return out
}

func zadd(key string, ms ...any) *pb.DataRequest {
	return &pb.DataRequest{Op: pb.DataOp_ZSET_ADD, Key: key, Scored: scored(ms...)}
}

func zrange(op pb.DataOp, start, stop int64) *pb.DataRequest {
	return &pb.DataRequest{Op: op, Key: "z", Start: start, Stop: stop}
}

func zmember(op pb.DataOp, member string) *pb.DataRequest {
	return &pb.DataRequest{Op: op, Key: "z", Member: member}
}

func ranged(ms ...any) *pb.DataReply { return &pb.DataReply{Found: true, Scored: scored(ms...)} }

// board has equal scores, so member order breaks ties: a b c score 1, d 2, e 3.
var board = step{req: zadd("z", "c", 1.0, "e", 3.0, "a", 1.0, "d", 2.0, "b", 1.0)}

func TestZSetAdd(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "add and update", steps: []step{
			{req: zadd("z", "a", 1.0, "b", 2.0), want: &pb.DataReply{Ok: true, Integer: 2}},
			{req: zadd("z", "a", 5.0, "c", 0.5), want: &pb.DataReply{Ok: true, Integer: 1}},
			// A member given twice takes its last score.
			{req: zadd("z", "d", 1.0, "d", 9.0), want: &pb.DataReply{Ok: true, Integer: 1}},
			{req: zrange(pb.DataOp_ZSET_RANGE, 0, -1), want: ranged("c", 0.5, "b", 2.0, "a", 5.0, "d", 9.0)},
			{req: zmember(pb.DataOp_ZSET_SCORE, "a"), want: &pb.DataReply{Found: true, Number: 5}},
			{req: zmember(pb.DataOp_ZSET_SCORE, "x"), want: &pb.DataReply{}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_CARD, Key: "z"}, want: &pb.DataReply{Found: true, Integer: 4}},
		}},
		{name: "nx and xx", steps: []step{
			{req: zadd("z", "a", 1.0)},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_ADD, Key: "z", Nx: true, Scored: scored("a", 7.0, "b", 2.0)}, want: &pb.DataReply{Ok: true, Integer: 1}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_ADD, Key: "z", Xx: true, Scored: scored("a", 3.0, "c", 2.0)}, want: &pb.DataReply{Ok: true}},
			{req: zrange(pb.DataOp_ZSET_RANGE, 0, -1), want: ranged("b", 2.0, "a", 3.0)},
			// xx on a missing key creates nothing.
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_ADD, Key: "y", Xx: true, Scored: scored("a", 3.0)}, want: &pb.DataReply{Ok: true}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_EXISTS, Key: "y"}, want: &pb.DataReply{}},
		}},
		{name: "incr", steps: []step{
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_ADD, Key: "z", Incr: true, Scored: scored("a", 2.5)}, want: &pb.DataReply{Ok: true, Integer: 1, Number: 2.5}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_ADD, Key: "z", Incr: true, Scored: scored("a", 2.5)}, want: &pb.DataReply{Ok: true, Number: 5}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_ADD, Key: "z", Incr: true, Nx: true, Scored: scored("a", 1.0)}, want: &pb.DataReply{}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_ADD, Key: "z", Incr: true, Xx: true, Scored: scored("b", 1.0)}, want: &pb.DataReply{}},
			{req: zmember(pb.DataOp_ZSET_SCORE, "a"), want: &pb.DataReply{Found: true, Number: 5}},
		}},
		{name: "invalid", steps: []step{
			{req: zadd("z"), want: errReply(pb.CodeInvalid)},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_ADD, Key: "z", Nx: true, Xx: true, Scored: scored("a", 1.0)}, want: errReply(pb.CodeInvalid)},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_ADD, Key: "z", Incr: true, Scored: scored("a", 1.0, "b", 2.0)}, want: errReply(pb.CodeInvalid)},
			{req: zadd("z", "a", 1.0, "b", math.NaN()), want: errReply(pb.CodeNotFloat)},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_EXISTS, Key: "z"}, want: &pb.DataReply{}},
		}},
		{name: "infinities", steps: []step{
			{req: zadd("z", "top", math.Inf(1), "bottom", math.Inf(-1), "zero", 0.0)},
			{req: zrange(pb.DataOp_ZSET_RANGE, 0, -1), want: ranged("bottom", math.Inf(-1), "zero", 0.0, "top", math.Inf(1))},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_ADD, Key: "z", Incr: true, Scored: scored("top", math.Inf(-1))}, want: errReply(pb.CodeNotFloat)},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_INCRBY, Key: "z", Member: "top", Score: math.Inf(-1)}, want: errReply(pb.CodeNotFloat)},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_RANGEBYSCORE, Key: "z", Min: math.Inf(-1), Max: math.Inf(1)}, want: ranged("bottom", math.Inf(-1), "zero", 0.0, "top", math.Inf(1))},
			{req: zmember(pb.DataOp_ZSET_SCORE, "top"), want: &pb.DataReply{Found: true, Number: math.Inf(1)}},
		}},
		{name: "incrby", steps: []step{
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_INCRBY, Key: "z", Member: "a", Score: 1.5}, want: &pb.DataReply{Ok: true, Number: 1.5}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_INCRBY, Key: "z", Member: "a", Score: -4}, want: &pb.DataReply{Ok: true, Number: -2.5}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_INCRBY, Key: "z", Member: "a", Score: math.NaN()}, want: errReply(pb.CodeNotFloat)},
			{req: zrange(pb.DataOp_ZSET_RANGE, 0, -1), want: ranged("a", -2.5)},
		}},
		{name: "rem to empty", steps: []step{
			board,
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_REM, Key: "z", Members: []string{"a", "x", "a", "e"}}, want: &pb.DataReply{Ok: true, Integer: 2}},
			{req: zrange(pb.DataOp_ZSET_RANGE, 0, -1), want: ranged("b", 1.0, "c", 1.0, "d", 2.0)},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_REM, Key: "z", Members: []string{"b", "c", "d"}}, want: &pb.DataReply{Ok: true, Integer: 3}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_EXISTS, Key: "z"}, want: &pb.DataReply{}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_REM, Key: "z", Members: []string{"b"}}, want: &pb.DataReply{}},
		}},
	})
}

func TestZSetRanges(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "by rank", steps: []step{
			board,
			{req: zrange(pb.DataOp_ZSET_RANGE, 0, -1), want: ranged("a", 1.0, "b", 1.0, "c", 1.0, "d", 2.0, "e", 3.0)},
			{req: zrange(pb.DataOp_ZSET_RANGE, 1, 2), want: ranged("b", 1.0, "c", 1.0)},
			{req: zrange(pb.DataOp_ZSET_RANGE, -2, -1), want: ranged("d", 2.0, "e", 3.0)},
			{req: zrange(pb.DataOp_ZSET_RANGE, -100, 0), want: ranged("a", 1.0)},
			{req: zrange(pb.DataOp_ZSET_RANGE, 3, 1), want: ranged()},
			{req: zrange(pb.DataOp_ZSET_RANGE, 5, 9), want: ranged()},
			{req: zrange(pb.DataOp_ZSET_RANGE, math.MinInt64, math.MaxInt64), want: ranged("a", 1.0, "b", 1.0, "c", 1.0, "d", 2.0, "e", 3.0)},
			{req: zrange(pb.DataOp_ZSET_REVRANGE, 0, -1), want: ranged("e", 3.0, "d", 2.0, "c", 1.0, "b", 1.0, "a", 1.0)},
			{req: zrange(pb.DataOp_ZSET_REVRANGE, 0, 1), want: ranged("e", 3.0, "d", 2.0)},
			{req: zrange(pb.DataOp_ZSET_REVRANGE, -2, -1), want: ranged("b", 1.0, "a", 1.0)},
			{req: zrange(pb.DataOp_ZSET_REVRANGE, 4, 10), want: ranged("a", 1.0)},
			{req: zrange(pb.DataOp_ZSET_REVRANGE, -1, -2), want: ranged()},
		}},
		{name: "by score", steps: []step{
			board,
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_RANGEBYSCORE, Key: "z", Min: 1, Max: 2}, want: ranged("a", 1.0, "b", 1.0, "c", 1.0, "d", 2.0)},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_RANGEBYSCORE, Key: "z", Min: 1, Max: 2, Count: 2}, want: &pb.DataReply{Found: true, HasMore: true, Scored: scored("a", 1.0, "b", 1.0)}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_RANGEBYSCORE, Key: "z", Min: 1.5, Max: 3, Count: 2}, want: ranged("d", 2.0, "e", 3.0)},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_RANGEBYSCORE, Key: "z", Min: 2.5, Max: 2.6}, want: ranged()},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_RANGEBYSCORE, Key: "z", Min: 3, Max: 1}, want: ranged()},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_RANGEBYSCORE, Key: "z", Min: math.NaN(), Max: 1}, want: errReply(pb.CodeNotFloat)},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_COUNT, Key: "z", Min: 1, Max: 2}, want: &pb.DataReply{Found: true, Integer: 4}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_COUNT, Key: "z", Min: 2, Max: 2}, want: &pb.DataReply{Found: true, Integer: 1}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_COUNT, Key: "z", Min: 1.1, Max: 1.9}, want: &pb.DataReply{Found: true}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_COUNT, Key: "z", Min: 3, Max: 1}, want: &pb.DataReply{Found: true}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_COUNT, Key: "z", Min: math.Inf(-1), Max: math.Inf(1)}, want: &pb.DataReply{Found: true, Integer: 5}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_COUNT, Key: "z", Min: 0, Max: math.NaN()}, want: errReply(pb.CodeNotFloat)},
		}},
		{name: "rank", steps: []step{
			board,
			{req: zmember(pb.DataOp_ZSET_RANK, "a"), want: &pb.DataReply{Found: true}},
			{req: zmember(pb.DataOp_ZSET_RANK, "c"), want: &pb.DataReply{Found: true, Integer: 2}},
			{req: zmember(pb.DataOp_ZSET_RANK, "e"), want: &pb.DataReply{Found: true, Integer: 4}},
			{req: zmember(pb.DataOp_ZSET_REVRANK, "e"), want: &pb.DataReply{Found: true}},
			{req: zmember(pb.DataOp_ZSET_REVRANK, "b"), want: &pb.DataReply{Found: true, Integer: 3}},
			{req: zmember(pb.DataOp_ZSET_RANK, "x"), want: &pb.DataReply{}},
		}},
		{name: "missing", steps: []step{
			{req: zrange(pb.DataOp_ZSET_RANGE, 0, -1), want: &pb.DataReply{}},
			{req: zrange(pb.DataOp_ZSET_REVRANGE, 0, -1), want: &pb.DataReply{}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_RANGEBYSCORE, Key: "z", Min: 0, Max: 1}, want: &pb.DataReply{}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_COUNT, Key: "z", Min: 0, Max: 1}, want: &pb.DataReply{}},
			{req: zmember(pb.DataOp_ZSET_RANK, "a"), want: &pb.DataReply{}},
			{req: &pb.DataRequest{Op: pb.DataOp_ZSET_CARD, Key: "z"}, want: &pb.DataReply{}},
		}},
	})
}

// Ranks and counts agree with a plain walk over a larger set, where the
// binary searches take several steps.
func TestZSetRankAgreesWithOrder(t *testing.T) {
	s := NewShard(testPrefix, nil)
	j := mapJournal{}
	var ms []any
	for i := range 500 {
		ms = append(ms, string(rune('a'+i%26))+string(rune('a'+i/26)), float64(i%37))
	}
	s.Apply(t0, zadd("z", ms...), j)
	all := s.Apply(t0, zrange(pb.DataOp_ZSET_RANGE, 0, -1), j).GetScored()
	if len(all) != 500 {
		t.Fatalf("range holds %d members", len(all))
	}
	for i, m := range all {
		if i > 0 && zless(zitem{m.GetScore(), m.GetMember()}, zitem{all[i-1].GetScore(), all[i-1].GetMember()}) {
			t.Fatalf("range out of order at %d", i)
		}
		if got := s.Apply(t0, zmember(pb.DataOp_ZSET_RANK, m.GetMember()), j).GetInteger(); got != int64(i) {
			t.Fatalf("rank of %q is %d, want %d", m.GetMember(), got, i)
		}
		if got := s.Apply(t0, zmember(pb.DataOp_ZSET_REVRANK, m.GetMember()), j).GetInteger(); got != int64(499-i) {
			t.Fatalf("revrank of %q is %d, want %d", m.GetMember(), got, 499-i)
		}
	}
	for lo := -1.0; lo < 38; lo += 3.5 {
		hi := lo + 7
		var want int64
		for _, m := range all {
			if m.GetScore() >= lo && m.GetScore() <= hi {
				want++
			}
		}
		got := s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_ZSET_COUNT, Key: "z", Min: lo, Max: hi}, j).GetInteger()
		byScore := s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_ZSET_RANGEBYSCORE, Key: "z", Min: lo, Max: hi}, j).GetScored()
		if got != want || int64(len(byScore)) != want {
			t.Fatalf("[%v, %v]: count %d, rangebyscore %d, want %d", lo, hi, got, len(byScore), want)
		}
	}
}
