package synap

import (
	"math"

	"github.com/troupe-run/troupe/messages"
)

var zsetCommands = []commandSpec{
	{"sortedset.zadd", zadd},
	{"sortedset.zrem", zrem},
	{"sortedset.zscore", zscore},
	{"sortedset.zrange", zrange(messages.DataOp_ZSET_RANGE)},
	{"sortedset.zrevrange", zrange(messages.DataOp_ZSET_REVRANGE)},
	{"sortedset.zrangebyscore", zrangeByScore},
	{"sortedset.zincrby", zincrBy},
	{"sortedset.zcard", zcard},
	{"sortedset.zrank", zrank(messages.DataOp_ZSET_RANK)},
	{"sortedset.zrevrank", zrank(messages.DataOp_ZSET_REVRANK)},
	{"sortedset.zcount", zcount},
}

// sortedset.zadd {key, member, score} or {key, members: [{member, score}]}
// or {key, members: [...], scores: [...]}, with nx, xx, incr -> {key, added},
// plus with incr the new score (null when nx or xx prevented the change).
func zadd(c *call) error {
	a, key, err := keyArgs(c)
	if err != nil {
		return err
	}
	switch {
	case a.NX && a.XX:
		return invalid("nx and xx cannot both be set")
	case a.GT || a.LT:
		return invalid("gt and lt are not supported")
	}
	req := &messages.DataRequest{Op: messages.DataOp_ZSET_ADD, Key: key, Nx: a.NX, Xx: a.XX, Incr: a.Incr}
	if absent(a.Members) {
		member, err := a.member()
		if err != nil {
			return err
		}
		score, ok, err := floatArg("score", a.Score)
		if err != nil {
			return err
		}
		if !ok {
			return invalid("score is required")
		}
		req.Scored = []*messages.ScoredMember{{Member: member, Score: score}}
	} else if req.Scored, err = a.scoredList(); err != nil {
		return err
	}
	if a.Incr && len(req.Scored) != 1 {
		return invalid("incr takes a single member")
	}
	rep, err := c.do(req)
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(key)
	w.Key("added")
	w.Int(rep.Integer)
	if a.Incr {
		w.Key("score")
		if rep.Ok {
			w.Float(rep.Number)
		} else {
			w.Null() // nx or xx left the member alone
		}
	}
	w.EndObj()
	return nil
}

// sortedset.zrem {key, members} or {key, member} -> {key, removed}
func zrem(c *call) error {
	a, key, err := keyArgs(c)
	if err != nil {
		return err
	}
	members, err := a.members()
	if err != nil {
		return err
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_REM, Key: key, Members: members})
	if err != nil {
		return err
	}
	c.out.Obj()
	c.out.Key("key")
	c.out.Str(key)
	c.out.Key("removed")
	c.out.Int(rep.Integer)
	c.out.EndObj()
	return nil
}

// keyMember runs an op whose arguments are a key and a member.
func keyMember(c *call, op messages.DataOp) (*messages.DataReply, error) {
	a, key, err := keyArgs(c)
	if err != nil {
		return nil, err
	}
	member, err := a.member()
	if err != nil {
		return nil, err
	}
	return c.do(&messages.DataRequest{Op: op, Key: key, Member: member})
}

// sortedset.zscore {key, member} -> {key, member, score}; score is null for
// a missing member.
func zscore(c *call) error {
	rep, err := keyMember(c, messages.DataOp_ZSET_SCORE)
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(c.a.Key)
	w.Key("member")
	w.Str(c.a.Member)
	w.Key("score")
	if rep.Found {
		w.Float(rep.Number)
	} else {
		w.Null()
	}
	w.EndObj()
	return nil
}

// sortedset.zrank / zrevrank {key, member} -> {key, member, rank}; rank is
// null for a missing member.
func zrank(op messages.DataOp) command {
	return func(c *call) error {
		rep, err := keyMember(c, op)
		if err != nil {
			return err
		}
		w := c.out
		w.Obj()
		w.Key("key")
		w.Str(c.a.Key)
		w.Key("member")
		w.Str(c.a.Member)
		w.Key("rank")
		if rep.Found {
			w.Int(rep.Integer)
		} else {
			w.Null()
		}
		w.EndObj()
		return nil
	}
}

