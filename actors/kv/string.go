package kv

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/troupe-run/troupe/messages"
)

// defaultScanCount is how many keys a scan returns when the request sets no count.
const defaultScanCount = 100

func (s *Shard) kvSet(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	switch {
	case req.GetNx() && req.GetXx():
		return fail(messages.CodeInvalid, "nx and xx cannot both be set")
	case req.GetKeepTtl() && req.GetTtlMs() != 0:
		return fail(messages.CodeInvalid, "keep_ttl and ttl cannot both be set")
	case len(req.GetValue()) == 0:
		return fail(messages.CodeInvalid, "value is missing")
	}
	at, bad := ttlAt(now, req.GetTtlMs())
	if bad != nil {
		return bad
	}
	e, bad := s.typedForWrite(req.GetKey(), now, kindString, j)
	if bad != nil {
		return bad
	}
	reply := s.reply()
	if e != nil {
		reply.Previous = e.value
		if req.GetKeepTtl() {
			at = e.expireAt
		}
	}
	if (req.GetNx() && e != nil) || (req.GetXx() && e == nil) {
		return reply
	}
	n := stringGrowth(e, req.GetKey(), req.GetValue())
	if !s.admit(n) {
		return memoryFull(s, n)
	}
	s.putString(e, req.GetKey(), req.GetValue(), at, n, j)
	reply.Ok = true
	return reply
}

// stringGrowth is how many bytes storing value under key adds, given the
// key's current entry (nil if none).
func stringGrowth(e *entry, key string, value []byte) int64 {
	if e == nil {
		return keyOverhead + int64(len(key)) + int64(len(value))
	}
	return int64(len(value)) - int64(len(e.value))
}

// putString stores value under key with expiry at; e is the key's current
// string entry or nil, n the growth already admitted.
func (s *Shard) putString(e *entry, key string, value []byte, at, n int64, j Journal) {
	if e == nil {
		e = &entry{key: key, kind: kindString, heapIdx: -1}
		s.insert(e)
	}
	e.size += n
	e.value = value
	s.setExpiry(e, at)
	s.writeMeta(j, e)
}

func (s *Shard) kvGet(now int64, req *messages.DataRequest) *messages.DataReply {
	e, bad := s.typed(req.GetKey(), now, kindString)
	if bad != nil {
		return bad
	}
	r := s.reply()
	if e == nil {
		r.TtlMs = -2
		return r
	}
	r.Found, r.Value, r.TtlMs = true, e.value, remaining(e, now)
	return r
}

// keysOf returns the keys a multi-key command names: keys, else key.
func keysOf(req *messages.DataRequest) []string {
	if len(req.GetKeys()) > 0 {
		return req.GetKeys()
	}
	return []string{req.GetKey()}
}

func (s *Shard) kvDel(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	var n int64
	for _, key := range keysOf(req) {
		if e := s.keys[key]; e != nil {
			if !e.expired(now) {
				n++
			}
			s.remove(e, j)
		}
	}
	return &messages.DataReply{Ok: true, Integer: n}
}

func (s *Shard) kvExists(now int64, req *messages.DataRequest) *messages.DataReply {
	var n int64
	for _, key := range keysOf(req) {
		if s.lookup(key, now) != nil {
			n++
		}
	}
	return &messages.DataReply{Found: n > 0, Integer: n}
}

func (s *Shard) kvIncr(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	e, bad := s.typedForWrite(req.GetKey(), now, kindString, j)
	if bad != nil {
		return bad
	}
	var cur, at int64
	if e != nil {
		var ok bool
		if cur, ok = parseInteger(e.value); !ok {
			return fail(messages.CodeNotInteger, "key %q holds %s, not an integer", e.key, clip(e.value))
		}
		at = e.expireAt
	}
	sum, bad := addInt(cur, req.GetAmount())
	if bad != nil {
		return bad
	}
	value := strconv.AppendInt(nil, sum, 10)
	n := stringGrowth(e, req.GetKey(), value)
	if !s.admit(n) {
		return memoryFull(s, n)
	}
	s.putString(e, req.GetKey(), value, at, n, j)
	r := s.reply()
	r.Ok, r.Integer = true, sum
	return r
}

func addInt(a, b int64) (int64, *messages.DataReply) {
	if (b > 0 && a > math.MaxInt64-b) || (b < 0 && a < math.MinInt64-b) {
		return 0, fail(messages.CodeOverflow, "%d + %d overflows a 64-bit integer", a, b)
	}
	return a + b, nil
}

