package resp

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/troupe-run/troupe/messages"
)

func init() {
	register(
		&cmdSpec{name: "del", arity: -2, flags: fWrite, first: 1, last: -1, ste: 1, run: cmdDel},
		&cmdSpec{name: "unlink", arity: -2, flags: fWrite | fFast, first: 1, last: -1, ste: 1, run: cmdDel},
		&cmdSpec{name: "exists", arity: -2, flags: fReadonly | fFast, first: 1, last: -1, ste: 1, run: cmdExists},
		&cmdSpec{name: "expire", arity: -3, flags: fWrite | fFast, first: 1, last: 1, ste: 1, run: cmdExpire(time.Second, false)},
		&cmdSpec{name: "pexpire", arity: -3, flags: fWrite | fFast, first: 1, last: 1, ste: 1, run: cmdExpire(time.Millisecond, false)},
		&cmdSpec{name: "expireat", arity: -3, flags: fWrite | fFast, first: 1, last: 1, ste: 1, run: cmdExpire(time.Second, true)},
		&cmdSpec{name: "pexpireat", arity: -3, flags: fWrite | fFast, first: 1, last: 1, ste: 1, run: cmdExpire(time.Millisecond, true)},
		&cmdSpec{name: "ttl", arity: 2, flags: fReadonly | fFast, first: 1, last: 1, ste: 1, run: cmdTTL(time.Second, false)},
		&cmdSpec{name: "pttl", arity: 2, flags: fReadonly | fFast, first: 1, last: 1, ste: 1, run: cmdTTL(time.Millisecond, false)},
		&cmdSpec{name: "expiretime", arity: 2, flags: fReadonly | fFast, first: 1, last: 1, ste: 1, run: cmdTTL(time.Second, true)},
		&cmdSpec{name: "pexpiretime", arity: 2, flags: fReadonly | fFast, first: 1, last: 1, ste: 1, run: cmdTTL(time.Millisecond, true)},
		&cmdSpec{name: "persist", arity: 2, flags: fWrite | fFast, first: 1, last: 1, ste: 1, run: cmdPersist},
		&cmdSpec{name: "type", arity: 2, flags: fReadonly | fFast, first: 1, last: 1, ste: 1, run: cmdType},
		&cmdSpec{name: "scan", arity: -2, flags: fReadonly, run: cmdScan},
		&cmdSpec{name: "keys", arity: 2, flags: fReadonly, run: cmdKeys},
		&cmdSpec{name: "rename", arity: 3, flags: fWrite, first: 1, last: 2, ste: 1, run: cmdRename(false)},
		&cmdSpec{name: "renamenx", arity: 3, flags: fWrite | fFast, first: 1, last: 2, ste: 1, run: cmdRename(true)},
		&cmdSpec{name: "copy", arity: -3, flags: fWrite, first: 1, last: 2, ste: 1, run: cmdCopy},
		&cmdSpec{name: "randomkey", arity: 1, flags: fReadonly, run: cmdRandomKey},
		&cmdSpec{name: "touch", arity: -2, flags: fReadonly | fFast, first: 1, last: -1, ste: 1, run: cmdExists},
	)
}

// atomically runs fn with keys held on their shards (no other command on
// them runs meanwhile), as the data door's composed commands do; inside an
// EXEC, which holds them already, it just runs fn. A hold that cannot be
// taken is answered as an error and fn does not run.
func (c *conn) atomically(keys []string, fn func() bool) bool {
	if c.txn != 0 {
		return fn()
	}
	txn := 1<<63 | rand.Uint64()
	rep, err := c.hold(&messages.DataRequest{Op: messages.DataOp_TXN_HOLD, Txn: txn, Keys: keys})
	defer c.s.b.Keyspace.Do(c.cleanup(), &messages.DataRequest{Op: messages.DataOp_TXN_ABORT, Txn: txn, Keys: keys})
	if c.failed(rep, err) {
		return false
	}
	c.txn = txn
	defer func() { c.txn = 0 }()
	return fn()
}

