package kv

import (
	"strconv"

	"github.com/tidwall/btree"

	"github.com/troupe-run/troupe/messages"
)

// hashValue holds a hash's fields in field order, so getall, keys and vals
// come out sorted without sorting.
type hashValue struct {
	fields btree.Map[string, []byte]
}

func fieldSize(field string, value []byte) int64 {
	return elementOverhead + int64(len(field)) + int64(len(value))
}

func (h *hashValue) restore(field string, value []byte) int64 {
	value = append([]byte(nil), value...)
	h.fields.Set(field, value)
	return fieldSize(field, value)
}

func (s *Shard) hash(key string, now int64) (*entry, *hashValue, *messages.DataReply) {
	e, bad := s.typed(key, now, kindHash)
	if e == nil {
		return nil, nil, bad
	}
	return e, e.coll.(*hashValue), nil
}

// putFields stores pairs (unique fields, growth n admitted) in key's hash,
// creating it when e is nil, and returns how many fields are new.
func (s *Shard) putFields(e *entry, key string, pairs []*messages.Pair, n int64, j Journal) int64 {
	if e == nil {
		e = s.create(key, kindHash, new(hashValue), j)
	}
	h := e.coll.(*hashValue)
	var added int64
	for _, p := range pairs {
		if _, ok := h.fields.Set(p.GetKey(), s.writeElement(j, e, p.GetKey(), p.GetValue())); !ok {
			added++
		}
	}
	e.size += n
	return added
}

// fieldsGrowth is how many bytes storing pairs in e's hash (nil: a new
// hash under key) adds.
func fieldsGrowth(e *entry, key string, pairs []*messages.Pair) int64 {
	var n int64
	var h *hashValue
	if e == nil {
		n = keyOverhead + int64(len(key))
	} else {
		h = e.coll.(*hashValue)
	}
	for _, p := range pairs {
		n += fieldSize(p.GetKey(), p.GetValue())
		if h == nil {
			continue
		}
		if old, ok := h.fields.Get(p.GetKey()); ok {
			n -= fieldSize(p.GetKey(), old)
		}
	}
	return n
}

func (s *Shard) hashSet(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	pairs, bad := lastWins(req.GetPairs(), "field")
	if bad != nil {
		return bad
	}
	e, bad := s.typedForWrite(req.GetKey(), now, kindHash, j)
	if bad != nil {
		return bad
	}
	n := fieldsGrowth(e, req.GetKey(), pairs)
	if !s.admit(n) {
		return memoryFull(s, n)
	}
	r := s.reply()
	r.Ok, r.Integer = true, s.putFields(e, req.GetKey(), pairs, n, j)
	return r
}

func (s *Shard) hashGet(now int64, req *messages.DataRequest) *messages.DataReply {
	_, h, bad := s.hash(req.GetKey(), now)
	if h == nil {
		return orEmpty(bad)
	}
	v, ok := h.fields.Get(req.GetField())
	return &messages.DataReply{Found: ok, Value: v}
}

func (s *Shard) hashGetAll(now int64, req *messages.DataRequest) *messages.DataReply {
	_, h, bad := s.hash(req.GetKey(), now)
	if h == nil {
		return orEmpty(bad)
	}
	reply := &messages.DataReply{Found: true, Pairs: make([]*messages.Pair, 0, h.fields.Len())}
	h.fields.Scan(func(field string, v []byte) bool {
		reply.Pairs = append(reply.Pairs, &messages.Pair{Key: field, Value: v})
		return true
	})
	return reply
}

func (s *Shard) hashDel(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	e, bad := s.typedForWrite(req.GetKey(), now, kindHash, j)
	if e == nil {
		return orEmpty(bad)
	}
	h := e.coll.(*hashValue)
	var n int64
	for _, f := range req.GetFields() {
		if v, ok := h.fields.Delete(f); ok {
			s.deleteElement(j, e, f)
			s.charge(e, -fieldSize(f, v))
			n++
		}
	}
	s.removeIfEmpty(e, h.fields.Len(), j)
	return &messages.DataReply{Ok: true, Integer: n}
}

func (s *Shard) hashExists(now int64, req *messages.DataRequest) *messages.DataReply {
	_, h, bad := s.hash(req.GetKey(), now)
	if h == nil {
		return orEmpty(bad)
	}
	_, ok := h.fields.Get(req.GetField())
	return &messages.DataReply{Found: ok}
}

func (s *Shard) hashLen(now int64, req *messages.DataRequest) *messages.DataReply {
	_, h, bad := s.hash(req.GetKey(), now)
	if h == nil {
		return orEmpty(bad)
	}
	return &messages.DataReply{Found: true, Integer: int64(h.fields.Len())}
}

func (s *Shard) hashMGet(now int64, req *messages.DataRequest) *messages.DataReply {
	_, h, bad := s.hash(req.GetKey(), now)
	if bad != nil {
		return bad
	}
	fields := req.GetFields()
	reply := &messages.DataReply{Values: make([][]byte, len(fields)), Flags: make([]bool, len(fields))}
	if h != nil {
		for i, f := range fields {
			reply.Values[i], reply.Flags[i] = h.fields.Get(f)
		}
	}
	return reply
}

func (s *Shard) hashKeys(now int64, req *messages.DataRequest) *messages.DataReply {
	_, h, bad := s.hash(req.GetKey(), now)
	if h == nil {
		return orEmpty(bad)
	}
	return &messages.DataReply{Found: true, Keys: h.fields.Keys()}
}

func (s *Shard) hashVals(now int64, req *messages.DataRequest) *messages.DataReply {
	_, h, bad := s.hash(req.GetKey(), now)
	if h == nil {
		return orEmpty(bad)
	}
	return &messages.DataReply{Found: true, Values: h.fields.Values()}
}

func (s *Shard) hashIncrBy(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	e, bad := s.typedForWrite(req.GetKey(), now, kindHash, j)
	if bad != nil {
		return bad
	}
	var cur int64
	if e != nil {
		if v, ok := e.coll.(*hashValue).fields.Get(req.GetField()); ok {
			if cur, ok = parseInteger(v); !ok {
				return fail(messages.CodeNotInteger, "field %q of hash %q holds %s, not an integer", req.GetField(), e.key, clip(v))
			}
		}
	}
	sum, bad := addInt(cur, req.GetAmount())
	if bad != nil {
		return bad
	}
	pairs := []*messages.Pair{{Key: req.GetField(), Value: strconv.AppendInt(nil, sum, 10)}}
	n := fieldsGrowth(e, req.GetKey(), pairs)
	if !s.admit(n) {
		return memoryFull(s, n)
	}
	s.putFields(e, req.GetKey(), pairs, n, j)
	return &messages.DataReply{Ok: true, Integer: sum}
}

// orEmpty answers a read of a missing key: bad if the key has the wrong
// type, else an empty success (nothing found, no elements).
func orEmpty(bad *messages.DataReply) *messages.DataReply {
	if bad != nil {
		return bad
	}
	return &messages.DataReply{}
}
