package kv

import (
	"bytes"

	"github.com/tidwall/btree"

	"github.com/troupe-run/troupe/messages"
)

// listValue holds a list's elements by sequence number: lpush takes the
// head's number minus one, rpush the tail's plus one, so a push writes one
// store record and never renumbers. lrem leaves gaps, which is why an index
// is resolved through the tree's counts (GetAt) rather than by arithmetic.
type listValue struct {
	items btree.Map[int64, []byte]
}

func itemSize(value []byte) int64 { return elementOverhead + int64(len(value)) }

func (l *listValue) restore(seq int64, value []byte) int64 {
	value = append([]byte(nil), value...)
	l.items.Set(seq, value)
	return itemSize(value)
}

// next returns the sequence number of an element pushed at the head or the tail.
func (l *listValue) next(head bool) int64 {
	if head {
		if first, _, ok := l.items.Min(); ok {
			return first - 1
		}
	} else if last, _, ok := l.items.Max(); ok {
		return last + 1
	}
	return 0
}

func (s *Shard) list(key string, now int64) (*listValue, *messages.DataReply) {
	e, bad := s.typed(key, now, kindList)
	if e == nil {
		return nil, bad
	}
	return e.coll.(*listValue), nil
}

// span turns Redis start and stop indexes (inclusive, negative ones
// counting from the end) over n items into the half-open range [from, to),
// empty when from == to.
func span(start, stop int64, n int) (from, to int) {
	size := int64(n)
	if start < 0 {
		start += size
	}
	if stop < 0 {
		stop += size
	}
	start = max(start, 0)
	stop = min(stop, size-1)
	if start > stop {
		return 0, 0
	}
	return int(start), int(stop) + 1
}

// index resolves one Redis index (negative from the end) over n items.
func index(i int64, n int) (int, bool) {
	if i < 0 {
		i += int64(n)
	}
	if i < 0 || i >= int64(n) {
		return 0, false
	}
	return int(i), true
}

func (s *Shard) listPush(now int64, req *messages.DataRequest, j Journal, head bool) *messages.DataReply {
	values := req.GetValues()
	if len(values) == 0 {
		return fail(messages.CodeInvalid, "no values given")
	}
	var n int64
	for i, v := range values {
		if len(v) == 0 {
			return fail(messages.CodeInvalid, "value %d is missing", i)
		}
		n += itemSize(v)
	}
	e, bad := s.typedForWrite(req.GetKey(), now, kindList, j)
	if bad != nil {
		return bad
	}
	if e == nil {
		n += keyOverhead + int64(len(req.GetKey()))
	}
	if !s.admit(n) {
		return memoryFull(s, n)
	}
	if e == nil {
		e = s.create(req.GetKey(), kindList, new(listValue), j)
	}
	l := e.coll.(*listValue)
	for _, v := range values {
		seq := l.next(head)
		l.items.Set(seq, s.writeElement(j, e, seqSuffix(seq), v))
	}
	e.size += n
	r := s.reply()
	r.Ok, r.Integer = true, int64(l.items.Len())
	return r
}

func (s *Shard) listPop(now int64, req *messages.DataRequest, j Journal, head bool) *messages.DataReply {
	count := req.GetCount()
	switch {
	case count < 0:
		return fail(messages.CodeInvalid, "count %d is negative", count)
	case count == 0:
		count = 1
	}
	e, bad := s.typedForWrite(req.GetKey(), now, kindList, j)
	if e == nil {
		return orEmpty(bad)
	}
	l := e.coll.(*listValue)
	count = min(count, int64(l.items.Len()))
	reply := s.reply()
	reply.Ok, reply.Found, reply.Values = true, true, make([][]byte, 0, count)
	for range count {
		var seq int64
		var v []byte
		if head {
			seq, v, _ = l.items.PopMin()
		} else {
			seq, v, _ = l.items.PopMax()
		}
		s.deleteElement(j, e, seqSuffix(seq))
		s.charge(e, -itemSize(v))
		reply.Values = append(reply.Values, v)
	}
	s.removeIfEmpty(e, l.items.Len(), j)
	return reply
}

func (s *Shard) listRange(now int64, req *messages.DataRequest) *messages.DataReply {
	l, bad := s.list(req.GetKey(), now)
	if l == nil {
		return orEmpty(bad)
	}
	from, to := span(req.GetStart(), req.GetStop(), l.items.Len())
	reply := &messages.DataReply{Found: true, Values: make([][]byte, 0, to-from)}
	if from == to {
		return reply
	}
	first, _, _ := l.items.GetAt(from)
	l.items.Ascend(first, func(_ int64, v []byte) bool {
		reply.Values = append(reply.Values, v)
		return len(reply.Values) < to-from
	})
	return reply
}

