package synap

import (
	"bytes"
	"cmp"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/troupe-run/troupe/messages"
)

// The original's commands beyond the spec for strings, keys, hashes, lists,
// sets and sorted sets. Each is composed of the keyspace's own commands, run
// atomically: it holds the keys it names on their shards (as
// transaction.exec does), so nothing else touches them between its reads
// and its writes, and its writes are journaled, type-checked and
// memory-accounted like any other.

var extraCommands = []commandSpec{
	{"kv.append", kvAppend},
	{"kv.strlen", kvStrlen},
	{"kv.getrange", kvGetrange},
	{"kv.setrange", kvSetrange},
	{"kv.getset", kvGetset},
	{"key.rename", keyRename(false)},
	{"key.renamenx", keyRename(true)},
	{"key.copy", keyCopy},
	{"key.randomkey", keyRandom},
	{"hash.incrbyfloat", hashIncrByFloat},
	{"hash.setnx", hashSetNX},
	{"hash.strlen", hashStrlen},
	{"hash.randfield", hashRandField},
	{"list.lpushx", listPushX(messages.DataOp_LIST_LPUSH)},
	{"list.rpushx", listPushX(messages.DataOp_LIST_RPUSH)},
	{"list.rpoplpush", listMove(false, true)},
	{"list.lmove", listLMove},
	{"list.linsert", listInsert},
	{"list.insert", listInsert},
	{"list.lpos", listPos},
	{"list.pos", listPos},
	{"set.move", setMove},
	{"set.inter", setAlgebra('&', false)},
	{"set.union", setAlgebra('|', false)},
	{"set.diff", setAlgebra('-', false)},
	{"set.interstore", setAlgebra('&', true)},
	{"set.unionstore", setAlgebra('|', true)},
	{"set.diffstore", setAlgebra('-', true)},
	{"set.sinter", setAlgebra('&', false)},
	{"set.sunion", setAlgebra('|', false)},
	{"set.sdiff", setAlgebra('-', false)},
	{"set.sinterstore", setAlgebra('&', true)},
	{"set.sunionstore", setAlgebra('|', true)},
	{"set.sdiffstore", setAlgebra('-', true)},
	{"sortedset.zpopmin", zpop(false)},
	{"sortedset.zpopmax", zpop(true)},
	{"sortedset.zremrangebyrank", zremRangeByRank},
	{"sortedset.zremrangebyscore", zremRangeByScore},
	{"sortedset.zmscore", zmscore},
	{"sortedset.zrangebylex", zrangeByLex},
	{"sortedset.zinterstore", zstore('&')},
	{"sortedset.zunionstore", zstore('|')},
	{"sortedset.zdiffstore", zstore('-')},
	{"sortedset.stats", zsetStats},
}

// xArgs is the payload of these commands, in the original's field names.
type xArgs struct {
	Key         string          `json:"key"`
	Keys        []string        `json:"keys"`
	Value       json.RawMessage `json:"value"`
	Values      json.RawMessage `json:"values"`
	Source      string          `json:"source"`
	Destination string          `json:"destination"`
	Replace     bool            `json:"replace"`
	Field       string          `json:"field"`
	Member      string          `json:"member"`
	Members     []string        `json:"members"`
	Increment   *float64        `json:"increment"`
	Start       *int64          `json:"start"`
	End         *int64          `json:"end"`
	Stop        *int64          `json:"stop"`
	Offset      *int64          `json:"offset"`
	Count       *int64          `json:"count"`
	Min         json.RawMessage `json:"min"`
	Max         json.RawMessage `json:"max"`
	Before      *bool           `json:"before"`
	Position    string          `json:"position"`
	Pivot       json.RawMessage `json:"pivot"`
	Element     json.RawMessage `json:"element"`
	Rank        *int64          `json:"rank"`
	WhereFrom   string          `json:"wherefrom"`
	WhereTo     string          `json:"whereto"`
	From        string          `json:"from"`
	To          string          `json:"to"`
	Weights     []float64       `json:"weights"`
	Aggregate   string          `json:"aggregate"`
	WithScores  bool            `json:"withscores"`
}

func xPayload(c *call, need ...string) (*xArgs, error) {
	var p xArgs
	if err := payloadInto(c, &p); err != nil {
		return nil, err
	}
	for _, n := range need {
		var v string
		switch n {
		case "key":
			v = p.Key
		case "source":
			v = p.Source
		case "destination":
			v = p.Destination
		case "field":
			v = p.Field
		case "member":
			v = p.Member
		}
		if v == "" {
			return nil, invalid("%s is required", n)
		}
	}
	return &p, nil
}

