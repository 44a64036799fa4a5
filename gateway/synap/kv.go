package synap

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/troupe-run/troupe/actors/kv/glob"
	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/messages"
)

var kvCommands = []commandSpec{
	{"kv.set", kvSet},
	{"kv.get", kvGet},
	{"kv.del", kvDel},
	{"kv.mdel", kvMdel},
	{"kv.exists", kvExists},
	{"kv.incr", kvIncr(1)},
	{"kv.incrby", kvIncr(1)},
	{"kv.decr", kvIncr(-1)},
	{"kv.decrby", kvIncr(-1)},
	{"kv.expire", kvExpire},
	{"kv.ttl", kvTTL},
	{"kv.persist", kvPersist},
	{"kv.scan", kvScan},
	{"kv.mset", kvMset},
	{"kv.mget", kvMget},
	{"kv.msetnx", kvMsetnx},
	{"kv.type", kvType},
	{"key.type", kvType},
	{"key.exists", kvExists},
	{"kv.dbsize", kvDBSize},
	{"kv.keys", kvKeys},
	{"memory.usage", memoryUsage},
}

// kv.set {key, value, ttl?, nx?, xx?, keepttl?} -> {key, success, previous}
func kvSet(c *call) error {
	a, err := c.args()
	if err != nil {
		return err
	}
	req := &messages.DataRequest{Op: messages.DataOp_KV_SET, Nx: a.NX, Xx: a.XX, KeepTtl: a.KeepTTL}
	if req.Key, err = a.key(); err != nil {
		return err
	}
	if req.Value, err = a.value(); err != nil {
		return err
	}
	if req.TtlMs, err = ttlArg(a.TTL); err != nil {
		return err
	}
	if a.NX && a.XX {
		return invalid("nx and xx cannot both be set")
	}
	rep, err := c.do(req)
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("key")
	w.Str(req.Key)
	w.Key("success")
	w.Bool(rep.Ok)
	w.Key("previous")
	w.Raw(rep.Previous)
	w.EndObj()
	return nil
}

// kv.get {key} -> {found, value, ttl}; ttl is the remaining time in seconds,
// null for a key without expiry. The original answers the bare value: a
// string as itself, any other value as the text of its JSON (its SDKs parse
// a string reply as JSON), null for a missing key.
func kvGet(c *call) error {
	rep, err := keyOnly(c, messages.DataOp_KV_GET)
	if err != nil {
		return err
	}
	if rep.Found {
		c.s.kvHits.Add(1)
	} else {
		c.s.kvMisses.Add(1)
	}
	w := c.out
	if c.original() {
		writeOriginalValue(w, rep.Found, rep.Value)
		return nil
	}
	w.Obj()
	w.Key("found")
	w.Bool(rep.Found)
	w.Key("value")
	w.Raw(rep.Value)
	w.Key("ttl")
	writeTTL(w, rep.Found, rep.TtlMs)
	w.EndObj()
	return nil
}

// writeOriginalValue writes a stored value as the original server returns
// it: it keeps strings as their raw text and other values as JSON text.
func writeOriginalValue(w *jsonw.Writer, found bool, v []byte) {
	switch {
	case !found || len(v) == 0:
		w.Null()
	case v[0] == '"':
		w.Raw(v)
	default:
		w.Str(string(v))
	}
}

// writeTTL writes a remaining time to live in seconds, rounded as Redis
// does; null when the key has none or does not exist.
func writeTTL(w *jsonw.Writer, found bool, ms int64) {
	if !found || ms < 0 {
		w.Null()
		return
	}
	w.Int((ms + 500) / 1000)
}

// kv.del {keys} -> {deleted: count}; kv.del {key} -> {deleted: true|false},
// as the original answers one key; kv.mdel always counts.
func kvDel(c *call) error {
	return del(c, true)
}

func kvMdel(c *call) error {
	return del(c, false)
}

func del(c *call, one bool) error {
	a, err := c.args()
	if err != nil {
		return err
	}
	keys, err := a.keyList()
	if err != nil {
		return err
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Keys: keys})
	if err != nil {
		return err
	}
	if one && !c.rest && a.Key != "" && len(a.Keys) == 0 {
		return boolReply(c, "deleted", rep.Integer > 0)
	}
	return intReply(c, "deleted", rep.Integer)
}

// kv.exists {key} or {keys} -> {exists, count}: exists when any does, count
// of those that do.
func kvExists(c *call) error {
	a, err := c.args()
	if err != nil {
		return err
	}
	keys, err := a.keyList()
	if err != nil {
		return err
	}
	req := &messages.DataRequest{Op: messages.DataOp_KV_EXISTS}
	if len(keys) == 1 {
		req.Key = keys[0]
	} else {
		req.Keys = keys
	}
	rep, err := c.do(req)
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("exists")
	w.Bool(rep.Integer > 0)
	w.Key("count")
	w.Int(rep.Integer)
	w.EndObj()
	return nil
}

