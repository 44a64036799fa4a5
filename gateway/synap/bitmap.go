package synap

import (
	"encoding/json"
	"math/bits"
	"strings"
	"sync/atomic"

	"github.com/troupe-run/troupe/messages"
)

var bitmapCommands = []commandSpec{
	{"bitmap.setbit", bitSet},
	{"bitmap.getbit", bitGet},
	{"bitmap.bitcount", bitCount},
	{"bitmap.bitpos", bitPos},
	{"bitmap.bitop", bitOp},
	{"bitmap.bitfield", bitField},
	{"bitmap.stats", bitStats},
}

// maxBitOffset is the largest bit offset, the keyspace's limit (a bitmap of
// 64 MiB at most); the door checks it to name the field at fault.
const maxBitOffset = 1<<29 - 1

// getBit returns bit off of b (0 past its end); bit 0 is the high bit of
// byte 0, as in Redis.
func getBit(b []byte, off int64) int64 {
	if off < 0 || off/8 >= int64(len(b)) {
		return 0
	}
	return int64(b[off/8]>>(7-off%8)) & 1
}

// bitmapCounters count the bitmap commands served since start, for
// bitmap.stats (not durable).
type bitmapCounters struct {
	setbit, getbit, bitcount, bitop, bitpos, bitfield atomic.Int64
}

// bitArgs is the payload of the bitmap commands. Offsets and ranges are in
// bits, as the original takes them.
type bitArgs struct {
	Key         string          `json:"key"`
	Offset      *int64          `json:"offset"`
	Value       *int64          `json:"value"`
	Start       *int64          `json:"start"`
	End         *int64          `json:"end"`
	Destination string          `json:"destination"`
	Operation   string          `json:"operation"`
	SourceKeys  []string        `json:"source_keys"`
	Operations  json.RawMessage `json:"operations"`
}

func bitPayload(c *call, needKey bool) (*bitArgs, error) {
	var p bitArgs
	if err := payloadInto(c, &p); err != nil {
		return nil, err
	}
	if needKey && p.Key == "" {
		return nil, invalid("key is required")
	}
	return &p, nil
}

func (p *bitArgs) offset() (int64, error) {
	switch {
	case p.Offset == nil:
		return 0, invalid("offset is required")
	case *p.Offset < 0 || *p.Offset > maxBitOffset:
		return 0, invalid("offset must be from 0 to %d, not %d", maxBitOffset, *p.Offset)
	}
	return *p.Offset, nil
}

// bitmap.setbit {key, offset, value} -> {key, offset, old_value}
func bitSet(c *call) error {
	p, err := bitPayload(c, true)
	if err != nil {
		return err
	}
	off, err := p.offset()
	if err != nil {
		return err
	}
	if p.Value == nil || (*p.Value != 0 && *p.Value != 1) {
		return invalid("value must be 0 or 1")
	}
	c.s.bitmaps.setbit.Add(1)
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_BIT_SET, Key: p.Key, Start: off, Amount: *p.Value})
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(p.Key)
	w.Key("offset")
	w.Int(off)
	w.Key("old_value")
	w.Int(rep.Integer)
	w.EndObj()
	return nil
}

// readBitmap reads key's bitmap; nil when there is none.
func readBitmap(c *call, key string) ([]byte, error) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_BIT_GET, Key: key})
	if err != nil {
		return nil, err
	}
	return rep.Value, nil
}

// bitmap.getbit {key, offset} -> {key, offset, value}
func bitGet(c *call) error {
	p, err := bitPayload(c, true)
	if err != nil {
		return err
	}
	off, err := p.offset()
	if err != nil {
		return err
	}
	c.s.bitmaps.getbit.Add(1)
	b, err := readBitmap(c, p.Key)
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(p.Key)
	w.Key("offset")
	w.Int(off)
	w.Key("value")
	w.Int(getBit(b, off))
	w.EndObj()
	return nil
}

// bitRange resolves a range of bits [start, end] over a bitmap of n bits;
// negative positions count from the end, as Redis's. Empty when start > end.
func bitRange(start, end *int64, n int64) (lo, hi int64) {
	lo, hi = 0, n-1
	if start != nil {
		lo = *start
		if lo < 0 {
			lo += n
		}
	}
	if end != nil {
		hi = *end
		if hi < 0 {
			hi += n
		}
	}
	return max(lo, 0), min(hi, n-1)
}

