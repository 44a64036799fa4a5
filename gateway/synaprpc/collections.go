package synaprpc

import (
	"context"
	"encoding/json"
	"strings"
)

// zrangeArgs: ZRANGE key start stop [WITHSCORES] (by rank), or, byScore,
// ZRANGEBYSCORE key min max [WITHSCORES].
func zrangeArgs(byScore bool) func(a argv) (obj, string) {
	return func(a argv) (obj, string) {
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		p := obj{"key": k}
		if byScore {
			lo, e := a.float(1)
			if e != "" {
				return nil, e
			}
			hi, e := a.float(2)
			if e != "" {
				return nil, e
			}
			p["min"], p["max"] = jsonScore(lo), jsonScore(hi)
		} else {
			lo, e := a.int(1)
			if e != "" {
				return nil, e
			}
			hi, e := a.int(2)
			if e != "" {
				return nil, e
			}
			p["start"], p["stop"] = lo, hi
		}
		p["withscores"] = withScores(a)
		return p, ""
	}
}

// jsonScore is a score bound as the data door takes it: infinities as
// "-inf"/"+inf" (JSON has no infinity).
func jsonScore(f float64) any {
	switch {
	case f > 1e308:
		return "+inf"
	case f < -1e308:
		return "-inf"
	}
	return f
}

func withScores(a argv) bool {
	for i := 3; i < len(a); i++ {
		if s, _ := a.str(i); strings.EqualFold(s, "WITHSCORES") {
			return true
		}
	}
	return false
}

// zrange runs a range command and flattens its members.
func zrange(cmd string, byScore bool) nativeFunc {
	return func(c *conn, ctx context.Context, a argv) (any, string) {
		p, e := zrangeArgs(byScore)(a)
		if e != "" {
			return nil, e
		}
		rep, e := c.exec(ctx, cmd, p)
		if e != "" {
			return nil, e
		}
		return scored(rep["members"], p["withscores"] == true), ""
	}
}

// storeArgs: <dest> [numkeys] key...; numbered tells that a count comes
// before the keys (the sorted sets' form).
func storeArgs(numbered bool) func(a argv) (obj, string) {
	return func(a argv) (obj, string) {
		dest, e := a.str(0)
		if e != "" {
			return nil, e
		}
		from := 1
		if numbered {
			from = 2
		}
		ks, e := a.strs(from)
		return obj{"destination": dest, "keys": ks}, e
	}
}

func optional(v any) any {
	if v == nil {
		return nil
	}
	return native(v)
}