// hold takes a hold on keys. A key another hold has is refused at once
// by its shard; the door tries again, backing off from 50 µs to 5 ms,
// until the request timeout, as a client of Redis would simply have
// waited for the other command.
func (c *conn) hold(req *messages.DataRequest) (*messages.DataReply, error) {
	deadline := time.Now().Add(c.s.cfg.RequestTimeout)
	wait := 50 * time.Microsecond
	for {
		rep, err := c.s.b.Keyspace.Do(c.ctx, req)
		if err != nil || rep.ErrorCode != messages.CodeKeyReserved || time.Now().After(deadline) {
			return rep, err
		}
		// Part of the keys may be held by now: let them go before waiting.
		c.s.b.Keyspace.Do(c.cleanup(), &messages.DataRequest{Op: messages.DataOp_TXN_ABORT, Txn: req.Txn, Keys: req.Keys, Fields: req.Fields})
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return rep, nil
		}
		wait = min(2*wait, 5*time.Millisecond)
	}
}

// typeOf is the key's Redis type name ("none" when missing): HyperLogLogs
// and bitmaps are strings in Redis.
func (c *conn) typeOf(key string) (string, bool) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_TYPE, Key: key})
	if c.failed(rep, err) {
		return "", false
	}
	return redisType(rep.Type), true
}

func redisType(t string) string {
	switch t {
	case "", "none":
		return "none"
	case "hyperloglog", "bitmap":
		return "string"
	}
	return t
}

func cmdDel(c *conn, a [][]byte) {
	req := &messages.DataRequest{Op: messages.DataOp_KV_DEL}
	if len(a) == 2 {
		req.Key = string(a[1])
	} else {
		req.Keys = strs(a[1:])
	}
	rep, err := c.do(req)
	if c.failed(rep, err) {
		return
	}
	c.w.int(rep.Integer)
}

func cmdExists(c *conn, a [][]byte) {
	req := &messages.DataRequest{Op: messages.DataOp_KV_EXISTS}
	if len(a) == 2 {
		req.Key = string(a[1])
	} else {
		req.Keys = strs(a[1:])
	}
	rep, err := c.do(req)
	if c.failed(rep, err) {
		return
	}
	c.w.int(rep.Integer)
}

func cmdExpire(unit time.Duration, at bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		name := strings.ToLower(string(a[0]))
		n, ok := argInt(a[2])
		if !ok {
			c.w.err(notInteger)
			return
		}
		ms := n
		if unit == time.Second {
			if n > math.MaxInt64/1000 || n < math.MinInt64/1000 {
				c.w.err("ERR invalid expire time in '" + name + "' command")
				return
			}
			ms = n * 1000
		}
		if at {
			ms -= time.Now().UnixMilli()
		}
		var nx, xx, gt, lt bool
		for _, o := range a[3:] {
			switch {
			case eq(o, "NX"):
				nx = true
			case eq(o, "XX"):
				xx = true
			case eq(o, "GT"):
				gt = true
			case eq(o, "LT"):
				lt = true
			default:
				c.w.err("ERR Unsupported option " + string(o))
				return
			}
		}
		if nx && (xx || gt || lt) {
			c.w.err("ERR NX and XX, GT or LT options at the same time are not compatible")
			return
		}
		if gt && lt {
			c.w.err("ERR GT and LT options at the same time are not compatible")
			return
		}
		key := string(a[1])
		if !nx && !xx && !gt && !lt {
			c.expireNow(key, ms)
			return
		}
		c.atomically([]string{key}, func() bool {
			rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_TTL, Key: key})
			if c.failed(rep, err) {
				return false
			}
			cur := rep.TtlMs // -1 none, -2 no key
			if cur == -2 {
				c.w.int(0)
				return true
			}
			allowed := true
			switch {
			case nx:
				allowed = cur == -1
			case xx && cur == -1:
				allowed = false
			case gt:
				// No expiry counts as infinite.
				allowed = cur != -1 && ms > cur
			case lt:
				allowed = cur == -1 || ms < cur
			}
			if !allowed {
				c.w.int(0)
				return true
			}
			c.expireNow(key, ms)
			return true
		})
	}
}

