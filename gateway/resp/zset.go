package resp

import (
	"math"
	"sort"
	"strconv"

	"github.com/troupe-run/troupe/messages"
)

func init() {
	k1 := func(s *cmdSpec) *cmdSpec { s.first, s.last, s.ste = 1, 1, 1; return s }
	register(
		k1(&cmdSpec{name: "zadd", arity: -4, flags: fWrite | fFast, run: cmdZAdd}),
		k1(&cmdSpec{name: "zincrby", arity: 4, flags: fWrite | fFast, run: cmdZIncrBy}),
		k1(&cmdSpec{name: "zrem", arity: -3, flags: fWrite | fFast, run: cmdZRem}),
		k1(&cmdSpec{name: "zscore", arity: 3, flags: fReadonly | fFast, run: cmdZScore}),
		k1(&cmdSpec{name: "zmscore", arity: -3, flags: fReadonly | fFast, run: cmdZMScore}),
		k1(&cmdSpec{name: "zcard", arity: 2, flags: fReadonly | fFast, run: cmdZCard}),
		k1(&cmdSpec{name: "zrank", arity: 3, flags: fReadonly | fFast, run: cmdZRank(messages.DataOp_ZSET_RANK)}),
		k1(&cmdSpec{name: "zrevrank", arity: 3, flags: fReadonly | fFast, run: cmdZRank(messages.DataOp_ZSET_REVRANK)}),
		k1(&cmdSpec{name: "zcount", arity: 4, flags: fReadonly | fFast, run: cmdZCount}),
		k1(&cmdSpec{name: "zlexcount", arity: 4, flags: fReadonly | fFast, run: cmdZLexCount}),
		k1(&cmdSpec{name: "zrange", arity: -4, flags: fReadonly, run: cmdZRange("zrange")}),
		k1(&cmdSpec{name: "zrevrange", arity: -4, flags: fReadonly, run: cmdZRange("zrevrange")}),
		k1(&cmdSpec{name: "zrangebyscore", arity: -4, flags: fReadonly, run: cmdZRange("zrangebyscore")}),
		k1(&cmdSpec{name: "zrevrangebyscore", arity: -4, flags: fReadonly, run: cmdZRange("zrevrangebyscore")}),
		k1(&cmdSpec{name: "zrangebylex", arity: -4, flags: fReadonly, run: cmdZRange("zrangebylex")}),
		k1(&cmdSpec{name: "zrevrangebylex", arity: -4, flags: fReadonly, run: cmdZRange("zrevrangebylex")}),
		k1(&cmdSpec{name: "zpopmin", arity: -2, flags: fWrite | fFast, run: cmdZPop(false)}),
		k1(&cmdSpec{name: "zpopmax", arity: -2, flags: fWrite | fFast, run: cmdZPop(true)}),
		&cmdSpec{name: "bzpopmin", arity: -3, flags: fWrite | fBlocking, first: 1, last: -2, ste: 1, run: cmdBZPop(false)},
		&cmdSpec{name: "bzpopmax", arity: -3, flags: fWrite | fBlocking, first: 1, last: -2, ste: 1, run: cmdBZPop(true)},
		k1(&cmdSpec{name: "zremrangebyrank", arity: 4, flags: fWrite, run: cmdZRemRange("rank")}),
		k1(&cmdSpec{name: "zremrangebyscore", arity: 4, flags: fWrite, run: cmdZRemRange("score")}),
		k1(&cmdSpec{name: "zremrangebylex", arity: 4, flags: fWrite, run: cmdZRemRange("lex")}),
		k1(&cmdSpec{name: "zscan", arity: -3, flags: fReadonly, run: cmdZScan}),
		&cmdSpec{name: "zunionstore", arity: -4, flags: fWrite, run: cmdZCombine('u', true)},
		&cmdSpec{name: "zinterstore", arity: -4, flags: fWrite, run: cmdZCombine('i', true)},
		&cmdSpec{name: "zdiffstore", arity: -4, flags: fWrite, run: cmdZCombine('d', true)},
		&cmdSpec{name: "zunion", arity: -3, flags: fReadonly, run: cmdZCombine('u', false)},
		&cmdSpec{name: "zinter", arity: -3, flags: fReadonly, run: cmdZCombine('i', false)},
		&cmdSpec{name: "zdiff", arity: -3, flags: fReadonly, run: cmdZCombine('d', false)},
	)
	for _, n := range []string{"zunion", "zinter", "zdiff"} {
		keyFuncs[n] = numKeys(1)
		store := numKeys(2)
		keyFuncs[n+"store"] = func(args [][]byte) []string {
			if len(args) < 2 {
				return nil
			}
			return append([]string{string(args[1])}, store(args)...)
		}
	}
}

