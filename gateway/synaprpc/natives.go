package synaprpc

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
)

// A builder turns a native command's arguments into a data command and its
// payload; TXQUEUE queues what the builder of its inner command builds.
type builder struct {
	cmd   string
	build func(a argv) (obj, string)
}

// setArgs: SET key value [EX seconds | PX milliseconds] [NX | XX].
func setArgs(a argv) (obj, string) {
	k, e := a.str(0)
	if e != "" {
		return nil, e
	}
	v, e := a.value(1)
	if e != "" {
		return nil, e
	}
	p := obj{"key": k, "value": v}
	for i := 2; i < len(a); i++ {
		opt, e := a.str(i)
		if e != "" {
			return nil, e
		}
		switch strings.ToUpper(opt) {
		case "EX", "PX":
			n, e := a.int(i + 1)
			if e != "" {
				return nil, e
			}
			if strings.EqualFold(opt, "PX") {
				n = (n + 999) / 1000
			}
			p["ttl"] = n
			i++
		case "NX":
			p["nx"] = true
		case "XX":
			p["xx"] = true
		default:
			return nil, "ERR syntax error: SET key value [EX seconds|PX milliseconds] [NX|XX]"
		}
	}
	return p, ""
}

func incrArgs(sign int64, withAmount bool) func(a argv) (obj, string) {
	return func(a argv) (obj, string) {
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		n := int64(1)
		if withAmount {
			if n, e = a.int(1); e != "" {
				return nil, e
			}
		}
		return obj{"key": k, "amount": sign * n}, ""
	}
}

func keysArgs(a argv) (obj, string) {
	ks, e := a.strs(0)
	return obj{"keys": ks}, e
}

func hsetArgs(a argv) (obj, string) {
	k, e := a.str(0)
	if e != "" {
		return nil, e
	}
	f, e := a.str(1)
	if e != "" {
		return nil, e
	}
	v, e := a.value(2)
	return obj{"key": k, "field": f, "value": v}, e
}

func hincrArgs(a argv) (obj, string) {
	k, e := a.str(0)
	if e != "" {
		return nil, e
	}
	f, e := a.str(1)
	if e != "" {
		return nil, e
	}
	n, e := a.float(2)
	return obj{"key": k, "field": f, "increment": n}, e
}

func popArgs(a argv) (obj, string) {
	k, e := a.str(0)
	if e != "" {
		return nil, e
	}
	p := obj{"key": k}
	if len(a) > 1 {
		n, e := a.int(1)
		if e != "" {
			return nil, e
		}
		p["count"] = n
	}
	return p, ""
}

// queueable are the inner commands TXQUEUE takes, as the original's.
var queueable = map[string]builder{
	"SET":     {"kv.set", setArgs},
	"DEL":     {"kv.del", keysArgs},
	"INCR":    {"kv.incr", incrArgs(1, false)},
	"INCRBY":  {"kv.incr", incrArgs(1, true)},
	"DECR":    {"kv.incr", incrArgs(-1, false)},
	"DECRBY":  {"kv.incr", incrArgs(-1, true)},
	"HSET":    {"hash.set", hsetArgs},
	"HDEL":    {"hash.del", keyStrs("fields")},
	"HINCRBY": {"hash.incrby", hincrArgs},
	"LPUSH":   {"list.lpush", keyValues("values")},
	"RPUSH":   {"list.rpush", keyValues("values")},
	"LPOP":    {"list.lpop", popArgs},
	"RPOP":    {"list.rpop", popArgs},
	"SADD":    {"set.add", keyValues("members")},
	"SREM":    {"set.rem", keyValues("members")},
}

// TXQUEUE client_id CMD args... queues a write into the client's open
// transaction (MULTI); it answers QUEUED, and fails without one.
func (c *conn) txqueue(_ context.Context, a argv) (any, string) {
	id, e := a.str(0)
	if e != "" {
		return nil, e
	}
	inner, e := a.str(1)
	if e != "" {
		return nil, e
	}
	b, ok := queueable[strings.ToUpper(inner)]
	if !ok {
		return nil, "ERR '" + strings.ToUpper(inner) + "' cannot be queued in a transaction"
	}
	p, e := b.build(a[2:])
	if e != "" {
		return nil, e
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, "ERR " + err.Error()
	}
	if err := c.s.b.Commands.Queue(id, b.cmd, raw); err != nil {
		return nil, errText(err)
	}
	return "QUEUED", ""
}

