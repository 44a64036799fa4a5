package resp

import (
	"math"
	"strconv"
	"time"

	"github.com/troupe-run/troupe/messages"
)

func init() {
	register(
		&cmdSpec{name: "get", arity: 2, flags: fReadonly | fFast, first: 1, last: 1, ste: 1, run: cmdGet},
		&cmdSpec{name: "set", arity: -3, flags: fWrite, first: 1, last: 1, ste: 1, run: cmdSet},
		&cmdSpec{name: "setnx", arity: 3, flags: fWrite | fFast, first: 1, last: 1, ste: 1, run: cmdSetNX},
		&cmdSpec{name: "setex", arity: 4, flags: fWrite, first: 1, last: 1, ste: 1, run: cmdSetEx(time.Second)},
		&cmdSpec{name: "psetex", arity: 4, flags: fWrite, first: 1, last: 1, ste: 1, run: cmdSetEx(time.Millisecond)},
		&cmdSpec{name: "getset", arity: 3, flags: fWrite | fFast, first: 1, last: 1, ste: 1, run: cmdGetSet},
		&cmdSpec{name: "mget", arity: -2, flags: fReadonly | fFast, first: 1, last: -1, ste: 1, run: cmdMGet},
		&cmdSpec{name: "mset", arity: -3, flags: fWrite, first: 1, last: -1, ste: 2, run: cmdMSet(false)},
		&cmdSpec{name: "msetnx", arity: -3, flags: fWrite, first: 1, last: -1, ste: 2, run: cmdMSet(true)},
		&cmdSpec{name: "incr", arity: 2, flags: fWrite | fFast, first: 1, last: 1, ste: 1, run: cmdIncr(1, false)},
		&cmdSpec{name: "decr", arity: 2, flags: fWrite | fFast, first: 1, last: 1, ste: 1, run: cmdIncr(-1, false)},
		&cmdSpec{name: "incrby", arity: 3, flags: fWrite | fFast, first: 1, last: 1, ste: 1, run: cmdIncr(1, true)},
		&cmdSpec{name: "decrby", arity: 3, flags: fWrite | fFast, first: 1, last: 1, ste: 1, run: cmdIncr(-1, true)},
		&cmdSpec{name: "incrbyfloat", arity: 3, flags: fWrite | fFast, first: 1, last: 1, ste: 1, run: cmdIncrByFloat},
		&cmdSpec{name: "append", arity: 3, flags: fWrite | fFast, first: 1, last: 1, ste: 1, run: cmdAppend},
		&cmdSpec{name: "strlen", arity: 2, flags: fReadonly | fFast, first: 1, last: 1, ste: 1, run: cmdStrlen},
		&cmdSpec{name: "getrange", arity: 4, flags: fReadonly, first: 1, last: 1, ste: 1, run: cmdGetRange},
		&cmdSpec{name: "substr", arity: 4, flags: fReadonly, first: 1, last: 1, ste: 1, run: cmdGetRange},
		&cmdSpec{name: "setrange", arity: 4, flags: fWrite, first: 1, last: 1, ste: 1, run: cmdSetRange},
		&cmdSpec{name: "getdel", arity: 2, flags: fWrite | fFast, first: 1, last: 1, ste: 1, run: cmdGetDel},
		&cmdSpec{name: "getex", arity: -2, flags: fWrite | fFast, first: 1, last: 1, ste: 1, run: cmdGetEx},
	)
}

// getString reads key as a Redis string: found false when missing, and a
// WRONGTYPE error written when it holds another type.
func (c *conn) getString(key string) (v []byte, found, ok bool) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_GET, Key: key})
	if err == nil && rep.ErrorCode == messages.CodeWrongType {
		// A bitmap key reads as its bytes, as Redis's bitmaps are strings.
		if b, err := c.do(&messages.DataRequest{Op: messages.DataOp_BIT_GET, Key: key}); err == nil && b.ErrorCode == "" {
			return b.Value, true, true
		}
	}
	if c.failed(rep, err) {
		return nil, false, false
	}
	if !rep.Found {
		return nil, false, true
	}
	return decode(rep.Value), true, true
}