func cmdZAdd(c *conn, a [][]byte) {
	var nx, xx, gt, lt, ch, incr bool
	i := 2
opts:
	for ; i < len(a); i++ {
		var buf [8]byte
		switch string(lower(a[i], buf[:])) {
		case "nx":
			nx = true
		case "xx":
			xx = true
		case "gt":
			gt = true
		case "lt":
			lt = true
		case "ch":
			ch = true
		case "incr":
			incr = true
		default:
			break opts
		}
	}
	rest := a[i:]
	if len(rest) == 0 || len(rest)%2 != 0 {
		c.w.err(syntaxErr)
		return
	}
	switch {
	case nx && xx:
		c.w.err("ERR XX and NX options at the same time are not compatible")
		return
	case (gt && nx) || (lt && nx) || (gt && lt):
		c.w.err("ERR GT, LT, and/or NX options at the same time are not compatible")
		return
	case incr && len(rest) > 2:
		c.w.err("ERR INCR option supports a single increment-element pair")
		return
	}
	scored := make([]*messages.ScoredMember, 0, len(rest)/2)
	for j := 0; j < len(rest); j += 2 {
		f, ok := argFloat(rest[j])
		if !ok {
			c.w.err(notFloat)
			return
		}
		scored = append(scored, &messages.ScoredMember{Member: string(rest[j+1]), Score: f})
	}
	key := string(a[1])
	if !gt && !lt && !ch {
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_ADD, Key: key, Scored: scored, Nx: nx, Xx: xx, Incr: incr})
		if err == nil && rep.ErrorCode == messages.CodeNotFloat && incr {
			c.w.err("ERR resulting score is not a number (NaN)")
			return
		}
		if c.failed(rep, err) {
			return
		}
		if incr {
			if !rep.Ok {
				c.w.null()
				return
			}
			c.w.double(rep.Number)
			return
		}
		c.w.int(rep.Integer)
		return
	}
	// GT, LT and CH need the current scores: read them and decide here,
	// holding the key.
	c.atomically([]string{key}, func() bool {
		cur := map[string]float64{}
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_RANGE, Key: key, Start: 0, Stop: -1})
		if c.failed(rep, err) {
			return false
		}
		for _, m := range rep.Scored {
			cur[m.Member] = m.Score
		}
		var apply []*messages.ScoredMember
		added, changed := int64(0), int64(0)
		last := map[string]int{}
		for j, m := range scored {
			last[m.Member] = j
		}
		var result float64
		applied := false
		for j, m := range scored {
			if last[m.Member] != j {
				continue
			}
			old, exists := cur[m.Member]
			score := m.Score
			if incr {
				score += old
				if math.IsNaN(score) {
					c.w.err("ERR resulting score is not a number (NaN)")
					return false
				}
			}
			if (nx && exists) || (xx && !exists) {
				continue
			}
			if exists && ((gt && score <= old) || (lt && score >= old)) {
				continue
			}
			if exists && score == old {
				applied, result = true, score
				continue
			}
			if exists {
				changed++
			} else {
				added++
			}
			apply = append(apply, &messages.ScoredMember{Member: m.Member, Score: score})
			applied, result = true, score
		}
		if len(apply) > 0 {
			r, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_ADD, Key: key, Scored: apply})
			if c.failed(r, err) {
				return false
			}
		}
		switch {
		case incr && !applied:
			c.w.null()
		case incr:
			c.w.double(result)
		case ch:
			c.w.int(added + changed)
		default:
			c.w.int(added)
		}
		return true
	})
}