// atomically runs fn with keys held on their shards, unless the call runs
// inside a transaction.exec, which holds them already.
func (c *call) atomically(keys []string, fn func() error) error {
	if c.txn != 0 {
		return fn()
	}
	txn := 1<<63 | rand.Uint64()
	rep, err := c.s.ks.Do(c.ctx, &messages.DataRequest{Op: messages.DataOp_TXN_HOLD, Txn: txn, Keys: keys})
	defer c.s.ks.Do(c.base, &messages.DataRequest{Op: messages.DataOp_TXN_ABORT, Txn: txn, Keys: keys})
	if ae := failure(rep, err); ae != nil {
		return ae
	}
	c.txn = txn
	defer func() { c.txn = 0 }()
	return fn()
}

// text is a stored value as the original sees a string: a JSON string's
// contents, or any other value's JSON text.
func text(v []byte) string {
	if len(v) > 0 && v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	return string(v)
}

func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// stringOf reads key's string (found false when there is no key).
func stringOf(c *call, key string) (string, bool, int64, error) {
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_GET, Key: key})
	if err != nil {
		return "", false, 0, err
	}
	return text(rep.Value), rep.Found, rep.TtlMs, nil
}

// putString stores s as key's value, keeping its expiry.
func putString(c *call, key, s string) error {
	_, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_SET, Key: key, Value: jsonString(s), KeepTtl: true})
	return err
}

func lenReply(c *call, n int) error { return intReply(c, "length", int64(n)) }

// valueText reads a command's value as the original does: a string as
// itself, anything else as its JSON text.
func (p *xArgs) valueText() (string, error) {
	if absent(p.Value) {
		return "", invalid("value is required")
	}
	return text(compact(p.Value)), nil
}

// kv.append {key, value} -> {length}
func kvAppend(c *call) error {
	p, err := xPayload(c, "key")
	if err != nil {
		return err
	}
	add, err := p.valueText()
	if err != nil {
		return err
	}
	var n int
	err = c.atomically([]string{p.Key}, func() error {
		cur, _, _, err := stringOf(c, p.Key)
		if err != nil {
			return err
		}
		n = len(cur) + len(add)
		return putString(c, p.Key, cur+add)
	})
	if err != nil {
		return err
	}
	return lenReply(c, n)
}

// kv.strlen {key} -> {length}: bytes of the string (0: no key).
func kvStrlen(c *call) error {
	p, err := xPayload(c, "key")
	if err != nil {
		return err
	}
	s, _, _, err := stringOf(c, p.Key)
	if err != nil {
		return err
	}
	return lenReply(c, len(s))
}

// byteRange resolves Redis's inclusive, possibly negative, byte range.
func byteRange(start, end int64, n int) (int, int) {
	if start < 0 {
		start += int64(n)
	}
	if end < 0 {
		end += int64(n)
	}
	start, end = max(start, 0), min(end, int64(n)-1)
	if start > end {
		return 0, 0
	}
	return int(start), int(end) + 1
}

// kv.getrange {key, start, end} -> the substring (bytes start to end,
// inclusive, negative from the end), as a bare string like the original.
func kvGetrange(c *call) error {
	p, err := xPayload(c, "key")
	if err != nil {
		return err
	}
	start, end := int64(0), int64(-1)
	if p.Start != nil {
		start = *p.Start
	}
	if p.End != nil {
		end = *p.End
	}
	s, _, _, err := stringOf(c, p.Key)
	if err != nil {
		return err
	}
	i, j := byteRange(start, end, len(s))
	sub := s[i:j]
	if !utf8.ValidString(sub) {
		sub = string(bytes.ToValidUTF8([]byte(sub), []byte("\uFFFD")))
	}
	c.out.Str(sub)
	return nil
}

// kv.setrange {key, offset, value} -> {length}: overwrites from offset,
// padding with zero bytes.
func kvSetrange(c *call) error {
	p, err := xPayload(c, "key")
	if err != nil {
		return err
	}
	v, err := p.valueText()
	if err != nil {
		return err
	}
	if p.Offset == nil || *p.Offset < 0 || *p.Offset > 1<<29 {
		return invalid("offset must be from 0 to %d", 1<<29)
	}
	off := int(*p.Offset)
	var n int
	err = c.atomically([]string{p.Key}, func() error {
		cur, _, _, err := stringOf(c, p.Key)
		if err != nil {
			return err
		}
		b := []byte(cur)
		if need := off + len(v); need > len(b) {
			b = append(b, make([]byte, need-len(b))...)
		}
		copy(b[off:], v)
		n = len(b)
		return putString(c, p.Key, string(b))
	})
	if err != nil {
		return err
	}
	return lenReply(c, n)
}

// kv.getset {key, value} -> the old value (bare, as kv.get answers in the
// original's shape), null when there was none.
func kvGetset(c *call) error {
	p, err := xPayload(c, "key")
	if err != nil {
		return err
	}
	if absent(p.Value) {
		return invalid("value is required")
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_SET, Key: p.Key, Value: compact(p.Value)})
	if err != nil {
		return err
	}
	writeOriginalValue(c.out, len(rep.Previous) > 0, rep.Previous)
	return nil
}

