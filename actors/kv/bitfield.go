package kv

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/troupe-run/troupe/messages"
)

// FieldOp is one operation of bitmap.bitfield, as the original's clients
// send it: GET, SET or INCRBY of an integer of width bits (1 to 64 signed,
// 1 to 63 unsigned) at bit offset.
type FieldOp struct {
	Operation string `json:"operation"`
	Offset    int64  `json:"offset"`
	Width     int    `json:"width"`
	Signed    bool   `json:"signed"`
	Value     int64  `json:"value"`
	Increment int64  `json:"increment"`
	Overflow  string `json:"overflow"` // WRAP (default), SAT or FAIL
}

// bitField runs the operations in order on key's bitmap, atomically, and
// answers each one's result.
func (s *Shard) bitField(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	var ops []FieldOp
	if err := json.Unmarshal(req.GetValue(), &ops); err != nil {
		return fail(messages.CodeInvalid, "operations: %v", err)
	}
	for i, op := range ops {
		op.Operation = strings.ToUpper(op.Operation)
		op.Overflow = strings.ToUpper(op.Overflow)
		switch {
		case op.Operation != "GET" && op.Operation != "SET" && op.Operation != "INCRBY":
			return fail(messages.CodeInvalid, "operations[%d]: operation must be GET, SET or INCRBY, not %q", i, op.Operation)
		case op.Width < 1 || op.Width > 64 || (!op.Signed && op.Width > 63):
			return fail(messages.CodeInvalid, "operations[%d]: width %d is out of range (1 to 64 signed, 63 unsigned)", i, op.Width)
		case op.Offset < 0 || op.Offset+int64(op.Width)-1 > MaxBitOffset:
			return fail(messages.CodeInvalid, "operations[%d]: offset %d is out of range", i, op.Offset)
		case op.Overflow != "" && op.Overflow != "WRAP" && op.Overflow != "SAT" && op.Overflow != "FAIL":
			return fail(messages.CodeInvalid, "operations[%d]: overflow must be WRAP, SAT or FAIL, not %q", i, op.Overflow)
		}
		ops[i] = op
	}
	e, bad := s.typedForWrite(req.GetKey(), now, kindBitmap, j)
	if bad != nil {
		return bad
	}
	var cur []byte
	if e != nil {
		cur = e.value
	}
	next := cur
	copied, wrote := false, false
	reply := &messages.DataReply{}
	for _, op := range ops {
		old := readField(next, op.Offset, op.Width, op.Signed)
		if op.Operation == "GET" {
			reply.Values = append(reply.Values, strconv.AppendInt(nil, old, 10))
			continue
		}
		v, ok := op.Value, true
		if op.Operation == "INCRBY" {
			v, ok = addField(old, op.Increment, op.Width, op.Signed, op.Overflow)
		} else {
			v = wrapField(v, op.Width, op.Signed)
		}
		if !ok {
			reply.Values = append(reply.Values, []byte("null"))
			continue
		}
		if !copied {
			// Stored values are never changed in place.
			next = append([]byte(nil), cur...)
			copied = true
		}
		if need := int((op.Offset+int64(op.Width)-1)/8) + 1; need > len(next) {
			next = append(next, make([]byte, need-len(next))...)
		}
		writeField(next, op.Offset, op.Width, v)
		wrote = true
		if op.Operation == "SET" {
			reply.Values = append(reply.Values, strconv.AppendInt(nil, old, 10))
		} else {
			reply.Values = append(reply.Values, strconv.AppendInt(nil, v, 10))
		}
	}
	if wrote {
		if bad := s.putBlob(e, req.GetKey(), kindBitmap, next, j); bad != nil {
			return bad
		}
		reply.Ok = true
	}
	return reply
}

// readField reads width bits at bit offset off, most significant first.
func readField(b []byte, off int64, width int, signed bool) int64 {
	var u uint64
	for i := range int64(width) {
		u = u<<1 | uint64(GetBit(b, off+i))
	}
	if signed && width < 64 && u&(1<<(width-1)) != 0 {
		u |= ^uint64(0) << width
	}
	return int64(u)
}

// writeField writes the low width bits of v at bit offset off; b is long
// enough.
func writeField(b []byte, off int64, width int, v int64) {
	for i := range int64(width) {
		bit := (uint64(v) >> (int64(width) - 1 - i)) & 1
		pos := off + i
		mask := byte(0x80) >> (pos % 8)
		if bit == 1 {
			b[pos/8] |= mask
		} else {
			b[pos/8] &^= mask
		}
	}
}

// fieldRange is the smallest and largest value of a field.
func fieldRange(width int, signed bool) (lo, hi int64) {
	if signed {
		if width == 64 {
			return -1 << 63, 1<<63 - 1
		}
		return -1 << (width - 1), 1<<(width-1) - 1
	}
	return 0, 1<<width - 1
}

// wrapField keeps the low width bits of v, as the field reads them back.
func wrapField(v int64, width int, signed bool) int64 {
	if width == 64 {
		return v
	}
	u := uint64(v) & (1<<width - 1)
	if signed && u&(1<<(width-1)) != 0 {
		u |= ^uint64(0) << width
	}
	return int64(u)
}

// addField adds inc to a field holding v under an overflow policy; false
// when it overflows under FAIL.
func addField(v, inc int64, width int, signed bool, overflow string) (int64, bool) {
	lo, hi := fieldRange(width, signed)
	sum := v + inc
	over := (inc > 0 && (sum < v || sum > hi)) || (inc < 0 && (sum > v || sum < lo))
	if !over {
		return sum, true
	}
	switch overflow {
	case "SAT":
		if inc > 0 {
			return hi, true
		}
		return lo, true
	case "FAIL":
		return 0, false
	}
	return wrapField(sum, width, signed), true
}
