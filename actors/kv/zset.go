package kv

import (
	"math"

	"github.com/tidwall/btree"

	"github.com/troupe-run/troupe/messages"
)

// zitem is one member of a sorted set, ordered by score, then by member.
type zitem struct {
	score  float64
	member string
}

func zless(a, b zitem) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return a.member < b.member
}

// zsetValue holds a sorted set twice: a member's score by member, and the
// members in (score, member) order in a counted btree, where a rank range
// is GetAt then a walk (O(log n + k)), a score range a seek then a walk,
// and a member's rank a binary search over GetAt (O(log² n)).
type zsetValue struct {
	scores  map[string]float64
	byScore *btree.BTreeG[zitem]
}

func newZSetValue() *zsetValue {
	return &zsetValue{
		scores:  make(map[string]float64),
		byScore: btree.NewBTreeGOptions(zless, btree.Options{NoLocks: true}),
	}
}

func zmemberSize(member string) int64 { return zsetOverhead + int64(len(member)) + 8 }

func (z *zsetValue) restore(member string, score float64) int64 {
	z.put(member, score)
	return zmemberSize(member)
}

// put gives member its score and reports whether the member is new.
func (z *zsetValue) put(member string, score float64) bool {
	old, ok := z.scores[member]
	if ok {
		z.byScore.Delete(zitem{old, member})
	}
	z.scores[member] = score
	z.byScore.Set(zitem{score, member})
	return !ok
}

func (z *zsetValue) del(member string) bool {
	score, ok := z.scores[member]
	if ok {
		delete(z.scores, member)
		z.byScore.Delete(zitem{score, member})
	}
	return ok
}