// copyWays says, per type, which command reads a whole key (whole: a
// range over every element) and how what it read is written to another key.
var copyWays = map[string]struct {
	read  messages.DataOp
	whole bool
	write func(dst string, r *messages.DataReply) *messages.DataRequest
}{
	"string": {messages.DataOp_KV_GET, false, func(dst string, r *messages.DataReply) *messages.DataRequest {
		return &messages.DataRequest{Op: messages.DataOp_KV_SET, Key: dst, Value: r.Value}
	}},
	"hash": {messages.DataOp_HASH_GETALL, false, func(dst string, r *messages.DataReply) *messages.DataRequest {
		return &messages.DataRequest{Op: messages.DataOp_HASH_SET, Key: dst, Pairs: r.Pairs}
	}},
	"list": {messages.DataOp_LIST_RANGE, true, func(dst string, r *messages.DataReply) *messages.DataRequest {
		return &messages.DataRequest{Op: messages.DataOp_LIST_RPUSH, Key: dst, Values: r.Values}
	}},
	"set": {messages.DataOp_SET_MEMBERS, false, func(dst string, r *messages.DataReply) *messages.DataRequest {
		return &messages.DataRequest{Op: messages.DataOp_SET_ADD, Key: dst, Members: r.Keys}
	}},
	"zset": {messages.DataOp_ZSET_RANGE, true, func(dst string, r *messages.DataReply) *messages.DataRequest {
		return &messages.DataRequest{Op: messages.DataOp_ZSET_ADD, Key: dst, Scored: r.Scored}
	}},
	"hyperloglog": {messages.DataOp_HLL_GET, false, func(dst string, r *messages.DataReply) *messages.DataRequest {
		return &messages.DataRequest{Op: messages.DataOp_HLL_MERGE, Key: dst, Values: [][]byte{r.Value}}
	}},
	"bitmap": {messages.DataOp_BIT_GET, false, func(dst string, r *messages.DataReply) *messages.DataRequest {
		return &messages.DataRequest{Op: messages.DataOp_BIT_STORE, Key: dst, Value: r.Value}
	}},
}

// copyKey copies src to dst (dst must be free, or replace set) with its
// expiry; false when src does not exist. Every type is copied with the
// commands that read and write it.
func copyKey(c *call, src, dst string, replace bool) (bool, error) {
	t, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_TYPE, Key: src})
	if err != nil || t.Type == "none" {
		return false, err
	}
	if d, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_TYPE, Key: dst}); err != nil {
		return false, err
	} else if d.Type != "none" {
		if !replace {
			return false, errorf(http.StatusConflict, messages.CodeKeyReserved, "destination %q exists", dst)
		}
		if _, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Keys: []string{dst}}); err != nil {
			return false, err
		}
	}
	way, ok := copyWays[t.Type]
	if !ok {
		return false, invalid("key %q holds a %s, which cannot be copied", src, t.Type)
	}
	read := &messages.DataRequest{Op: way.read, Key: src}
	if way.whole {
		read.Start, read.Stop = 0, -1
	}
	r, err := c.do(read)
	if err != nil {
		return false, err
	}
	if _, err := c.do(way.write(dst, r)); err != nil {
		return false, err
	}
	ttl, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_TTL, Key: src})
	if err != nil {
		return false, err
	}
	if ttl.TtlMs > 0 {
		if _, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_EXPIRE, Key: dst, TtlMs: ttl.TtlMs}); err != nil {
			return false, err
		}
	}
	return true, nil
}

// key.rename {source, destination} -> {success, source, destination}: the
// destination is replaced; key.renamenx leaves an existing one and answers
// success false.
func keyRename(nx bool) command {
	return func(c *call) error {
		p, err := xPayload(c, "source", "destination")
		if err != nil {
			return err
		}
		ok := true
		err = c.atomically([]string{p.Source, p.Destination}, func() error {
			if p.Source == p.Destination {
				t, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_TYPE, Key: p.Source})
				if err == nil && t.Type == "none" {
					err = errorf(http.StatusNotFound, messages.CodeNoSuchKey, "key %q does not exist", p.Source)
				}
				return err
			}
			copied, err := copyKey(c, p.Source, p.Destination, !nx)
			var ae *apiError
			if nx && err != nil && asAPIError(err).code == messages.CodeKeyReserved {
				ok = false
				return nil
			} else if err != nil {
				return err
			} else if !copied {
				ae = errorf(http.StatusNotFound, messages.CodeNoSuchKey, "key %q does not exist", p.Source)
				return ae
			}
			_, err = c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Keys: []string{p.Source}})
			return err
		})
		if err != nil {
			return err
		}
		w := c.out
		w.Obj()
		w.Key("success")
		w.Bool(ok)
		w.Key("source")
		w.Str(p.Source)
		w.Key("destination")
		w.Str(p.Destination)
		w.EndObj()
		return nil
	}
}

