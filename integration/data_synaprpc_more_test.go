package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/troupe-run/troupe/gateway/synaprpc"
)

// The SynapRPC door's blocking pops, collection cursors, FLUSHALL and
// KV.WATCH: the original serves them on its binary port; here they run
// the data door's own commands and the keyspace's waiters and watchers.

// send writes a request without reading its reply.
func (c *rpcClient) send(cmd string, args ...any) uint32 {
	c.t.Helper()
	c.id++
	if _, err := c.nc.Write(synaprpc.EncodeRequest(c.id, cmd, args)); err != nil {
		c.t.Fatal(err)
	}
	return c.id
}

// reply reads the reply to request id.
func (c *rpcClient) reply(id uint32) (any, string) {
	c.t.Helper()
	got, v, e := c.next()
	if got != id {
		c.t.Fatalf("reply to request %d, want %d", got, id)
	}
	return v, e
}

func TestSynapRPCBlockingPops(t *testing.T) {
	s := startServer(t, "--fsync=always")
	c, other := s.rpc(), s.rpc()

	// Something there: answered at once, the first key with something.
	other.is(int64(2), "RPUSH", "jobs", "a", "b")
	c.is([]any{"jobs", "a"}, "BLPOP", "empty", "jobs", int64(1))
	c.is([]any{"jobs", "b"}, "BRPOP", "jobs", int64(0))
	// Nothing there within the timeout: Null (a fraction of a second is taken).
	c.is(nil, "BLPOP", "jobs", "0.05")

	// Blocked until a push over HTTP; the connection's next command waits
	// behind it, as commands run in order.
	id := c.send("BLPOP", "jobs", int64(0))
	next := c.send("PING")
	s.payload("list.rpush", map[string]any{"key": "jobs", "values": []any{"late"}})
	if v, e := c.reply(id); e != "" || fmt.Sprint(v) != "[jobs late]" {
		t.Fatalf("BLPOP woken by a push: %#v %q", v, e)
	}
	if v, _ := c.reply(next); v != "PONG" {
		t.Fatalf("PING after BLPOP: %#v", v)
	}
	other.is(int64(0), "LLEN", "jobs")

	// BRPOPLPUSH woken by a push over the door.
	id = c.send("BRPOPLPUSH", "src", "dst", int64(0))
	other.is(int64(1), "LPUSH", "src", "x")
	if v, e := c.reply(id); v != "x" || e != "" {
		t.Fatalf("BRPOPLPUSH: %#v %q", v, e)
	}
	other.is([]any{"x"}, "LRANGE", "dst", int64(0), int64(-1))

	// Sorted sets.
	id = c.send("BZPOPMIN", "board", int64(0))
	other.is(int64(2), "ZADD", "board", "2", "bob", "1", "ann")
	v, e := c.reply(id)
	if e != "" || fmt.Sprint(v) != "[board ann 1]" && fmt.Sprint(v) != "[board bob 2]" {
		t.Fatalf("BZPOPMIN woken by ZADD: %#v %q", v, e)
	}
	c.is(int64(1), "ZCARD", "board")
	if _, e := c.call("ZADD", "board", "5", "cid"); e != "" {
		t.Fatal(e)
	}
	c.is([]any{"board", "cid", 5.0}, "BZPOPMAX", "board", int64(1))

	// A key of another type, and bad timeouts.
	other.is(int64(1), "HSET", "h", "f", "v")
	if _, e := c.call("BLPOP", "h", int64(1)); !strings.HasPrefix(e, "WRONGTYPE ") {
		t.Fatalf("BLPOP on a hash: %q", e)
	}
	if _, e := c.call("BLPOP", "jobs", int64(-1)); e != "ERR timeout is negative" {
		t.Fatalf("negative timeout: %q", e)
	}
	if _, e := c.call("BRPOP", "jobs"); !strings.HasPrefix(e, "ERR ") {
		t.Fatalf("BRPOP without a timeout: %q", e)
	}

	// A blocked client that goes away pops nothing more: once the server
	// has noticed, what is pushed stays.
	gone := s.rpc()
	gone.send("BLPOP", "left", int64(0))
	gone.nc.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		other.is(int64(1), "RPUSH", "left", "v")
		if v, _ := other.call("LPOP", "left"); v == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a blocked client that went away still pops")
		}
	}

	// What a blocking pop took is durable, as any pop.
	s.kill9()
	s.restart()
	c = s.rpc()
	c.is([]any{"x"}, "LRANGE", "dst", int64(0), int64(-1))
	c.is(int64(0), "LLEN", "src")
}

