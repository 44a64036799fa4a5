// Package kv holds the data service's keyspace: strings, hashes, lists, sets
// and sorted sets, hashed over shard actors. Shard is the pure state machine
// of one shard; the actor around it journals what Apply writes and replies.
package kv

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/tidwall/btree"

	"github.com/troupe-run/troupe/messages"
)

// Journal receives the writes that make a command durable; the store's batch
// satisfies it. Apply never modifies a key or value after handing it over,
// and the journal must not modify them either: the shard keeps sharing the
// value bytes it journaled.
type Journal interface {
	Set(key, value []byte)
	Delete(key []byte)
	DeleteRange(start, end []byte)
}

// kind is the data type a key holds.
type kind byte

const (
	kindString kind = iota + 1
	kindHash
	kindList
	kindSet
	kindZSet
	kindHLL    // a HyperLogLog sketch, marshaled, in value
	kindBitmap // bytes in value
)

// blob reports whether a key of kind k keeps its whole value in its
// metadata record (no element records).
func (k kind) blob() bool { return k == kindString || k == kindHLL || k == kindBitmap }

func (k kind) String() string {
	switch k {
	case kindString:
		return "string"
	case kindHash:
		return "hash"
	case kindList:
		return "list"
	case kindSet:
		return "set"
	case kindZSet:
		return "zset"
	case kindHLL:
		return "hyperloglog"
	case kindBitmap:
		return "bitmap"
	}
	return "none"
}

// entry is one key. A string keeps its value; a collection keeps one of
// *hashValue, *listValue, *setValue or *zsetValue, never empty: a collection
// whose last element goes disappears with it.
type entry struct {
	key      string
	kind     kind
	value    []byte
	coll     any
	expireAt int64 // Unix milliseconds; 0 = never
	heapIdx  int   // index in the expiry heap; -1 when expireAt is 0
	size     int64 // bytes charged to Memory for this key
}

func (e *entry) expired(now int64) bool { return e.expireAt != 0 && e.expireAt <= now }

// Shard is the state of one shard of the keyspace: its keys in memory, and
// the knowledge of how they are laid out in the store under its prefix.
// It is not safe for concurrent use; its actor serializes access.
type Shard struct {
	prefix []byte
	mem    *Memory
	bytes  int64 // what this shard charged to mem

	keys   map[string]*entry
	order  btree.Map[string, *entry] // the same entries in key order, for scans
	expiry expiryHeap

	// Keys held for a cross-shard mset or msetnx between TXN_RESERVE and
	// its commit or abort, with the bytes charged for it; memory only, a
	// restart drops them.
	reserved map[string]uint64
	txns     map[uint64]*txn
	// Keys under a transaction.watch: their version and how many watches
	// hold them. A write to one bumps its version to the next of wseq.
	watched map[string]*watch
	wseq    uint64
	held    int64 // bytes charged to mem for reservations, not yet in bytes

	rng *rand.Rand // set.pop and set.randmember

	// expiredHook, when set, is told of each string key Sweep removes (the
	// watchers' "expired" event).
	expiredHook func(key string)

	// lent is a reply the caller of Apply lends for the command's answer
	// (a pipe's batch: see reply); nil outside such a call.
	lent *messages.DataReply
}

// reply returns the reply of the command being applied: the one lent for
// it when there is one, else a new one. The commands a pipelining client
// sends most (GET, SET, INCR, pushes and pops, HSET, SADD, ZADD) answer
// this way, so that a pipe's batch reuses its replies instead of
// allocating one (312 bytes) per command.
func (s *Shard) reply() *messages.DataReply {
	r := s.lent
	if r == nil {
		return &messages.DataReply{}
	}
	s.lent = nil
	// Zeroed in place rather than by Reset, whose atomic store of the
	// message's type information (a locked instruction) cost 2% of a
	// pipelined command's CPU in perf; protobuf stores it again when the
	// reply is ever reflected on.
	*r = messages.DataReply{}
	return r
}