func cmdZIncrBy(c *conn, a [][]byte) {
	f, ok := argFloat(a[2])
	if !ok {
		c.w.err(notFloat)
		return
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_INCRBY, Key: string(a[1]), Member: string(a[3]), Score: f})
	if err == nil && rep.ErrorCode == messages.CodeNotFloat {
		c.w.err("ERR resulting score is not a number (NaN)")
		return
	}
	if c.failed(rep, err) {
		return
	}
	c.w.double(rep.Number)
}

func cmdZRem(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_REM, Key: string(a[1]), Members: strs(a[2:])})
	if c.failed(rep, err) {
		return
	}
	c.w.int(rep.Integer)
}

func cmdZScore(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_SCORE, Key: string(a[1]), Member: string(a[2])})
	if c.failed(rep, err) {
		return
	}
	if !rep.Found {
		c.w.null()
		return
	}
	c.w.double(rep.Number)
}

func (c *conn) zall(key string) ([]*messages.ScoredMember, bool) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_RANGE, Key: key, Start: 0, Stop: -1})
	if c.failed(rep, err) {
		return nil, false
	}
	return rep.Scored, true
}

func cmdZMScore(c *conn, a [][]byte) {
	all, ok := c.zall(string(a[1]))
	if !ok {
		return
	}
	scores := make(map[string]float64, len(all))
	for _, m := range all {
		scores[m.Member] = m.Score
	}
	c.w.array(len(a) - 2)
	for _, m := range a[2:] {
		if s, ok := scores[string(m)]; ok {
			c.w.double(s)
		} else {
			c.w.null()
		}
	}
}

func cmdZCard(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_CARD, Key: string(a[1])})
	if c.failed(rep, err) {
		return
	}
	c.w.int(rep.Integer)
}

func cmdZRank(op messages.DataOp) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		rep, err := c.do(&messages.DataRequest{Op: op, Key: string(a[1]), Member: string(a[2])})
		if c.failed(rep, err) {
			return
		}
		if !rep.Found {
			c.w.null()
			return
		}
		c.w.int(rep.Integer)
	}
}

// scoreBound is one end of a score range: "(" makes it exclusive.
type scoreBound struct {
	v    float64
	excl bool
}

func parseScore(b []byte) (scoreBound, bool) {
	if len(b) > 0 && b[0] == '(' {
		f, ok := argFloat(b[1:])
		return scoreBound{f, true}, ok
	}
	f, ok := argFloat(b)
	return scoreBound{f, false}, ok
}

func (lo scoreBound) below(s float64) bool { // s is at or past the lower bound
	if lo.excl {
		return s > lo.v
	}
	return s >= lo.v
}

func (hi scoreBound) above(s float64) bool {
	if hi.excl {
		return s < hi.v
	}
	return s <= hi.v
}

// lexBound is one end of a lex range: "-", "+", "[x" or "(x".
type lexBound struct {
	s        string
	excl     bool
	min, max bool // - and +
}

func parseLex(b []byte) (lexBound, bool) {
	switch {
	case len(b) == 1 && b[0] == '-':
		return lexBound{min: true}, true
	case len(b) == 1 && b[0] == '+':
		return lexBound{max: true}, true
	case len(b) > 0 && b[0] == '[':
		return lexBound{s: string(b[1:])}, true
	case len(b) > 0 && b[0] == '(':
		return lexBound{s: string(b[1:]), excl: true}, true
	}
	return lexBound{}, false
}

func (lo lexBound) lowOK(m string) bool {
	switch {
	case lo.min:
		return true
	case lo.max:
		return false
	case lo.excl:
		return m > lo.s
	}
	return m >= lo.s
}