func TestSynapRPCScansAndFlush(t *testing.T) {
	s := startServer(t)
	c := s.rpc()
	const n = 300
	fields := map[string]any{}
	var members []any
	zargs := []any{"z"}
	for i := range n {
		fields[fmt.Sprintf("f%03d", i)] = fmt.Sprint(i)
		members = append(members, fmt.Sprintf("m%03d", i))
		zargs = append(zargs, fmt.Sprint(i), fmt.Sprintf("m%03d", i))
	}
	s.payload("hash.mset", map[string]any{"key": "h", "fields": fields})
	s.payload("set.add", map[string]any{"key": "s", "members": members})
	c.is(int64(n), "ZADD", zargs...)

	// Each scan returns every element exactly once, in pages, whatever the
	// page size.
	scanAll := func(cmd, key string, count int64, match ...any) map[string]any {
		t.Helper()
		seen := map[string]any{}
		cursor := int64(0)
		for pages := 0; ; pages++ {
			if pages > n {
				t.Fatalf("%s: the scan does not end", cmd)
			}
			args := append([]any{key, cursor, "COUNT", count}, match...)
			v, e := c.call(cmd, args...)
			page, ok := v.([]any)
			if e != "" || !ok || len(page) != 2 {
				t.Fatalf("%s %v: %#v %q", cmd, args, v, e)
			}
			switch els := page[1].(type) {
			case synaprpc.Map:
				for _, p := range els {
					if _, dup := seen[p.K.(string)]; dup {
						t.Fatalf("%s: %v came twice", cmd, p.K)
					}
					seen[p.K.(string)] = p.V
				}
			case []any:
				for _, m := range els {
					if _, dup := seen[m.(string)]; dup {
						t.Fatalf("%s: %v came twice", cmd, m)
					}
					seen[m.(string)] = nil
				}
			default:
				t.Fatalf("%s: page %#v", cmd, page[1])
			}
			if cursor = page[0].(int64); cursor == 0 {
				return seen
			}
		}
	}
	for _, count := range []int64{7, 50, 1000} {
		if got := scanAll("HSCAN", "h", count); len(got) != n || got["f042"] != "42" {
			t.Fatalf("HSCAN COUNT %d: %d fields, f042=%#v", count, len(got), got["f042"])
		}
		if got := scanAll("SSCAN", "s", count); len(got) != n {
			t.Fatalf("SSCAN COUNT %d: %d members", count, len(got))
		}
		if got := scanAll("ZSCAN", "z", count); len(got) != n || got["m007"] != 7.0 {
			t.Fatalf("ZSCAN COUNT %d: %d members, m007=%#v", count, len(got), got["m007"])
		}
	}
	if got := scanAll("HSCAN", "h", 20, "MATCH", "f2?5"); len(got) != 10 || got["f295"] != "295" {
		t.Fatalf("HSCAN MATCH f2?5: %v", got)
	}
	c.is([]any{int64(0), []any{}}, "SSCAN", "missing", int64(0))
	if _, e := c.call("HSCAN", "h", int64(0), "LIMIT", int64(3)); e != "ERR syntax error" {
		t.Fatalf("HSCAN with an unknown option: %q", e)
	}
	if _, e := c.call("SSCAN", "h", int64(0)); !strings.HasPrefix(e, "WRONGTYPE ") {
		t.Fatalf("SSCAN of a hash: %q", e)
	}

	// FLUSHALL deletes every key of every type, past a page of the scan.
	for i := range 2500 {
		if i%500 == 0 {
			pairs := map[string]any{}
			for j := i; j < i+500; j++ {
				pairs[fmt.Sprintf("k%04d", j)] = j
			}
			s.payload("kv.mset", map[string]any{"pairs": pairs})
		}
	}
	c.is(int64(2503), "DBSIZE")
	c.is("OK", "FLUSHALL")
	c.is(int64(0), "DBSIZE")
	c.is(nil, "GET", "k0001")
	c.is(int64(0), "HLEN", "h")
	c.is("OK", "FLUSHDB", "ASYNC")
	if _, e := c.call("FLUSHALL", "NOW"); e != "ERR syntax error" {
		t.Fatalf("FLUSHALL NOW: %q", e)
	}
}