// expireNow sets key to expire in ms (deleting it when ms <= 0).
func (c *conn) expireNow(key string, ms int64) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_EXPIRE, Key: key, TtlMs: ms})
	if c.failed(rep, err) {
		return
	}
	c.w.int(int64(b2i(rep.Ok)))
}

func cmdTTL(unit time.Duration, absolute bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_TTL, Key: string(a[1])})
		if c.failed(rep, err) {
			return
		}
		ms := rep.TtlMs
		if ms < 0 {
			c.w.int(ms)
			return
		}
		if absolute {
			ms += time.Now().UnixMilli()
			if unit == time.Second {
				ms /= 1000
			}
			c.w.int(ms)
			return
		}
		if unit == time.Second {
			ms = (ms + 500) / 1000
		}
		c.w.int(ms)
	}
}

func cmdPersist(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_PERSIST, Key: string(a[1])})
	if c.failed(rep, err) {
		return
	}
	c.w.int(int64(b2i(rep.Ok)))
}

func cmdType(c *conn, a [][]byte) {
	t, ok := c.typeOf(string(a[1]))
	if ok {
		c.w.simple(t)
	}
}

// cmdScan pages through the keyspace in key order, so a key present for
// the whole scan is returned once, whatever is written meanwhile. The
// keyspace's cursor is the last key of a page; Redis's is a number, so the
// server keeps the keys its cursors stand for (the last --resp-scan-cursors
// of them, for every connection).
func cmdScan(c *conn, a [][]byte) {
	cur, ok := parseUint(a[1])
	if !ok {
		c.w.err("ERR invalid cursor")
		return
	}
	count := int64(10)
	var match, typ string
	for i := 2; i < len(a); i++ {
		switch {
		case eq(a[i], "COUNT") && i+1 < len(a):
			n, ok := argInt(a[i+1])
			if !ok {
				c.w.err(notInteger)
				return
			}
			if n < 1 {
				c.w.err(syntaxErr)
				return
			}
			count = n
			i++
		case eq(a[i], "MATCH") && i+1 < len(a):
			match = string(a[i+1])
			i++
		case eq(a[i], "TYPE") && i+1 < len(a):
			typ = strings.ToLower(string(a[i+1]))
			i++
		default:
			c.w.err(syntaxErr)
			return
		}
	}
	after := ""
	if cur != 0 {
		var known bool
		if after, known = c.s.cursors.get(cur); !known {
			// Starting over would loop a client for ever: say so.
			c.w.err("ERR unknown or expired SCAN cursor (the server keeps the last " + strconv.Itoa(c.s.cfg.ScanCursors) + " cursors)")
			return
		}
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_SCAN, Cursor: after, Count: min(count, 100000)})
	if c.failed(rep, err) {
		return
	}
	var keys []string
	for _, k := range rep.Keys {
		if match != "" && !globMatch(match, k, false) {
			continue
		}
		if typ != "" {
			t, ok := c.typeOf(k)
			if !ok {
				return
			}
			if t != typ {
				continue
			}
		}
		keys = append(keys, k)
	}
	next := uint64(0)
	if rep.HasMore && len(rep.Keys) > 0 {
		next = c.s.cursors.add(rep.Keys[len(rep.Keys)-1])
	}
	c.w.array(2)
	c.w.bulkString(strconv.FormatUint(next, 10))
	c.w.strings(keys)
}

func parseUint(b []byte) (uint64, bool) {
	n, err := strconv.ParseUint(string(b), 10, 64)
	return n, err == nil
}

// maxKeys bounds KEYS's reply (SCAN pages past it).
const maxKeys = 1_000_000