// key.copy {source, destination, replace?} -> {success, source, destination}
func keyCopy(c *call) error {
	p, err := xPayload(c, "source", "destination")
	if err != nil {
		return err
	}
	ok := false
	err = c.atomically([]string{p.Source, p.Destination}, func() error {
		if p.Source == p.Destination {
			return invalid("source and destination are the same key")
		}
		copied, err := copyKey(c, p.Source, p.Destination, p.Replace)
		if err != nil && asAPIError(err).code == messages.CodeKeyReserved {
			return nil
		}
		ok = copied
		return err
	})
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("success")
	w.Bool(ok)
	w.Key("source")
	w.Str(p.Source)
	w.Key("destination")
	w.Str(p.Destination)
	w.EndObj()
	return nil
}

// key.randomkey {} -> {key}: a random live key (null when there is none),
// drawn from a page of the keyspace after a random cursor.
func keyRandom(c *call) error {
	cursor := strconv.FormatUint(rand.Uint64()%(1<<62), 36)
	var key *string
	for _, cur := range []string{cursor, ""} {
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_SCAN, Cursor: cur, Count: 16})
		if err != nil {
			return err
		}
		if len(rep.Keys) > 0 {
			k := rep.Keys[rand.IntN(len(rep.Keys))]
			key = &k
			break
		}
	}
	c.out.Obj()
	c.out.Key("key")
	if key == nil {
		c.out.Null()
	} else {
		c.out.Str(*key)
	}
	c.out.EndObj()
	return nil
}

// hash.incrbyfloat {key, field, increment} -> {value}
func hashIncrByFloat(c *call) error {
	p, err := xPayload(c, "key", "field")
	if err != nil {
		return err
	}
	if p.Increment == nil {
		return invalid("increment is required")
	}
	var v float64
	err = c.atomically([]string{p.Key}, func() error {
		r, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_GET, Key: p.Key, Field: p.Field})
		if err != nil {
			return err
		}
		if r.Found {
			if v, err = strconv.ParseFloat(text(r.Value), 64); err != nil {
				return errorf(http.StatusBadRequest, messages.CodeNotFloat, "field %q holds %s, not a number", p.Field, r.Value)
			}
		}
		v += *p.Increment
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return errorf(http.StatusBadRequest, messages.CodeOverflow, "the result is not a finite number")
		}
		_, err = c.do(&messages.DataRequest{Op: messages.DataOp_HASH_SET, Key: p.Key,
			Pairs: []*messages.Pair{{Key: p.Field, Value: strconv.AppendFloat(nil, v, 'g', -1, 64)}}})
		return err
	})
	if err != nil {
		return err
	}
	c.out.Obj()
	c.out.Key("value")
	c.out.Float(v)
	c.out.EndObj()
	return nil
}

// hash.setnx {key, field, value} -> {created}
func hashSetNX(c *call) error {
	p, err := xPayload(c, "key", "field")
	if err != nil {
		return err
	}
	if absent(p.Value) {
		return invalid("value is required")
	}
	created := false
	err = c.atomically([]string{p.Key}, func() error {
		r, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_EXISTS, Key: p.Key, Field: p.Field})
		if err != nil || r.Found {
			return err
		}
		created = true
		_, err = c.do(&messages.DataRequest{Op: messages.DataOp_HASH_SET, Key: p.Key,
			Pairs: []*messages.Pair{{Key: p.Field, Value: compact(p.Value)}}})
		return err
	})
	if err != nil {
		return err
	}
	return boolReply(c, "created", created)
}

// hash.strlen {key, field} -> {length}
func hashStrlen(c *call) error {
	p, err := xPayload(c, "key", "field")
	if err != nil {
		return err
	}
	r, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_GET, Key: p.Key, Field: p.Field})
	if err != nil {
		return err
	}
	n := 0
	if r.Found {
		n = len(text(r.Value))
	}
	return lenReply(c, n)
}

// hash.randfield {key, count?} -> {fields}: distinct random fields (count
// negative: that many, repeats allowed).
func hashRandField(c *call) error {
	p, err := xPayload(c, "key")
	if err != nil {
		return err
	}
	r, err := c.do(&messages.DataRequest{Op: messages.DataOp_HASH_KEYS, Key: p.Key})
	if err != nil {
		return err
	}
	count := int64(1)
	if p.Count != nil {
		count = *p.Count
	}
	fields := pickRandom(r.Keys, count)
	c.out.Obj()
	c.out.Key("fields")
	c.out.Strs(fields)
	c.out.EndObj()
	return nil
}

