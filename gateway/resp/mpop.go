package resp

import (
	"time"

	"github.com/troupe-run/troupe/messages"
)

// LMPOP, ZMPOP and their blocking forms BLMPOP, BZMPOP: the first of the
// keys that holds something gives up to COUNT elements (Redis 7.0).

func init() {
	register(
		&cmdSpec{name: "lmpop", arity: -4, flags: fWrite, run: cmdLMPop(false)},
		&cmdSpec{name: "blmpop", arity: -5, flags: fWrite | fBlocking, run: cmdLMPop(true)},
		&cmdSpec{name: "zmpop", arity: -4, flags: fWrite, run: cmdZMPop(false)},
		&cmdSpec{name: "bzmpop", arity: -5, flags: fWrite | fBlocking, run: cmdZMPop(true)},
	)
	keyFuncs["lmpop"] = numKeys(1)
	keyFuncs["zmpop"] = numKeys(1)
	keyFuncs["blmpop"] = numKeys(2)
	keyFuncs["bzmpop"] = numKeys(2)
}

// mpopArgs reads "numkeys key... WHERE [COUNT count]" from a[at:], in
// Redis's order and with its errors: WHERE is one of the two words; front
// reports the first.
func mpopArgs(c *conn, a [][]byte, at int, first, second string) (keys []string, front bool, count int64, ok bool) {
	n, isInt := argInt(a[at])
	if !isInt || n <= 0 {
		c.w.err("ERR numkeys should be greater than 0")
		return nil, false, 0, false
	}
	if n >= int64(len(a)-at-1) { // no room for WHERE after the keys
		c.w.err(syntaxErr)
		return nil, false, 0, false
	}
	where := at + 1 + int(n)
	switch {
	case eq(a[where], first):
		front = true
	case eq(a[where], second):
	default:
		c.w.err(syntaxErr)
		return nil, false, 0, false
	}
	count = -1
	for j := where + 1; j < len(a); j++ {
		if count != -1 || !eq(a[j], "COUNT") || j+1 >= len(a) {
			c.w.err(syntaxErr)
			return nil, false, 0, false
		}
		j++
		if count, isInt = argInt(a[j]); !isInt || count <= 0 {
			c.w.err("ERR count should be greater than 0")
			return nil, false, 0, false
		}
	}
	if count == -1 {
		count = 1
	}
	return strs(a[at+1 : where]), front, count, true
}

// cmdLMPop serves LMPOP numkeys key... LEFT|RIGHT [COUNT count] and
// BLMPOP timeout numkeys ...: [key, [elements]] of the first non-empty
// list, else a null array (BLMPOP first waits for a push, up to timeout).
func cmdLMPop(blocking bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		at := 1
		var timeout time.Duration
		if blocking {
			var ok bool
			if timeout, ok = timeoutArg(c, a[1]); !ok {
				return
			}
			at = 2
		}
		keys, left, count, ok := mpopArgs(c, a, at, "LEFT", "RIGHT")
		if !ok {
			return
		}
		op := messages.DataOp_LIST_RPOP
		if left {
			op = messages.DataOp_LIST_LPOP
		}
		try := func() (answered bool) {
			// atomically is false when fn failed (and answered) or the
			// hold failed (and it answered).
			held := c.atomically(keys, func() bool {
				for _, key := range keys {
					// A missing key pops nothing; the first key of another
					// type is refused, as Redis checks each in turn.
					rep, err := c.do(&messages.DataRequest{Op: op, Key: key, Count: count})
					if c.failed(rep, err) {
						answered = true
						return false
					}
					if len(rep.Values) == 0 {
						continue
					}
					c.w.array(2)
					c.w.bulkString(key)
					c.w.array(len(rep.Values))
					for _, v := range rep.Values {
						c.w.bulk(decode(v))
					}
					answered = true
					return true
				}
				return true
			})
			return answered || !held
		}
		if !c.block(blocking, timeout, keys, try) {
			c.w.nullArray()
		}
	}
}

// cmdZMPop serves ZMPOP numkeys key... MIN|MAX [COUNT count] and BZMPOP
// timeout numkeys ...: [key, [[member, score]...]] of the first non-empty
// sorted set, else a null array (BZMPOP first waits for an add).
func cmdZMPop(blocking bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		at := 1
		var timeout time.Duration
		if blocking {
			var ok bool
			if timeout, ok = timeoutArg(c, a[1]); !ok {
				return
			}
			at = 2
		}
		keys, lowest, count, ok := mpopArgs(c, a, at, "MIN", "MAX")
		if !ok {
			return
		}
		op := messages.DataOp_ZSET_REVRANGE
		if lowest {
			op = messages.DataOp_ZSET_RANGE
		}
		try := func() (answered bool) {
			held := c.atomically(keys, func() bool {
				for _, key := range keys {
					rep, err := c.do(&messages.DataRequest{Op: op, Key: key, Start: 0, Stop: count - 1})
					if c.failed(rep, err) {
						answered = true
						return false
					}
					if len(rep.Scored) == 0 {
						continue
					}
					ms := make([]string, len(rep.Scored))
					for i, m := range rep.Scored {
						ms[i] = m.Member
					}
					rem, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_REM, Key: key, Members: ms})
					if c.failed(rem, err) {
						answered = true
						return false
					}
					c.w.array(2)
					c.w.bulkString(key)
					c.w.array(len(rep.Scored))
					for _, m := range rep.Scored {
						c.w.array(2)
						c.w.bulkString(m.Member)
						c.w.double(m.Score)
					}
					answered = true
					return true
				}
				return true
			})
			return answered || !held
		}
		if !c.block(blocking, timeout, keys, try) {
			c.w.nullArray()
		}
	}
}