// scoredReply writes {key, members: [{member, score}]}. Scores are always
// included, whatever withscores says, as Synap does.
func scoredReply(c *call, scored []*messages.ScoredMember) error {
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(c.a.Key)
	w.Key("members")
	w.Arr()
	for _, m := range scored {
		w.Obj()
		w.Key("member")
		w.Str(m.GetMember())
		w.Key("score")
		w.Float(m.GetScore())
		w.EndObj()
	}
	w.EndArr()
	w.EndObj()
	return nil
}

// sortedset.zrange / zrevrange {key, start = 0, stop = -1} -> {key, members}
func zrange(op messages.DataOp) command {
	return func(c *call) error {
		a, key, err := keyArgs(c)
		if err != nil {
			return err
		}
		start, stop, err := rangeArgs(a)
		if err != nil {
			return err
		}
		rep, err := c.do(&messages.DataRequest{Op: op, Key: key, Start: start, Stop: stop})
		if err != nil {
			return err
		}
		return scoredReply(c, rep.Scored)
	}
}

// scoreRange reads min and max, defaults -inf and +inf.
func scoreRange(a *args) (lo, hi float64, err error) {
	if lo, err = boundArg("min", a.Min, math.Inf(-1)); err != nil {
		return 0, 0, err
	}
	hi, err = boundArg("max", a.Max, math.Inf(1))
	return lo, hi, err
}

// sortedset.zrangebyscore {key, min = -inf, max = +inf, count (or limit) = all}
// -> {key, members}
func zrangeByScore(c *call) error {
	a, key, err := keyArgs(c)
	if err != nil {
		return err
	}
	lo, hi, err := scoreRange(a)
	if err != nil {
		return err
	}
	countRaw, name := a.Count, "count"
	if absent(countRaw) {
		countRaw, name = a.Limit, "limit"
	}
	var count int64
	if !absent(countRaw) {
		if count, err = countArg(name, countRaw, 0); err != nil {
			return err
		}
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_RANGEBYSCORE, Key: key, Min: lo, Max: hi, Count: count})
	if err != nil {
		return err
	}
	return scoredReply(c, rep.Scored)
}

// sortedset.zincrby {key, member, increment (or score)} -> {key, member, score}
func zincrBy(c *call) error {
	a, key, err := keyArgs(c)
	if err != nil {
		return err
	}
	member, err := a.member()
	if err != nil {
		return err
	}
	raw, name := a.Increment, "increment"
	if absent(raw) {
		raw, name = a.Score, "score"
	}
	by, ok, err := floatArg(name, raw)
	if err != nil {
		return err
	}
	if !ok {
		return invalid("increment is required")
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_INCRBY, Key: key, Member: member, Score: by})
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(key)
	w.Key("member")
	w.Str(member)
	w.Key("score")
	w.Float(rep.Number)
	w.EndObj()
	return nil
}

// sortedset.zcard {key} -> {key, count}
func zcard(c *call) error {
	rep, err := keyOnly(c, messages.DataOp_ZSET_CARD)
	if err != nil {
		return err
	}
	return countReply(c, rep.Integer)
}

func countReply(c *call, n int64) error {
	c.out.Obj()
	c.out.Key("key")
	c.out.Str(c.a.Key)
	c.out.Key("count")
	c.out.Int(n)
	c.out.EndObj()
	return nil
}

// sortedset.zcount {key, min = -inf, max = +inf} -> {key, count}
func zcount(c *call) error {
	a, key, err := keyArgs(c)
	if err != nil {
		return err
	}
	lo, hi, err := scoreRange(a)
	if err != nil {
		return err
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_COUNT, Key: key, Min: lo, Max: hi})
	if err != nil {
		return err
	}
	return countReply(c, rep.Integer)
}