// pickRandom draws count distinct items (negative: -count with repeats).
func pickRandom(items []string, count int64) []string {
	if len(items) == 0 || count == 0 {
		return []string{}
	}
	if count < 0 {
		out := make([]string, 0, min(-count, 100000))
		for range min(-count, 100000) {
			out = append(out, items[rand.IntN(len(items))])
		}
		return out
	}
	shuffled := slices.Clone(items)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	return shuffled[:min(int(count), len(shuffled))]
}

// list.lpushx / list.rpushx {key, values} -> {length, key}: pushes only
// onto an existing list.
func listPushX(op messages.DataOp) command {
	return func(c *call) error {
		p, err := xPayload(c, "key")
		if err != nil {
			return err
		}
		values, err := rawList("values", p.Values)
		if err != nil {
			return err
		}
		var n int64
		err = c.atomically([]string{p.Key}, func() error {
			r, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_LEN, Key: p.Key})
			if err != nil || r.Integer == 0 {
				return err
			}
			r, err = c.do(&messages.DataRequest{Op: op, Key: p.Key, Values: values})
			if err == nil {
				n = r.Integer
			}
			return err
		})
		if err != nil {
			return err
		}
		c.out.Obj()
		c.out.Key("length")
		c.out.Int(n)
		c.out.Key("key")
		c.out.Str(p.Key)
		c.out.EndObj()
		return nil
	}
}

// rawList reads an array of JSON values.
func rawList(name string, raw json.RawMessage) ([][]byte, error) {
	var vs []json.RawMessage
	if absent(raw) || json.Unmarshal(raw, &vs) != nil || len(vs) == 0 {
		return nil, invalid("%s must be a non-empty array", name)
	}
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = compact(v)
	}
	return out, nil
}

// listMove pops from source (its right end unless fromLeft) and pushes onto
// destination (its left end when toLeft) -> {value, source, destination};
// value null when source is empty.
func listMove(fromLeft, toLeft bool) command {
	return func(c *call) error {
		p, err := xPayload(c, "source", "destination")
		if err != nil {
			return err
		}
		return moveElement(c, p, fromLeft, toLeft)
	}
}

// list.lmove {source, destination, wherefrom|from: LEFT|RIGHT, whereto|to}
func listLMove(c *call) error {
	p, err := xPayload(c, "source", "destination")
	if err != nil {
		return err
	}
	side := func(a, b, def string) (bool, error) {
		switch cmp.Or(a, b, def) {
		case "LEFT", "left":
			return true, nil
		case "RIGHT", "right":
			return false, nil
		}
		return false, invalid("a side must be LEFT or RIGHT, not %q", cmp.Or(a, b))
	}
	from, err := side(p.WhereFrom, p.From, "LEFT")
	if err != nil {
		return err
	}
	to, err := side(p.WhereTo, p.To, "RIGHT")
	if err != nil {
		return err
	}
	return moveElement(c, p, from, to)
}

func moveElement(c *call, p *xArgs, fromLeft, toLeft bool) error {
	var value []byte
	err := c.atomically([]string{p.Source, p.Destination}, func() error {
		if t, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_TYPE, Key: p.Destination}); err != nil {
			return err
		} else if t.Type != "none" && t.Type != "list" {
			return replyError(messages.CodeWrongType, "key \""+p.Destination+"\" holds a "+t.Type+", not a list")
		}
		pop := messages.DataOp_LIST_RPOP
		if fromLeft {
			pop = messages.DataOp_LIST_LPOP
		}
		r, err := c.do(&messages.DataRequest{Op: pop, Key: p.Source, Count: 1})
		if err != nil || len(r.Values) == 0 {
			return err
		}
		value = r.Values[0]
		push := messages.DataOp_LIST_RPUSH
		if toLeft {
			push = messages.DataOp_LIST_LPUSH
		}
		_, err = c.do(&messages.DataRequest{Op: push, Key: p.Destination, Values: [][]byte{value}})
		return err
	})
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("value")
	w.Raw(value)
	w.Key("source")
	w.Str(p.Source)
	w.Key("destination")
	w.Str(p.Destination)
	w.EndObj()
	return nil
}

