package kv

import (
	"slices"

	"github.com/tidwall/btree"

	"github.com/troupe-run/troupe/messages"
)

// maxRandomMembers bounds set.randmember with a negative count, the one
// form whose reply is not bounded by the set's size.
const maxRandomMembers = 100_000

// setValue holds a set's members in order: set.members comes out sorted,
// and a random member is one GetAt away.
type setValue struct {
	members btree.Set[string]
}

func memberSize(member string) int64 { return elementOverhead + int64(len(member)) }

func (v *setValue) restore(member string) int64 {
	v.members.Insert(member)
	return memberSize(member)
}

func (s *Shard) set(key string, now int64) (*setValue, *messages.DataReply) {
	e, bad := s.typed(key, now, kindSet)
	if e == nil {
		return nil, bad
	}
	return e.coll.(*setValue), nil
}

func (s *Shard) setAdd(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	if len(req.GetMembers()) == 0 {
		return fail(messages.CodeInvalid, "no members given")
	}
	e, bad := s.typedForWrite(req.GetKey(), now, kindSet, j)
	if bad != nil {
		return bad
	}
	var n int64
	if e == nil {
		n = keyOverhead + int64(len(req.GetKey()))
	}
	fresh := make([]string, 0, len(req.GetMembers()))
	seen := make(map[string]bool, len(req.GetMembers()))
	for _, m := range req.GetMembers() {
		if seen[m] || (e != nil && e.coll.(*setValue).members.Contains(m)) {
			continue
		}
		seen[m] = true
		fresh = append(fresh, m)
		n += memberSize(m)
	}
	if !s.admit(n) {
		return memoryFull(s, n)
	}
	if e == nil {
		e = s.create(req.GetKey(), kindSet, new(setValue), j)
	}
	for _, m := range fresh {
		e.coll.(*setValue).members.Insert(m)
		s.writeElement(j, e, m, nil)
	}
	e.size += n
	r := s.reply()
	r.Ok, r.Integer = true, int64(len(fresh))
	return r
}

func (s *Shard) setRem(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	e, bad := s.typedForWrite(req.GetKey(), now, kindSet, j)
	if e == nil {
		return orEmpty(bad)
	}
	v := e.coll.(*setValue)
	var n int64
	for _, m := range req.GetMembers() {
		if v.members.Contains(m) {
			s.removeMember(e, v, m, j)
			n++
		}
	}
	s.removeIfEmpty(e, v.members.Len(), j)
	return &messages.DataReply{Ok: true, Integer: n}
}

func (s *Shard) removeMember(e *entry, v *setValue, m string, j Journal) {
	v.members.Delete(m)
	s.deleteElement(j, e, m)
	s.charge(e, -memberSize(m))
}

func (s *Shard) setMembers(now int64, req *messages.DataRequest) *messages.DataReply {
	v, bad := s.set(req.GetKey(), now)
	if v == nil {
		return orEmpty(bad)
	}
	return &messages.DataReply{Found: true, Keys: v.members.Keys()}
}

func (s *Shard) setIsMember(now int64, req *messages.DataRequest) *messages.DataReply {
	v, bad := s.set(req.GetKey(), now)
	if v == nil {
		return orEmpty(bad)
	}
	return &messages.DataReply{Found: v.members.Contains(req.GetMember())}
}

func (s *Shard) setCard(now int64, req *messages.DataRequest) *messages.DataReply {
	v, bad := s.set(req.GetKey(), now)
	if v == nil {
		return orEmpty(bad)
	}
	return &messages.DataReply{Found: true, Integer: int64(v.members.Len())}
}

func (s *Shard) setPop(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	count := req.GetCount()
	switch {
	case count < 0:
		return fail(messages.CodeInvalid, "count %d is negative", count)
	case count == 0:
		count = 1
	}
	e, bad := s.typedForWrite(req.GetKey(), now, kindSet, j)
	if e == nil {
		return orEmpty(bad)
	}
	v := e.coll.(*setValue)
	members := s.sample(v, count)
	for _, m := range members {
		s.removeMember(e, v, m, j)
	}
	s.removeIfEmpty(e, v.members.Len(), j)
	return &messages.DataReply{Ok: true, Found: true, Keys: members}
}

// setRandMember follows Redis SRANDMEMBER: a positive count asks for that
// many distinct members (at most the whole set), a negative one for that
// many draws that may repeat; 0 means one member.
func (s *Shard) setRandMember(now int64, req *messages.DataRequest) *messages.DataReply {
	count := req.GetCount()
	if count < -maxRandomMembers {
		return fail(messages.CodeInvalid, "count %d asks for more than %d members", count, maxRandomMembers)
	}
	v, bad := s.set(req.GetKey(), now)
	if v == nil {
		return orEmpty(bad)
	}
	reply := &messages.DataReply{Found: true}
	switch {
	case count >= 0:
		reply.Keys = s.sample(v, max(count, 1))
	default:
		reply.Keys = make([]string, -count)
		for i := range reply.Keys {
			reply.Keys[i], _ = v.members.GetAt(s.rng.IntN(v.members.Len()))
		}
	}
	return reply
}

// sample picks min(k, len) distinct members at random, in member order
// (Floyd's algorithm: k draws whatever the set's size).
func (s *Shard) sample(v *setValue, k int64) []string {
	n := v.members.Len()
	if k >= int64(n) {
		return v.members.Keys()
	}
	picked := make(map[int]bool, k)
	for i := n - int(k); i < n; i++ {
		t := s.rng.IntN(i + 1)
		if picked[t] {
			t = i
		}
		picked[t] = true
	}
	idx := make([]int, 0, k)
	for i := range picked {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	out := make([]string, len(idx))
	for i, x := range idx {
		out[i], _ = v.members.GetAt(x)
	}
	return out
}