func TestSynapRPCWatch(t *testing.T) {
	s := startServer(t)
	w, c := s.rpc(), s.rpc()
	v, e := w.call("KV.WATCH", "user:*")
	m, ok := v.(synaprpc.Map)
	if e != "" || !ok || len(m) != 3 || m[1] != (synaprpc.Pair{K: "channel", V: "__watch@0__:user:*"}) ||
		m[2] != (synaprpc.Pair{K: "mode", V: "value"}) {
		t.Fatalf("KV.WATCH: %#v %q", v, e)
	}
	sub := m[0].V

	// A change over HTTP and one over the door come as pushes, in order,
	// with the /kv/ws payload; other keys do not.
	s.payload("kv.set", map[string]any{"key": "other", "value": 1})
	s.payload("kv.set", map[string]any{"key": "user:1", "value": "alice"})
	c.is(int64(1), "DEL", "user:1")
	type change struct {
		Key, Event string
		Version    int
		Value      *string
	}
	push := func() (string, change) {
		t.Helper()
		id, v, e := w.next()
		pm, _ := v.(synaprpc.Map)
		if id != 1<<32-1 || e != "" || len(pm) != 4 {
			t.Fatalf("push: %d %#v %q", id, v, e)
		}
		var ch change
		if err := json.Unmarshal([]byte(pm[1].V.(string)), &ch); err != nil {
			t.Fatalf("push payload %q: %v", pm[1].V, err)
		}
		return pm[0].V.(string), ch
	}
	if topic, ch := push(); topic != "__watch@0__:user:1" || ch.Key != "user:1" || ch.Event != "set" || ch.Version != 1 ||
		ch.Value == nil || *ch.Value != "alice" {
		t.Fatalf("push of kv.set: %s %+v", topic, ch)
	}
	if _, ch := push(); ch.Event != "del" || ch.Value != nil {
		t.Fatalf("push of DEL: %+v", ch)
	}

	// notify: the changes come without their values.
	w.is(synaprpc.Map{{K: "subscriber_id", V: sub}, {K: "channel", V: "__watch@0__:cfg"}, {K: "mode", V: "notify"}},
		"KV.WATCH", "cfg", "notify")
	w.is(int64(1), "KV.UNWATCH", sub, "user:*")
	c.is("OK", "SET", "user:2", "bob")
	c.is("OK", "SET", "cfg", "on")
	if topic, ch := push(); topic != "__watch@0__:cfg" || ch.Event != "set" || ch.Value != nil {
		t.Fatalf("notify push: %s %+v", topic, ch)
	}
	w.is(int64(0), "KV.UNWATCH", sub)
	if _, e := w.call("KV.WATCH", "k", "loud"); !strings.HasPrefix(e, "ERR unknown watch mode") {
		t.Fatalf("KV.WATCH with a bad mode: %q", e)
	}
	if _, e := c.call("KV.UNWATCH", sub); !strings.HasPrefix(e, "ERR unknown subscriber") {
		t.Fatalf("KV.UNWATCH of another connection's watch: %q", e)
	}
}