// firstIndex returns the index of the first item for which below is
// false; below must hold for a prefix of the items and only for it.
func (z *zsetValue) firstIndex(below func(zitem) bool) int {
	lo, hi := 0, z.byScore.Len()
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if it, _ := z.byScore.GetAt(mid); below(it) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func (s *Shard) zset(key string, now int64) (*zsetValue, *messages.DataReply) {
	e, bad := s.typed(key, now, kindZSet)
	if e == nil {
		return nil, bad
	}
	return e.coll.(*zsetValue), nil
}

// zchange is one member's new score, decided before anything is written.
type zchange struct {
	member string
	score  float64
}

func (s *Shard) zsetAdd(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	scored := req.GetScored()
	switch {
	case len(scored) == 0:
		return fail(messages.CodeInvalid, "no members given")
	case req.GetNx() && req.GetXx():
		return fail(messages.CodeInvalid, "nx and xx cannot both be set")
	case req.GetIncr() && len(scored) != 1:
		return fail(messages.CodeInvalid, "incr takes exactly one member, not %d", len(scored))
	}
	for _, m := range scored {
		if math.IsNaN(m.GetScore()) {
			return fail(messages.CodeNotFloat, "score of member %q is not a number", m.GetMember())
		}
	}
	e, bad := s.typedForWrite(req.GetKey(), now, kindZSet, j)
	if bad != nil {
		return bad
	}
	var z *zsetValue
	if e != nil {
		z = e.coll.(*zsetValue)
	}
	// Decide every change first, so that a refusal changes nothing. A
	// member given twice takes its last score, as in Redis.
	last := make(map[string]int, len(scored))
	for i, m := range scored {
		last[m.GetMember()] = i
	}
	var changes []zchange
	var n int64
	for i, m := range scored {
		if last[m.GetMember()] != i {
			continue
		}
		old, exists := 0.0, false
		if z != nil {
			old, exists = z.scores[m.GetMember()]
		}
		if (req.GetNx() && exists) || (req.GetXx() && !exists) {
			continue
		}
		score := m.GetScore()
		if req.GetIncr() {
			score += old
			if math.IsNaN(score) || math.IsInf(score, 0) {
				return fail(messages.CodeNotFloat, "incrementing member %q by %v gives a score that is not a finite number", m.GetMember(), m.GetScore())
			}
		}
		if !exists {
			n += zmemberSize(m.GetMember())
		}
		changes = append(changes, zchange{m.GetMember(), score})
	}
	if len(changes) == 0 {
		return &messages.DataReply{Ok: !req.GetIncr()}
	}
	_, added, bad := s.zput(e, req.GetKey(), changes, n, j)
	if bad != nil {
		return bad
	}
	reply := s.reply()
	reply.Ok, reply.Integer = true, added
	if req.GetIncr() {
		reply.Number = changes[0].score
	}
	return reply
}

// zput applies changes (unique members, n bytes of new members) to e's
// sorted set, creating it under key when e is nil.
func (s *Shard) zput(e *entry, key string, changes []zchange, n int64, j Journal) (*entry, int64, *messages.DataReply) {
	if e == nil {
		n += keyOverhead + int64(len(key))
	}
	if !s.admit(n) {
		return nil, 0, memoryFull(s, n)
	}
	if e == nil {
		e = s.create(key, kindZSet, newZSetValue(), j)
	}
	z := e.coll.(*zsetValue)
	var added int64
	for _, c := range changes {
		if z.put(c.member, c.score) {
			added++
		}
		s.writeElement(j, e, c.member, scoreBytes(c.score))
	}
	e.size += n
	return e, added, nil
}

func (s *Shard) zsetIncrBy(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	inc := req.GetScore()
	if math.IsNaN(inc) {
		return fail(messages.CodeNotFloat, "increment is not a number")
	}
	e, bad := s.typedForWrite(req.GetKey(), now, kindZSet, j)
	if bad != nil {
		return bad
	}
	var n int64
	score, exists := 0.0, false
	if e != nil {
		score, exists = e.coll.(*zsetValue).scores[req.GetMember()]
	}
	if !exists {
		n = zmemberSize(req.GetMember())
	}
	score += inc
	if math.IsNaN(score) || math.IsInf(score, 0) {
		return fail(messages.CodeNotFloat, "incrementing member %q by %v gives a score that is not a finite number", req.GetMember(), inc)
	}
	if _, _, bad := s.zput(e, req.GetKey(), []zchange{{req.GetMember(), score}}, n, j); bad != nil {
		return bad
	}
	return &messages.DataReply{Ok: true, Number: score}
}

func (s *Shard) zsetRem(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	e, bad := s.typedForWrite(req.GetKey(), now, kindZSet, j)
	if e == nil {
		return orEmpty(bad)
	}
	z := e.coll.(*zsetValue)
	var n int64
	for _, m := range req.GetMembers() {
		if z.del(m) {
			s.deleteElement(j, e, m)
			s.charge(e, -zmemberSize(m))
			n++
		}
	}
	s.removeIfEmpty(e, len(z.scores), j)
	return &messages.DataReply{Ok: true, Integer: n}
}

func (s *Shard) zsetScore(now int64, req *messages.DataRequest) *messages.DataReply {
	z, bad := s.zset(req.GetKey(), now)
	if z == nil {
		return orEmpty(bad)
	}
	score, ok := z.scores[req.GetMember()]
	return &messages.DataReply{Found: ok, Number: score}
}

func (s *Shard) zsetCard(now int64, req *messages.DataRequest) *messages.DataReply {
	z, bad := s.zset(req.GetKey(), now)
	if z == nil {
		return orEmpty(bad)
	}
	return &messages.DataReply{Found: true, Integer: int64(len(z.scores))}
}

// zsetRange answers zrange (ascending by rank) and zrevrange (descending:
// rank 0 is the highest score).
func (s *Shard) zsetRange(now int64, req *messages.DataRequest, rev bool) *messages.DataReply {
	z, bad := s.zset(req.GetKey(), now)
	if z == nil {
		return orEmpty(bad)
	}
	size := z.byScore.Len()
	from, to := span(req.GetStart(), req.GetStop(), size)
	reply := &messages.DataReply{Found: true, Scored: make([]*messages.ScoredMember, 0, to-from)}
	if from == to {
		return reply
	}
	collect := func(it zitem) bool {
		reply.Scored = append(reply.Scored, &messages.ScoredMember{Member: it.member, Score: it.score})
		return len(reply.Scored) < to-from
	}
	if rev {
		first, _ := z.byScore.GetAt(size - 1 - from)
		z.byScore.Descend(first, collect)
	} else {
		first, _ := z.byScore.GetAt(from)
		z.byScore.Ascend(first, collect)
	}
	return reply
}

func (s *Shard) zsetRangeByScore(now int64, req *messages.DataRequest) *messages.DataReply {
	lo, hi := req.GetMin(), req.GetMax()
	if math.IsNaN(lo) || math.IsNaN(hi) {
		return fail(messages.CodeNotFloat, "min and max must be numbers")
	}
	z, bad := s.zset(req.GetKey(), now)
	if z == nil {
		return orEmpty(bad)
	}
	reply := &messages.DataReply{Found: true}
	limit := req.GetCount()
	// The empty member orders first among equal scores: the pivot is the
	// first item scoring lo or more.
	z.byScore.Ascend(zitem{score: lo}, func(it zitem) bool {
		if it.score > hi {
			return false
		}
		if limit > 0 && int64(len(reply.Scored)) == limit {
			reply.HasMore = true
			return false
		}
		reply.Scored = append(reply.Scored, &messages.ScoredMember{Member: it.member, Score: it.score})
		return true
	})
	return reply
}

func (s *Shard) zsetRank(now int64, req *messages.DataRequest, rev bool) *messages.DataReply {
	z, bad := s.zset(req.GetKey(), now)
	if z == nil {
		return orEmpty(bad)
	}
	score, ok := z.scores[req.GetMember()]
	if !ok {
		return &messages.DataReply{}
	}
	target := zitem{score, req.GetMember()}
	rank := z.firstIndex(func(it zitem) bool { return zless(it, target) })
	if rev {
		rank = len(z.scores) - 1 - rank
	}
	return &messages.DataReply{Found: true, Integer: int64(rank)}
}

func (s *Shard) zsetCount(now int64, req *messages.DataRequest) *messages.DataReply {
	lo, hi := req.GetMin(), req.GetMax()
	if math.IsNaN(lo) || math.IsNaN(hi) {
		return fail(messages.CodeNotFloat, "min and max must be numbers")
	}
	z, bad := s.zset(req.GetKey(), now)
	if z == nil {
		return orEmpty(bad)
	}
	from := z.firstIndex(func(it zitem) bool { return it.score < lo })
	to := z.firstIndex(func(it zitem) bool { return it.score <= hi })
	return &messages.DataReply{Found: true, Integer: int64(max(to-from, 0))}
}