func (hi lexBound) highOK(m string) bool {
	switch {
	case hi.max:
		return true
	case hi.min:
		return false
	case hi.excl:
		return m < hi.s
	}
	return m <= hi.s
}

func cmdZCount(c *conn, a [][]byte) {
	lo, ok1 := parseScore(a[2])
	hi, ok2 := parseScore(a[3])
	if !ok1 || !ok2 {
		c.w.err(minMaxFloat)
		return
	}
	all, ok := c.zall(string(a[1]))
	if !ok {
		return
	}
	n := 0
	for _, m := range all {
		if lo.below(m.Score) && hi.above(m.Score) {
			n++
		}
	}
	c.w.int(int64(n))
}

func cmdZLexCount(c *conn, a [][]byte) {
	lo, ok1 := parseLex(a[2])
	hi, ok2 := parseLex(a[3])
	if !ok1 || !ok2 {
		c.w.err("ERR min or max not valid string range item")
		return
	}
	all, ok := c.zall(string(a[1]))
	if !ok {
		return
	}
	n := 0
	for _, m := range all {
		if lo.lowOK(m.Member) && hi.highOK(m.Member) {
			n++
		}
	}
	c.w.int(int64(n))
}

// zrangeReq is a parsed ZRANGE in any of its forms.
type zrangeReq struct {
	by            string // "rank", "score", "lex"
	rev           bool
	withScores    bool
	offset, count int64 // LIMIT; count < 0: all
	limit         bool
}

// cmdZRange serves ZRANGE and its older forms, by rank, score or lex,
// forwards or reversed, with LIMIT and WITHSCORES.
func cmdZRange(form string) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		r := zrangeReq{by: "rank", count: -1}
		switch form {
		case "zrevrange":
			r.rev = true
		case "zrangebyscore":
			r.by = "score"
		case "zrevrangebyscore":
			r.by, r.rev = "score", true
		case "zrangebylex":
			r.by = "lex"
		case "zrevrangebylex":
			r.by, r.rev = "lex", true
		}
		for i := 4; i < len(a); i++ {
			var buf [12]byte
			opt := string(lower(a[i], buf[:]))
			switch {
			case opt == "withscores" && form != "zrangebylex" && form != "zrevrangebylex":
				r.withScores = true
			case opt == "limit" && form != "zrevrange" && i+2 < len(a):
				o, ok1 := argInt(a[i+1])
				n, ok2 := argInt(a[i+2])
				if !ok1 || !ok2 {
					c.w.err(notInteger)
					return
				}
				r.offset, r.count, r.limit = o, n, true
				i += 2
			case form == "zrange" && opt == "byscore" && r.by == "rank":
				r.by = "score"
			case form == "zrange" && opt == "bylex" && r.by == "rank":
				r.by = "lex"
			case form == "zrange" && opt == "rev":
				r.rev = true
			default:
				c.w.err(syntaxErr)
				return
			}
		}
		if form == "zrange" && r.limit && r.by == "rank" {
			c.w.err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
			return
		}
		if r.by == "lex" && r.withScores {
			c.w.err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
			return
		}
		c.zrange(string(a[1]), a[2], a[3], r)
	}
}

