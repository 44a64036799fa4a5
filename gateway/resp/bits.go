package resp

import (
	"math/bits"

	"github.com/axiomhq/hyperloglog"

	"github.com/troupe-run/troupe/messages"
)

// HyperLogLogs and bitmaps are key types of their own in the keyspace
// (the data door's hyperloglog.* and bitmap.*); in Redis both are
// strings. The bit commands also read and write a plain string key, as
// Redis's do, and GET reads a bitmap key as its bytes.

func init() {
	k1 := func(s *cmdSpec) *cmdSpec { s.first, s.last, s.ste = 1, 1, 1; return s }
	register(
		k1(&cmdSpec{name: "pfadd", arity: -2, flags: fWrite | fFast, run: cmdPFAdd}),
		&cmdSpec{name: "pfcount", arity: -2, flags: fReadonly, first: 1, last: -1, ste: 1, run: cmdPFCount},
		&cmdSpec{name: "pfmerge", arity: -2, flags: fWrite, first: 1, last: -1, ste: 1, run: cmdPFMerge},
		k1(&cmdSpec{name: "setbit", arity: 4, flags: fWrite, run: cmdSetBit}),
		k1(&cmdSpec{name: "getbit", arity: 3, flags: fReadonly | fFast, run: cmdGetBit}),
		k1(&cmdSpec{name: "bitcount", arity: -2, flags: fReadonly, run: cmdBitCount}),
		k1(&cmdSpec{name: "bitpos", arity: -3, flags: fReadonly, run: cmdBitPos}),
		&cmdSpec{name: "bitop", arity: -4, flags: fWrite, first: 2, last: -1, ste: 1, run: cmdBitOp},
	)
}

const hllWrongType = "WRONGTYPE Key is not a valid HyperLogLog string value."

func cmdPFAdd(c *conn, a [][]byte) {
	key := string(a[1])
	if len(a) == 2 {
		// No elements: create the key if missing; 1 when it was created.
		c.atomically([]string{key}, func() bool {
			t, ok := c.typeOfRaw(key)
			if !ok {
				return false
			}
			switch t {
			case "hyperloglog":
				c.w.int(0)
			case "none":
				empty, _ := hyperloglog.New14().MarshalBinary()
				rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HLL_MERGE, Key: key, Values: [][]byte{empty}})
				if c.failed(rep, err) {
					return false
				}
				c.w.int(1)
			default:
				c.w.err(hllWrongType)
			}
			return true
		})
		return
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HLL_ADD, Key: key, Members: strs(a[2:])})
	if err == nil && rep.ErrorCode == messages.CodeWrongType {
		c.w.err(hllWrongType)
		return
	}
	if c.failed(rep, err) {
		return
	}
	c.w.int(int64(b2i(rep.Ok)))
}

// sketch reads key's sketch (nil when missing).
func (c *conn) sketch(key string) (*hyperloglog.Sketch, bool) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HLL_GET, Key: key})
	if err == nil && rep.ErrorCode == messages.CodeWrongType {
		c.w.err(hllWrongType)
		return nil, false
	}
	if c.failed(rep, err) {
		return nil, false
	}
	if len(rep.Value) == 0 {
		return nil, true
	}
	sk := hyperloglog.New14()
	if err := sk.UnmarshalBinary(rep.Value); err != nil {
		c.w.err("INVALIDOBJ Corrupted HLL object detected")
		return nil, false
	}
	return sk, true
}

func cmdPFCount(c *conn, a [][]byte) {
	sum := hyperloglog.New14()
	for _, k := range a[1:] {
		sk, ok := c.sketch(string(k))
		if !ok {
			return
		}
		if sk != nil {
			if err := sum.Merge(sk); err != nil {
				c.w.err("ERR " + err.Error())
				return
			}
		}
	}
	c.w.int(int64(sum.Estimate()))
}

