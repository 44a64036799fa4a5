package synap

import (
	"math"
	"testing"

	"github.com/troupe-run/troupe/messages"
)

func scored(pairs ...any) []*messages.ScoredMember {
	var out []*messages.ScoredMember
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, &messages.ScoredMember{Member: pairs[i].(string), Score: pairs[i+1].(float64)})
	}
	return out
}

func TestSortedSetCommands(t *testing.T) {
	inf := math.Inf(1)
	runCommandCases(t, []commandCase{
		{"zadd one member", "sortedset.zadd", `{"key":"z","member":"player1","score":100.5}`,
			&dr{Op: messages.DataOp_ZSET_ADD, Key: "z", Scored: scored("player1", 100.5)},
			&rep{Integer: 1}, `{"key":"z","added":1}`},
		{"zadd members", "sortedset.zadd", `{"key":"z","members":[{"member":"player1","score":100.5},{"member":"player2","score":200.0}]}`,
			&dr{Op: messages.DataOp_ZSET_ADD, Key: "z", Scored: scored("player1", 100.5, "player2", 200.0)},
			&rep{Integer: 2}, `{"key":"z","added":2}`},
		{"zadd members and scores", "sortedset.zadd", `{"key":"z","members":["a","b"],"scores":[1,-2e3]}`,
			&dr{Op: messages.DataOp_ZSET_ADD, Key: "z", Scored: scored("a", 1.0, "b", -2000.0)},
			&rep{Integer: 2}, `{"key":"z","added":2}`},
		{"zadd nx", "sortedset.zadd", `{"key":"z","member":"a","score":1,"nx":true}`,
			&dr{Op: messages.DataOp_ZSET_ADD, Key: "z", Nx: true, Scored: scored("a", 1.0)},
			&rep{}, `{"key":"z","added":0}`},
		{"zadd incr", "sortedset.zadd", `{"key":"z","member":"a","score":2,"incr":true}`,
			&dr{Op: messages.DataOp_ZSET_ADD, Key: "z", Incr: true, Scored: scored("a", 2.0)},
			&rep{Ok: true, Number: 3.5}, `{"key":"z","added":0,"score":3.5}`},
		{"zadd incr prevented by xx", "sortedset.zadd", `{"key":"z","member":"new","score":2,"incr":true,"xx":true}`,
			&dr{Op: messages.DataOp_ZSET_ADD, Key: "z", Incr: true, Xx: true, Scored: scored("new", 2.0)},
			&rep{}, `{"key":"z","added":0,"score":null}`},
		{"zrem", "sortedset.zrem", `{"key":"z","members":["a","b"]}`,
			&dr{Op: messages.DataOp_ZSET_REM, Key: "z", Members: []string{"a", "b"}},
			&rep{Integer: 1}, `{"key":"z","removed":1}`},
		{"zscore", "sortedset.zscore", `{"key":"z","member":"a"}`,
			&dr{Op: messages.DataOp_ZSET_SCORE, Key: "z", Member: "a"},
			&rep{Found: true, Number: 100.5}, `{"key":"z","member":"a","score":100.5}`},
		{"zscore of a missing member", "sortedset.zscore", `{"key":"z","member":"x"}`,
			&dr{Op: messages.DataOp_ZSET_SCORE, Key: "z", Member: "x"},
			&rep{}, `{"key":"z","member":"x","score":null}`},
		{"zrange", "sortedset.zrange", `{"key":"z","start":0,"stop":-1,"withscores":true}`,
			&dr{Op: messages.DataOp_ZSET_RANGE, Key: "z", Start: 0, Stop: -1},
			&rep{Scored: scored("a", 1.0, "b", 2.5)},
			`{"key":"z","members":[{"member":"a","score":1},{"member":"b","score":2.5}]}`},
		{"zrevrange", "sortedset.zrevrange", `{"key":"z","start":0,"stop":1}`,
			&dr{Op: messages.DataOp_ZSET_REVRANGE, Key: "z", Start: 0, Stop: 1},
			&rep{Scored: scored("b", 2.5)}, `{"key":"z","members":[{"member":"b","score":2.5}]}`},
		{"zrangebyscore", "sortedset.zrangebyscore", `{"key":"z","min":1,"max":2.5,"count":10}`,
			&dr{Op: messages.DataOp_ZSET_RANGEBYSCORE, Key: "z", Min: 1, Max: 2.5, Count: 10},
			&rep{Scored: scored("a", 1e-7)}, `{"key":"z","members":[{"member":"a","score":1e-7}]}`},
		{"zrangebyscore infinities", "sortedset.zrangebyscore", `{"key":"z","min":"-inf","max":"+inf"}`,
			&dr{Op: messages.DataOp_ZSET_RANGEBYSCORE, Key: "z", Min: -inf, Max: inf},
			&rep{}, `{"key":"z","members":[]}`},
		{"zrangebyscore defaults", "sortedset.zrangebyscore", `{"key":"z","limit":3}`,
			&dr{Op: messages.DataOp_ZSET_RANGEBYSCORE, Key: "z", Min: -inf, Max: inf, Count: 3},
			&rep{}, `{"key":"z","members":[]}`},
		{"zincrby", "sortedset.zincrby", `{"key":"z","member":"a","increment":1.5}`,
			&dr{Op: messages.DataOp_ZSET_INCRBY, Key: "z", Member: "a", Score: 1.5},
			&rep{Number: 3.5}, `{"key":"z","member":"a","score":3.5}`},
		{"zincrby score", "sortedset.zincrby", `{"key":"z","member":"a","score":-1}`,
			&dr{Op: messages.DataOp_ZSET_INCRBY, Key: "z", Member: "a", Score: -1},
			&rep{Number: 2}, `{"key":"z","member":"a","score":2}`},
		{"zcard", "sortedset.zcard", `{"key":"z"}`,
			&dr{Op: messages.DataOp_ZSET_CARD, Key: "z"},
			&rep{Integer: 2}, `{"key":"z","count":2}`},
		{"zrank", "sortedset.zrank", `{"key":"z","member":"b"}`,
			&dr{Op: messages.DataOp_ZSET_RANK, Key: "z", Member: "b"},
			&rep{Found: true, Integer: 1}, `{"key":"z","member":"b","rank":1}`},
		{"zrevrank of a missing member", "sortedset.zrevrank", `{"key":"z","member":"x"}`,
			&dr{Op: messages.DataOp_ZSET_REVRANK, Key: "z", Member: "x"},
			&rep{}, `{"key":"z","member":"x","rank":null}`},
		{"zcount", "sortedset.zcount", `{"key":"z","min":"1.5","max":"inf"}`,
			&dr{Op: messages.DataOp_ZSET_COUNT, Key: "z", Min: 1.5, Max: inf},
			&rep{Integer: 1}, `{"key":"z","count":1}`},
	})
}