func (c *conn) zrange(key string, from, to []byte, r zrangeReq) {
	var picked []*messages.ScoredMember
	switch r.by {
	case "rank":
		start, ok1 := argInt(from)
		stop, ok2 := argInt(to)
		if !ok1 || !ok2 {
			c.w.err(notInteger)
			return
		}
		op := messages.DataOp_ZSET_RANGE
		if r.rev {
			op = messages.DataOp_ZSET_REVRANGE
		}
		rep, err := c.do(&messages.DataRequest{Op: op, Key: key, Start: start, Stop: stop})
		if c.failed(rep, err) {
			return
		}
		picked = rep.Scored
	case "score":
		// In reversed forms the first bound is the maximum.
		if r.rev {
			from, to = to, from
		}
		lo, ok1 := parseScore(from)
		hi, ok2 := parseScore(to)
		if !ok1 || !ok2 {
			c.w.err(minMaxFloat)
			return
		}
		all, ok := c.zall(key)
		if !ok {
			return
		}
		for _, m := range all {
			if lo.below(m.Score) && hi.above(m.Score) {
				picked = append(picked, m)
			}
		}
	case "lex":
		if r.rev {
			from, to = to, from
		}
		lo, ok1 := parseLex(from)
		hi, ok2 := parseLex(to)
		if !ok1 || !ok2 {
			c.w.err("ERR min or max not valid string range item")
			return
		}
		all, ok := c.zall(key)
		if !ok {
			return
		}
		for _, m := range all {
			if lo.lowOK(m.Member) && hi.highOK(m.Member) {
				picked = append(picked, m)
			}
		}
	}
	if r.by != "rank" {
		if r.rev {
			for i, j := 0, len(picked)-1; i < j; i, j = i+1, j-1 {
				picked[i], picked[j] = picked[j], picked[i]
			}
		}
		if r.limit {
			if r.offset < 0 || r.offset >= int64(len(picked)) {
				picked = nil
			} else {
				picked = picked[r.offset:]
				if r.count >= 0 && r.count < int64(len(picked)) {
					picked = picked[:r.count]
				}
			}
		}
	}
	c.writeScored(picked, r.withScores)
}

// writeScored writes members, with their scores when asked: a flat array
// in RESP2, an array of [member, score] pairs in RESP3, as Redis 7 does.
func (c *conn) writeScored(ms []*messages.ScoredMember, withScores bool) {
	switch {
	case !withScores:
		c.w.array(len(ms))
		for _, m := range ms {
			c.w.bulkString(m.Member)
		}
	case c.w.resp3:
		c.w.array(len(ms))
		for _, m := range ms {
			c.w.array(2)
			c.w.bulkString(m.Member)
			c.w.double(m.Score)
		}
	default:
		c.w.array(2 * len(ms))
		for _, m := range ms {
			c.w.bulkString(m.Member)
			c.w.double(m.Score)
		}
	}
}

func cmdZPop(highest bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		if len(a) > 3 {
			c.w.err(syntaxErr)
			return
		}
		count := int64(1)
		if len(a) == 3 {
			n, ok := argInt(a[2])
			if !ok || n < 0 {
				c.w.err(outOfRange)
				return
			}
			count = n
		}
		key := string(a[1])
		c.atomically([]string{key}, func() bool {
			op := messages.DataOp_ZSET_RANGE
			if highest {
				op = messages.DataOp_ZSET_REVRANGE
			}
			var picked []*messages.ScoredMember
			if count > 0 {
				rep, err := c.do(&messages.DataRequest{Op: op, Key: key, Start: 0, Stop: count - 1})
				if c.failed(rep, err) {
					return false
				}
				picked = rep.Scored
			} else {
				t, ok := c.typeOf(key)
				if !ok {
					return false
				}
				if t != "none" && t != "zset" {
					c.w.err(wrongType)
					return false
				}
			}
			if len(picked) > 0 {
				ms := make([]string, len(picked))
				for i, m := range picked {
					ms[i] = m.Member
				}
				rem, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_REM, Key: key, Members: ms})
				if c.failed(rem, err) {
					return false
				}
			}
			if len(a) == 3 && c.w.resp3 {
				c.writeScored(picked, true)
				return true
			}
			c.w.array(2 * len(picked))
			for _, m := range picked {
				c.w.bulkString(m.Member)
				c.w.double(m.Score)
			}
			return true
		})
	}
}