func cmdPFMerge(c *conn, a [][]byte) {
	dst := string(a[1])
	keys := strs(a[1:])
	c.atomically(keys, func() bool {
		var vals [][]byte
		for _, k := range keys[1:] {
			sk, ok := c.sketch(k)
			if !ok {
				return false
			}
			if sk != nil {
				b, _ := sk.MarshalBinary()
				vals = append(vals, b)
			}
		}
		if len(vals) == 0 {
			empty, _ := hyperloglog.New14().MarshalBinary()
			vals = [][]byte{empty}
		}
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_HLL_MERGE, Key: dst, Values: vals})
		if err == nil && rep.ErrorCode == messages.CodeWrongType {
			c.w.err(hllWrongType)
			return false
		}
		if c.failed(rep, err) {
			return false
		}
		c.w.ok()
		return true
	})
}

// typeOfRaw is the keyspace's own type name ("none" when missing).
func (c *conn) typeOfRaw(key string) (string, bool) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_TYPE, Key: key})
	if c.failed(rep, err) {
		return "", false
	}
	if rep.Type == "" {
		return "none", true
	}
	return rep.Type, true
}

// readBits reads key's bytes: a bitmap's, or a string's. isString tells
// which (for writing back).
func (c *conn) readBits(key string) (b []byte, isString, ok bool) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_BIT_GET, Key: key})
	if err == nil && rep.ErrorCode == messages.CodeWrongType {
		v, found, ok := c.getString(key)
		return v, found, ok
	}
	if c.failed(rep, err) {
		return nil, false, false
	}
	return rep.Value, false, true
}

func cmdSetBit(c *conn, a [][]byte) {
	off, ok := argInt(a[2])
	if !ok || off < 0 || off >= 1<<32 {
		c.w.err("ERR bit offset is not an integer or out of range")
		return
	}
	if len(a[3]) != 1 || (a[3][0] != '0' && a[3][0] != '1') {
		c.w.err("ERR bit is not an integer or out of range")
		return
	}
	bit := int64(a[3][0] - '0')
	key := string(a[1])
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_BIT_SET, Key: key, Start: off, Amount: bit})
	if err == nil && rep.ErrorCode == messages.CodeWrongType {
		// A string key: set the bit in its bytes.
		c.atomically([]string{key}, func() bool {
			v, found, ok := c.getString(key)
			if !ok {
				return false
			}
			_ = found
			byteAt := int(off / 8)
			nv := append([]byte(nil), v...)
			if byteAt >= len(nv) {
				nv = append(nv, make([]byte, byteAt+1-len(nv))...)
			}
			mask := byte(0x80) >> (off % 8)
			old := nv[byteAt]&mask != 0
			if bit == 1 {
				nv[byteAt] |= mask
			} else {
				nv[byteAt] &^= mask
			}
			if !c.putString(key, nv) {
				return false
			}
			c.w.int(int64(b2i(old)))
			return true
		})
		return
	}
	if c.failed(rep, err) {
		return
	}
	c.w.int(rep.Integer)
}

func cmdGetBit(c *conn, a [][]byte) {
	off, ok := argInt(a[2])
	if !ok || off < 0 || off >= 1<<32 {
		c.w.err("ERR bit offset is not an integer or out of range")
		return
	}
	b, _, ok := c.readBits(string(a[1]))
	if !ok {
		return
	}
	if int(off/8) >= len(b) {
		c.w.int(0)
		return
	}
	c.w.int(int64(b[off/8] >> (7 - off%8) & 1))
}

// bitRange reads [start end [BYTE|BIT]] into a bit range of n bytes; ok
// false with the error written.
func bitRange(c *conn, args [][]byte, n int) (lo, hi int64, empty, ok bool) {
	total := int64(n)
	lo, hi = 0, total*8-1
	if len(args) == 0 {
		return lo, hi, n == 0, true
	}
	if len(args) == 1 || len(args) > 3 {
		c.w.err(syntaxErr)
		return 0, 0, false, false
	}
	s, ok1 := argInt(args[0])
	e, ok2 := argInt(args[1])
	if !ok1 || !ok2 {
		c.w.err(notInteger)
		return 0, 0, false, false
	}
	isBit := false
	if len(args) == 3 {
		switch {
		case eq(args[2], "BIT"):
			isBit = true
		case eq(args[2], "BYTE"):
		default:
			c.w.err(syntaxErr)
			return 0, 0, false, false
		}
	}
	size := total
	if isBit {
		size = total * 8
	}
	if s < 0 {
		s += size
	}
	if e < 0 {
		e += size
	}
	s = max(s, 0)
	e = max(e, 0)
	if e >= size {
		e = size - 1
	}
	if s > e || size == 0 {
		return 0, 0, true, true
	}
	if isBit {
		return s, e, false, true
	}
	return s * 8, e*8 + 7, false, true
}

