package resp

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/troupe-run/troupe/messages"
)

func init() {
	k1 := func(s *cmdSpec) *cmdSpec { s.first, s.last, s.ste = 1, 1, 1; return s }
	k2 := func(s *cmdSpec) *cmdSpec { s.first, s.last, s.ste = 1, 2, 1; return s }
	register(
		k1(&cmdSpec{name: "lpush", arity: -3, flags: fWrite | fFast, run: cmdPush(messages.DataOp_LIST_LPUSH, false)}),
		k1(&cmdSpec{name: "rpush", arity: -3, flags: fWrite | fFast, run: cmdPush(messages.DataOp_LIST_RPUSH, false)}),
		k1(&cmdSpec{name: "lpushx", arity: -3, flags: fWrite | fFast, run: cmdPush(messages.DataOp_LIST_LPUSH, true)}),
		k1(&cmdSpec{name: "rpushx", arity: -3, flags: fWrite | fFast, run: cmdPush(messages.DataOp_LIST_RPUSH, true)}),
		k1(&cmdSpec{name: "lpop", arity: -2, flags: fWrite | fFast, run: cmdPop(messages.DataOp_LIST_LPOP)}),
		k1(&cmdSpec{name: "rpop", arity: -2, flags: fWrite | fFast, run: cmdPop(messages.DataOp_LIST_RPOP)}),
		k1(&cmdSpec{name: "lrange", arity: 4, flags: fReadonly, run: cmdLRange}),
		k1(&cmdSpec{name: "llen", arity: 2, flags: fReadonly | fFast, run: cmdLLen}),
		k1(&cmdSpec{name: "lindex", arity: 3, flags: fReadonly, run: cmdLIndex}),
		k1(&cmdSpec{name: "lset", arity: 4, flags: fWrite, run: cmdLSet}),
		k1(&cmdSpec{name: "ltrim", arity: 4, flags: fWrite, run: cmdLTrim}),
		k1(&cmdSpec{name: "lrem", arity: 4, flags: fWrite, run: cmdLRem}),
		k1(&cmdSpec{name: "linsert", arity: 5, flags: fWrite, run: cmdLInsert}),
		k1(&cmdSpec{name: "lpos", arity: -3, flags: fReadonly, run: cmdLPos}),
		k2(&cmdSpec{name: "lmove", arity: 5, flags: fWrite, run: cmdLMove(false)}),
		k2(&cmdSpec{name: "rpoplpush", arity: 3, flags: fWrite, run: cmdRPopLPush(false)}),
		k2(&cmdSpec{name: "blmove", arity: 6, flags: fWrite | fBlocking, run: cmdLMove(true)}),
		k2(&cmdSpec{name: "brpoplpush", arity: 4, flags: fWrite | fBlocking, run: cmdRPopLPush(true)}),
		&cmdSpec{name: "blpop", arity: -3, flags: fWrite | fBlocking, first: 1, last: -2, ste: 1, run: cmdBPop(messages.DataOp_LIST_LPOP)},
		&cmdSpec{name: "brpop", arity: -3, flags: fWrite | fBlocking, first: 1, last: -2, ste: 1, run: cmdBPop(messages.DataOp_LIST_RPOP)},
	)
}

func values(args [][]byte) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = encode(a)
	}
	return out
}

func cmdPush(op messages.DataOp, onlyExisting bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		req := &messages.DataRequest{Op: op, Key: string(a[1]), Values: values(a[2:])}
		if !onlyExisting {
			rep, err := c.do(req)
			if c.failed(rep, err) {
				return
			}
			c.w.int(rep.Integer)
			return
		}
		c.atomically([]string{req.Key}, func() bool {
			n, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_LEN, Key: req.Key})
			if c.failed(n, err) {
				return false
			}
			if n.Integer == 0 {
				c.w.int(0)
				return true
			}
			rep, err := c.do(req)
			if c.failed(rep, err) {
				return false
			}
			c.w.int(rep.Integer)
			return true
		})
	}
}