// cmdBZPop serves BZPOPMIN and BZPOPMAX: the first non-empty sorted set of
// the keys gives its lowest (highest) member, else the command blocks until
// an add to one of them (or the timeout: a null array).
func cmdBZPop(highest bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		timeout, ok := timeoutArg(c, a[len(a)-1])
		if !ok {
			return
		}
		keys := strs(a[1 : len(a)-1])
		op := messages.DataOp_ZSET_RANGE
		if highest {
			op = messages.DataOp_ZSET_REVRANGE
		}
		try := func() (done bool) {
			for _, key := range keys {
				// atomically is false when fn failed (and answered) or the
				// hold failed (and it answered).
				held := c.atomically([]string{key}, func() bool {
					rep, err := c.do(&messages.DataRequest{Op: op, Key: key, Start: 0, Stop: 0})
					if c.failed(rep, err) {
						done = true
						return false
					}
					if len(rep.Scored) == 0 {
						return true
					}
					m := rep.Scored[0]
					rem, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_REM, Key: key, Members: []string{m.Member}})
					if c.failed(rem, err) {
						done = true
						return false
					}
					c.w.array(3)
					c.w.bulkString(key)
					c.w.bulkString(m.Member)
					c.w.double(m.Score)
					done = true
					return true
				})
				if done || !held {
					return true
				}
			}
			return false
		}
		if !c.block(true, timeout, keys, try) {
			c.w.nullArray()
		}
	}
}

func cmdZRemRange(by string) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		key := string(a[1])
		var keep func(i int, m *messages.ScoredMember, n int) bool
		switch by {
		case "rank":
			start, ok1 := argInt(a[2])
			stop, ok2 := argInt(a[3])
			if !ok1 || !ok2 {
				c.w.err(notInteger)
				return
			}
			keep = func(i int, _ *messages.ScoredMember, n int) bool {
				s, e := start, stop
				if s < 0 {
					s += int64(n)
				}
				if e < 0 {
					e += int64(n)
				}
				s = max(s, 0)
				return !(int64(i) >= s && int64(i) <= e)
			}
		case "score":
			lo, ok1 := parseScore(a[2])
			hi, ok2 := parseScore(a[3])
			if !ok1 || !ok2 {
				c.w.err(minMaxFloat)
				return
			}
			keep = func(_ int, m *messages.ScoredMember, _ int) bool { return !(lo.below(m.Score) && hi.above(m.Score)) }
		case "lex":
			lo, ok1 := parseLex(a[2])
			hi, ok2 := parseLex(a[3])
			if !ok1 || !ok2 {
				c.w.err("ERR min or max not valid string range item")
				return
			}
			keep = func(_ int, m *messages.ScoredMember, _ int) bool { return !(lo.lowOK(m.Member) && hi.highOK(m.Member)) }
		}
		c.atomically([]string{key}, func() bool {
			all, ok := c.zall(key)
			if !ok {
				return false
			}
			var gone []string
			for i, m := range all {
				if !keep(i, m, len(all)) {
					gone = append(gone, m.Member)
				}
			}
			if len(gone) > 0 {
				rem, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_REM, Key: key, Members: gone})
				if c.failed(rem, err) {
					return false
				}
			}
			c.w.int(int64(len(gone)))
			return true
		})
	}
}

func cmdZScan(c *conn, a [][]byte) {
	cursor, match, count, ok := collectionScan(c, a)
	if !ok {
		return
	}
	all, ok := c.zall(string(a[1]))
	if !ok {
		return
	}
	names := make([]string, len(all))
	for i, m := range all {
		names[i] = m.Member
	}
	page, next := pageOf(names, cursor, count)
	var out []*messages.ScoredMember
	for _, i := range page {
		if m := all[i]; match == "" || globMatch(match, m.Member, false) {
			out = append(out, m)
		}
	}
	c.w.array(2)
	c.w.bulkString(strconv.FormatUint(next, 10))
	c.w.array(2 * len(out))
	for _, m := range out {
		c.w.bulkString(m.Member)
		c.w.bulkString(formatDouble(m.Score))
	}
}