func bitAt(b []byte, i int64) int {
	return int(b[i/8] >> (7 - i%8) & 1)
}

func cmdBitCount(c *conn, a [][]byte) {
	b, _, ok := c.readBits(string(a[1]))
	if !ok {
		return
	}
	lo, hi, empty, ok := bitRange(c, a[2:], len(b))
	if !ok {
		return
	}
	if empty {
		c.w.int(0)
		return
	}
	n := 0
	for i := lo; i <= hi; {
		if i%8 == 0 && i+7 <= hi {
			n += bits.OnesCount8(b[i/8])
			i += 8
			continue
		}
		n += bitAt(b, i)
		i++
	}
	c.w.int(int64(n))
}

func cmdBitPos(c *conn, a [][]byte) {
	if len(a[2]) != 1 || (a[2][0] != '0' && a[2][0] != '1') {
		c.w.err("ERR The bit argument must be 1 or 0.")
		return
	}
	want := int(a[2][0] - '0')
	b, _, ok := c.readBits(string(a[1]))
	if !ok {
		return
	}
	endGiven := len(a) >= 5
	lo, hi, empty, ok := bitRange(c, a[3:], len(b))
	if len(a) == 4 {
		// Only a start: the range runs to the end.
		s, ok1 := argInt(a[3])
		if !ok1 {
			c.w.err(notInteger)
			return
		}
		lo, hi, empty, ok = bitRange(c, [][]byte{a[3], []byte("-1")}, len(b))
		_ = s
	}
	if !ok {
		return
	}
	if len(b) == 0 {
		c.w.int(int64(map[int]int{0: 0, 1: -1}[want]))
		return
	}
	if empty {
		c.w.int(-1)
		return
	}
	for i := lo; i <= hi; i++ {
		if bitAt(b, i) == want {
			c.w.int(i)
			return
		}
	}
	// Looking for a 0 past the end of the string without an explicit end:
	// Redis answers the first bit after it.
	if want == 0 && !endGiven {
		c.w.int(hi + 1)
		return
	}
	c.w.int(-1)
}

func cmdBitOp(c *conn, a [][]byte) {
	var op string
	switch {
	case eq(a[1], "AND"):
		op = "and"
	case eq(a[1], "OR"):
		op = "or"
	case eq(a[1], "XOR"):
		op = "xor"
	case eq(a[1], "NOT"):
		op = "not"
	default:
		c.w.err(syntaxErr)
		return
	}
	if op == "not" && len(a) != 4 {
		c.w.err("ERR BITOP NOT must be called with a single source key.")
		return
	}
	dst := string(a[2])
	keys := strs(a[2:])
	c.atomically(keys, func() bool {
		var srcs [][]byte
		longest := 0
		for _, k := range keys[1:] {
			b, _, ok := c.readBits(k)
			if !ok {
				return false
			}
			srcs = append(srcs, b)
			longest = max(longest, len(b))
		}
		out := make([]byte, longest)
		for i := range out {
			var v byte
			for j, s := range srcs {
				var x byte
				if i < len(s) {
					x = s[i]
				}
				switch {
				case op == "not":
					v = ^x
				case j == 0:
					v = x
				case op == "and":
					v &= x
				case op == "or":
					v |= x
				case op == "xor":
					v ^= x
				}
			}
			out[i] = v
		}
		del, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Key: dst})
		if c.failed(del, err) {
			return false
		}
		if len(out) > 0 {
			// Redis's BITOP result is a string: store it as one.
			if !c.putString(dst, out) {
				return false
			}
		}
		c.w.int(int64(len(out)))
		return true
	})
}
