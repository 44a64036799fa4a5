package kv

import (
	"bytes"

	"github.com/axiomhq/hyperloglog"

	"github.com/troupe-run/troupe/messages"
)

// HyperLogLog keys and bitmaps are blobs: their whole value sits in the
// key's metadata record, like a string's, and every write rewrites it. A
// sketch is axiomhq/hyperloglog's (precision 14, sparse while small: a few
// bytes for a handful of members, 16 KiB at most), marshaled.

// blobGet answers a blob of kind k: its bytes, empty when there is no key.
func (s *Shard) blobGet(now int64, req *messages.DataRequest, k kind) *messages.DataReply {
	e, bad := s.typed(req.GetKey(), now, k)
	if bad != nil {
		return bad
	}
	if e == nil {
		return &messages.DataReply{}
	}
	return &messages.DataReply{Found: true, Value: e.value}
}

// putBlob stores value as key's blob of kind k, keeping an existing key's
// expiry, within the memory budget.
func (s *Shard) putBlob(e *entry, key string, k kind, value []byte, j Journal) *messages.DataReply {
	n := stringGrowth(e, key, value)
	if !s.admit(n) {
		return memoryFull(s, n)
	}
	if e == nil {
		e = &entry{key: key, kind: k, heapIdx: -1}
		s.insert(e)
	}
	e.size += n
	e.value = value
	s.writeMeta(j, e)
	return nil
}

// sketchOf decodes e's sketch, or returns a new one when e is nil.
func sketchOf(e *entry) (*hyperloglog.Sketch, *messages.DataReply) {
	sk := hyperloglog.New14()
	if e == nil {
		return sk, nil
	}
	if err := sk.UnmarshalBinary(e.value); err != nil {
		return nil, fail(messages.CodeInvalid, "key %q holds a damaged HyperLogLog sketch: %v", e.key, err)
	}
	return sk, nil
}

// hllAdd adds members to key's sketch, creating it. ok tells whether the
// sketch changed (pfadd's 1), as Redis answers.
func (s *Shard) hllAdd(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	e, bad := s.typedForWrite(req.GetKey(), now, kindHLL, j)
	if bad != nil {
		return bad
	}
	sk, bad := sketchOf(e)
	if bad != nil {
		return bad
	}
	for _, m := range req.GetMembers() {
		sk.Insert([]byte(m))
	}
	raw, err := sk.MarshalBinary()
	if err != nil {
		return fail(messages.CodeInvalid, "encoding the sketch: %v", err)
	}
	if e != nil && bytes.Equal(raw, e.value) {
		return &messages.DataReply{Integer: int64(sk.Estimate())}
	}
	if bad := s.putBlob(e, req.GetKey(), kindHLL, raw, j); bad != nil {
		return bad
	}
	return &messages.DataReply{Ok: true, Integer: int64(sk.Estimate())}
}

// hllMerge merges the sketches in values into key's, creating it.
func (s *Shard) hllMerge(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	e, bad := s.typedForWrite(req.GetKey(), now, kindHLL, j)
	if bad != nil {
		return bad
	}
	sk, bad := sketchOf(e)
	if bad != nil {
		return bad
	}
	for i, raw := range req.GetValues() {
		other := hyperloglog.New14()
		if err := other.UnmarshalBinary(raw); err != nil {
			return fail(messages.CodeInvalid, "sketch %d: %v", i, err)
		}
		if err := sk.Merge(other); err != nil {
			return fail(messages.CodeInvalid, "sketch %d: %v", i, err)
		}
	}
	raw, err := sk.MarshalBinary()
	if err != nil {
		return fail(messages.CodeInvalid, "encoding the sketch: %v", err)
	}
	if bad := s.putBlob(e, req.GetKey(), kindHLL, raw, j); bad != nil {
		return bad
	}
	return &messages.DataReply{Ok: true, Integer: int64(sk.Estimate())}
}

