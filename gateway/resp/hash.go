package resp

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/troupe-run/troupe/messages"
)

func init() {
	k1 := func(s *cmdSpec) *cmdSpec { s.first, s.last, s.ste = 1, 1, 1; return s }
	register(
		k1(&cmdSpec{name: "hset", arity: -4, flags: fWrite | fFast, run: cmdHSet(false)}),
		k1(&cmdSpec{name: "hmset", arity: -4, flags: fWrite | fFast, run: cmdHSet(true)}),
		k1(&cmdSpec{name: "hsetnx", arity: 4, flags: fWrite | fFast, run: cmdHSetNX}),
		k1(&cmdSpec{name: "hget", arity: 3, flags: fReadonly | fFast, run: cmdHGet}),
		k1(&cmdSpec{name: "hmget", arity: -3, flags: fReadonly | fFast, run: cmdHMGet}),
		k1(&cmdSpec{name: "hgetall", arity: 2, flags: fReadonly, run: cmdHGetAll}),
		k1(&cmdSpec{name: "hdel", arity: -3, flags: fWrite | fFast, run: cmdHDel}),
		k1(&cmdSpec{name: "hexists", arity: 3, flags: fReadonly | fFast, run: cmdHExists}),
		k1(&cmdSpec{name: "hlen", arity: 2, flags: fReadonly | fFast, run: cmdHLen}),
		k1(&cmdSpec{name: "hkeys", arity: 2, flags: fReadonly, run: cmdHKeys}),
		k1(&cmdSpec{name: "hvals", arity: 2, flags: fReadonly, run: cmdHVals}),
		k1(&cmdSpec{name: "hincrby", arity: 4, flags: fWrite | fFast, run: cmdHIncrBy}),
		k1(&cmdSpec{name: "hincrbyfloat", arity: 4, flags: fWrite | fFast, run: cmdHIncrByFloat}),
		k1(&cmdSpec{name: "hstrlen", arity: 3, flags: fReadonly | fFast, run: cmdHStrlen}),
		k1(&cmdSpec{name: "hrandfield", arity: -2, flags: fReadonly, run: cmdHRandField}),
		k1(&cmdSpec{name: "hscan", arity: -3, flags: fReadonly, run: cmdHScan}),
	)
}

func cmdHSet(legacy bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		if len(a)%2 != 0 {
			c.w.err(wrongArity(map[bool]string{false: "hset", true: "hmset"}[legacy]))
			return
		}
		req := &messages.DataRequest{Op: messages.DataOp_HASH_SET, Key: string(a[1]), Pairs: make([]*messages.Pair, 0, (len(a)-2)/2)}
		for i := 2; i < len(a); i += 2 {
			req.Pairs = append(req.Pairs, &messages.Pair{Key: string(a[i]), Value: encode(a[i+1])})
		}
		rep, err := c.do(req)
		if c.failed(rep, err) {
			return
		}
		if legacy {
			c.w.ok()
			return
		}
		c.w.int(rep.Integer)
	}
}

func cmdHSetNX(c *conn, a [][]byte) {
	key, field := string(a[1]), string(a[2])
	c.atomically([]string{key}, func() bool {
		ex, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_EXISTS, Key: key, Field: field})
		if c.failed(ex, err) {
			return false
		}
		if ex.Found {
			c.w.int(0)
			return true
		}
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_SET, Key: key,
			Pairs: []*messages.Pair{{Key: field, Value: encode(a[3])}}})
		if c.failed(rep, err) {
			return false
		}
		c.w.int(1)
		return true
	})
}

func cmdHGet(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_GET, Key: string(a[1]), Field: string(a[2])})
	if c.failed(rep, err) {
		return
	}
	if !rep.Found {
		c.w.null()
		return
	}
	c.w.bulk(decode(rep.Value))
}

func cmdHMGet(c *conn, a [][]byte) {
	fields := strs(a[2:])
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_MGET, Key: string(a[1]), Fields: fields})
	if c.failed(rep, err) {
		return
	}
	c.w.array(len(fields))
	for i := range fields {
		if i < len(rep.Flags) && rep.Flags[i] {
			c.w.bulk(decode(rep.Values[i]))
		} else {
			c.w.null()
		}
	}
}

func cmdHGetAll(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_GETALL, Key: string(a[1])})
	if c.failed(rep, err) {
		return
	}
	c.w.mapOf(len(rep.Pairs))
	for _, p := range rep.Pairs {
		c.w.bulkString(p.Key)
		c.w.bulk(decode(p.Value))
	}
}

func cmdHDel(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_DEL, Key: string(a[1]), Fields: strs(a[2:])})
	if c.failed(rep, err) {
		return
	}
	c.w.int(rep.Integer)
}

func cmdHExists(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_EXISTS, Key: string(a[1]), Field: string(a[2])})
	if c.failed(rep, err) {
		return
	}
	c.w.int(int64(b2i(rep.Found)))
}