func cmdPop(op messages.DataOp) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		key := string(a[1])
		if len(a) > 3 {
			c.w.err(syntaxErr)
			return
		}
		if len(a) == 2 {
			rep, err := c.do(&messages.DataRequest{Op: op, Key: key})
			if c.failed(rep, err) {
				return
			}
			if len(rep.Values) == 0 {
				c.w.null()
				return
			}
			c.w.bulk(decode(rep.Values[0]))
			return
		}
		n, ok := argInt(a[2])
		if !ok || n < 0 {
			c.w.err(outOfRange)
			return
		}
		if n == 0 {
			// The keyspace reads count 0 as 1; Redis answers an empty
			// array (or nil for no key) without popping.
			l, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_LEN, Key: key})
			if c.failed(l, err) {
				return
			}
			if l.Integer == 0 {
				c.w.nullArray()
			} else {
				c.w.array(0)
			}
			return
		}
		rep, err := c.do(&messages.DataRequest{Op: op, Key: key, Count: n})
		if c.failed(rep, err) {
			return
		}
		if len(rep.Values) == 0 {
			c.w.nullArray()
			return
		}
		c.w.array(len(rep.Values))
		for _, v := range rep.Values {
			c.w.bulk(decode(v))
		}
	}
}

func cmdLRange(c *conn, a [][]byte) {
	start, ok1 := argInt(a[2])
	stop, ok2 := argInt(a[3])
	if !ok1 || !ok2 {
		c.w.err(notInteger)
		return
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_RANGE, Key: string(a[1]), Start: start, Stop: stop})
	if c.failed(rep, err) {
		return
	}
	c.w.array(len(rep.Values))
	for _, v := range rep.Values {
		c.w.bulk(decode(v))
	}
}

func cmdLLen(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_LEN, Key: string(a[1])})
	if c.failed(rep, err) {
		return
	}
	c.w.int(rep.Integer)
}

func cmdLIndex(c *conn, a [][]byte) {
	i, ok := argInt(a[2])
	if !ok {
		c.w.err(notInteger)
		return
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_INDEX, Key: string(a[1]), Start: i})
	if c.failed(rep, err) {
		return
	}
	if !rep.Found {
		c.w.null()
		return
	}
	c.w.bulk(decode(rep.Value))
}

func cmdLSet(c *conn, a [][]byte) {
	i, ok := argInt(a[2])
	if !ok {
		c.w.err(notInteger)
		return
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_SET, Key: string(a[1]), Start: i, Value: encode(a[3])})
	if c.failed(rep, err) {
		return
	}
	c.w.ok()
}

func cmdLTrim(c *conn, a [][]byte) {
	start, ok1 := argInt(a[2])
	stop, ok2 := argInt(a[3])
	if !ok1 || !ok2 {
		c.w.err(notInteger)
		return
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_TRIM, Key: string(a[1]), Start: start, Stop: stop})
	if c.failed(rep, err) {
		return
	}
	c.w.ok()
}

func cmdLRem(c *conn, a [][]byte) {
	n, ok := argInt(a[2])
	if !ok {
		c.w.err(notInteger)
		return
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_REM, Key: string(a[1]), Count: n, Value: encode(a[3])})
	if c.failed(rep, err) {
		return
	}
	c.w.int(rep.Integer)
}

// readList reads a whole list (nil when missing), as decoded strings.
func (c *conn) readList(key string) ([][]byte, bool) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_RANGE, Key: key, Start: 0, Stop: -1})
	if c.failed(rep, err) {
		return nil, false
	}
	out := make([][]byte, len(rep.Values))
	for i, v := range rep.Values {
		out[i] = decode(v)
	}
	return out, true
}