// kv.incr / kv.decr {key, amount = 1} -> {value}
func kvIncr(sign int64) command {
	return func(c *call) error {
		a, key, err := keyArgs(c)
		if err != nil {
			return err
		}
		amount, err := intArg("amount", a.Amount, 1)
		if err != nil {
			return err
		}
		if sign < 0 {
			if amount == math.MinInt64 {
				return invalid("amount %d cannot be negated", amount)
			}
			amount = -amount
		}
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_INCR, Key: key, Amount: amount})
		if err != nil {
			return err
		}
		return intReply(c, "value", rep.Integer)
	}
}

// kv.expire {key, ttl} -> {result}; ttl must be positive.
func kvExpire(c *call) error {
	a, key, err := keyArgs(c)
	if err != nil {
		return err
	}
	if absent(a.TTL) {
		return invalid("ttl is required")
	}
	ttl, err := ttlArg(a.TTL)
	if err != nil {
		return err
	}
	if ttl == 0 {
		return invalid("ttl must be at least 1 second")
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_EXPIRE, Key: key, TtlMs: ttl})
	if err != nil {
		return err
	}
	return boolReply(c, "result", rep.Ok)
}

// kv.persist {key} -> {result}
func kvPersist(c *call) error {
	rep, err := keyOnly(c, messages.DataOp_KV_PERSIST)
	if err != nil {
		return err
	}
	return boolReply(c, "result", rep.Ok)
}

// intReply writes the reply {name: n}.
func intReply(c *call, name string, n int64) error {
	c.out.Obj()
	c.out.Key(name)
	c.out.Int(n)
	c.out.EndObj()
	return nil
}

// boolReply writes the reply {name: v}.
func boolReply(c *call, name string, v bool) error {
	c.out.Obj()
	c.out.Key(name)
	c.out.Bool(v)
	c.out.EndObj()
	return nil
}

// kv.ttl {key} -> {ttl}: seconds, or null without expiry or key.
func kvTTL(c *call) error {
	rep, err := keyOnly(c, messages.DataOp_KV_TTL)
	if err != nil {
		return err
	}
	c.out.Obj()
	c.out.Key("ttl")
	writeTTL(c.out, true, rep.TtlMs)
	c.out.EndObj()
	return nil
}

// keyOnly runs an op whose only argument is the key.
func keyOnly(c *call, op messages.DataOp) (*messages.DataReply, error) {
	_, key, err := keyArgs(c)
	if err != nil {
		return nil, err
	}
	return c.do(&messages.DataRequest{Op: op, Key: key})
}

// Bounds of kv.scan's page size.
const (
	defaultScanCount = 100
	maxScanCount     = 10000
)

// kv.scan {prefix?, cursor?, count? (or limit)} -> {keys, cursor, has_more,
// count}. The cursor is the last key returned, null on the last page.
func kvScan(c *call) error {
	a, err := c.args()
	if err != nil {
		return err
	}
	countRaw, name := a.Count, "count"
	if absent(countRaw) {
		countRaw, name = a.Limit, "limit"
	}
	count, err := countArg(name, countRaw, defaultScanCount)
	if err != nil {
		return err
	}
	if count > maxScanCount {
		return invalid("%s must be at most %d, not %d", name, maxScanCount, count)
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_SCAN, Prefix: a.Prefix, Cursor: a.Cursor, Count: count})
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("keys")
	w.Strs(rep.Keys)
	w.Key("cursor")
	if rep.HasMore && len(rep.Keys) > 0 {
		w.Str(rep.Keys[len(rep.Keys)-1])
	} else {
		w.Null()
	}
	w.Key("has_more")
	w.Bool(rep.HasMore)
	w.Key("count")
	w.Int(int64(len(rep.Keys)))
	w.EndObj()
	return nil
}

// kv.mset {pairs} -> {success}
func kvMset(c *call) error {
	a, err := c.args()
	if err != nil {
		return err
	}
	pairs, err := pairList("pairs", "key", a.Pairs)
	if err != nil {
		return err
	}
	if _, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_MSET, Pairs: pairs}); err != nil {
		return err
	}
	return boolReply(c, "success", true)
}