func cmdGet(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_GET, Key: string(a[1])})
	if err == nil && rep.ErrorCode == messages.CodeWrongType {
		if v, found, ok := c.getString(string(a[1])); ok {
			c.bulkOrNull(v, found)
		}
		return
	}
	if c.failed(rep, err) {
		return
	}
	if !rep.Found {
		c.w.null()
		return
	}
	c.w.bulk(decode(rep.Value))
}

// expiry reads EX/PX/EXAT/PXAT's argument as milliseconds from now; the
// error is Redis's for cmd.
func expiry(kind string, arg []byte, cmd string) (int64, string) {
	n, ok := argInt(arg)
	if !ok {
		return 0, notInteger
	}
	bad := "ERR invalid expire time in '" + cmd + "' command"
	if n <= 0 {
		return 0, bad
	}
	switch kind {
	case "ex", "exat":
		if n > math.MaxInt64/1000 {
			return 0, bad
		}
		n *= 1000
	}
	switch kind {
	case "exat", "pxat":
		n -= time.Now().UnixMilli()
		if n <= 0 {
			n = -1 // already past: the key goes at once
		}
	}
	return n, ""
}

func cmdSet(c *conn, a [][]byte) {
	req := &messages.DataRequest{Op: messages.DataOp_KV_SET, Key: string(a[1]), Value: encode(a[2])}
	get, expSet := false, false
	for i := 3; i < len(a); i++ {
		var buf [8]byte
		opt := string(lower(a[i], buf[:]))
		switch {
		case opt == "nx" && !req.Xx:
			req.Nx = true
		case opt == "xx" && !req.Nx:
			req.Xx = true
		case opt == "get":
			get = true
		case opt == "keepttl" && !expSet:
			req.KeepTtl, expSet = true, true
		case (opt == "ex" || opt == "px" || opt == "exat" || opt == "pxat") && !expSet && i+1 < len(a):
			ms, msg := expiry(opt, a[i+1], "set")
			if msg != "" {
				c.w.err(msg)
				return
			}
			req.TtlMs, expSet = ms, true
			i++
		default:
			c.w.err(syntaxErr)
			return
		}
	}
	if req.TtlMs < 0 {
		// EXAT/PXAT in the past: Redis sets and expires at once, which
		// leaves no key.
		c.setPast(req, get)
		return
	}
	rep, err := c.do(req)
	if err == nil && rep.ErrorCode == messages.CodeWrongType && !get {
		// SET replaces a key of any type.
		done := c.atomically([]string{req.Key}, func() bool {
			del, derr := c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Key: req.Key})
			if c.failed(del, derr) {
				return false
			}
			rep, err = c.do(req)
			return true
		})
		if !done {
			return // the failure was answered
		}
	}
	if c.failed(rep, err) {
		return
	}
	if get {
		if len(rep.Previous) == 0 {
			c.w.null()
		} else {
			c.w.bulk(decode(rep.Previous))
		}
		return
	}
	if !rep.Ok {
		c.w.null()
		return
	}
	c.w.ok()
}

// setPast is SET with an expiry already past: the key is deleted (when NX
// and XX allow the write).
func (c *conn) setPast(req *messages.DataRequest, get bool) {
	c.atomically([]string{req.Key}, func() bool {
		typ, ok := c.typeOf(req.Key)
		if !ok {
			return false
		}
		if get && typ != "none" && typ != "string" {
			c.w.err(wrongType)
			return false
		}
		var prev []byte
		if typ == "string" {
			prev, _, _ = c.getString(req.Key)
		}
		exists := typ != "none"
		if (req.Nx && exists) || (req.Xx && !exists) {
			if get {
				c.bulkOrNull(prev, exists)
			} else {
				c.w.null()
			}
			return true
		}
		del, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Key: req.Key})
		if c.failed(del, err) {
			return false
		}
		if get {
			c.bulkOrNull(prev, exists)
		} else {
			c.w.ok()
		}
		return true
	})
}

func (c *conn) bulkOrNull(v []byte, found bool) {
	if found {
		c.w.bulk(v)
	} else {
		c.w.null()
	}
}

func cmdSetNX(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_SET, Key: string(a[1]), Value: encode(a[2]), Nx: true})
	if err == nil && rep.ErrorCode == messages.CodeWrongType {
		c.w.int(0) // the key exists
		return
	}
	if c.failed(rep, err) {
		return
	}
	c.w.int(int64(b2i(rep.Ok)))
}