func cmdLInsert(c *conn, a [][]byte) {
	var after bool
	switch {
	case eq(a[2], "BEFORE"):
	case eq(a[2], "AFTER"):
		after = true
	default:
		c.w.err(syntaxErr)
		return
	}
	key := string(a[1])
	c.atomically([]string{key}, func() bool {
		items, ok := c.readList(key)
		if !ok {
			return false
		}
		if len(items) == 0 {
			c.w.int(0)
			return true
		}
		at := -1
		for i, v := range items {
			if bytes.Equal(v, a[3]) {
				at = i
				break
			}
		}
		if at < 0 {
			c.w.int(-1)
			return true
		}
		if after {
			at++
		}
		// Rewrite the tail from the insertion point: trim it off, push the
		// new element and the tail back.
		tail := items[at:]
		if at == 0 {
			rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_LPUSH, Key: key, Values: [][]byte{encode(a[4])}})
			if c.failed(rep, err) {
				return false
			}
			c.w.int(rep.Integer)
			return true
		}
		tr, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_TRIM, Key: key, Start: 0, Stop: int64(at - 1)})
		if c.failed(tr, err) {
			return false
		}
		push := append([][]byte{encode(a[4])}, values(tail)...)
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_RPUSH, Key: key, Values: push})
		if c.failed(rep, err) {
			return false
		}
		c.w.int(rep.Integer)
		return true
	})
}

func cmdLPos(c *conn, a [][]byte) {
	rank, count, maxLen := int64(1), int64(-1), int64(0)
	for i := 3; i < len(a); i++ {
		if i+1 >= len(a) {
			c.w.err(syntaxErr)
			return
		}
		n, ok := argInt(a[i+1])
		if !ok {
			c.w.err(notInteger)
			return
		}
		switch {
		case eq(a[i], "RANK"):
			if n == 0 || n == math.MinInt64 {
				c.w.err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
				return
			}
			rank = n
		case eq(a[i], "COUNT"):
			if n < 0 {
				c.w.err("ERR COUNT can't be negative")
				return
			}
			count = n
		case eq(a[i], "MAXLEN"):
			if n < 0 {
				c.w.err("ERR MAXLEN can't be negative")
				return
			}
			maxLen = n
		default:
			c.w.err(syntaxErr)
			return
		}
		i++
	}
	items, ok := c.readList(string(a[1]))
	if !ok {
		return
	}
	var found []int64
	skip := rank
	if skip < 0 {
		skip = -skip
	}
	want := count
	if want == 0 {
		want = math.MaxInt64
	} else if want < 0 {
		want = 1
	}
	for k := 0; k < len(items) && int64(len(found)) < want; k++ {
		if maxLen > 0 && int64(k) >= maxLen {
			break
		}
		i := k
		if rank < 0 {
			i = len(items) - 1 - k
		}
		if bytes.Equal(items[i], a[2]) {
			if skip > 1 {
				skip--
				continue
			}
			found = append(found, int64(i))
		}
	}
	if count < 0 {
		if len(found) == 0 {
			c.w.null()
		} else {
			c.w.int(found[0])
		}
		return
	}
	c.w.array(len(found))
	for _, i := range found {
		c.w.int(i)
	}
}

func side(b []byte) (left, ok bool) {
	switch {
	case eq(b, "LEFT"):
		return true, true
	case eq(b, "RIGHT"):
		return false, true
	}
	return false, false
}

// timeoutArg reads a blocking command's timeout in seconds (0: forever).
func timeoutArg(c *conn, b []byte) (time.Duration, bool) {
	f, ok := argFloat(b)
	if !ok || math.IsInf(f, 0) {
		c.w.err("ERR timeout is not a float or out of range")
		return 0, false
	}
	if f < 0 {
		c.w.err("ERR timeout is negative")
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

func cmdLMove(blocking bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		from, ok1 := side(a[3])
		to, ok2 := side(a[4])
		if !ok1 || !ok2 {
			c.w.err(syntaxErr)
			return
		}
		var timeout time.Duration
		if blocking {
			var ok bool
			if timeout, ok = timeoutArg(c, a[5]); !ok {
				return
			}
		}
		c.move(string(a[1]), string(a[2]), from, to, blocking, timeout)
	}
}

func cmdRPopLPush(blocking bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		var timeout time.Duration
		if blocking {
			var ok bool
			if timeout, ok = timeoutArg(c, a[3]); !ok {
				return
			}
		}
		c.move(string(a[1]), string(a[2]), false, true, blocking, timeout)
	}
}

