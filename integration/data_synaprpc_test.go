package integration

import (
	"bufio"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/troupe-run/troupe/gateway/synaprpc"
)

// The SynapRPC door (--synap-rpc-addr): the original Synap's binary
// protocol, as its SDKs speak it on synap:// URLs, over the data door's
// commands: the same keyspace, queues, transactions and pub/sub as HTTP,
// durable as they are.

type rpcClient struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
	id uint32
}

func (s *server) rpc() *rpcClient {
	s.t.Helper()
	nc, err := net.Dial("tcp", s.doorAddr("synap-rpc"))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { nc.Close() })
	return &rpcClient{t: s.t, nc: nc, r: bufio.NewReader(nc)}
}

// next reads the next frame: its id, and its value or error text.
func (c *rpcClient) next() (uint32, any, string) {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	body, err := synaprpc.ReadFrame(c.r, 64<<20)
	if err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	id, v, e, err := synaprpc.DecodeReply(body)
	if err != nil {
		c.t.Fatalf("decoding a frame: %v", err)
	}
	return id, v, e
}

func (c *rpcClient) call(cmd string, args ...any) (any, string) {
	c.t.Helper()
	c.id++
	if _, err := c.nc.Write(synaprpc.EncodeRequest(c.id, cmd, args)); err != nil {
		c.t.Fatal(err)
	}
	id, v, e := c.next()
	if id != c.id {
		c.t.Fatalf("%s: reply to request %d, want %d", cmd, id, c.id)
	}
	return v, e
}

// is runs a command that must succeed with the value want.
func (c *rpcClient) is(want any, cmd string, args ...any) {
	c.t.Helper()
	v, e := c.call(cmd, args...)
	if e != "" || !reflect.DeepEqual(v, want) {
		c.t.Fatalf("%s %v: got %#v %q, want %#v", cmd, args, v, e, want)
	}
}

func TestSynapRPCData(t *testing.T) {
	// The door answers in the original's shapes whatever --data-replies
	// says: here the HTTP door answers in the spec's. Under --fsync=always
	// every write acknowledged is on disk before its reply.
	s := startServer(t, "--fsync=always")
	c := s.rpc()
	c.is("PONG", "PING")
	c.is("OK", "SET", "user:1", "alice", "EX", "100")
	c.is("alice", "GET", "user:1")
	// The same keyspace as HTTP, in both directions.
	var got struct {
		Found bool
		Value any
	}
	s.ok("kv.get", map[string]any{"key": "user:1"}, &got)
	if !got.Found || got.Value != "alice" {
		t.Fatalf("kv.get over HTTP of a key set over the door: %+v", got)
	}
	s.payload("kv.set", map[string]any{"key": "cfg", "value": map[string]any{"a": 1}})
	c.is(`{"a":1}`, "GET", "cfg")
	c.is(int64(5), "INCRBY", "hits", int64(5))
	c.is([]any{"alice", nil}, "MGET", "user:1", "none")
	c.is(int64(2), "HSET", "h", "f", "v", "g", "w")
	c.is(synaprpc.Map{{K: "f", V: "v"}, {K: "g", V: "w"}}, "HGETALL", "h")
	c.is(int64(2), "RPUSH", "l", "a", "b")
	c.is([]any{"a", "b"}, "LRANGE", "l", int64(0), int64(-1))
	c.is(int64(2), "ZADD", "z", "1", "a", "2.5", "b")
	c.is([]any{"a", 1.0, "b", 2.5}, "ZRANGE", "z", int64(0), int64(-1), "WITHSCORES")
	if _, e := c.call("LPUSH", "h", "x"); !strings.HasPrefix(e, "WRONGTYPE ") {
		t.Fatalf("LPUSH on a hash: %q", e)
	}
	if _, e := c.call("NOSUCH"); e != "ERR unknown command 'NOSUCH'" {
		t.Fatalf("unknown command: %q", e)
	}

	// Transactions: MULTI, TXQUEUE, EXEC, across transports.
	c.is("OK", "MULTI", "tx1")
	c.is("QUEUED", "TXQUEUE", "tx1", "SET", "tk", "committed")
	c.is(nil, "GET", "tk")
	v, e := c.call("EXEC", "tx1")
	if rs, ok := v.([]any); e != "" || !ok || len(rs) != 1 {
		t.Fatalf("EXEC: %#v %q", v, e)
	}
	c.is("committed", "GET", "tk")
	if _, e := c.call("TXQUEUE", "tx1", "SET", "tk", "late"); !strings.Contains(e, "no transaction in progress") {
		t.Fatalf("TXQUEUE after EXEC: %q", e)
	}

	// What was acknowledged over the door survives a kill -9.
	s.kill9()
	s.restart()
	c = s.rpc()
	c.is("committed", "GET", "tk")
	c.is(synaprpc.Map{{K: "f", V: "v"}, {K: "g", V: "w"}}, "HGETALL", "h")
}