// list.linsert {key, before|position: "BEFORE"|"AFTER", pivot, value} ->
// {length, key}: -1 when the pivot is not there, 0 when there is no list.
func listInsert(c *call) error {
	p, err := xPayload(c, "key")
	if err != nil {
		return err
	}
	if absent(p.Pivot) || absent(p.Value) {
		return invalid("pivot and value are required")
	}
	before := p.Before == nil || *p.Before
	switch p.Position {
	case "":
	case "BEFORE", "before":
		before = true
	case "AFTER", "after":
		before = false
	default:
		return invalid("position must be BEFORE or AFTER, not %q", p.Position)
	}
	pivot, value := compact(p.Pivot), compact(p.Value)
	var n int64
	err = c.atomically([]string{p.Key}, func() error {
		r, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_RANGE, Key: p.Key, Start: 0, Stop: -1})
		if err != nil || len(r.Values) == 0 {
			return err
		}
		i := slices.IndexFunc(r.Values, func(v []byte) bool { return bytes.Equal(v, pivot) })
		if i < 0 {
			n = -1
			return nil
		}
		if !before {
			i++
		}
		// Rebuild the tail after the insertion point: trim it off, then
		// push the new value and the old tail back.
		tail := r.Values[i:]
		if i == 0 {
			_, err = c.do(&messages.DataRequest{Op: messages.DataOp_LIST_LPUSH, Key: p.Key, Values: [][]byte{value}})
			n = int64(len(r.Values) + 1)
			return err
		}
		if _, err = c.do(&messages.DataRequest{Op: messages.DataOp_LIST_TRIM, Key: p.Key, Start: 0, Stop: int64(i - 1)}); err != nil {
			return err
		}
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_RPUSH, Key: p.Key, Values: append([][]byte{value}, tail...)})
		if err == nil {
			n = rep.Integer
		}
		return err
	})
	if err != nil {
		return err
	}
	c.out.Obj()
	c.out.Key("length")
	c.out.Int(n)
	c.out.Key("key")
	c.out.Str(p.Key)
	c.out.EndObj()
	return nil
}

// list.lpos {key, element|value, rank?} -> {position, key}: the index of
// the rank-th match (negative rank: from the end), null when none.
func listPos(c *call) error {
	p, err := xPayload(c, "key")
	if err != nil {
		return err
	}
	el := p.Element
	if absent(el) {
		el = p.Value
	}
	if absent(el) {
		return invalid("element is required")
	}
	want := compact(el)
	rank := int64(1)
	if p.Rank != nil {
		rank = *p.Rank
	}
	if rank == 0 {
		return invalid("rank must not be 0")
	}
	r, err := c.do(&messages.DataRequest{Op: messages.DataOp_LIST_RANGE, Key: p.Key, Start: 0, Stop: -1})
	if err != nil {
		return err
	}
	pos := -1
	seen := int64(0)
	for k := range r.Values {
		i := k
		if rank < 0 {
			i = len(r.Values) - 1 - k
		}
		if bytes.Equal(r.Values[i], want) {
			if seen++; seen == max(rank, -rank) {
				pos = i
				break
			}
		}
	}
	c.out.Obj()
	c.out.Key("position")
	if pos < 0 {
		c.out.Null()
	} else {
		c.out.Int(int64(pos))
	}
	c.out.Key("key")
	c.out.Str(p.Key)
	c.out.EndObj()
	return nil
}

// set.move {source, destination, member} -> {moved}
func setMove(c *call) error {
	p, err := xPayload(c, "source", "destination", "member")
	if err != nil {
		return err
	}
	moved := false
	err = c.atomically([]string{p.Source, p.Destination}, func() error {
		if t, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_TYPE, Key: p.Destination}); err != nil {
			return err
		} else if t.Type != "none" && t.Type != "set" {
			return replyError(messages.CodeWrongType, "key \""+p.Destination+"\" holds a "+t.Type+", not a set")
		}
		r, err := c.do(&messages.DataRequest{Op: messages.DataOp_SET_REM, Key: p.Source, Members: []string{p.Member}})
		if err != nil || r.Integer == 0 {
			return err
		}
		moved = true
		_, err = c.do(&messages.DataRequest{Op: messages.DataOp_SET_ADD, Key: p.Destination, Members: []string{p.Member}})
		return err
	})
	if err != nil {
		return err
	}
	return boolReply(c, "moved", moved)
}

// setAlgebra: set.inter/union/diff {keys} -> {members}; the *store forms
// {destination, keys} -> {count, destination} replace destination.
func setAlgebra(op byte, store bool) command {
	return func(c *call) error {
		p, err := xPayload(c)
		if err != nil {
			return err
		}
		if len(p.Keys) == 0 {
			return invalid("keys is required")
		}
		if store && p.Destination == "" {
			return invalid("destination is required")
		}
		var result []string
		run := func() error {
			var acc map[string]bool
			for i, k := range p.Keys {
				r, err := c.do(&messages.DataRequest{Op: messages.DataOp_SET_MEMBERS, Key: k})
				if err != nil {
					return err
				}
				cur := make(map[string]bool, len(r.Keys))
				for _, m := range r.Keys {
					cur[m] = true
				}
				switch {
				case i == 0:
					acc = cur
				case op == '&':
					for m := range acc {
						if !cur[m] {
							delete(acc, m)
						}
					}
				case op == '|':
					for m := range cur {
						acc[m] = true
					}
				default:
					for m := range cur {
						delete(acc, m)
					}
				}
			}
			for m := range acc {
				result = append(result, m)
			}
			slices.Sort(result)
			if !store {
				return nil
			}
			if _, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Keys: []string{p.Destination}}); err != nil {
				return err
			}
			if len(result) > 0 {
				_, err := c.do(&messages.DataRequest{Op: messages.DataOp_SET_ADD, Key: p.Destination, Members: result})
				return err
			}
			return nil
		}
		if store {
			err = c.atomically(append(slices.Clone(p.Keys), p.Destination), run)
		} else {
			err = c.atomically(p.Keys, run)
		}
		if err != nil {
			return err
		}
		w := c.out
		w.Obj()
		if store {
			w.Key("count")
			w.Int(int64(len(result)))
			w.Key("destination")
			w.Str(p.Destination)
		} else {
			w.Key("members")
			w.Strs(result)
		}
		w.EndObj()
		return nil
	}
}