// NewShard returns an empty shard whose records live under prefix in the
// store and which charges mem (nil: a budget of its own, with no limit).
func NewShard(prefix []byte, mem *Memory) *Shard {
	if mem == nil {
		mem = NewMemory(0)
	}
	return &Shard{
		prefix:   append([]byte(nil), prefix...),
		mem:      mem,
		keys:     make(map[string]*entry),
		reserved: make(map[string]uint64),
		watched:  make(map[string]*watch),
		txns:     make(map[uint64]*txn),
		rng:      rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
}

// Len returns how many keys the shard holds, counting expired keys that
// Sweep has not removed yet.
func (s *Shard) Len() int { return len(s.keys) }

// Bytes returns the bytes this shard charges to the shared Memory.
func (s *Shard) Bytes() int64 { return s.bytes }

// Reserved reports whether a cross-shard msetnx holds keys of this shard.
// While it does, commands on those keys are answered KEY_BUSY.
func (s *Shard) Reserved() bool { return len(s.reserved) > 0 }

// Release gives back to the shared Memory everything the shard charged. The
// actor calls it before replacing a shard (after a crash) with one restored
// from the store. The shard must not be used afterwards.
func (s *Shard) Release() {
	s.mem.add(-s.bytes - s.held)
	s.bytes, s.held = 0, 0
}

// Apply executes one command at time now: it changes the shard, writes to j
// what makes the change durable, and returns the reply. It never panics on
// any request. A refused command (an error reply) changes nothing visible;
// it may have dropped an expired key on its way. Reads write nothing to j.
// The reply's ok says a write took effect; reads leave it false.
func (s *Shard) Apply(now time.Time, req *messages.DataRequest, j Journal) *messages.DataReply {
	if len(s.watched) == 0 {
		return s.apply(now, req, j)
	}
	// Some keys are watched: a command that wrote anything bumps the
	// versions of the watched keys it names.
	cj := &countingJournal{Journal: j}
	reply := s.apply(now, req, cj)
	if cj.n > 0 {
		s.touch(req)
	}
	return reply
}

func (s *Shard) apply(now time.Time, req *messages.DataRequest, j Journal) *messages.DataReply {
	op := req.GetOp()
	if len(s.reserved) > 0 && op != messages.DataOp_TXN_RESERVE && op != messages.DataOp_TXN_COMMIT &&
		op != messages.DataOp_TXN_ABORT && op != messages.DataOp_TXN_HOLD {
		if key, busy := s.busy(req); busy {
			return fail(messages.CodeKeyReserved, "key %q is held by a transaction in progress", key)
		}
	}
	ms := now.UnixMilli()
	switch op {
	case messages.DataOp_KV_SET:
		return s.kvSet(ms, req, j)
	case messages.DataOp_KV_GET:
		return s.kvGet(ms, req)
	case messages.DataOp_KV_DEL:
		return s.kvDel(ms, req, j)
	case messages.DataOp_KV_EXISTS:
		return s.kvExists(ms, req)
	case messages.DataOp_KV_INCR:
		return s.kvIncr(ms, req, j)
	case messages.DataOp_KV_EXPIRE:
		return s.kvExpire(ms, req, j)
	case messages.DataOp_KV_TTL:
		return s.kvTTL(ms, req)
	case messages.DataOp_KV_SCAN:
		return s.kvScan(ms, req)
	case messages.DataOp_KV_PERSIST:
		return s.kvPersist(ms, req, j)
	case messages.DataOp_KV_USAGE:
		return s.kvUsage(ms, req)
	case messages.DataOp_KV_TYPE:
		return s.kvType(ms, req)
	case messages.DataOp_KV_MGET:
		return s.kvMGet(ms, req)
	case messages.DataOp_KV_MSET:
		return s.kvMSet(ms, req, j)
	case messages.DataOp_KV_MSETNX:
		return s.kvMSetNX(ms, req, j)
	case messages.DataOp_HLL_ADD:
		return s.hllAdd(ms, req, j)
	case messages.DataOp_HLL_GET:
		return s.blobGet(ms, req, kindHLL)
	case messages.DataOp_HLL_MERGE:
		return s.hllMerge(ms, req, j)
	case messages.DataOp_BIT_SET:
		return s.bitSet(ms, req, j)
	case messages.DataOp_BIT_GET:
		return s.blobGet(ms, req, kindBitmap)
	case messages.DataOp_BIT_STORE:
		return s.bitStore(ms, req, j)
	case messages.DataOp_BIT_FIELD:
		return s.bitField(ms, req, j)
	case messages.DataOp_KV_COUNT:
		if req.GetField() != "" {
			return s.countKind(ms, req.GetField())
		}
		return &messages.DataReply{Integer: int64(len(s.keys) - s.expiry.countExpired(ms))}

	case messages.DataOp_HASH_SET:
		return s.hashSet(ms, req, j)
	case messages.DataOp_HASH_GET:
		return s.hashGet(ms, req)
	case messages.DataOp_HASH_GETALL:
		return s.hashGetAll(ms, req)
	case messages.DataOp_HASH_DEL:
		return s.hashDel(ms, req, j)
	case messages.DataOp_HASH_EXISTS:
		return s.hashExists(ms, req)
	case messages.DataOp_HASH_LEN:
		return s.hashLen(ms, req)
	case messages.DataOp_HASH_MGET:
		return s.hashMGet(ms, req)
	case messages.DataOp_HASH_KEYS:
		return s.hashKeys(ms, req)
	case messages.DataOp_HASH_VALS:
		return s.hashVals(ms, req)
	case messages.DataOp_HASH_INCRBY:
		return s.hashIncrBy(ms, req, j)

	case messages.DataOp_LIST_LPUSH:
		return s.listPush(ms, req, j, true)
	case messages.DataOp_LIST_RPUSH:
		return s.listPush(ms, req, j, false)
	case messages.DataOp_LIST_LPOP:
		return s.listPop(ms, req, j, true)
	case messages.DataOp_LIST_RPOP:
		return s.listPop(ms, req, j, false)
	case messages.DataOp_LIST_RANGE:
		return s.listRange(ms, req)
	case messages.DataOp_LIST_LEN:
		return s.listLen(ms, req)
	case messages.DataOp_LIST_INDEX:
		return s.listIndex(ms, req)
	case messages.DataOp_LIST_SET:
		return s.listSet(ms, req, j)
	case messages.DataOp_LIST_TRIM:
		return s.listTrim(ms, req, j)
	case messages.DataOp_LIST_REM:
		return s.listRem(ms, req, j)

	case messages.DataOp_SET_ADD:
		return s.setAdd(ms, req, j)
	case messages.DataOp_SET_REM:
		return s.setRem(ms, req, j)
	case messages.DataOp_SET_MEMBERS:
		return s.setMembers(ms, req)
	case messages.DataOp_SET_ISMEMBER:
		return s.setIsMember(ms, req)
	case messages.DataOp_SET_CARD:
		return s.setCard(ms, req)
	case messages.DataOp_SET_POP:
		return s.setPop(ms, req, j)
	case messages.DataOp_SET_RANDMEMBER:
		return s.setRandMember(ms, req)

	case messages.DataOp_ZSET_ADD:
		return s.zsetAdd(ms, req, j)
	case messages.DataOp_ZSET_REM:
		return s.zsetRem(ms, req, j)
	case messages.DataOp_ZSET_SCORE:
		return s.zsetScore(ms, req)
	case messages.DataOp_ZSET_RANGE:
		return s.zsetRange(ms, req, false)
	case messages.DataOp_ZSET_REVRANGE:
		return s.zsetRange(ms, req, true)
	case messages.DataOp_ZSET_RANGEBYSCORE:
		return s.zsetRangeByScore(ms, req)
	case messages.DataOp_ZSET_INCRBY:
		return s.zsetIncrBy(ms, req, j)
	case messages.DataOp_ZSET_CARD:
		return s.zsetCard(ms, req)
	case messages.DataOp_ZSET_RANK:
		return s.zsetRank(ms, req, false)
	case messages.DataOp_ZSET_REVRANK:
		return s.zsetRank(ms, req, true)
	case messages.DataOp_ZSET_COUNT:
		return s.zsetCount(ms, req)

	case messages.DataOp_TXN_RESERVE:
		return s.txnReserve(ms, req)
	case messages.DataOp_TXN_COMMIT:
		return s.txnCommit(ms, req, j)
	case messages.DataOp_TXN_ABORT:
		return s.txnAbort(req)
	case messages.DataOp_TXN_HOLD:
		return s.txnHold(req)
	case messages.DataOp_TXN_WATCH:
		return s.txnWatch(req)
	case messages.DataOp_TXN_UNWATCH:
		return s.txnUnwatch(req)
	}
	return fail(messages.CodeInvalid, "unknown data operation %v", op)
}

// Sweep removes up to limit keys whose expiry has passed at now, journaling
// their deletion, and returns how many it removed. Reads already hide
// expired keys; sweeping gives their memory back.
func (s *Shard) Sweep(now time.Time, j Journal, limit int) int {
	ms := now.UnixMilli()
	n := 0
	for n < limit && len(s.expiry) > 0 && s.expiry[0].expired(ms) {
		e := s.expiry[0]
		s.remove(e, j)
		if s.expiredHook != nil && e.kind == kindString {
			s.expiredHook(e.key)
		}
		n++
	}
	return n
}

// Restore loads one store record under the shard's prefix. The store calls
// it for every record, in key order, over a fresh shard. Expired keys load
// too, so that they stay hidden until a sweep deletes them from the store.
func (s *Shard) Restore(key, value []byte) error {
	r, err := s.decodeKey(key)
	if err != nil {
		return err
	}
	if r.tag == tagMeta {
		return s.restoreMeta(r.key, value)
	}
	e := s.keys[r.key]
	if e == nil || e.kind.blob() {
		return fmt.Errorf("record key %q: element of key %q, which has no collection", key, r.key)
	}
	var size int64
	switch c := e.coll.(type) {
	case *hashValue:
		size = c.restore(string(r.suffix), value)
	case *listValue:
		seq, err := decodeSeq(r.suffix)
		if err != nil {
			return fmt.Errorf("record key %q: %w", key, err)
		}
		size = c.restore(seq, value)
	case *setValue:
		size = c.restore(string(r.suffix))
	case *zsetValue:
		score, err := decodeScore(value)
		if err != nil {
			return fmt.Errorf("record key %q: %w", key, err)
		}
		size = c.restore(string(r.suffix), score)
	}
	s.charge(e, size)
	return nil
}

func (s *Shard) restoreMeta(key string, value []byte) error {
	if s.keys[key] != nil {
		return fmt.Errorf("key %q restored twice", key)
	}
	k, at, v, err := decodeMeta(value)
	if err != nil {
		return fmt.Errorf("key %q: %w", key, err)
	}
	e := &entry{key: key, kind: k, heapIdx: -1}
	switch k {
	case kindString, kindHLL, kindBitmap:
		e.value = append([]byte(nil), v...)
	case kindHash:
		e.coll = new(hashValue)
	case kindList:
		e.coll = new(listValue)
	case kindSet:
		e.coll = new(setValue)
	case kindZSet:
		e.coll = newZSetValue()
	}
	s.insert(e)
	s.setExpiry(e, at)
	s.charge(e, e.baseSize())
	return nil
}

// baseSize is what a key costs before its collection's elements.
func (e *entry) baseSize() int64 {
	return keyOverhead + int64(len(e.key)) + int64(len(e.value))
}

// lookup returns key's entry if it is live at now.
func (s *Shard) lookup(key string, now int64) *entry {
	e := s.keys[key]
	if e == nil || e.expired(now) {
		return nil
	}
	return e
}

// lookupForWrite is lookup for a command about to write key: an expired
// entry is removed first, so that the write starts from nothing.
func (s *Shard) lookupForWrite(key string, now int64, j Journal) *entry {
	e := s.keys[key]
	if e != nil && e.expired(now) {
		s.remove(e, j)
		return nil
	}
	return e
}

// typed returns key's live entry when it holds kind k, nil when there is
// none, and a WRONG_TYPE reply when it holds another kind.
func (s *Shard) typed(key string, now int64, k kind) (*entry, *messages.DataReply) {
	return checkKind(s.lookup(key, now), k)
}

// typedForWrite is typed for a command about to write key.
func (s *Shard) typedForWrite(key string, now int64, k kind, j Journal) (*entry, *messages.DataReply) {
	return checkKind(s.lookupForWrite(key, now, j), k)
}

func checkKind(e *entry, k kind) (*entry, *messages.DataReply) {
	if e != nil && e.kind != k {
		return nil, wrongType(e, k)
	}
	return e, nil
}

// create adds a new key of kind k (its collection empty) and journals its
// metadata. The caller adds to its size what it admitted for it.
func (s *Shard) create(key string, k kind, coll any, j Journal) *entry {
	e := &entry{key: key, kind: k, coll: coll, heapIdx: -1}
	s.insert(e)
	s.writeMeta(j, e)
	return e
}

func (s *Shard) insert(e *entry) {
	s.keys[e.key] = e
	s.order.Set(e.key, e)
}

// remove deletes e from memory and from the store and gives its bytes back.
func (s *Shard) remove(e *entry, j Journal) {
	delete(s.keys, e.key)
	s.order.Delete(e.key)
	s.setExpiry(e, 0)
	s.charge(e, -e.size)
	if e.kind.blob() {
		j.Delete(append(s.keyBase(nil, e.key), tagMeta))
	} else {
		j.DeleteRange(s.keyRange(e.key))
	}
}

// removeIfEmpty removes e once its collection has no element left.
func (s *Shard) removeIfEmpty(e *entry, n int, j Journal) {
	if n == 0 {
		s.remove(e, j)
	}
}

// admit charges n more bytes to the shared budget ahead of a write, and
// reports false, having changed nothing, if the budget cannot take them.
// Callers then add n to the sizes of the entries they change.
func (s *Shard) admit(n int64) bool {
	if !s.mem.add(n) {
		return false
	}
	s.bytes += n
	return true
}

// charge adds n to e's size unconditionally: restores, deletes and writes
// already decided (a committed msetnx) are never refused.
func (s *Shard) charge(e *entry, n int64) {
	s.admitAlways(n)
	e.size += n
}

func (s *Shard) admitAlways(n int64) {
	s.mem.used.Add(n)
	s.bytes += n
}

// busy reports the first key of req held by a reservation.
func (s *Shard) busy(req *messages.DataRequest) (string, bool) {
	switch req.GetOp() {
	case messages.DataOp_KV_SCAN, messages.DataOp_KV_COUNT:
		return "", false
	case messages.DataOp_KV_MSET, messages.DataOp_KV_MSETNX:
		for _, p := range req.GetPairs() {
			if s.heldFrom(p.GetKey(), req) {
				return p.GetKey(), true
			}
		}
		return "", false
	}
	if s.heldFrom(req.GetKey(), req) {
		return req.GetKey(), true
	}
	for _, key := range req.GetKeys() {
		if s.heldFrom(key, req) {
			return key, true
		}
	}
	return "", false
}

func fail(code, format string, args ...any) *messages.DataReply {
	return &messages.DataReply{ErrorCode: code, ErrorMessage: fmt.Sprintf(format, args...)}
}

func wrongType(e *entry, want kind) *messages.DataReply {
	return fail(messages.CodeWrongType, "key %q holds a %s, not a %s", e.key, e.kind, want)
}

func memoryFull(s *Shard, n int64) *messages.DataReply {
	return fail(messages.CodeMemoryLimit, "the write needs %d more bytes; %d of %d are in use", n, s.mem.Used(), s.mem.Limit())
}

// ttlAt turns a time to live into an absolute expiry.
func ttlAt(now, ttl int64) (int64, *messages.DataReply) {
	if ttl < 0 {
		return 0, fail(messages.CodeInvalid, "ttl %d ms is negative", ttl)
	}
	if ttl == 0 {
		return 0, nil
	}
	if ttl > 1<<62-now {
		return 0, fail(messages.CodeInvalid, "ttl %d ms is too large", ttl)
	}
	return now + ttl, nil
}

func remaining(e *entry, now int64) int64 {
	if e.expireAt == 0 {
		return -1
	}
	return e.expireAt - now
}
