package kv

import (
	"math"
	"testing"

	pb "github.com/troupe-run/troupe/messages"
)

func push(op pb.DataOp, key string, values ...string) *pb.DataRequest {
	return &pb.DataRequest{Op: op, Key: key, Values: jsons(values...)}
}

func lrange(key string, start, stop int64) *pb.DataRequest {
	return &pb.DataRequest{Op: pb.DataOp_LIST_RANGE, Key: key, Start: start, Stop: stop}
}

func values(vs ...string) *pb.DataReply { return &pb.DataReply{Found: true, Values: jsons(vs...)} }

// abcde fills list "l" with "a" .. "e".
var abcde = step{req: push(pb.DataOp_LIST_RPUSH, "l", `"a"`, `"b"`, `"c"`, `"d"`, `"e"`)}

func TestListPushPop(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "redis order", steps: []step{
			{req: push(pb.DataOp_LIST_LPUSH, "l", `"a"`, `"b"`, `"c"`), want: &pb.DataReply{Ok: true, Integer: 3}},
			{req: push(pb.DataOp_LIST_RPUSH, "l", `"d"`, `"e"`), want: &pb.DataReply{Ok: true, Integer: 5}},
			{req: push(pb.DataOp_LIST_LPUSH, "l", `"z"`), want: &pb.DataReply{Ok: true, Integer: 6}},
			{req: lrange("l", 0, -1), want: values(`"z"`, `"c"`, `"b"`, `"a"`, `"d"`, `"e"`)},
			{req: &pb.DataRequest{Op: pb.DataOp_LIST_LPOP, Key: "l"}, want: &pb.DataReply{Ok: true, Found: true, Values: jsons(`"z"`)}},
			{req: &pb.DataRequest{Op: pb.DataOp_LIST_LPOP, Key: "l", Count: 2}, want: &pb.DataReply{Ok: true, Found: true, Values: jsons(`"c"`, `"b"`)}},
			{req: &pb.DataRequest{Op: pb.DataOp_LIST_RPOP, Key: "l", Count: 2}, want: &pb.DataReply{Ok: true, Found: true, Values: jsons(`"e"`, `"d"`)}},
			{req: &pb.DataRequest{Op: pb.DataOp_LIST_LEN, Key: "l"}, want: &pb.DataReply{Found: true, Integer: 1}},
			// Popping more than there is empties the list, which disappears.
			{req: &pb.DataRequest{Op: pb.DataOp_LIST_RPOP, Key: "l", Count: math.MaxInt64}, want: &pb.DataReply{Ok: true, Found: true, Values: jsons(`"a"`)}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_TYPE, Key: "l"}, want: &pb.DataReply{Type: "none"}},
			{req: &pb.DataRequest{Op: pb.DataOp_LIST_LPOP, Key: "l"}, want: &pb.DataReply{}},
			{req: &pb.DataRequest{Op: pb.DataOp_LIST_LEN, Key: "l"}, want: &pb.DataReply{}},
			{req: lrange("l", 0, -1), want: &pb.DataReply{}},
		}},
		{name: "invalid", steps: []step{
			{req: push(pb.DataOp_LIST_RPUSH, "l"), want: errReply(pb.CodeInvalid)},
			{req: &pb.DataRequest{Op: pb.DataOp_LIST_RPUSH, Key: "l", Values: [][]byte{js(`1`), nil}}, want: errReply(pb.CodeInvalid)},
			{req: push(pb.DataOp_LIST_RPUSH, "l", `1`)},
			{req: &pb.DataRequest{Op: pb.DataOp_LIST_LPOP, Key: "l", Count: -1}, want: errReply(pb.CodeInvalid)},
			{req: lrange("l", 0, -1), want: values(`1`)},
		}},
	})
}

func TestListRange(t *testing.T) {
	cases := []struct {
		start, stop int64
		want        []string
	}{
		{0, -1, []string{`"a"`, `"b"`, `"c"`, `"d"`, `"e"`}},
		{0, 0, []string{`"a"`}},
		{-2, -1, []string{`"d"`, `"e"`}},
		{1, -2, []string{`"b"`, `"c"`, `"d"`}},
		{-100, 100, []string{`"a"`, `"b"`, `"c"`, `"d"`, `"e"`}},
		{math.MinInt64, math.MaxInt64, []string{`"a"`, `"b"`, `"c"`, `"d"`, `"e"`}},
		{4, 4, []string{`"e"`}},
		{2, 1, nil},
		{5, 10, nil},
		{-1, -2, nil},
		{-100, -6, nil},
		{math.MaxInt64, math.MaxInt64, nil},
	}
	steps := []step{abcde}
	for _, c := range cases {
		steps = append(steps, step{req: lrange("l", c.start, c.stop), want: values(c.want...)})
	}
	runScenarios(t, []scenario{{name: "range", steps: steps}})
}