var kvNatives = map[string]nativeFunc{
	"SET": simple("kv.set", setArgs, ok),
	"GET": func(c *conn, ctx context.Context, a argv) (any, string) {
		p, e := key1(a)
		if e != "" {
			return nil, e
		}
		v, e := c.execAny(ctx, "kv.get", p)
		return text(v), e
	},
	"DEL":      simple("kv.del", keysArgs, intField("deleted")),
	"EXISTS":   simple("kv.exists", key1, boolField("exists")),
	"EXPIRE":   simple("kv.expire", keyInt("ttl"), boolField("result")),
	"PERSIST":  simple("kv.persist", key1, boolField("result")),
	"TTL":      simple("kv.ttl", key1, func(rep obj) any { return ttl(rep["ttl"]) }),
	"INCR":     simple("kv.incr", incrArgs(1, false), intField("value")),
	"INCRBY":   simple("kv.incr", incrArgs(1, true), intField("value")),
	"DECR":     simple("kv.incr", incrArgs(-1, false), intField("value")),
	"DECRBY":   simple("kv.incr", incrArgs(-1, true), intField("value")),
	"MSET":     simple("kv.mset", pairsArgs, ok),
	"MSETNX":   simple("kv.msetnx", pairsArgs, boolField("success")),
	"MGET":     simple("kv.mget", keysArgs, textsField("values")),
	"KEYS":     simple("kv.keys", patternArgs, field("keys")),
	"SCAN":     simple("kv.scan", scanArgs, field("keys")),
	"APPEND":   simple("kv.append", keyValue, intField("length")),
	"STRLEN":   simple("kv.strlen", key1, intField("length")),
	"SETRANGE": simple("kv.setrange", setrangeArgs, intField("length")),
	"GETRANGE": func(c *conn, ctx context.Context, a argv) (any, string) {
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		start, e := a.int(1)
		if e != "" {
			return nil, e
		}
		end, e := a.int(2)
		if e != "" {
			return nil, e
		}
		v, e := c.execAny(ctx, "kv.getrange", obj{"key": k, "start": start, "end": end})
		return text(v), e
	},
	"GETSET": func(c *conn, ctx context.Context, a argv) (any, string) {
		p, e := keyValue(a)
		if e != "" {
			return nil, e
		}
		v, e := c.execAny(ctx, "kv.getset", p)
		return text(v), e
	},
	"DBSIZE": simple("kv.stats", noArgs, intField("total_keys")),
	"KVSTATS": simple("kv.stats", noArgs, func(rep obj) any {
		ops, _ := rep["operations"].(obj)
		m := Map{{"total_keys", num(rep["total_keys"])}, {"total_memory_bytes", num(rep["total_memory_bytes"])}}
		for _, k := range []string{"gets", "sets", "dels", "hits", "misses"} {
			m = append(m, Pair{k, num(ops[k])})
		}
		return m
	}),
	"SETBIT": simple("bitmap.setbit", func(a argv) (obj, string) {
		p, e := keyInt("offset")(a)
		if e != "" {
			return nil, e
		}
		v, e := a.int(2)
		p["value"] = v
		return p, e
	}, intField("old_value")),
	"GETBIT": simple("bitmap.getbit", keyInt("offset"), intField("value")),
	"BITCOUNT": simple("bitmap.bitcount", func(a argv) (obj, string) {
		return keyRange(a, "start", "end", 1)
	}, intField("count")),
	"BITPOS": simple("bitmap.bitpos", func(a argv) (obj, string) {
		p, e := keyInt("value")(a)
		if e != "" {
			return nil, e
		}
		q, e := keyRange(append(argv{a[0]}, a[2:]...), "start", "end", 1)
		for k, v := range q {
			p[k] = v
		}
		return p, e
	}, func(rep obj) any {
		if rep["position"] == nil {
			return int64(-1)
		}
		return num(rep["position"])
	}),
	"BITOP": simple("bitmap.bitop", func(a argv) (obj, string) {
		op, e := a.str(0)
		if e != "" {
			return nil, e
		}
		dest, e := a.str(1)
		if e != "" {
			return nil, e
		}
		srcs, e := a.strs(2)
		return obj{"operation": op, "destination": dest, "source_keys": srcs}, e
	}, intField("length")),
}

// ttl is TTL's reply: the seconds left, -1 without an expiry.
func ttl(v any) any {
	if v == nil {
		return int64(-1)
	}
	return num(v)
}

func keyValue(a argv) (obj, string) {
	k, e := a.str(0)
	if e != "" {
		return nil, e
	}
	v, e := a.value(1)
	return obj{"key": k, "value": v}, e
}

// keyRange builds {key} and, when both are given from argument from on,
// the two bounds.
func keyRange(a argv, lo, hi string, from int) (obj, string) {
	k, e := a.str(0)
	if e != "" {
		return nil, e
	}
	p := obj{"key": k}
	if len(a) >= from+2 {
		s, e := a.int(from)
		if e != "" {
			return nil, e
		}
		t, e := a.int(from + 1)
		if e != "" {
			return nil, e
		}
		p[lo], p[hi] = s, t
	} else if len(a) == from+1 {
		s, e := a.int(from)
		if e != "" {
			return nil, e
		}
		p[lo] = s
	}
	return p, ""
}

func pairsArgs(a argv) (obj, string) {
	if len(a)%2 != 0 || len(a) == 0 {
		return nil, "ERR wrong number of arguments: key value [key value ...]"
	}
	pairs := make([]obj, 0, len(a)/2)
	for i := 0; i < len(a); i += 2 {
		k, e := a.str(i)
		if e != "" {
			return nil, e
		}
		v, e := a.value(i + 1)
		if e != "" {
			return nil, e
		}
		pairs = append(pairs, obj{"key": k, "value": v})
	}
	return obj{"pairs": pairs}, ""
}

func patternArgs(a argv) (obj, string) {
	if len(a) == 0 {
		return obj{"pattern": "*"}, ""
	}
	p, e := a.str(0)
	return obj{"pattern": p}, e
}

// scanArgs: SCAN [prefix] [count].
func scanArgs(a argv) (obj, string) {
	p := obj{"count": int64(100)}
	if len(a) > 0 && a[0] != nil {
		pre, e := a.str(0)
		if e != "" {
			return nil, e
		}
		p["prefix"] = pre
	}
	if len(a) > 1 {
		n, e := a.int(1)
		if e != "" {
			return nil, e
		}
		p["count"] = n
	}
	return p, ""
}

func setrangeArgs(a argv) (obj, string) {
	p, e := keyInt("offset")(a)
	if e != "" {
		return nil, e
	}
	v, e := a.value(2)
	p["value"] = v
	return p, e
}

// sortedTexts turns a JSON object of stored values into a Map of texts,
// by key.
func sortedTexts(v any) Map {
	o, _ := v.(obj)
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m := make(Map, 0, len(o))
	for _, k := range keys {
		m = append(m, Pair{k, text(o[k])})
	}
	return m
}