func TestSortedSetInvalid(t *testing.T) {
	runInvalidCases(t, []invalidCase{
		{"zadd without score", "sortedset.zadd", `{"key":"z","member":"a"}`, "score is required"},
		{"zadd without member", "sortedset.zadd", `{"key":"z","score":1}`, "member is required"},
		{"zadd a string score", "sortedset.zadd", `{"key":"z","member":"a","score":"high"}`, "score must be a finite number"},
		{"zadd an infinite score", "sortedset.zadd", `{"key":"z","member":"a","score":1e400}`, "score must be a finite number"},
		{"zadd fewer scores than members", "sortedset.zadd", `{"key":"z","members":["a","b"],"scores":[1]}`, "as many numbers as members"},
		{"zadd members without scores", "sortedset.zadd", `{"key":"z","members":["a"]}`, "scores"},
		{"zadd member object without score", "sortedset.zadd", `{"key":"z","members":[{"member":"a"}]}`, "members[0].score is required"},
		{"zadd member object without member", "sortedset.zadd", `{"key":"z","members":[{"score":1}]}`, "members[0].member is required"},
		{"zadd empty members", "sortedset.zadd", `{"key":"z","members":[]}`, "members must not be empty"},
		{"zadd members not an array", "sortedset.zadd", `{"key":"z","members":{}}`, "members must be an array"},
		{"zadd nx and xx", "sortedset.zadd", `{"key":"z","member":"a","score":1,"nx":true,"xx":true}`, "nx and xx"},
		{"zadd gt", "sortedset.zadd", `{"key":"z","member":"a","score":1,"gt":true}`, "gt and lt"},
		{"zadd incr with two members", "sortedset.zadd", `{"key":"z","members":[{"member":"a","score":1},{"member":"b","score":1}],"incr":true}`, "incr takes a single member"},
		{"zrem without members", "sortedset.zrem", `{"key":"z"}`, "members is required"},
		{"zscore without member", "sortedset.zscore", `{"key":"z"}`, "member is required"},
		{"zrangebyscore bad min", "sortedset.zrangebyscore", `{"key":"z","min":"low"}`, "min must be a number"},
		{"zrangebyscore bad max", "sortedset.zrangebyscore", `{"key":"z","max":true}`, "max must be a number"},
		{"zrangebyscore count 0", "sortedset.zrangebyscore", `{"key":"z","count":0}`, "count must be at least 1"},
		{"zincrby without increment", "sortedset.zincrby", `{"key":"z","member":"a"}`, "increment is required"},
		{"zcount bad max", "sortedset.zcount", `{"key":"z","max":"nan"}`, "max must be a number"},
	})
}