// MaxBitOffset bounds a bitmap's offsets: a bitmap is at most 64 MiB, and
// each write rewrites it whole.
const MaxBitOffset = 1<<29 - 1

// bitSet sets one bit of key's bitmap, growing it, and answers the bit it
// replaced.
func (s *Shard) bitSet(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	off, bit := req.GetStart(), req.GetAmount()
	switch {
	case off < 0 || off > MaxBitOffset:
		return fail(messages.CodeInvalid, "offset %d is out of range (0 to %d)", off, MaxBitOffset)
	case bit != 0 && bit != 1:
		return fail(messages.CodeInvalid, "a bit is 0 or 1, not %d", bit)
	}
	e, bad := s.typedForWrite(req.GetKey(), now, kindBitmap, j)
	if bad != nil {
		return bad
	}
	var cur []byte
	if e != nil {
		cur = e.value
	}
	old := GetBit(cur, off)
	if e != nil && old == bit {
		return &messages.DataReply{Integer: old}
	}
	// Stored values are never changed in place (the store may share them).
	next := make([]byte, max(len(cur), int(off/8)+1))
	copy(next, cur)
	mask := byte(0x80) >> (off % 8)
	if bit == 1 {
		next[off/8] |= mask
	} else {
		next[off/8] &^= mask
	}
	if bad := s.putBlob(e, req.GetKey(), kindBitmap, next, j); bad != nil {
		return bad
	}
	return &messages.DataReply{Ok: true, Integer: old}
}

// bitStore replaces key with the bitmap in value; an empty one deletes it.
func (s *Shard) bitStore(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	e := s.lookupForWrite(req.GetKey(), now, j)
	value := req.GetValue()
	if len(value) > MaxBitOffset/8+1 {
		return fail(messages.CodeInvalid, "a bitmap of %d bytes is over the limit of %d", len(value), MaxBitOffset/8+1)
	}
	if e != nil && e.kind != kindBitmap {
		// Like Redis's BITOP, the destination is overwritten whatever it held.
		s.remove(e, j)
		e = nil
	}
	if len(value) == 0 {
		if e != nil {
			s.remove(e, j)
		}
		return &messages.DataReply{Ok: true}
	}
	if bad := s.putBlob(e, req.GetKey(), kindBitmap, value, j); bad != nil {
		return bad
	}
	return &messages.DataReply{Ok: true, Integer: int64(len(value))}
}

// GetBit returns bit off of b (0 past its end); bit 0 is the high bit of
// byte 0, as in Redis.
func GetBit(b []byte, off int64) int64 {
	if off < 0 || off/8 >= int64(len(b)) {
		return 0
	}
	return int64(b[off/8]>>(7-off%8)) & 1
}

// countKind counts the live keys whose type is named kind (KV_COUNT with a
// field), for the stats commands of a type: a walk over the shard's keys.
func (s *Shard) countKind(now int64, name string) *messages.DataReply {
	r := &messages.DataReply{}
	for _, e := range s.keys {
		if e.kind.String() != name || e.expired(now) {
			continue
		}
		r.Integer++
		r.Bytes += e.size
		r.Elements += elements(e)
	}
	return r
}

// elements is what the stats of e's type count of it: fields, items or
// members; a string's bytes, a bitmap's bits, a sketch's estimate (which
// reads the sketch, as the original does).
func elements(e *entry) int64 {
	switch c := e.coll.(type) {
	case *hashValue:
		return int64(c.fields.Len())
	case *listValue:
		return int64(c.items.Len())
	case *setValue:
		return int64(c.members.Len())
	case *zsetValue:
		return int64(len(c.scores))
	}
	switch e.kind {
	case kindBitmap:
		return 8 * int64(len(e.value))
	case kindHLL:
		if sk, bad := sketchOf(e); bad == nil {
			return int64(sk.Estimate())
		}
		return 0
	}
	return int64(len(e.value))
}