// writeScored writes {members: [{member, score}], count, key}.
func writeScored(c *call, key string, sm []*messages.ScoredMember) {
	w := c.out
	w.Obj()
	w.Key("members")
	w.Arr()
	for _, m := range sm {
		w.Obj()
		w.Key("member")
		w.Str(m.Member)
		w.Key("score")
		w.Float(m.Score)
		w.EndObj()
	}
	w.EndArr()
	w.Key("count")
	w.Int(int64(len(sm)))
	w.Key("key")
	w.Str(key)
	w.EndObj()
}

// sortedset.zpopmin / zpopmax {key, count = 1} -> {members, count, key}
func zpop(highest bool) command {
	return func(c *call) error {
		p, err := xPayload(c, "key")
		if err != nil {
			return err
		}
		count := int64(1)
		if p.Count != nil {
			count = *p.Count
		}
		if count < 0 {
			return invalid("count must not be negative")
		}
		var popped []*messages.ScoredMember
		err = c.atomically([]string{p.Key}, func() error {
			if count == 0 {
				return nil
			}
			op := messages.DataOp_ZSET_RANGE
			if highest {
				op = messages.DataOp_ZSET_REVRANGE
			}
			r, err := c.do(&messages.DataRequest{Op: op, Key: p.Key, Start: 0, Stop: count - 1})
			if err != nil || len(r.Scored) == 0 {
				return err
			}
			popped = r.Scored
			members := make([]string, len(popped))
			for i, m := range popped {
				members[i] = m.Member
			}
			_, err = c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_REM, Key: p.Key, Members: members})
			return err
		})
		if err != nil {
			return err
		}
		writeScored(c, p.Key, popped)
		return nil
	}
}

// removeScored removes the members of a range read by read.
func removeScored(c *call, key string, read *messages.DataRequest) (int64, error) {
	var n int64
	err := c.atomically([]string{key}, func() error {
		r, err := c.do(read)
		if err != nil || len(r.Scored) == 0 {
			return err
		}
		members := make([]string, len(r.Scored))
		for i, m := range r.Scored {
			members[i] = m.Member
		}
		rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_REM, Key: key, Members: members})
		if err == nil {
			n = rep.Integer
		}
		return err
	})
	return n, err
}

func removedReply(c *call, key string, n int64) error {
	c.out.Obj()
	c.out.Key("removed")
	c.out.Int(n)
	c.out.Key("key")
	c.out.Str(key)
	c.out.EndObj()
	return nil
}

// sortedset.zremrangebyrank {key, start, stop} -> {removed, key}
func zremRangeByRank(c *call) error {
	p, err := xPayload(c, "key")
	if err != nil {
		return err
	}
	if p.Start == nil || p.Stop == nil {
		return invalid("start and stop are required")
	}
	n, err := removeScored(c, p.Key, &messages.DataRequest{Op: messages.DataOp_ZSET_RANGE, Key: p.Key, Start: *p.Start, Stop: *p.Stop})
	if err != nil {
		return err
	}
	return removedReply(c, p.Key, n)
}

// sortedset.zremrangebyscore {key, min, max} -> {removed, key}
func zremRangeByScore(c *call) error {
	p, err := xPayload(c, "key")
	if err != nil {
		return err
	}
	lo, err := boundArg("min", p.Min, math.Inf(-1))
	if err != nil {
		return err
	}
	hi, err := boundArg("max", p.Max, math.Inf(1))
	if err != nil {
		return err
	}
	n, err := removeScored(c, p.Key, &messages.DataRequest{Op: messages.DataOp_ZSET_RANGEBYSCORE, Key: p.Key, Min: lo, Max: hi})
	if err != nil {
		return err
	}
	return removedReply(c, p.Key, n)
}