// cmdZCombine serves ZUNION/ZINTER/ZDIFF and their STORE forms: WEIGHTS,
// AGGREGATE SUM|MIN|MAX, WITHSCORES.
func cmdZCombine(op byte, store bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		at := 1
		dst := ""
		if store {
			dst, at = string(a[1]), 2
		}
		n, ok := argInt(a[at])
		if !ok {
			c.w.err(notInteger)
			return
		}
		if n <= 0 {
			name := map[byte]string{'u': "zunion", 'i': "zinter", 'd': "zdiff"}[op]
			if store {
				name += "store"
			}
			c.w.err("ERR at least 1 input key is needed for '" + name + "' command")
			return
		}
		if int64(len(a)-at-1) < n {
			c.w.err(syntaxErr)
			return
		}
		keys := strs(a[at+1 : at+1+int(n)])
		weights := make([]float64, len(keys))
		for i := range weights {
			weights[i] = 1
		}
		agg := "sum"
		withScores := false
		rest := a[at+1+int(n):]
		for i := 0; i < len(rest); i++ {
			switch {
			case eq(rest[i], "WEIGHTS") && op != 'd' && i+len(keys) < len(rest):
				for j := range keys {
					f, ok := argFloat(rest[i+1+j])
					if !ok {
						c.w.err("ERR weight value is not a float")
						return
					}
					weights[j] = f
				}
				i += len(keys)
			case eq(rest[i], "AGGREGATE") && op != 'd' && i+1 < len(rest):
				switch {
				case eq(rest[i+1], "SUM"):
					agg = "sum"
				case eq(rest[i+1], "MIN"):
					agg = "min"
				case eq(rest[i+1], "MAX"):
					agg = "max"
				default:
					c.w.err(syntaxErr)
					return
				}
				i++
			case eq(rest[i], "WITHSCORES") && !store:
				withScores = true
			default:
				c.w.err(syntaxErr)
				return
			}
		}
		run := func() bool {
			var result map[string]float64
			for i, k := range keys {
				t, ok := c.typeOf(k)
				if !ok {
					return false
				}
				var ms []*messages.ScoredMember
				switch t {
				case "zset":
					if ms, ok = c.zall(k); !ok {
						return false
					}
				case "set":
					// Sets take part with score 1, as in Redis.
					mem, ok := c.members(k)
					if !ok {
						return false
					}
					for _, m := range mem {
						ms = append(ms, &messages.ScoredMember{Member: m, Score: 1})
					}
				case "none":
				default:
					c.w.err(wrongType)
					return false
				}
				cur := make(map[string]float64, len(ms))
				for _, m := range ms {
					s := m.Score * weights[i]
					if math.IsNaN(s) {
						s = 0
					}
					cur[m.Member] = s
				}
				if i == 0 {
					result = cur
					continue
				}
				switch op {
				case 'u':
					for m, s := range cur {
						if old, ok := result[m]; ok {
							result[m] = aggregate(agg, old, s)
						} else {
							result[m] = s
						}
					}
				case 'i':
					for m, old := range result {
						if s, ok := cur[m]; ok {
							result[m] = aggregate(agg, old, s)
						} else {
							delete(result, m)
						}
					}
				case 'd':
					for m := range cur {
						delete(result, m)
					}
				}
			}
			out := make([]*messages.ScoredMember, 0, len(result))
			for m, s := range result {
				out = append(out, &messages.ScoredMember{Member: m, Score: s})
			}
			sort.Slice(out, func(i, j int) bool {
				if out[i].Score != out[j].Score {
					return out[i].Score < out[j].Score
				}
				return out[i].Member < out[j].Member
			})
			if !store {
				c.writeScored(out, withScores)
				return true
			}
			del, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Key: dst})
			if c.failed(del, err) {
				return false
			}
			if len(out) > 0 {
				add, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_ADD, Key: dst, Scored: out})
				if c.failed(add, err) {
					return false
				}
			}
			c.w.int(int64(len(out)))
			return true
		}
		if store {
			c.atomically(append([]string{dst}, keys...), run)
		} else {
			run()
		}
	}
}

func aggregate(agg string, a, b float64) float64 {
	switch agg {
	case "min":
		return math.Min(a, b)
	case "max":
		return math.Max(a, b)
	}
	s := a + b
	if math.IsNaN(s) {
		return 0
	}
	return s
}