// bitmap.bitcount {key, start?, end?} -> {key, count}: the set bits in the
// bit range (the whole bitmap without one).
func bitCount(c *call) error {
	p, err := bitPayload(c, true)
	if err != nil {
		return err
	}
	c.s.bitmaps.bitcount.Add(1)
	b, err := readBitmap(c, p.Key)
	if err != nil {
		return err
	}
	lo, hi := bitRange(p.Start, p.End, int64(len(b))*8)
	var n int64
	for i := lo; i <= hi; {
		if i%8 == 0 && i+7 <= hi {
			n += int64(bits.OnesCount8(b[i/8]))
			i += 8
			continue
		}
		n += getBit(b, i)
		i++
	}
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(p.Key)
	w.Key("count")
	w.Int(n)
	w.EndObj()
	return nil
}

// bitmap.bitpos {key, value, start?, end?} -> {key, position}: the first
// bit equal to value in the bit range, null when there is none.
func bitPos(c *call) error {
	p, err := bitPayload(c, true)
	if err != nil {
		return err
	}
	if p.Value == nil || (*p.Value != 0 && *p.Value != 1) {
		return invalid("value must be 0 or 1")
	}
	c.s.bitmaps.bitpos.Add(1)
	b, err := readBitmap(c, p.Key)
	if err != nil {
		return err
	}
	lo, hi := bitRange(p.Start, p.End, int64(len(b))*8)
	pos := int64(-1)
	for i := lo; i <= hi; i++ {
		if getBit(b, i) == *p.Value {
			pos = i
			break
		}
	}
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(p.Key)
	w.Key("position")
	if pos < 0 {
		w.Null()
	} else {
		w.Int(pos)
	}
	w.EndObj()
	return nil
}

// bitmap.bitop {destination, operation, source_keys} -> {destination,
// length}: AND, OR, XOR of the sources (NOT of one) into destination, which
// is replaced whatever it held; length is its size in bytes. The sources
// are read first, then the result is written in one step.
func bitOp(c *call) error {
	p, err := bitPayload(c, false)
	if err != nil {
		return err
	}
	op := strings.ToUpper(p.Operation)
	switch {
	case p.Destination == "":
		return invalid("destination is required")
	case len(p.SourceKeys) == 0:
		return invalid("source_keys is required")
	case op == "NOT" && len(p.SourceKeys) != 1:
		return invalid("NOT takes one source key, not %d", len(p.SourceKeys))
	case op != "AND" && op != "OR" && op != "XOR" && op != "NOT":
		return invalid("operation must be AND, OR, XOR or NOT, not %q", p.Operation)
	}
	c.s.bitmaps.bitop.Add(1)
	srcs := make([][]byte, len(p.SourceKeys))
	n := 0
	for i, k := range p.SourceKeys {
		if srcs[i], err = readBitmap(c, k); err != nil {
			return err
		}
		n = max(n, len(srcs[i]))
	}
	out := make([]byte, n)
	for i := range out {
		at := func(s []byte) byte {
			if i < len(s) {
				return s[i]
			}
			return 0
		}
		v := at(srcs[0])
		for _, s := range srcs[1:] {
			switch op {
			case "AND":
				v &= at(s)
			case "OR":
				v |= at(s)
			case "XOR":
				v ^= at(s)
			}
		}
		if op == "NOT" {
			v = ^v
		}
		out[i] = v
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_BIT_STORE, Key: p.Destination, Value: out})
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("destination")
	w.Str(p.Destination)
	w.Key("length")
	w.Int(rep.Integer)
	w.EndObj()
	return nil
}

// bitmap.bitfield {key, operations} -> {key, results}: GET, SET and INCRBY
// of integer fields, applied in order and atomically on the key's shard.
func bitField(c *call) error {
	p, err := bitPayload(c, true)
	if err != nil {
		return err
	}
	if absent(p.Operations) || p.Operations[0] != '[' {
		return invalid("operations must be an array")
	}
	c.s.bitmaps.bitfield.Add(1)
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_BIT_FIELD, Key: p.Key, Value: compact(p.Operations)})
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(p.Key)
	w.Key("results")
	w.Raws(rep.Values)
	w.EndObj()
	return nil
}

// bitmap.stats {} -> the original's figures: total_bitmaps (keys holding a
// bitmap now), total_bits (their bytes times 8, as the original counts) and
// the command counts since the server started.
func bitStats(c *call) error {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_COUNT, Field: "bitmap"})
	if err != nil {
		return err
	}
	b := &c.s.bitmaps
	w := c.out
	w.Obj()
	w.Key("total_bitmaps")
	w.Int(rep.Integer)
	w.Key("total_bits")
	w.Int(rep.Elements)
	for _, f := range []struct {
		name string
		n    *atomic.Int64
	}{{"setbit_count", &b.setbit}, {"getbit_count", &b.getbit}, {"bitcount_count", &b.bitcount},
		{"bitop_count", &b.bitop}, {"bitpos_count", &b.bitpos}, {"bitfield_count", &b.bitfield}} {
		w.Key(f.name)
		w.Int(f.n.Load())
	}
	w.EndObj()
	return nil
}