func TestListIndexSet(t *testing.T) {
	index := func(i int64) *pb.DataRequest { return &pb.DataRequest{Op: pb.DataOp_LIST_INDEX, Key: "l", Start: i} }
	lset := func(i int64, v string) *pb.DataRequest {
		return &pb.DataRequest{Op: pb.DataOp_LIST_SET, Key: "l", Start: i, Value: js(v)}
	}
	runScenarios(t, []scenario{{name: "index and set", steps: []step{
		{req: index(0), want: &pb.DataReply{}},
		{req: lset(0, `1`), want: errReply(pb.CodeNoSuchKey)},
		abcde,
		{req: index(0), want: &pb.DataReply{Found: true, Value: js(`"a"`)}},
		{req: index(-1), want: &pb.DataReply{Found: true, Value: js(`"e"`)}},
		{req: index(-5), want: &pb.DataReply{Found: true, Value: js(`"a"`)}},
		{req: index(5), want: &pb.DataReply{}},
		{req: index(-6), want: &pb.DataReply{}},
		{req: index(math.MinInt64), want: &pb.DataReply{}},
		{req: lset(-1, `"E"`), want: &pb.DataReply{Ok: true}},
		{req: lset(1, `{"long":"value"}`), want: &pb.DataReply{Ok: true}},
		{req: lset(5, `1`), want: errReply(pb.CodeOutOfRange)},
		{req: lset(-6, `1`), want: errReply(pb.CodeOutOfRange)},
		{req: lset(0, ``), want: errReply(pb.CodeInvalid)},
		{req: lrange("l", 0, -1), want: values(`"a"`, `{"long":"value"}`, `"c"`, `"d"`, `"E"`)},
	}}})
}

func TestListTrim(t *testing.T) {
	trim := func(start, stop int64) *pb.DataRequest {
		return &pb.DataRequest{Op: pb.DataOp_LIST_TRIM, Key: "l", Start: start, Stop: stop}
	}
	runScenarios(t, []scenario{
		{name: "both ends", steps: []step{
			abcde,
			{req: trim(1, -2), want: &pb.DataReply{Ok: true}},
			{req: lrange("l", 0, -1), want: values(`"b"`, `"c"`, `"d"`)},
			{req: push(pb.DataOp_LIST_LPUSH, "l", `"a"`)},
			{req: push(pb.DataOp_LIST_RPUSH, "l", `"e"`)},
			{req: lrange("l", 0, -1), want: values(`"a"`, `"b"`, `"c"`, `"d"`, `"e"`)},
		}},
		{name: "head only", steps: []step{abcde, {req: trim(3, 100), want: &pb.DataReply{Ok: true}}, {req: lrange("l", 0, -1), want: values(`"d"`, `"e"`)}}},
		{name: "tail only", steps: []step{abcde, {req: trim(-100, 0), want: &pb.DataReply{Ok: true}}, {req: lrange("l", 0, -1), want: values(`"a"`)}}},
		{name: "nothing", steps: []step{abcde, {req: trim(0, -1), want: &pb.DataReply{Ok: true}}, {req: lrange("l", 0, -1), want: values(`"a"`, `"b"`, `"c"`, `"d"`, `"e"`)}}},
		{name: "everything", steps: []step{
			abcde,
			{req: trim(5, 10), want: &pb.DataReply{Ok: true}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_EXISTS, Key: "l"}, want: &pb.DataReply{}},
		}},
		{name: "inverted", steps: []step{abcde, {req: trim(-1, -3), want: &pb.DataReply{Ok: true}}, {req: &pb.DataRequest{Op: pb.DataOp_LIST_LEN, Key: "l"}, want: &pb.DataReply{}}}},
		{name: "missing", steps: []step{{req: trim(0, 1), want: &pb.DataReply{Ok: true}}}},
	})
}

func TestListRem(t *testing.T) {
	rem := func(count int64, v string) *pb.DataRequest {
		return &pb.DataRequest{Op: pb.DataOp_LIST_REM, Key: "l", Count: count, Value: js(v)}
	}
	fill := step{req: push(pb.DataOp_LIST_RPUSH, "l", `"a"`, `"b"`, `"a"`, `"c"`, `"a"`)}
	runScenarios(t, []scenario{
		{name: "from the head", steps: []step{fill, {req: rem(2, `"a"`), want: &pb.DataReply{Ok: true, Integer: 2}}, {req: lrange("l", 0, -1), want: values(`"b"`, `"c"`, `"a"`)}}},
		{name: "from the tail", steps: []step{fill, {req: rem(-1, `"a"`), want: &pb.DataReply{Ok: true, Integer: 1}}, {req: lrange("l", 0, -1), want: values(`"a"`, `"b"`, `"a"`, `"c"`)}}},
		{name: "all", steps: []step{fill, {req: rem(0, `"a"`), want: &pb.DataReply{Ok: true, Integer: 3}}, {req: lrange("l", 0, -1), want: values(`"b"`, `"c"`)}}},
		{name: "more than there are", steps: []step{fill, {req: rem(math.MinInt64, `"a"`), want: &pb.DataReply{Ok: true, Integer: 3}}, {req: rem(100, `"b"`), want: &pb.DataReply{Ok: true, Integer: 1}}}},
		{name: "no match", steps: []step{fill, {req: rem(0, `"z"`), want: &pb.DataReply{Ok: true}}, {req: &pb.DataRequest{Op: pb.DataOp_LIST_LEN, Key: "l"}, want: &pb.DataReply{Found: true, Integer: 5}}}},
		{name: "to empty", steps: []step{
			{req: push(pb.DataOp_LIST_RPUSH, "l", `1`, `1`)},
			{req: rem(0, `1`), want: &pb.DataReply{Ok: true, Integer: 2}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_EXISTS, Key: "l"}, want: &pb.DataReply{}},
		}},
		// A gap left in the middle: indexes still count elements.
		{name: "index across a gap", steps: []step{
			fill,
			{req: rem(1, `"b"`)},
			{req: &pb.DataRequest{Op: pb.DataOp_LIST_INDEX, Key: "l", Start: 1}, want: &pb.DataReply{Found: true, Value: js(`"a"`)}},
			{req: lrange("l", 1, 2), want: values(`"a"`, `"c"`)},
		}},
		{name: "missing", steps: []step{{req: rem(0, `1`), want: &pb.DataReply{}}, {req: rem(0, ``), want: errReply(pb.CodeInvalid)}}},
	})
}