func cmdKeys(c *conn, a [][]byte) {
	pattern := string(a[1])
	var out []string
	after := ""
	for {
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_SCAN, Cursor: after, Count: 10000})
		if c.failed(rep, err) {
			return
		}
		for _, k := range rep.Keys {
			if globMatch(pattern, k, false) {
				out = append(out, k)
			}
		}
		if len(out) > maxKeys {
			c.w.err("ERR KEYS would return more than " + strconv.Itoa(maxKeys) + " keys: use SCAN")
			return
		}
		if !rep.HasMore || len(rep.Keys) == 0 {
			break
		}
		after = rep.Keys[len(rep.Keys)-1]
	}
	c.w.strings(out)
}

func cmdRandomKey(c *conn, _ [][]byte) {
	// A random point of the key order, then the first key at or after it
	// (or the first key at all): every key can come, not uniformly.
	var b [8]byte
	for i := range b {
		b[i] = byte(rand.IntN(256))
	}
	for _, after := range []string{string(b[:]), ""} {
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_SCAN, Cursor: after, Count: 1})
		if c.failed(rep, err) {
			return
		}
		if len(rep.Keys) > 0 {
			c.w.bulkString(rep.Keys[0])
			return
		}
	}
	c.w.null()
}

// copyKey copies src's value and expiry to dst (which must not exist or
// is replaced), by reading it whole and writing it back with the
// keyspace's commands. Runs inside a hold of both keys. It returns false
// when src does not exist, or with an error written.
func (c *conn) copyKey(src, dst string, replace bool) (copied, ok bool) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_TYPE, Key: src})
	if c.failed(rep, err) {
		return false, false
	}
	typ := rep.Type
	if typ == "" || typ == "none" {
		return false, true
	}
	if !replace {
		ex, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_EXISTS, Key: dst})
		if c.failed(ex, err) {
			return false, false
		}
		if ex.Integer > 0 {
			return false, true
		}
	}
	ttl, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_TTL, Key: src})
	if c.failed(ttl, err) {
		return false, false
	}
	var read, write *messages.DataRequest
	switch typ {
	case "string":
		read = &messages.DataRequest{Op: messages.DataOp_KV_GET, Key: src}
	case "hash":
		read = &messages.DataRequest{Op: messages.DataOp_HASH_GETALL, Key: src}
	case "list":
		read = &messages.DataRequest{Op: messages.DataOp_LIST_RANGE, Key: src, Start: 0, Stop: -1}
	case "set":
		read = &messages.DataRequest{Op: messages.DataOp_SET_MEMBERS, Key: src}
	case "zset":
		read = &messages.DataRequest{Op: messages.DataOp_ZSET_RANGE, Key: src, Start: 0, Stop: -1}
	case "hyperloglog":
		read = &messages.DataRequest{Op: messages.DataOp_HLL_GET, Key: src}
	case "bitmap":
		read = &messages.DataRequest{Op: messages.DataOp_BIT_GET, Key: src}
	default:
		c.w.err("ERR cannot copy a key of type " + typ)
		return false, false
	}
	r, err := c.do(read)
	if c.failed(r, err) {
		return false, false
	}
	switch typ {
	case "string":
		write = &messages.DataRequest{Op: messages.DataOp_KV_SET, Key: dst, Value: r.Value}
	case "hash":
		write = &messages.DataRequest{Op: messages.DataOp_HASH_SET, Key: dst, Pairs: r.Pairs}
	case "list":
		write = &messages.DataRequest{Op: messages.DataOp_LIST_RPUSH, Key: dst, Values: r.Values}
	case "set":
		write = &messages.DataRequest{Op: messages.DataOp_SET_ADD, Key: dst, Members: r.Keys}
	case "zset":
		write = &messages.DataRequest{Op: messages.DataOp_ZSET_ADD, Key: dst, Scored: r.Scored}
	case "hyperloglog":
		write = &messages.DataRequest{Op: messages.DataOp_HLL_MERGE, Key: dst, Values: [][]byte{r.Value}}
	case "bitmap":
		write = &messages.DataRequest{Op: messages.DataOp_BIT_STORE, Key: dst, Value: r.Value}
	}
	del, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Key: dst})
	if c.failed(del, err) {
		return false, false
	}
	w, err := c.do(write)
	if c.failed(w, err) {
		return false, false
	}
	if ttl.TtlMs > 0 {
		e, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_EXPIRE, Key: dst, TtlMs: ttl.TtlMs})
		if c.failed(e, err) {
			return false, false
		}
	}
	return true, true
}