// kv.msetnx {pairs} or {key, value} -> {success}: whether every key was set
// (none is when any exists).
func kvMsetnx(c *call) error {
	a, err := c.args()
	if err != nil {
		return err
	}
	var pairs []*messages.Pair
	if absent(a.Pairs) && a.Key != "" {
		v, err := a.value()
		if err != nil {
			return err
		}
		pairs = []*messages.Pair{{Key: a.Key, Value: v}}
	} else if pairs, err = pairList("pairs", "key", a.Pairs); err != nil {
		return err
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_MSETNX, Pairs: pairs})
	if err != nil {
		return err
	}
	return boolReply(c, "success", rep.Ok)
}

// kv.mget {keys} -> {values}: one per key, null for a missing one; no keys,
// no values. The original answers each value as kv.get does.
func kvMget(c *call) error {
	a, err := c.args()
	if err != nil {
		return err
	}
	if a.Keys != nil && len(a.Keys) == 0 && a.Key == "" {
		c.out.Literal(`{"values":[]}`)
		return nil
	}
	keys, err := a.keyList()
	if err != nil {
		return err
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_MGET, Keys: keys})
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("values")
	w.Arr()
	for i := range keys {
		switch {
		case i >= len(rep.Values):
			w.Null()
		case c.original():
			writeOriginalValue(w, len(rep.Values[i]) > 0, rep.Values[i])
		default:
			w.Raw(rep.Values[i])
		}
	}
	w.EndArr()
	w.EndObj()
	return nil
}

// kv.type {key} -> {key, type}: string, hash, list, set, zset or none.
func kvType(c *call) error {
	rep, err := keyOnly(c, messages.DataOp_KV_TYPE)
	if err != nil {
		return err
	}
	c.out.Obj()
	c.out.Key("key")
	c.out.Str(c.a.Key)
	c.out.Key("type")
	c.out.Str(rep.Type)
	c.out.EndObj()
	return nil
}

// kv.dbsize {} -> {size}
func kvDBSize(c *call) error {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_COUNT})
	if err != nil {
		return err
	}
	return intReply(c, "size", rep.Integer)
}

// memory.usage {key} -> {key, bytes, human}; a missing key uses 0 bytes.
func memoryUsage(c *call) error {
	rep, err := keyOnly(c, messages.DataOp_KV_USAGE)
	if err != nil {
		return err
	}
	c.out.Obj()
	c.out.Key("key")
	c.out.Str(c.a.Key)
	c.out.Key("bytes")
	c.out.Int(rep.Integer)
	c.out.Key("human")
	c.out.Str(humanBytes(rep.Integer))
	c.out.EndObj()
	return nil
}

// humanBytes formats n bytes as Synap does: "0B", "512B", "1.50KB", "3MB".
func humanBytes(n int64) string {
	units := [...]string{"B", "KB", "MB", "GB", "TB"}
	f, u := float64(n), 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if f-float64(int64(f)) < 0.01 {
		return fmt.Sprintf("%d%s", int64(f), units[u])
	}
	return fmt.Sprintf("%.2f%s", f, units[u])
}

// Bounds of kv.keys: it pages through kv.scan, and refuses to build a reply
// past maxKeysReply keys (kv.scan pages through any number).
const (
	keysPage     = 1000
	maxKeysReply = 100000
)

// kv.keys {pattern = "*"} -> {keys, count}: the live keys matching a glob
// pattern (* any run, ? one character, [abc] [a-z] [^a] a class, \ escapes).
// The original ignores the pattern and lists every key; the glob is what its
// SDK documents.
func kvKeys(c *call) error {
	var p struct {
		Pattern *string `json:"pattern"`
	}
	if len(c.payload) > 0 {
		if err := json.Unmarshal(c.payload, &p); err != nil {
			return invalid("pattern must be a string")
		}
	}
	pattern := "*"
	if p.Pattern != nil {
		pattern = *p.Pattern
	}
	prefix := pattern
	if i := strings.IndexAny(pattern, `*?[\`); i >= 0 {
		prefix = pattern[:i]
	}
	var keys []string
	cursor := ""
	for {
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_SCAN, Prefix: prefix, Cursor: cursor, Count: keysPage})
		if err != nil {
			return err
		}
		for _, k := range rep.Keys {
			if globMatch(pattern, k) {
				if len(keys) == maxKeysReply {
					return invalid("more than %d keys match %q; page through them with kv.scan", maxKeysReply, pattern)
				}
				keys = append(keys, k)
			}
		}
		if !rep.HasMore || len(rep.Keys) == 0 {
			break
		}
		cursor = rep.Keys[len(rep.Keys)-1]
	}
	w := c.out
	w.Obj()
	w.Key("keys")
	w.Strs(keys)
	w.Key("count")
	w.Int(int64(len(keys)))
	w.EndObj()
	return nil
}

// globMatch is kv.keys's matcher; /kv/ws's shards match with the same one.
var globMatch = glob.Match