// parseInteger reads a stored JSON value as a 64-bit integer: a JSON
// integer, or a JSON string holding a base-10 integer (Redis keeps numbers
// as strings, and clients carry that habit over).
func parseInteger(v []byte) (int64, bool) {
	s := string(v)
	switch {
	case len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' && !strings.Contains(s, `\`):
		// Without escapes the text between the quotes is the string: the
		// JSON decoder was a third of an INCR's time in its shard.
		s = s[1 : len(s)-1]
	case strings.HasPrefix(s, `"`):
		if json.Unmarshal(v, &s) != nil {
			return 0, false
		}
	}
	if !isDecimal(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// isDecimal reports whether s is -?(0|[1-9][0-9]*): no sign, fraction,
// exponent, spaces or leading zeros, which ParseInt alone would accept.
func isDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// clip shortens a value quoted in an error message.
func clip(v []byte) string {
	const limit = 64
	if len(v) > limit {
		return string(v[:limit]) + "..."
	}
	return string(v)
}

func (s *Shard) kvExpire(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	e := s.lookupForWrite(req.GetKey(), now, j)
	if e == nil {
		return &messages.DataReply{}
	}
	if req.GetTtlMs() <= 0 {
		s.remove(e, j)
		return &messages.DataReply{Ok: true}
	}
	at, bad := ttlAt(now, req.GetTtlMs())
	if bad != nil {
		return bad
	}
	s.setExpiry(e, at)
	s.writeMeta(j, e)
	return &messages.DataReply{Ok: true}
}

func (s *Shard) kvTTL(now int64, req *messages.DataRequest) *messages.DataReply {
	e := s.lookup(req.GetKey(), now)
	if e == nil {
		return &messages.DataReply{TtlMs: -2}
	}
	return &messages.DataReply{Found: true, TtlMs: remaining(e, now)}
}

func (s *Shard) kvPersist(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	e := s.lookup(req.GetKey(), now)
	if e == nil || e.expireAt == 0 {
		return &messages.DataReply{Found: e != nil}
	}
	s.setExpiry(e, 0)
	s.writeMeta(j, e)
	return &messages.DataReply{Ok: true, Found: true}
}

func (s *Shard) kvType(now int64, req *messages.DataRequest) *messages.DataReply {
	e := s.lookup(req.GetKey(), now)
	if e == nil {
		return &messages.DataReply{Type: "none"}
	}
	return &messages.DataReply{Found: true, Type: e.kind.String()}
}

func (s *Shard) kvUsage(now int64, req *messages.DataRequest) *messages.DataReply {
	e := s.lookup(req.GetKey(), now)
	if e == nil {
		return &messages.DataReply{}
	}
	return &messages.DataReply{Found: true, Integer: e.size}
}

func (s *Shard) kvMGet(now int64, req *messages.DataRequest) *messages.DataReply {
	keys := keysOf(req)
	reply := &messages.DataReply{Values: make([][]byte, len(keys)), Flags: make([]bool, len(keys))}
	for i, key := range keys {
		// Like Redis MGET, a key of another type reads as missing.
		if e := s.lookup(key, now); e != nil && e.kind == kindString {
			reply.Values[i], reply.Flags[i] = e.value, true
		}
	}
	return reply
}

func (s *Shard) kvMSet(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	pairs, bad := lastWins(req.GetPairs(), "key")
	if bad != nil {
		return bad
	}
	entries := make([]*entry, len(pairs))
	var n int64
	for i, p := range pairs {
		e, bad := s.typedForWrite(p.GetKey(), now, kindString, j)
		if bad != nil {
			return bad
		}
		entries[i] = e
		n += stringGrowth(e, p.GetKey(), p.GetValue())
	}
	if !s.admit(n) {
		return memoryFull(s, n)
	}
	s.putPairs(entries, pairs, j)
	return &messages.DataReply{Ok: true, Integer: int64(len(pairs))}
}

// putPairs stores each pair under its key, whose current entry is in
// entries, without expiry (like Redis MSET); the growth is admitted.
func (s *Shard) putPairs(entries []*entry, pairs []*messages.Pair, j Journal) {
	for i, p := range pairs {
		s.putString(entries[i], p.GetKey(), p.GetValue(), 0, stringGrowth(entries[i], p.GetKey(), p.GetValue()), j)
	}
}

func (s *Shard) kvMSetNX(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	pairs, bad := lastWins(req.GetPairs(), "key")
	if bad != nil {
		return bad
	}
	var n int64
	for _, p := range pairs {
		if s.lookup(p.GetKey(), now) != nil {
			return &messages.DataReply{}
		}
		n += stringGrowth(nil, p.GetKey(), p.GetValue())
	}
	if !s.admit(n) {
		return memoryFull(s, n)
	}
	entries := make([]*entry, len(pairs))
	for i, p := range pairs {
		entries[i] = s.lookupForWrite(p.GetKey(), now, j) // nil; drops an expired entry
	}
	s.putPairs(entries, pairs, j)
	return &messages.DataReply{Ok: true, Integer: int64(len(pairs))}
}

// lastWins checks pairs and drops every pair whose key (or field) comes
// again later: like Redis, the last value given wins.
func lastWins(pairs []*messages.Pair, what string) ([]*messages.Pair, *messages.DataReply) {
	if len(pairs) == 0 {
		return nil, fail(messages.CodeInvalid, "no %s given", what)
	}
	last := make(map[string]int, len(pairs))
	for i, p := range pairs {
		if len(p.GetValue()) == 0 {
			return nil, fail(messages.CodeInvalid, "%s %q has no value", what, p.GetKey())
		}
		last[p.GetKey()] = i
	}
	if len(last) == len(pairs) {
		return pairs, nil
	}
	out := make([]*messages.Pair, 0, len(last))
	for i, p := range pairs {
		if last[p.GetKey()] == i {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *Shard) kvScan(now int64, req *messages.DataRequest) *messages.DataReply {
	prefix, count := req.GetPrefix(), req.GetCount()
	if count <= 0 {
		count = defaultScanCount
	}
	pivot := prefix
	if c := req.GetCursor(); c != "" && c >= prefix {
		pivot = c + "\x00" // the smallest key after the cursor
	}
	reply := &messages.DataReply{}
	s.order.Ascend(pivot, func(key string, e *entry) bool {
		if !strings.HasPrefix(key, prefix) {
			return false
		}
		if e.expired(now) {
			return true
		}
		if int64(len(reply.Keys)) == count {
			reply.HasMore = true
			return false
		}
		reply.Keys = append(reply.Keys, key)
		return true
	})
	return reply
}
