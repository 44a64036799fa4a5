package synap

import (
	"sync/atomic"

	"github.com/troupe-run/troupe/messages"
)

// The *.stats commands answer the original's fields. Totals (keys of a
// type, their elements, their bytes) are read from the keyspace when asked,
// as the original reads its stores, so they are as durable as the data;
// command counts are kept by this door since the server started, as the
// original keeps them (in memory; a restart starts them at 0 again).

// callCounts counts each command this door ran, by name. The map is made
// once by New and only read afterwards.
type callCounts map[string]*atomic.Int64

func newCallCounts(names func(func(string))) callCounts {
	m := callCounts{}
	names(func(n string) { m[n] = new(atomic.Int64) })
	return m
}

func (m callCounts) add(name string) {
	if n := m[name]; n != nil {
		n.Add(1)
	}
}

// sum is the count of the commands named (a command and its aliases).
func (m callCounts) sum(names ...string) int64 {
	var n int64
	for _, name := range names {
		if c := m[name]; c != nil {
			n += c.Load()
		}
	}
	return n
}

var statsCommands = []commandSpec{
	{"hash.stats", hashStats},
	{"list.stats", listStats},
	{"set.stats", setStats},
}

// typeTotals asks the keyspace for the keys of a type, their elements and
// their bytes.
func typeTotals(c *call, kind string) (*messages.DataReply, error) {
	return c.do(&messages.DataRequest{Op: messages.DataOp_KV_COUNT, Field: kind})
}

// writeCounts writes an "operations" object of named counts.
func writeCounts(c *call, key string, counts []namedCount) {
	w := c.out
	w.Key(key)
	w.Obj()
	for _, nc := range counts {
		w.Key(nc.name)
		w.Int(c.s.calls.sum(nc.commands...))
	}
	w.EndObj()
}

type namedCount struct {
	name     string
	commands []string
}

func nc(name string, commands ...string) namedCount { return namedCount{name, commands} }

// kv.stats {} -> {total_keys, total_memory_bytes, operations: {gets, sets,
// dels, hits, misses}, hit_rate}: keys and bytes of every type, as the
// original's KV store holds them all but the data structures'.
func kvStats(c *call) error {
	st, err := c.s.admin.Stats(c.ctx)
	if err != nil {
		return asAPIError(err)
	}
	hits, misses := c.s.kvHits.Load(), c.s.kvMisses.Load()
	w := c.out
	w.Obj()
	w.Key("total_keys")
	w.Int(st.TotalKeys)
	w.Key("total_memory_bytes")
	w.Int(st.MemoryUsed)
	w.Key("operations")
	w.Obj()
	w.Key("gets")
	w.Int(c.s.calls.sum("kv.get", "kv.mget"))
	w.Key("sets")
	w.Int(c.s.calls.sum("kv.set", "kv.mset", "kv.msetnx", "kv.getset"))
	w.Key("dels")
	w.Int(c.s.calls.sum("kv.del", "kv.mdel"))
	w.Key("hits")
	w.Int(hits)
	w.Key("misses")
	w.Int(misses)
	w.EndObj()
	w.Key("hit_rate")
	if hits+misses == 0 {
		w.Float(0)
	} else {
		w.Float(float64(hits) / float64(hits+misses))
	}
	w.EndObj()
	return nil
}

// hash.stats {} -> {total_hashes, total_fields, operations: {hset_count,
// hget_count, hdel_count}}.
func hashStats(c *call) error {
	r, err := typeTotals(c, "hash")
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("total_hashes")
	w.Int(r.Integer)
	w.Key("total_fields")
	w.Int(r.Elements)
	writeCounts(c, "operations", []namedCount{
		nc("hset_count", "hash.set", "hash.mset", "hash.setnx"),
		nc("hget_count", "hash.get", "hash.mget"),
		nc("hdel_count", "hash.del"),
	})
	w.EndObj()
	return nil
}

// list.stats {} -> {total_lists, total_elements, operations: {lpush_count,
// ...}}.
func listStats(c *call) error {
	r, err := typeTotals(c, "list")
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("total_lists")
	w.Int(r.Integer)
	w.Key("total_elements")
	w.Int(r.Elements)
	writeCounts(c, "operations", []namedCount{
		nc("lpush_count", "list.lpush", "list.lpushx"),
		nc("rpush_count", "list.rpush", "list.rpushx"),
		nc("lpop_count", "list.lpop"),
		nc("rpop_count", "list.rpop"),
		nc("lrange_count", "list.range", "list.lrange"),
		nc("llen_count", "list.len", "list.llen"),
		nc("lindex_count", "list.index", "list.lindex"),
		nc("lset_count", "list.set", "list.lset"),
		nc("ltrim_count", "list.trim", "list.ltrim"),
		nc("lrem_count", "list.rem", "list.lrem"),
		nc("linsert_count", "list.insert", "list.linsert"),
		nc("rpoplpush_count", "list.rpoplpush", "list.lmove"),
		nc("blpop_count", "list.blpop"),
		nc("brpop_count", "list.brpop"),
	})
	w.EndObj()
	return nil
}

// set.stats {} -> {total_sets, total_members, operations: {sadd_count,
// ...}}.
func setStats(c *call) error {
	r, err := typeTotals(c, "set")
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("total_sets")
	w.Int(r.Integer)
	w.Key("total_members")
	w.Int(r.Elements)
	writeCounts(c, "operations", []namedCount{
		nc("sadd_count", "set.add"),
		nc("srem_count", "set.rem"),
		nc("sismember_count", "set.ismember"),
		nc("smembers_count", "set.members"),
		nc("scard_count", "set.card", "set.size"),
		nc("spop_count", "set.pop"),
		nc("srandmember_count", "set.randmember"),
		nc("smove_count", "set.move"),
		nc("sinter_count", "set.inter", "set.sinter", "set.interstore", "set.sinterstore"),
		nc("sunion_count", "set.union", "set.sunion", "set.unionstore", "set.sunionstore"),
		nc("sdiff_count", "set.diff", "set.sdiff", "set.diffstore", "set.sdiffstore"),
	})
	w.EndObj()
	return nil
}

// sortedset.stats {} -> {total_keys, total_members, avg_members_per_key,
// memory_bytes}; geo keys are sorted sets and count here too, as in the
// original.
func zsetStats(c *call) error {
	r, err := typeTotals(c, "zset")
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("total_keys")
	w.Int(r.Integer)
	w.Key("total_members")
	w.Int(r.Elements)
	w.Key("avg_members_per_key")
	if r.Integer == 0 {
		w.Float(0)
	} else {
		w.Float(float64(r.Elements) / float64(r.Integer))
	}
	w.Key("memory_bytes")
	w.Int(r.Bytes)
	w.EndObj()
	return nil
}
