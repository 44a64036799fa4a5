package synaprpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/troupe-run/troupe/gateway/synap"
)

// The native commands, each translated into the data door's command of the
// same meaning (one implementation of each command: synap.Server's), and
// its reply into the native reply the original gives. Arguments come as the
// SDKs send them: numbers as Int or as their text, values as Str or Bytes.

// argv is a request's arguments.
type argv []any

func (a argv) str(i int) (string, string) {
	if i >= len(a) {
		return "", "ERR missing argument " + strconv.Itoa(i)
	}
	switch v := a[i].(type) {
	case string:
		return v, ""
	case []byte:
		if utf8.Valid(v) {
			return string(v), ""
		}
		return "", "ERR argument " + strconv.Itoa(i) + " is not valid UTF-8"
	case int64:
		return strconv.FormatInt(v, 10), ""
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), ""
	}
	return "", "ERR argument " + strconv.Itoa(i) + " must be a string"
}

func (a argv) int(i int) (int64, string) {
	if i >= len(a) {
		return 0, "ERR missing argument " + strconv.Itoa(i)
	}
	switch v := a[i].(type) {
	case int64:
		return v, ""
	case float64:
		if v == math.Trunc(v) {
			return int64(v), ""
		}
	case bool:
		if v {
			return 1, ""
		}
		return 0, ""
	case string, []byte:
		s, _ := a.str(i)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, ""
		}
	}
	return 0, "ERR argument " + strconv.Itoa(i) + " is not an integer"
}

func (a argv) float(i int) (float64, string) {
	if i >= len(a) {
		return 0, "ERR missing argument " + strconv.Itoa(i)
	}
	switch v := a[i].(type) {
	case int64:
		return float64(v), ""
	case float64:
		return v, ""
	case string, []byte:
		s, _ := a.str(i)
		switch strings.ToLower(s) {
		case "-inf":
			return math.Inf(-1), ""
		case "+inf", "inf":
			return math.Inf(1), ""
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, ""
		}
	}
	return 0, "ERR argument " + strconv.Itoa(i) + " is not a float"
}

// strs returns the arguments from i on as strings.
func (a argv) strs(from int) ([]string, string) {
	out := make([]string, 0, max(len(a)-from, 0))
	for i := from; i < len(a); i++ {
		s, e := a.str(i)
		if e != "" {
			return nil, e
		}
		out = append(out, s)
	}
	return out, ""
}

// value returns argument i as a value to store: text as a JSON string (the
// SDKs send non-text values as their JSON text, which comes back as sent),
// bytes that are not UTF-8 as an array of byte values, as the HTTP door
// keeps an SDK's bytes; numbers and booleans as themselves.
func (a argv) value(i int) (any, string) {
	if i >= len(a) {
		return nil, "ERR missing argument " + strconv.Itoa(i)
	}
	switch v := a[i].(type) {
	case []byte:
		if utf8.Valid(v) {
			return string(v), ""
		}
		ns := make([]int, len(v))
		for j, b := range v {
			ns[j] = int(b)
		}
		return ns, ""
	case nil, string, int64, float64, bool:
		return v, ""
	case []any:
		// An SDK's array of byte values, as the HTTP door takes it.
		ns := make([]int, len(v))
		for j, x := range v {
			n, ok := x.(int64)
			if !ok || n < 0 || n > 255 {
				return nil, "ERR argument " + strconv.Itoa(i) + " must be a string or bytes"
			}
			ns[j] = int(n)
		}
		return ns, ""
	}
	return nil, "ERR argument " + strconv.Itoa(i) + " must be a string or bytes"
}

// values returns the arguments from i on as values to store.
func (a argv) values(from int) ([]any, string) {
	out := make([]any, 0, max(len(a)-from, 0))
	for i := from; i < len(a); i++ {
		v, e := a.value(i)
		if e != "" {
			return nil, e
		}
		out = append(out, v)
	}
	return out, ""
}

// obj is a command's JSON payload.
type obj = map[string]any

// exec runs a data command and returns its reply payload decoded (numbers
// as json.Number), or the error text.
func (c *conn) exec(ctx context.Context, name string, payload obj) (obj, string) {
	v, e := c.execAny(ctx, name, payload)
	if e != "" {
		return nil, e
	}
	m, _ := v.(obj)
	return m, ""
}

func (c *conn) execAny(ctx context.Context, name string, payload obj) (any, string) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, "ERR " + err.Error()
	}
	rep, err := c.s.b.Commands.Exec(ctx, name, raw)
	if err != nil {
		return nil, errText(err)
	}
	d := json.NewDecoder(bytes.NewReader(rep))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, "ERR " + err.Error()
	}
	return v, ""
}

// errText is the wire's text of a command's failure.
func errText(err error) string {
	var ce *synap.CommandError
	if errors.As(err, &ce) {
		return errPrefix(ce.Code) + ce.Message
	}
	return "ERR " + err.Error()
}

