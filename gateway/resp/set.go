package resp

import (
	"sort"
	"strconv"

	"github.com/troupe-run/troupe/messages"
)

func init() {
	k1 := func(s *cmdSpec) *cmdSpec { s.first, s.last, s.ste = 1, 1, 1; return s }
	kAll := func(s *cmdSpec) *cmdSpec { s.first, s.last, s.ste = 1, -1, 1; return s }
	register(
		k1(&cmdSpec{name: "sadd", arity: -3, flags: fWrite | fFast, run: cmdSAdd(messages.DataOp_SET_ADD)}),
		k1(&cmdSpec{name: "srem", arity: -3, flags: fWrite | fFast, run: cmdSAdd(messages.DataOp_SET_REM)}),
		k1(&cmdSpec{name: "smembers", arity: 2, flags: fReadonly, run: cmdSMembers}),
		k1(&cmdSpec{name: "sismember", arity: 3, flags: fReadonly | fFast, run: cmdSIsMember}),
		k1(&cmdSpec{name: "smismember", arity: -3, flags: fReadonly | fFast, run: cmdSMIsMember}),
		k1(&cmdSpec{name: "scard", arity: 2, flags: fReadonly | fFast, run: cmdSCard}),
		k1(&cmdSpec{name: "spop", arity: -2, flags: fWrite | fFast, run: cmdSPop}),
		k1(&cmdSpec{name: "srandmember", arity: -2, flags: fReadonly, run: cmdSRandMember}),
		k1(&cmdSpec{name: "sscan", arity: -3, flags: fReadonly, run: cmdSScan}),
		&cmdSpec{name: "smove", arity: 4, flags: fWrite | fFast, first: 1, last: 2, ste: 1, run: cmdSMove},
		kAll(&cmdSpec{name: "sinter", arity: -2, flags: fReadonly, run: cmdSetAlgebra('i', false)}),
		kAll(&cmdSpec{name: "sunion", arity: -2, flags: fReadonly, run: cmdSetAlgebra('u', false)}),
		kAll(&cmdSpec{name: "sdiff", arity: -2, flags: fReadonly, run: cmdSetAlgebra('d', false)}),
		kAll(&cmdSpec{name: "sinterstore", arity: -3, flags: fWrite, run: cmdSetAlgebra('i', true)}),
		kAll(&cmdSpec{name: "sunionstore", arity: -3, flags: fWrite, run: cmdSetAlgebra('u', true)}),
		kAll(&cmdSpec{name: "sdiffstore", arity: -3, flags: fWrite, run: cmdSetAlgebra('d', true)}),
		&cmdSpec{name: "sintercard", arity: -3, flags: fReadonly, run: cmdSInterCard},
	)
	keyFuncs["sintercard"] = numKeys(1)
}

func cmdSAdd(op messages.DataOp) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		rep, err := c.do(&messages.DataRequest{Op: op, Key: string(a[1]), Members: strs(a[2:])})
		if c.failed(rep, err) {
			return
		}
		c.w.int(rep.Integer)
	}
}

func (c *conn) members(key string) ([]string, bool) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_SET_MEMBERS, Key: key})
	if c.failed(rep, err) {
		return nil, false
	}
	return rep.Keys, true
}

func (c *conn) writeSet(ms []string) {
	c.w.setOf(len(ms))
	for _, m := range ms {
		c.w.bulkString(m)
	}
}

func cmdSMembers(c *conn, a [][]byte) {
	if ms, ok := c.members(string(a[1])); ok {
		c.writeSet(ms)
	}
}

func cmdSIsMember(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_SET_ISMEMBER, Key: string(a[1]), Member: string(a[2])})
	if c.failed(rep, err) {
		return
	}
	c.w.int(int64(b2i(rep.Found)))
}

func cmdSMIsMember(c *conn, a [][]byte) {
	ms, ok := c.members(string(a[1]))
	if !ok {
		return
	}
	in := make(map[string]bool, len(ms))
	for _, m := range ms {
		in[m] = true
	}
	c.w.array(len(a) - 2)
	for _, m := range a[2:] {
		c.w.int(int64(b2i(in[string(m)])))
	}
}

func cmdSCard(c *conn, a [][]byte) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_SET_CARD, Key: string(a[1])})
	if c.failed(rep, err) {
		return
	}
	c.w.int(rep.Integer)
}

func cmdSPop(c *conn, a [][]byte) {
	if len(a) > 3 {
		c.w.err(syntaxErr)
		return
	}
	if len(a) == 2 {
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_SET_POP, Key: string(a[1])})
		if c.failed(rep, err) {
			return
		}
		if len(rep.Keys) == 0 {
			c.w.null()
			return
		}
		c.w.bulkString(rep.Keys[0])
		return
	}
	n, ok := argInt(a[2])
	if !ok || n < 0 {
		c.w.err(outOfRange)
		return
	}
	if n == 0 {
		// Redis answers an empty set without touching the key (but checks
		// its type).
		t, ok := c.typeOf(string(a[1]))
		if !ok {
			return
		}
		if t != "none" && t != "set" {
			c.w.err(wrongType)
			return
		}
		c.w.setOf(0)
		return
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_SET_POP, Key: string(a[1]), Count: n})
	if c.failed(rep, err) {
		return
	}
	c.writeSet(rep.Keys)
}