func TestSynapRPCMessaging(t *testing.T) {
	s := startServer(t)
	c := s.rpc()
	c.is("OK", "QCREATE", "jobs", int64(0), int64(30))
	id, e := c.call("QPUBLISH", "jobs", `{"n":1}`, int64(7))
	if e != "" {
		t.Fatalf("QPUBLISH: %q", e)
	}
	c.is(synaprpc.Map{{K: "id", V: id}, {K: "payload", V: []byte(`{"n":1}`)}, {K: "priority", V: int64(7)}, {K: "retry_count", V: int64(0)}},
		"QCONSUME", "jobs", "w1")
	c.is(nil, "QCONSUME", "jobs", "w1")
	c.is("OK", "QACK", "jobs", id)

	c.is("OK", "SCREATE", "chat")
	c.is(int64(0), "SPUBLISH", "chat", "msg", `{"text":"hi"}`)
	v, e := c.call("SREAD", "chat", "r1", int64(0))
	evs, _ := v.([]any)
	if e != "" || len(evs) != 1 {
		t.Fatalf("SREAD: %#v %q", v, e)
	}
	if ev := evs[0].(synaprpc.Map); ev[2] != (synaprpc.Pair{K: "event", V: "msg"}) || ev[3] != (synaprpc.Pair{K: "data", V: `{"text":"hi"}`}) {
		t.Fatalf("SREAD event: %#v", ev)
	}

	// A subscriber gets what is published over HTTP as push frames.
	sub := s.rpc()
	v, e = sub.call("SUBSCRIBE", "news.*")
	if m, ok := v.(synaprpc.Map); e != "" || !ok || len(m) != 2 || m[1] != (synaprpc.Pair{K: "subscription_count", V: int64(1)}) {
		t.Fatalf("SUBSCRIBE: %#v %q", v, e)
	}
	s.payload("pubsub.publish", map[string]any{"topic": "news.sport", "payload": map[string]any{"score": 3}})
	pid, push, e := sub.next()
	m, _ := push.(synaprpc.Map)
	if pid != 1<<32-1 || e != "" || len(m) != 4 || m[0] != (synaprpc.Pair{K: "topic", V: "news.sport"}) ||
		m[1] != (synaprpc.Pair{K: "payload", V: `{"score":3}`}) {
		t.Fatalf("push: %d %#v %q", pid, push, e)
	}
	// And over the door itself.
	v, e = c.call("PUBLISH", "news.world", `{"n":2}`)
	if pm, ok := v.(synaprpc.Map); e != "" || !ok || pm[1] != (synaprpc.Pair{K: "subscribers_matched", V: int64(1)}) {
		t.Fatalf("PUBLISH: %#v %q", v, e)
	}
	if _, push, _ = sub.next(); push.(synaprpc.Map)[1] != (synaprpc.Pair{K: "payload", V: `{"n":2}`}) {
		t.Fatalf("push of PUBLISH: %#v", push)
	}
}

func TestSynapRPCAuth(t *testing.T) {
	s := startServer(t, "--api-keys=k1")
	c := s.rpc()
	if _, e := c.call("GET", "a"); e != "NOAUTH Authentication required." {
		t.Fatalf("GET before AUTH: %q", e)
	}
	if _, e := c.call("AUTH", "nope"); !strings.HasPrefix(e, "WRONGPASS") {
		t.Fatalf("AUTH with a wrong key: %q", e)
	}
	c.is("OK", "AUTH", "k1")
	c.is(nil, "GET", "a")
}