// native converts a decoded JSON value into a wire value: integers as Int,
// other numbers as Float, objects as Maps (keys sorted: JSON objects have
// no order the wire could keep).
func native(v any) any {
	switch v := v.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		f, _ := v.Float64()
		return f
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = native(x)
		}
		return out
	case obj:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m := make(Map, 0, len(v))
		for _, k := range keys {
			m = append(m, Pair{k, native(v[k])})
		}
		return m
	}
	return v
}

// text returns a stored value as the original returns it: text as itself,
// any other value as its JSON text.
func text(v any) any {
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		return v
	case json.Number:
		return v.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func texts(v any) []any {
	vs, _ := v.([]any)
	out := make([]any, len(vs))
	for i, x := range vs {
		out[i] = text(x)
	}
	return out
}

func num(v any) int64 {
	switch v := v.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		f, _ := v.Float64()
		return int64(f)
	case bool:
		if v {
			return 1
		}
	}
	return 0
}

func flt(v any) any {
	if n, ok := v.(json.Number); ok {
		f, _ := n.Float64()
		return f
	}
	return nil
}

func truth(v any) bool { b, _ := v.(bool); return b }

// scored flattens [{member, score}] into [member, score, ...], as the
// original's ZRANGE WITHSCORES; without scores, the members only.
func scored(v any, withScores bool) []any {
	ms, _ := v.([]any)
	out := make([]any, 0, 2*len(ms))
	for _, m := range ms {
		o, _ := m.(obj)
		out = append(out, text(o["member"]))
		if withScores {
			out = append(out, flt(o["score"]))
		}
	}
	return out
}

// nativeFunc runs one native command.
type nativeFunc func(c *conn, ctx context.Context, a argv) (any, string)

// natives are the commands served, by upper-case name.
var natives map[string]nativeFunc

func init() {
	natives = map[string]nativeFunc{
		"SUBSCRIBE":   (*conn).subscribe,
		"UNSUBSCRIBE": (*conn).unsubscribe,
		"TXQUEUE":     (*conn).txqueue,
		"KV.WATCH":    (*conn).watch,
		"KV.UNWATCH":  (*conn).unwatch,
	}
	for _, t := range []map[string]nativeFunc{kvNatives, collectionNatives, geoNatives, messagingNatives, txnNatives,
		blockingNatives, scanNatives, scriptNatives} {
		for name, f := range t {
			natives[name] = f
		}
	}
}

// run runs a native command.
func (c *conn) run(ctx context.Context, name string, a argv) (any, string) {
	f, ok := natives[name]
	if !ok {
		return nil, "ERR unknown command '" + name + "'"
	}
	return f(c, ctx, a)
}

// simple builds a native command from a payload builder and a reply
// converter, for the many commands that need nothing else.
func simple(cmd string, build func(a argv) (obj, string), conv func(rep obj) any) nativeFunc {
	return func(c *conn, ctx context.Context, a argv) (any, string) {
		p, e := build(a)
		if e != "" {
			return nil, e
		}
		rep, e := c.exec(ctx, cmd, p)
		if e != "" {
			return nil, e
		}
		return conv(rep), ""
	}
}

// key1 builds {key} from the first argument.
func key1(a argv) (obj, string) {
	k, e := a.str(0)
	return obj{"key": k}, e
}

// keyAnd builds {key, field: argument 1 as a string}.
func keyAnd(field string) func(a argv) (obj, string) {
	return func(a argv) (obj, string) {
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		v, e := a.str(1)
		return obj{"key": k, field: v}, e
	}
}

// keyInt builds {key, field: argument 1 as an integer}.
func keyInt(field string) func(a argv) (obj, string) {
	return func(a argv) (obj, string) {
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		n, e := a.int(1)
		return obj{"key": k, field: n}, e
	}
}

// keyValues builds {key, field: the arguments from 1 on, as values}.
func keyValues(field string) func(a argv) (obj, string) {
	return func(a argv) (obj, string) {
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		vs, e := a.values(1)
		return obj{"key": k, field: vs}, e
	}
}

// keyStrs builds {key, field: the arguments from 1 on, as strings}.
func keyStrs(field string) func(a argv) (obj, string) {
	return func(a argv) (obj, string) {
		k, e := a.str(0)
		if e != "" {
			return nil, e
		}
		vs, e := a.strs(1)
		return obj{"key": k, field: vs}, e
	}
}

// noArgs builds an empty payload.
func noArgs(argv) (obj, string) { return obj{}, "" }

func ok(obj) any { return "OK" }

func field(name string) func(rep obj) any {
	return func(rep obj) any { return native(rep[name]) }
}

func intField(name string) func(rep obj) any {
	return func(rep obj) any { return num(rep[name]) }
}

func boolField(name string) func(rep obj) any {
	return func(rep obj) any { return truth(rep[name]) }
}

func textsField(name string) func(rep obj) any {
	return func(rep obj) any { return texts(rep[name]) }
}

func whole(rep obj) any { return native(rep) }