func (s *Shard) listLen(now int64, req *messages.DataRequest) *messages.DataReply {
	l, bad := s.list(req.GetKey(), now)
	if l == nil {
		return orEmpty(bad)
	}
	return &messages.DataReply{Found: true, Integer: int64(l.items.Len())}
}

func (s *Shard) listIndex(now int64, req *messages.DataRequest) *messages.DataReply {
	l, bad := s.list(req.GetKey(), now)
	if l == nil {
		return orEmpty(bad)
	}
	i, ok := index(req.GetStart(), l.items.Len())
	if !ok {
		return &messages.DataReply{}
	}
	_, v, _ := l.items.GetAt(i)
	return &messages.DataReply{Found: true, Value: v}
}

func (s *Shard) listSet(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	if len(req.GetValue()) == 0 {
		return fail(messages.CodeInvalid, "value is missing")
	}
	e, bad := s.typedForWrite(req.GetKey(), now, kindList, j)
	if bad != nil {
		return bad
	}
	if e == nil {
		return fail(messages.CodeNoSuchKey, "list %q does not exist", req.GetKey())
	}
	l := e.coll.(*listValue)
	i, ok := index(req.GetStart(), l.items.Len())
	if !ok {
		return fail(messages.CodeOutOfRange, "index %d is out of range for list %q of length %d", req.GetStart(), e.key, l.items.Len())
	}
	seq, old, _ := l.items.GetAt(i)
	n := itemSize(req.GetValue()) - itemSize(old)
	if !s.admit(n) {
		return memoryFull(s, n)
	}
	l.items.Set(seq, s.writeElement(j, e, seqSuffix(seq), req.GetValue()))
	e.size += n
	return &messages.DataReply{Ok: true}
}

func (s *Shard) listTrim(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	e, bad := s.typedForWrite(req.GetKey(), now, kindList, j)
	if e == nil {
		if bad != nil {
			return bad
		}
		return &messages.DataReply{Ok: true}
	}
	l := e.coll.(*listValue)
	from, to := span(req.GetStart(), req.GetStop(), l.items.Len())
	if from == to {
		s.remove(e, j)
		return &messages.DataReply{Ok: true}
	}
	// What goes is contiguous at either end: one range deletion in the
	// store for each end, however many elements it holds.
	if from > 0 {
		keep, _, _ := l.items.GetAt(from)
		for range from {
			_, v, _ := l.items.PopMin()
			s.charge(e, -itemSize(v))
		}
		j.DeleteRange(s.elementKey(e, ""), s.elementKey(e, seqSuffix(keep)))
	}
	if tail := l.items.Len() - (to - from); tail > 0 {
		keep, _, _ := l.items.GetAt(to - from - 1)
		for range tail {
			_, v, _ := l.items.PopMax()
			s.charge(e, -itemSize(v))
		}
		_, end := s.keyRange(e.key)
		j.DeleteRange(s.elementKey(e, seqSuffix(keep+1)), end)
	}
	return &messages.DataReply{Ok: true}
}

func (s *Shard) listRem(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	if len(req.GetValue()) == 0 {
		return fail(messages.CodeInvalid, "value is missing")
	}
	e, bad := s.typedForWrite(req.GetKey(), now, kindList, j)
	if e == nil {
		return orEmpty(bad)
	}
	l := e.coll.(*listValue)
	// count > 0 removes that many from the head, count < 0 from the
	// tail, 0 every match.
	count, limit := req.GetCount(), l.items.Len()
	if count > 0 {
		limit = int(min(count, int64(limit)))
	} else if count < 0 && count > -int64(limit) {
		limit = int(-count)
	}
	var seqs []int64
	match := func(seq int64, v []byte) bool {
		if bytes.Equal(v, req.GetValue()) {
			seqs = append(seqs, seq)
		}
		return len(seqs) < limit
	}
	if count < 0 {
		l.items.Reverse(match)
	} else {
		l.items.Scan(match)
	}
	for _, seq := range seqs {
		v, _ := l.items.Delete(seq)
		s.deleteElement(j, e, seqSuffix(seq))
		s.charge(e, -itemSize(v))
	}
	s.removeIfEmpty(e, l.items.Len(), j)
	return &messages.DataReply{Ok: true, Integer: int64(len(seqs))}
}