func cmdSetEx(unit time.Duration) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		kind, name := "ex", "setex"
		if unit == time.Millisecond {
			kind, name = "px", "psetex"
		}
		ms, msg := expiry(kind, a[2], name)
		if msg != "" {
			c.w.err(msg)
			return
		}
		cmdSet(c, [][]byte{a[0], a[1], a[3], []byte(kind), []byte(strconv.FormatInt(msOrSeconds(ms, unit), 10))})
	}
}

func msOrSeconds(ms int64, unit time.Duration) int64 {
	if unit == time.Second {
		return ms / 1000
	}
	return ms
}

func cmdGetSet(c *conn, a [][]byte) {
	cmdSet(c, [][]byte{a[0], a[1], a[2], []byte("get")})
}

func cmdMGet(c *conn, a [][]byte) {
	keys := strs(a[1:])
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_MGET, Keys: keys})
	if c.failed(rep, err) {
		return
	}
	c.w.array(len(keys))
	for i := range keys {
		if i < len(rep.Flags) && rep.Flags[i] {
			c.w.bulk(decode(rep.Values[i]))
		} else {
			c.w.null()
		}
	}
}

func cmdMSet(nx bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		if len(a)%2 != 1 {
			c.w.err(wrongArity(map[bool]string{false: "mset", true: "msetnx"}[nx]))
			return
		}
		req := &messages.DataRequest{Op: messages.DataOp_KV_MSET}
		if nx {
			req.Op = messages.DataOp_KV_MSETNX
		}
		for i := 1; i < len(a); i += 2 {
			req.Pairs = append(req.Pairs, &messages.Pair{Key: string(a[i]), Value: encode(a[i+1])})
		}
		if !nx {
			// MSET replaces keys of any type: a key of another type is
			// deleted first, inside one hold.
			rep, err := c.do(req)
			if err == nil && rep.ErrorCode == messages.CodeWrongType {
				keys := make([]string, 0, len(req.Pairs))
				for _, p := range req.Pairs {
					keys = append(keys, p.Key)
				}
				c.atomically(keys, func() bool {
					del, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Keys: keys})
					if c.failed(del, err) {
						return false
					}
					rep, err := c.do(req)
					if !c.failed(rep, err) {
						c.w.ok()
					}
					return true
				})
				return
			}
			if !c.failed(rep, err) {
				c.w.ok()
			}
			return
		}
		rep, err := c.do(req)
		if err == nil && rep.ErrorCode == messages.CodeWrongType {
			c.w.int(0)
			return
		}
		if c.failed(rep, err) {
			return
		}
		c.w.int(int64(b2i(rep.Ok)))
	}
}

func cmdIncr(sign int64, withArg bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		n := int64(1)
		if withArg {
			var ok bool
			if n, ok = argInt(a[2]); !ok {
				c.w.err(notInteger)
				return
			}
			if sign < 0 && n == math.MinInt64 {
				c.w.err("ERR decrement would overflow")
				return
			}
		}
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_INCR, Key: string(a[1]), Amount: sign * n})
		if c.failed(rep, err) {
			return
		}
		c.w.int(rep.Integer)
	}
}

// formatFloat is how Redis writes INCRBYFLOAT's result: the shortest
// decimal that reads back the same, without exponent.
func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if s == "-0" {
		return "0"
	}
	return s
}

func cmdIncrByFloat(c *conn, a [][]byte) {
	inc, ok := argFloat(a[2])
	if !ok {
		c.w.err(notFloat)
		return
	}
	key := string(a[1])
	c.atomically([]string{key}, func() bool {
		v, found, ok := c.getString(key)
		if !ok {
			return false
		}
		cur := 0.0
		if found {
			if cur, ok = argFloat(v); !ok {
				c.w.err(notFloat)
				return false
			}
		}
		sum := cur + inc
		if math.IsNaN(sum) || math.IsInf(sum, 0) {
			c.w.err("ERR increment would produce NaN or Infinity")
			return false
		}
		s := formatFloat(sum)
		if !c.putString(key, []byte(s)) {
			return false
		}
		c.w.bulkString(s)
		return true
	})
}