func cmdSRandMember(c *conn, a [][]byte) {
	if len(a) > 3 {
		c.w.err(syntaxErr)
		return
	}
	req := &messages.DataRequest{Op: messages.DataOp_SET_RANDMEMBER, Key: string(a[1])}
	if len(a) == 3 {
		n, ok := argInt(a[2])
		if !ok {
			c.w.err(notInteger)
			return
		}
		if n == 0 {
			t, ok := c.typeOf(req.Key)
			if !ok {
				return
			}
			if t != "none" && t != "set" {
				c.w.err(wrongType)
				return
			}
			c.w.array(0)
			return
		}
		req.Count = n
	}
	rep, err := c.do(req)
	if c.failed(rep, err) {
		return
	}
	if len(a) == 2 {
		if len(rep.Keys) == 0 {
			c.w.null()
			return
		}
		c.w.bulkString(rep.Keys[0])
		return
	}
	c.w.strings(rep.Keys)
}

func cmdSScan(c *conn, a [][]byte) {
	cursor, match, count, ok := collectionScan(c, a)
	if !ok {
		return
	}
	ms, ok := c.members(string(a[1]))
	if !ok {
		return
	}
	page, next := pageOf(ms, cursor, count)
	var out []string
	for _, i := range page {
		if m := ms[i]; match == "" || globMatch(match, m, false) {
			out = append(out, m)
		}
	}
	c.w.array(2)
	c.w.bulkString(strconv.FormatUint(next, 10))
	c.w.strings(out)
}

func cmdSMove(c *conn, a [][]byte) {
	src, dst, m := string(a[1]), string(a[2]), string(a[3])
	c.atomically([]string{src, dst}, func() bool {
		for _, k := range []string{src, dst} {
			t, ok := c.typeOf(k)
			if !ok {
				return false
			}
			if t != "none" && t != "set" {
				c.w.err(wrongType)
				return false
			}
		}
		rem, err := c.do(&messages.DataRequest{Op: messages.DataOp_SET_REM, Key: src, Members: []string{m}})
		if c.failed(rem, err) {
			return false
		}
		if rem.Integer == 0 {
			c.w.int(0)
			return true
		}
		add, err := c.do(&messages.DataRequest{Op: messages.DataOp_SET_ADD, Key: dst, Members: []string{m}})
		if c.failed(add, err) {
			return false
		}
		c.w.int(1)
		return true
	})
}

// algebra computes the intersection, union or difference of the sets at
// keys, in a deterministic order.
func (c *conn) algebra(op byte, keys []string) ([]string, bool) {
	var result map[string]bool
	for i, k := range keys {
		ms, ok := c.members(k)
		if !ok {
			return nil, false
		}
		set := make(map[string]bool, len(ms))
		for _, m := range ms {
			set[m] = true
		}
		if i == 0 {
			result = set
			continue
		}
		switch op {
		case 'i':
			for m := range result {
				if !set[m] {
					delete(result, m)
				}
			}
		case 'u':
			for m := range set {
				result[m] = true
			}
		case 'd':
			for m := range set {
				delete(result, m)
			}
		}
	}
	out := make([]string, 0, len(result))
	for m := range result {
		out = append(out, m)
	}
	sort.Strings(out)
	return out, true
}

func cmdSetAlgebra(op byte, store bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		if !store {
			keys := strs(a[1:])
			if ms, ok := c.algebra(op, keys); ok {
				c.writeSet(ms)
			}
			return
		}
		dst, keys := string(a[1]), strs(a[2:])
		c.atomically(append([]string{dst}, keys...), func() bool {
			ms, ok := c.algebra(op, keys)
			if !ok {
				return false
			}
			del, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Key: dst})
			if c.failed(del, err) {
				return false
			}
			if len(ms) > 0 {
				add, err := c.do(&messages.DataRequest{Op: messages.DataOp_SET_ADD, Key: dst, Members: ms})
				if c.failed(add, err) {
					return false
				}
			}
			c.w.int(int64(len(ms)))
			return true
		})
	}
}

func cmdSInterCard(c *conn, a [][]byte) {
	n, ok := argInt(a[1])
	if !ok || n <= 0 {
		c.w.err("ERR numkeys should be greater than 0")
		return
	}
	if int64(len(a)-2) < n {
		c.w.err("ERR Number of keys can't be greater than number of args")
		return
	}
	keys := strs(a[2 : 2+n])
	limit := int64(0)
	rest := a[2+n:]
	for i := 0; i < len(rest); i++ {
		if eq(rest[i], "LIMIT") && i+1 < len(rest) {
			l, ok := argInt(rest[i+1])
			if !ok || l < 0 {
				c.w.err("ERR LIMIT can't be negative")
				return
			}
			limit = l
			i++
			continue
		}
		c.w.err(syntaxErr)
		return
	}
	ms, ok := c.algebra('i', keys)
	if !ok {
		return
	}
	count := int64(len(ms))
	if limit > 0 {
		count = min(count, limit)
	}
	c.w.int(count)
}

// keyFuncs find the keys of commands whose keys follow a count (numkeys).
var keyFuncs = map[string]func(args [][]byte) []string{}

// numKeys finds keys after a numkeys argument at position at.
func numKeys(at int) func(args [][]byte) []string {
	return func(args [][]byte) []string {
		if at >= len(args) {
			return nil
		}
		n, ok := argInt(args[at])
		if !ok || n < 0 || int(n) > len(args)-at-1 {
			return nil
		}
		return strs(args[at+1 : at+1+int(n)])
	}
}