func cmdHLen(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_LEN, Key: string(a[1])})
	if c.failed(rep, err) {
		return
	}
	c.w.int(rep.Integer)
}

func cmdHKeys(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_KEYS, Key: string(a[1])})
	if c.failed(rep, err) {
		return
	}
	c.w.strings(rep.Keys)
}

func cmdHVals(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_VALS, Key: string(a[1])})
	if c.failed(rep, err) {
		return
	}
	c.w.array(len(rep.Values))
	for _, v := range rep.Values {
		c.w.bulk(decode(v))
	}
}

func cmdHIncrBy(c *conn, a [][]byte) {
	n, ok := argInt(a[3])
	if !ok {
		c.w.err(notInteger)
		return
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_INCRBY, Key: string(a[1]), Field: string(a[2]), Amount: n})
	if err == nil && (rep.ErrorCode == messages.CodeNotInteger || rep.ErrorCode == messages.CodeNotFloat) {
		c.w.err("ERR hash value is not an integer")
		return
	}
	if c.failed(rep, err) {
		return
	}
	c.w.int(rep.Integer)
}

func cmdHIncrByFloat(c *conn, a [][]byte) {
	inc, ok := argFloat(a[3])
	if !ok {
		c.w.err(notFloat)
		return
	}
	key, field := string(a[1]), string(a[2])
	c.atomically([]string{key}, func() bool {
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_GET, Key: key, Field: field})
		if c.failed(rep, err) {
			return false
		}
		cur := 0.0
		if rep.Found {
			if cur, ok = argFloat(decode(rep.Value)); !ok {
				c.w.err("ERR hash value is not a float")
				return false
			}
		}
		sum := cur + inc
		if math.IsNaN(sum) || math.IsInf(sum, 0) {
			c.w.err("ERR increment would produce NaN or Infinity")
			return false
		}
		s := formatFloat(sum)
		set, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_SET, Key: key,
			Pairs: []*messages.Pair{{Key: field, Value: encodeString(s)}}})
		if c.failed(set, err) {
			return false
		}
		c.w.bulkString(s)
		return true
	})
}

func cmdHStrlen(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_GET, Key: string(a[1]), Field: string(a[2])})
	if c.failed(rep, err) {
		return
	}
	c.w.int(int64(len(decode(rep.Value))))
}

func cmdHRandField(c *conn, a [][]byte) {
	count, withCount := int64(1), len(a) > 2
	if withCount {
		var ok bool
		if count, ok = argInt(a[2]); !ok {
			c.w.err(notInteger)
			return
		}
	}
	withValues := false
	if len(a) == 4 {
		if !eq(a[3], "WITHVALUES") {
			c.w.err(syntaxErr)
			return
		}
		withValues = true
	} else if len(a) > 4 {
		c.w.err(syntaxErr)
		return
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_GETALL, Key: string(a[1])})
	if c.failed(rep, err) {
		return
	}
	pairs := rep.Pairs
	if !withCount {
		if len(pairs) == 0 {
			c.w.null()
			return
		}
		c.w.bulkString(pairs[rand.IntN(len(pairs))].Key)
		return
	}
	var picked []*messages.Pair
	if count >= 0 {
		perm := rand.Perm(len(pairs))
		for _, i := range perm[:min(int(count), len(pairs))] {
			picked = append(picked, pairs[i])
		}
	} else if len(pairs) > 0 {
		for range -count {
			picked = append(picked, pairs[rand.IntN(len(pairs))])
		}
	}
	if withValues && c.w.resp3 {
		c.w.array(len(picked))
		for _, p := range picked {
			c.w.array(2)
			c.w.bulkString(p.Key)
			c.w.bulk(decode(p.Value))
		}
		return
	}
	n := len(picked)
	if withValues {
		n *= 2
	}
	c.w.array(n)
	for _, p := range picked {
		c.w.bulkString(p.Key)
		if withValues {
			c.w.bulk(decode(p.Value))
		}
	}
}

func cmdHScan(c *conn, a [][]byte) {
	cursor, match, count, ok := collectionScan(c, a)
	if !ok {
		return
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_GETALL, Key: string(a[1])})
	if c.failed(rep, err) {
		return
	}
	names := make([]string, len(rep.Pairs))
	for i, p := range rep.Pairs {
		names[i] = p.Key
	}
	page, next := pageOf(names, cursor, count)
	var out [][]byte
	for _, i := range page {
		if p := rep.Pairs[i]; match == "" || globMatch(match, p.Key, false) {
			out = append(out, []byte(p.Key), decode(p.Value))
		}
	}
	c.w.array(2)
	c.w.bulkString(strconv.FormatUint(next, 10))
	c.w.array(len(out))
	for _, v := range out {
		c.w.bulk(v)
	}
}

var _ = strconv.Itoa