var collectionNatives = map[string]nativeFunc{
	"HSET": func(c *conn, ctx context.Context, a argv) (any, string) {
		if len(a) < 3 || len(a)%2 != 1 {
			return nil, "ERR wrong number of arguments for 'HSET'"
		}
		var created int64
		for i := 1; i < len(a); i += 2 {
			p, e := hsetArgs(argv{a[0], a[i], a[i+1]})
			if e != "" {
				return nil, e
			}
			rep, e := c.exec(ctx, "hash.set", p)
			if e != "" {
				return nil, e
			}
			created += num(rep["created"])
		}
		return created, ""
	},
	"HSETNX": simple("hash.setnx", hsetArgs, intField("created")),
	"HGET": simple("hash.get", keyAnd("field"), func(rep obj) any {
		if !truth(rep["found"]) {
			return nil
		}
		return text(rep["value"])
	}),
	"HDEL":         simple("hash.del", keyStrs("fields"), intField("deleted")),
	"HINCRBY":      simple("hash.incrby", hincrArgs, intField("value")),
	"HINCRBYFLOAT": simple("hash.incrbyfloat", hincrArgs, func(rep obj) any { return flt(rep["value"]) }),
	"HGETALL":      simple("hash.getall", key1, func(rep obj) any { return sortedTexts(rep["fields"]) }),
	"HLEN":         simple("hash.len", key1, intField("length")),
	"HEXISTS":      simple("hash.exists", keyAnd("field"), boolField("exists")),
	"HKEYS":        simple("hash.keys", key1, field("fields")),
	"HVALS":        simple("hash.values", key1, textsField("values")),
	"HMSET": simple("hash.mset", func(a argv) (obj, string) {
		if len(a) < 3 || len(a)%2 != 1 {
			return nil, "ERR wrong number of arguments for 'HMSET'"
		}
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		fields := obj{}
		for i := 1; i < len(a); i += 2 {
			f, e := a.str(i)
			if e != "" {
				return nil, e
			}
			if fields[f], e = a.value(i + 1); e != "" {
				return nil, e
			}
		}
		return obj{"key": k, "fields": fields}, ""
	}, ok),
	"HMGET": func(c *conn, ctx context.Context, a argv) (any, string) {
		p, e := keyStrs("fields")(a)
		if e != "" {
			return nil, e
		}
		rep, e := c.exec(ctx, "hash.mget", p)
		if e != "" {
			return nil, e
		}
		vals, _ := rep["values"].(obj)
		fs := p["fields"].([]string)
		out := make([]any, len(fs))
		for i, f := range fs {
			out[i] = text(vals[f])
		}
		return out, ""
	},

	"LPUSH":  simple("list.lpush", keyValues("values"), intField("length")),
	"RPUSH":  simple("list.rpush", keyValues("values"), intField("length")),
	"LPUSHX": simple("list.lpushx", keyValues("values"), intField("length")),
	"RPUSHX": simple("list.rpushx", keyValues("values"), intField("length")),
	"LPOP":   listPop("list.lpop"),
	"RPOP":   listPop("list.rpop"),
	"LRANGE": simple("list.range", func(a argv) (obj, string) {
		return keyRange(a, "start", "stop", 1)
	}, textsField("values")),
	"LLEN": simple("list.len", key1, intField("length")),
	"LINDEX": simple("list.index", keyInt("index"), func(rep obj) any {
		return text(rep["value"])
	}),
	"LSET": simple("list.set", func(a argv) (obj, string) {
		p, e := keyInt("index")(a)
		if e != "" {
			return nil, e
		}
		v, e := a.value(2)
		p["value"] = v
		return p, e
	}, ok),
	"LTRIM": simple("list.trim", func(a argv) (obj, string) {
		return keyRange(a, "start", "stop", 1)
	}, ok),
	"LREM": simple("list.rem", func(a argv) (obj, string) {
		p, e := keyInt("count")(a)
		if e != "" {
			return nil, e
		}
		v, e := a.value(2)
		p["value"] = v
		return p, e
	}, intField("removed")),
	"RPOPLPUSH": simple("list.rpoplpush", func(a argv) (obj, string) {
		src, e := a.str(0)
		if e != "" {
			return nil, e
		}
		dst, e := a.str(1)
		return obj{"source": src, "destination": dst}, e
	}, func(rep obj) any { return text(rep["value"]) }),
	"LPOS": simple("list.lpos", func(a argv) (obj, string) {
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		v, e := a.value(1)
		return obj{"key": k, "element": v}, e
	}, func(rep obj) any { return optional(rep["position"]) }),
	"LINSERT": simple("list.linsert", func(a argv) (obj, string) {
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		where, e := a.str(1)
		if e != "" {
			return nil, e
		}
		pivot, e := a.value(2)
		if e != "" {
			return nil, e
		}
		v, e := a.value(3)
		return obj{"key": k, "before": !strings.EqualFold(where, "AFTER"), "pivot": pivot, "value": v}, e
	}, intField("length")),

	"SADD":        simple("set.add", keyValues("members"), intField("added")),
	"SREM":        simple("set.rem", keyValues("members"), intField("removed")),
	"SMEMBERS":    simple("set.members", key1, textsField("members")),
	"SISMEMBER":   simple("set.ismember", keyAnd("member"), boolField("is_member")),
	"SCARD":       simple("set.card", key1, intField("cardinality")),
	"SPOP":        simple("set.pop", popArgs, textsField("members")),
	"SRANDMEMBER": simple("set.randmember", popArgs, textsField("members")),
	"SMOVE": simple("set.move", func(a argv) (obj, string) {
		src, e := a.str(0)
		if e != "" {
			return nil, e
		}
		dst, e := a.str(1)
		if e != "" {
			return nil, e
		}
		m, e := a.str(2)
		return obj{"source": src, "destination": dst, "member": m}, e
	}, boolField("moved")),
	"SINTER":      simple("set.inter", keysArgs, textsField("members")),
	"SUNION":      simple("set.union", keysArgs, textsField("members")),
	"SDIFF":       simple("set.diff", keysArgs, textsField("members")),
	"SINTERSTORE": simple("set.interstore", storeArgs(false), intField("count")),
	"SUNIONSTORE": simple("set.unionstore", storeArgs(false), intField("count")),
	"SDIFFSTORE":  simple("set.diffstore", storeArgs(false), intField("count")),

	"ZADD": simple("sortedset.zadd", func(a argv) (obj, string) {
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		if len(a) < 3 || len(a)%2 != 1 {
			return nil, "ERR wrong number of arguments: ZADD key score member [score member ...]"
		}
		var ms []obj
		for i := 1; i < len(a); i += 2 {
			sc, e := a.float(i)
			if e != "" {
				return nil, e
			}
			m, e := a.str(i + 1)
			if e != "" {
				return nil, e
			}
			ms = append(ms, obj{"member": m, "score": sc})
		}
		return obj{"key": k, "members": ms}, ""
	}, intField("added")),
	"ZRANGE":        zrange("sortedset.zrange", false),
	"ZREVRANGE":     zrange("sortedset.zrevrange", false),
	"ZRANGEBYSCORE": zrange("sortedset.zrangebyscore", true),
	"ZSCORE": simple("sortedset.zscore", keyAnd("member"), func(rep obj) any {
		return flt(rep["score"])
	}),
	"ZCARD": simple("sortedset.zcard", key1, intField("count")),
	"ZREM":  simple("sortedset.zrem", keyStrs("members"), intField("removed")),
	"ZINCRBY": simple("sortedset.zincrby", func(a argv) (obj, string) {
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		by, e := a.float(1)
		if e != "" {
			return nil, e
		}
		m, e := a.str(2)
		return obj{"key": k, "increment": by, "member": m}, e
	}, func(rep obj) any { return flt(rep["score"]) }),
	"ZRANK":    simple("sortedset.zrank", keyAnd("member"), func(rep obj) any { return optional(rep["rank"]) }),
	"ZREVRANK": simple("sortedset.zrevrank", keyAnd("member"), func(rep obj) any { return optional(rep["rank"]) }),
	"ZCOUNT": simple("sortedset.zcount", func(a argv) (obj, string) {
		p, e := zrangeArgs(true)(a)
		delete(p, "withscores")
		return p, e
	}, intField("count")),
	"ZPOPMIN": zpop("sortedset.zpopmin"),
	"ZPOPMAX": zpop("sortedset.zpopmax"),
	"ZREMRANGEBYRANK": simple("sortedset.zremrangebyrank", func(a argv) (obj, string) {
		return keyRange(a, "start", "stop", 1)
	}, intField("removed")),
	"ZREMRANGEBYSCORE": simple("sortedset.zremrangebyscore", func(a argv) (obj, string) {
		p, e := zrangeArgs(true)(a)
		delete(p, "withscores")
		return p, e
	}, intField("removed")),
	"ZINTERSTORE": simple("sortedset.zinterstore", storeArgs(true), intField("count")),
	"ZUNIONSTORE": simple("sortedset.zunionstore", storeArgs(true), intField("count")),
	"ZDIFFSTORE":  simple("sortedset.zdiffstore", storeArgs(true), intField("count")),

	"PFADD": simple("hyperloglog.pfadd", keyValues("elements"), func(rep obj) any { return num(rep["added"]) > 0 }),
	"PFCOUNT": simple("hyperloglog.pfcount", func(a argv) (obj, string) {
		ks, e := a.strs(0)
		return obj{"keys": ks}, e
	}, intField("count")),
	"PFMERGE": simple("hyperloglog.pfmerge", func(a argv) (obj, string) {
		d, e := a.str(0)
		if e != "" {
			return nil, e
		}
		srcs, e := a.strs(1)
		return obj{"destination": d, "sources": srcs}, e
	}, intField("count")),
	"HLLSTATS": simple("hyperloglog.stats", noArgs, whole),
}

// listPop: without a count the original answers the value or Null, with
// one an array.
func listPop(cmd string) nativeFunc {
	return func(c *conn, ctx context.Context, a argv) (any, string) {
		p, e := popArgs(a)
		if e != "" {
			return nil, e
		}
		rep, e := c.exec(ctx, cmd, p)
		if e != "" {
			return nil, e
		}
		vs := texts(rep["values"])
		if _, counted := p["count"]; counted {
			return vs, ""
		}
		if len(vs) == 0 {
			return nil, ""
		}
		return vs[0], ""
	}
}

func zpop(cmd string) nativeFunc {
	return func(c *conn, ctx context.Context, a argv) (any, string) {
		p, e := popArgs(a)
		if e != "" {
			return nil, e
		}
		rep, e := c.exec(ctx, cmd, p)
		if e != "" {
			return nil, e
		}
		return scored(rep["members"], true), ""
	}
}

// jsonOrText is a payload the SDKs send as JSON text: the JSON value when
// it is one, else the text itself.
func jsonOrText(v any) any {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	default:
		return v
	}
	var x any
	if json.Valid([]byte(s)) && json.Unmarshal([]byte(s), &x) == nil {
		return json.RawMessage(s)
	}
	return s
}