// putString stores v under key, keeping its expiry.
func (c *conn) putString(key string, v []byte) bool {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_SET, Key: key, Value: encode(v), KeepTtl: true})
	return !c.failed(rep, err)
}

func cmdAppend(c *conn, a [][]byte) {
	key := string(a[1])
	c.atomically([]string{key}, func() bool {
		v, _, ok := c.getString(key)
		if !ok {
			return false
		}
		nv := append(append([]byte(nil), v...), a[2]...)
		if int64(len(nv)) > int64(c.s.cfg.MaxRequest) {
			c.w.err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
			return false
		}
		if !c.putString(key, nv) {
			return false
		}
		c.w.int(int64(len(nv)))
		return true
	})
}

func cmdStrlen(c *conn, a [][]byte) {
	v, _, ok := c.getString(string(a[1]))
	if ok {
		c.w.int(int64(len(v)))
	}
}

func cmdGetRange(c *conn, a [][]byte) {
	start, ok1 := argInt(a[2])
	end, ok2 := argInt(a[3])
	if !ok1 || !ok2 {
		c.w.err(notInteger)
		return
	}
	v, _, ok := c.getString(string(a[1]))
	if !ok {
		return
	}
	n := int64(len(v))
	if start < 0 && end < 0 && start > end {
		c.w.bulkString("")
		return
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start = max(start, 0)
	end = max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		c.w.bulkString("")
		return
	}
	c.w.bulk(v[start : end+1])
}

func cmdSetRange(c *conn, a [][]byte) {
	off, ok := argInt(a[2])
	if !ok {
		c.w.err(notInteger)
		return
	}
	if off < 0 {
		c.w.err("ERR offset is out of range")
		return
	}
	key := string(a[1])
	c.atomically([]string{key}, func() bool {
		v, found, ok := c.getString(key)
		if !ok {
			return false
		}
		if len(a[3]) == 0 {
			c.w.int(int64(len(v)))
			return true
		}
		if off+int64(len(a[3])) > int64(c.s.cfg.MaxRequest) {
			c.w.err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
			return false
		}
		nv := append([]byte(nil), v...)
		if need := int(off) + len(a[3]); need > len(nv) {
			nv = append(nv, make([]byte, need-len(nv))...)
		}
		copy(nv[off:], a[3])
		_ = found
		if !c.putString(key, nv) {
			return false
		}
		c.w.int(int64(len(nv)))
		return true
	})
}

func cmdGetDel(c *conn, a [][]byte) {
	key := string(a[1])
	c.atomically([]string{key}, func() bool {
		v, found, ok := c.getString(key)
		if !ok {
			return false
		}
		if found {
			rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Key: key})
			if c.failed(rep, err) {
				return false
			}
		}
		c.bulkOrNull(v, found)
		return true
	})
}

func cmdGetEx(c *conn, a [][]byte) {
	key := string(a[1])
	var ttl int64
	persist, set := false, false
	for i := 2; i < len(a); i++ {
		var buf [8]byte
		opt := string(lower(a[i], buf[:]))
		switch {
		case opt == "persist" && !set:
			persist, set = true, true
		case (opt == "ex" || opt == "px" || opt == "exat" || opt == "pxat") && !set && i+1 < len(a):
			ms, msg := expiry(opt, a[i+1], "getex")
			if msg != "" {
				c.w.err(msg)
				return
			}
			ttl, set = ms, true
			i++
		default:
			c.w.err(syntaxErr)
			return
		}
	}
	c.atomically([]string{key}, func() bool {
		v, found, ok := c.getString(key)
		if !ok {
			return false
		}
		if found && set {
			var req *messages.DataRequest
			switch {
			case persist:
				req = &messages.DataRequest{Op: messages.DataOp_KV_PERSIST, Key: key}
			case ttl < 0:
				req = &messages.DataRequest{Op: messages.DataOp_KV_DEL, Key: key}
			default:
				req = &messages.DataRequest{Op: messages.DataOp_KV_EXPIRE, Key: key, TtlMs: ttl}
			}
			rep, err := c.do(req)
			if c.failed(rep, err) {
				return false
			}
		}
		c.bulkOrNull(v, found)
		return true
	})
}