// move pops from src and pushes onto dst, atomically; blocking, it waits
// (up to timeout, 0 forever) for src to have an element.
func (c *conn) move(src, dst string, fromLeft, toLeft, blocking bool, timeout time.Duration) {
	try := func() (done bool) {
		// atomically is false when fn failed (and answered) or the hold
		// failed (and it answered): either way the command is answered.
		held := c.atomically([]string{src, dst}, func() bool {
			// A dst of another type fails before anything is popped.
			t, ok := c.typeOf(dst)
			if !ok {
				done = true
				return false
			}
			if t != "none" && t != "list" {
				c.w.err(wrongType)
				done = true
				return false
			}
			op := messages.DataOp_LIST_RPOP
			if fromLeft {
				op = messages.DataOp_LIST_LPOP
			}
			rep, err := c.do(&messages.DataRequest{Op: op, Key: src})
			if c.failed(rep, err) {
				done = true
				return false
			}
			if len(rep.Values) == 0 {
				return true
			}
			push := messages.DataOp_LIST_RPUSH
			if toLeft {
				push = messages.DataOp_LIST_LPUSH
			}
			pr, err := c.do(&messages.DataRequest{Op: push, Key: dst, Values: rep.Values})
			if c.failed(pr, err) {
				done = true
				return false
			}
			c.w.bulk(decode(rep.Values[0]))
			done = true
			return true
		})
		return done || !held
	}
	if c.block(blocking, timeout, []string{src}, try) {
		return
	}
	c.w.null()
}

// block runs try until it answers, waiting between tries when blocking
// (not inside MULTI, where Redis does not block) until timeout (0:
// forever), the client goes away or the server closes. It sleeps until a
// write gives one of keys something to pop (the keyspace's waiters, signalled
// by pushes from either door and by holds let go), then tries again. It
// reports whether try answered.
func (c *conn) block(blocking bool, timeout time.Duration, keys []string, try func() bool) bool {
	if !blocking || c.txn != 0 {
		return try()
	}
	// Registered before the first look, so that a push between the look
	// and the sleep is not missed.
	wt := c.s.b.Keyspace.WaitWrite(keys)
	defer wt.Stop()
	if try() {
		return true
	}
	// The replies to the commands pipelined before this one go out now,
	// as Redis sends them, not once this one has its answer.
	if !c.flush() {
		return false
	}
	c.s.stats.blocked.Add(1)
	defer c.s.stats.blocked.Add(-1)
	gone, stop := c.watchPeer()
	defer stop()
	return wt.Until(c.ctx, timeout, gone, try)
}

// watchPeer reads what a blocked client sends meanwhile (kept in the read
// buffer for after the blocking command; its arguments were copied before,
// so the buffer may move), to notice at once a client that went away:
// gone is closed then. stop ends the reading goroutine.
func (c *conn) watchPeer() (gone <-chan struct{}, stop func()) {
	ch, done := make(chan struct{}), make(chan struct{})
	var stopping atomic.Bool
	go func() {
		defer close(done)
		for {
			err := c.rd.fill()
			switch {
			case err == nil:
				continue
			case stopping.Load(), errors.Is(err, errTooBig):
				// Stopped, or more was sent than a command may hold: what
				// comes after the blocking command will say so.
				return
			}
			close(ch)
			return
		}
	}()
	return ch, func() {
		stopping.Store(true)
		_ = c.nc.SetReadDeadline(time.Now())
		<-done
		_ = c.nc.SetReadDeadline(time.Time{})
	}
}

// popHeld reports a pop refused because another command holds the key: a
// blocked pop looks again when the hold is let go.
func popHeld(rep *messages.DataReply, err error) bool {
	return err == nil && rep.ErrorCode == messages.CodeKeyReserved
}

func cmdBPop(op messages.DataOp) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		timeout, ok := timeoutArg(c, a[len(a)-1])
		if !ok {
			return
		}
		keys := strs(a[1 : len(a)-1])
		try := func() bool {
			for _, k := range keys {
				rep, err := c.do(&messages.DataRequest{Op: op, Key: k})
				if popHeld(rep, err) {
					continue
				}
				if c.failed(rep, err) {
					return true
				}
				if len(rep.Values) > 0 {
					c.w.array(2)
					c.w.bulkString(k)
					c.w.bulk(decode(rep.Values[0]))
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

var _ = strconv.Itoa