// sortedset.zmscore {key, members} -> {scores: [score | null], key}
func zmscore(c *call) error {
	p, err := xPayload(c, "key")
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("scores")
	w.Arr()
	for _, m := range p.Members {
		r, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_SCORE, Key: p.Key, Member: m})
		if err != nil {
			return err
		}
		if r.Found {
			w.Float(r.Number)
		} else {
			w.Null()
		}
	}
	w.EndArr()
	w.Key("key")
	w.Str(p.Key)
	w.EndObj()
	return nil
}

// lexBound parses "-", "+", "[a" (inclusive) or "(a" (exclusive).
func lexBound(raw json.RawMessage, def string) (s string, incl, inf bool, err error) {
	v := def
	if !absent(raw) {
		if json.Unmarshal(raw, &v) != nil {
			return "", false, false, invalid("a lex bound must be a string")
		}
	}
	switch {
	case v == "-" || v == "+":
		return v, true, true, nil
	case len(v) > 0 && v[0] == '[':
		return v[1:], true, false, nil
	case len(v) > 0 && v[0] == '(':
		return v[1:], false, false, nil
	}
	return "", false, false, invalid("a lex bound is -, +, [value or (value, not %q", v)
}

// sortedset.zrangebylex {key, min = "-", max = "+"} -> {members, count, key}:
// members by name, for a set whose members share one score.
func zrangeByLex(c *call) error {
	p, err := xPayload(c, "key")
	if err != nil {
		return err
	}
	lo, loIn, loInf, err := lexBound(p.Min, "-")
	if err != nil {
		return err
	}
	hi, hiIn, hiInf, err := lexBound(p.Max, "+")
	if err != nil {
		return err
	}
	r, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_RANGE, Key: p.Key, Start: 0, Stop: -1})
	if err != nil {
		return err
	}
	var out []*messages.ScoredMember
	for _, m := range r.Scored {
		if !loInf || lo == "+" {
			if lo == "+" || m.Member < lo || (!loIn && m.Member == lo) {
				continue
			}
		}
		if !hiInf || hi == "-" {
			if hi == "-" || m.Member > hi || (!hiIn && m.Member == hi) {
				continue
			}
		}
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(a, b *messages.ScoredMember) int { return cmp.Compare(a.Member, b.Member) })
	writeScored(c, p.Key, out)
	return nil
}

// zstore: sortedset.zinterstore / zunionstore / zdiffstore {destination,
// keys, weights?, aggregate = SUM|MIN|MAX} -> {count, destination}
func zstore(op byte) command {
	return func(c *call) error {
		p, err := xPayload(c, "destination")
		if err != nil {
			return err
		}
		if len(p.Keys) == 0 {
			return invalid("keys is required")
		}
		if len(p.Weights) > 0 && len(p.Weights) != len(p.Keys) {
			return invalid("weights must have one weight per key")
		}
		agg := func(a, b float64) float64 { return a + b }
		switch p.Aggregate {
		case "", "SUM", "sum":
		case "MIN", "min":
			agg = math.Min
		case "MAX", "max":
			agg = math.Max
		default:
			return invalid("aggregate must be SUM, MIN or MAX, not %q", p.Aggregate)
		}
		var count int
		err = c.atomically(append(slices.Clone(p.Keys), p.Destination), func() error {
			var acc map[string]float64
			for i, k := range p.Keys {
				r, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_RANGE, Key: k, Start: 0, Stop: -1})
				if err != nil {
					return err
				}
				wt := 1.0
				if len(p.Weights) > 0 {
					wt = p.Weights[i]
				}
				cur := make(map[string]float64, len(r.Scored))
				for _, m := range r.Scored {
					cur[m.Member] = m.Score * wt
				}
				switch {
				case i == 0:
					acc = cur
				case op == '&':
					for m, s := range acc {
						if t, ok := cur[m]; ok {
							acc[m] = agg(s, t)
						} else {
							delete(acc, m)
						}
					}
				case op == '|':
					for m, t := range cur {
						if s, ok := acc[m]; ok {
							acc[m] = agg(s, t)
						} else {
							acc[m] = t
						}
					}
				default:
					for m := range cur {
						delete(acc, m)
					}
				}
			}
			if _, err := c.do(&messages.DataRequest{Op: messages.DataOp_KV_DEL, Keys: []string{p.Destination}}); err != nil {
				return err
			}
			count = len(acc)
			if count == 0 {
				return nil
			}
			scored := make([]*messages.ScoredMember, 0, len(acc))
			for m, s := range acc {
				if math.IsNaN(s) {
					s = 0
				}
				scored = append(scored, &messages.ScoredMember{Member: m, Score: s})
			}
			_, err := c.do(&messages.DataRequest{Op: messages.DataOp_ZSET_ADD, Key: p.Destination, Scored: scored})
			return err
		})
		if err != nil {
			return err
		}
		c.out.Obj()
		c.out.Key("count")
		c.out.Int(int64(count))
		c.out.Key("destination")
		c.out.Str(p.Destination)
		c.out.EndObj()
		return nil
	}
}