func cmdRename(nx bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		src, dst := string(a[1]), string(a[2])
		c.atomically([]string{src, dst}, func() bool {
			if src == dst {
				ex, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_EXISTS, Key: src})
				if c.failed(ex, err) {
					return false
				}
				switch {
				case ex.Integer == 0:
					c.w.err("ERR no such key")
				case nx:
					c.w.int(0)
				default:
					c.w.ok()
				}
				return true
			}
			copied, ok := c.copyKey(src, dst, !nx)
			if !ok {
				return false
			}
			if !copied {
				ex, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_EXISTS, Key: src})
				if c.failed(ex, err) {
					return false
				}
				if ex.Integer == 0 {
					c.w.err("ERR no such key")
				} else {
					c.w.int(0) // RENAMENX onto an existing key
				}
				return true
			}
			del, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Key: src})
			if c.failed(del, err) {
				return false
			}
			if nx {
				c.w.int(1)
			} else {
				c.w.ok()
			}
			return true
		})
	}
}

func cmdCopy(c *conn, a [][]byte) {
	src, dst := string(a[1]), string(a[2])
	replace := false
	for i := 3; i < len(a); i++ {
		switch {
		case eq(a[i], "REPLACE"):
			replace = true
		case eq(a[i], "DB") && i+1 < len(a):
			n, ok := argInt(a[i+1])
			if !ok {
				c.w.err(notInteger)
				return
			}
			if n != 0 {
				c.w.err("ERR DB index is out of range")
				return
			}
			i++
		default:
			c.w.err(syntaxErr)
			return
		}
	}
	if src == dst {
		c.w.err("ERR source and destination objects are the same")
		return
	}
	c.atomically([]string{src, dst}, func() bool {
		copied, ok := c.copyKey(src, dst, replace)
		if ok {
			c.w.int(int64(b2i(copied)))
		}
		return ok
	})
}

// globMatch is Redis's stringmatchlen: * ? [abc] [^a] [a-z] and \ escapes.
func globMatch(p, s string, nocase bool) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if globMatch(p[1:], s[i:], nocase) {
					return true
				}
			}
			return false
		case '?':
			if len(s) == 0 {
				return false
			}
			s = s[1:]
			p = p[1:]
		case '[':
			if len(s) == 0 {
				return false
			}
			p = p[1:]
			not := len(p) > 0 && p[0] == '^'
			if not {
				p = p[1:]
			}
			match := false
			for {
				if len(p) == 0 {
					break
				}
				if p[0] == '\\' && len(p) >= 2 {
					p = p[1:]
					if p[0] == s[0] {
						match = true
					}
				} else if p[0] == ']' {
					break
				} else if len(p) >= 3 && p[1] == '-' {
					lo, hi := p[0], p[2]
					if lo > hi {
						lo, hi = hi, lo
					}
					ch := s[0]
					if nocase {
						ch, lo, hi = toLowerByte(ch), toLowerByte(lo), toLowerByte(hi)
					}
					if ch >= lo && ch <= hi {
						match = true
					}
					p = p[2:]
				} else if eqByte(p[0], s[0], nocase) {
					match = true
				}
				p = p[1:]
			}
			if len(p) > 0 {
				p = p[1:] // the ]
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			s = s[1:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if len(s) == 0 || !eqByte(p[0], s[0], nocase) {
				return false
			}
			s = s[1:]
			p = p[1:]
		}
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			return len(p) == 0
		}
	}
	return len(s) == 0
}

func toLowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func eqByte(a, b byte, nocase bool) bool {
	if nocase {
		return toLowerByte(a) == toLowerByte(b)
	}
	return a == b
}