func TestSynapRPCEval(t *testing.T) {
	s := startServer(t)
	c := s.rpc()
	// redis.call runs the door's commands, on the same keyspace as HTTP.
	c.is(`"hello"`, "EVAL", `
		redis.call('SET', KEYS[1], ARGV[1])
		redis.call('INCR', KEYS[2])
		redis.call('INCRBY', KEYS[2], 4)
		return redis.call('GET', KEYS[1])`, int64(2), "greeting", "n", "hello")
	s.okJSON("kv.get", map[string]any{"key": "n"}, `{"found":true,"value":5,"ttl":null}`)
	// The answer is the JSON text of what the script returns.
	c.is(`[1,2.5,"x",true]`, "EVAL", "return {1, 2.5, 'x', true}", int64(0))
	c.is(`{"a":1}`, "EVAL", "return {a = 1}", int64(0))
	c.is(`null`, "EVAL", "return nil", int64(0))
	c.is(`[]`, "EVAL", "return {}", int64(0))
	c.is(`["greeting","n"]`, "EVAL", "return KEYS", int64(2), "greeting", "n")
	c.is(`{"f":"v"}`, "EVAL", "redis.call('HSET', 'h', 'f', 'v'); return redis.call('HGETALL', 'h')", int64(0))

	// A command's error: raised by redis.call, returned by redis.pcall.
	if _, e := c.call("EVAL", "return redis.call('LPUSH', 'h', 'x')", int64(0)); !strings.Contains(e, "WRONGTYPE") {
		t.Fatalf("redis.call of a failing command: %q", e)
	}
	v, e := c.call("EVAL", "return redis.pcall('LPUSH', 'h', 'x')", int64(0))
	if s, _ := v.(string); e != "" || !strings.Contains(s, `"err":"WRONGTYPE`) {
		t.Fatalf("redis.pcall of a failing command: %#v %q", v, e)
	}
	for _, bad := range []struct{ script, want string }{
		{"return redis.call('BLPOP', 'q', 0)", "not allowed in scripts"},
		{"return io.open('/etc/passwd')", "non-table"},
		{"return string.rep('x', 2000000)", "over"},
		{"return (", "compiling"},
	} {
		if _, e := c.call("EVAL", bad.script, int64(0)); !strings.Contains(e, bad.want) {
			t.Fatalf("EVAL %q: %q, want it to say %q", bad.script, e, bad.want)
		}
	}
	if _, e := c.call("EVAL", "return 1", int64(3), "a"); !strings.Contains(e, "Number of keys") {
		t.Fatalf("EVAL with too few keys: %q", e)
	}

	// Loaded scripts.
	sha, e := c.call("SCRIPT.LOAD", "return ARGV[1] .. '!'")
	if e != "" {
		t.Fatal(e)
	}
	c.is(`"hi!"`, "EVALSHA", sha, int64(0), "hi")
	c.is([]any{true, false}, "SCRIPT.EXISTS", sha, "0000000000000000000000000000000000000000")
	if v, _ := c.call("SCRIPT.FLUSH"); v.(int64) < 1 {
		t.Fatalf("SCRIPT.FLUSH: %#v", v)
	}
	if _, e := c.call("EVALSHA", sha, int64(0), "hi"); !strings.HasPrefix(e, "NOSCRIPT") {
		t.Fatalf("EVALSHA after SCRIPT.FLUSH: %q", e)
	}

	// A script that does not end is stopped by SCRIPT.KILL from another
	// connection.
	id := c.send("EVAL", "while true do end", int64(0))
	other := s.rpc()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if v, _ := other.call("SCRIPT.KILL"); v == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("SCRIPT.KILL never found the script running")
		}
	}
	if _, e := c.reply(id); !strings.Contains(e, "stopped") {
		t.Fatalf("a killed script: %q", e)
	}
	c.is("PONG", "PING")
}
