package synaprpc

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/gateway/internal/doortest"
	"github.com/troupe-run/troupe/gateway/synap"
	"github.com/troupe-run/troupe/messages"
)

// fakeCommands records the data commands the door runs and answers them
// with canned replies.
type fakeCommands struct {
	mu      sync.Mutex
	calls   []fakeCall
	queued  []fakeCall
	replies map[string]string // command -> reply payload JSON
	fail    map[string]error
}

type fakeCall struct{ name, payload string }

func (f *fakeCommands) Exec(_ context.Context, name string, payload []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{name, string(payload)})
	if err := f.fail[name]; err != nil {
		return nil, err
	}
	if r, ok := f.replies[name]; ok {
		return []byte(r), nil
	}
	return []byte(`{}`), nil
}

func (f *fakeCommands) Queue(clientID, name string, payload []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if clientID != "open" {
		return &synap.CommandError{Code: "BAD_REQUEST", Message: "no transaction in progress for client '" + clientID + "'"}
	}
	f.queued = append(f.queued, fakeCall{name, string(payload)})
	return nil
}

func (f *fakeCommands) reply(name, payload string) {
	f.mu.Lock()
	f.replies[name] = payload
	f.mu.Unlock()
}

func (f *fakeCommands) failWith(name string, err error) {
	f.mu.Lock()
	f.fail[name] = err
	f.mu.Unlock()
}

// ran returns the commands run and queued so far.
func (f *fakeCommands) ran() (calls, queued []fakeCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...), append([]fakeCall(nil), f.queued...)
}

func (f *fakeCommands) last() fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return fakeCall{}
	}
	return f.calls[len(f.calls)-1]
}

// fakePubSub records subscriptions; the test delivers to the subscriber
// itself.
type fakePubSub struct {
	mu   sync.Mutex
	subs map[string][]string // subscriber pid id -> patterns
	pids []*actor.PID
}

func (p *fakePubSub) Do(_ context.Context, req *messages.PubSubRequest) (*messages.PubSubReply, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := req.GetSubscriber().GetId()
	switch req.Op {
	case messages.PubSubOp_PUBSUB_SUBSCRIBE:
		if p.subs[id] == nil {
			p.pids = append(p.pids, req.GetSubscriber())
		}
		p.subs[id] = append(p.subs[id], req.Patterns...)
	case messages.PubSubOp_PUBSUB_UNSUBSCRIBE:
		if len(req.Patterns) == 0 {
			delete(p.subs, id)
		} else {
			var left []string
			for _, s := range p.subs[id] {
				if !contains(req.Patterns, s) {
					left = append(left, s)
				}
			}
			p.subs[id] = left
		}
	}
	return &messages.PubSubReply{Subscriptions: int64(len(p.subs[id]))}, nil
}

func (p *fakePubSub) subscribers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.subs)
}

func (p *fakePubSub) pid() *actor.PID {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pids) == 0 {
		return nil
	}
	return p.pids[len(p.pids)-1]
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// sessions spawns the subscriber actors on a real actor system.
type sessions struct {
	sys     *actor.ActorSystem
	mu      sync.Mutex
	stopped int
}

func (s *sessions) Spawn(name string, p actor.Producer) (*actor.PID, error) {
	return s.sys.Root.SpawnNamed(actor.PropsFromProducer(p), name)
}

func (s *sessions) Stop(pid *actor.PID) {
	s.mu.Lock()
	s.stopped++
	s.mu.Unlock()
	s.sys.Root.Stop(pid)
}

type harness struct {
	t       *testing.T
	srv     *Server
	addr    string
	cmds    *fakeCommands
	ps      *fakePubSub
	sess    *sessions
	metrics *doortest.Metrics
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, cmds: &fakeCommands{replies: map[string]string{}, fail: map[string]error{}},
		ps: &fakePubSub{subs: map[string][]string{}}, sess: &sessions{sys: actor.NewActorSystem()},
		metrics: &doortest.Metrics{}}
	h.srv = New(cfg, Backends{Commands: h.cmds, PubSub: h.ps, Sessions: h.sess,
		Dropped: func() { h.metrics.SubscriberDropped("synap-rpc") }}, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- h.srv.Serve(ln) }()
	t.Cleanup(func() {
		h.srv.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		h.sess.sys.Shutdown()
	})
	return h
}

// client is a test's connection to the door.
type client struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
	id uint32
}

func (h *harness) dial() *client {
	h.t.Helper()
	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { nc.Close() })
	return &client{t: h.t, nc: nc, r: bufio.NewReader(nc)}
}

func (c *client) send(cmd string, args ...any) uint32 {
	c.t.Helper()
	c.id++
	if _, err := c.nc.Write(EncodeRequest(c.id, cmd, args)); err != nil {
		c.t.Fatal(err)
	}
	return c.id
}

// next reads the next frame, failing the test past doortest.Wait.
func (c *client) next() (uint32, any, string) {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(doortest.Wait))
	body, err := ReadFrame(c.r, 1<<30)
	if err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	id, v, e, err := DecodeReply(body)
	if err != nil {
		c.t.Fatalf("decoding a frame: %v", err)
	}
	return id, v, e
}

// call sends a request and returns its reply's value or error text.
func (c *client) call(cmd string, args ...any) (any, string) {
	c.t.Helper()
	id := c.send(cmd, args...)
	got, v, e := c.next()
	if got != id {
		c.t.Fatalf("%s: reply to request %d, want %d", cmd, got, id)
	}
	return v, e
}

func (c *client) ok(cmd string, args ...any) any {
	c.t.Helper()
	v, e := c.call(cmd, args...)
	if e != "" {
		c.t.Fatalf("%s %v: %s", cmd, args, e)
	}
	return v
}

// closed waits until the server has closed the connection.
func (c *client) closed() {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(doortest.Wait))
	for {
		_, err := ReadFrame(c.r, 1<<30)
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || (err != nil && strings.Contains(err.Error(), "reset")) {
			return
		}
		if err != nil {
			c.t.Fatalf("waiting for the server to close: %v", err)
		}
	}
}

func jsonEq(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: payload %s: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s: payload\n got  %s\n want %s", what, got, want)
	}
}

// Each native command runs the data command of the same meaning, with the
// payload the data door takes, and its reply comes back in the original's
// native shape.
func TestCommandsTranslate(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.dial()
	tests := []struct {
		cmd     string
		args    []any
		data    string // the data command
		payload string
		reply   string // the data door's reply payload
		want    any
	}{
		{"SET", []any{"k", "v", "EX", "60"}, "kv.set", `{"key":"k","value":"v","ttl":60}`, `{"success":true}`, "OK"},
		{"set", []any{"k", []byte{0xff, 0}}, "kv.set", `{"key":"k","value":[255,0]}`, `{"success":true}`, "OK"},
		{"GET", []any{"k"}, "kv.get", `{"key":"k"}`, `"v"`, "v"},
		{"GET", []any{"k"}, "kv.get", `{"key":"k"}`, `null`, nil},
		{"DEL", []any{"a", "b"}, "kv.del", `{"keys":["a","b"]}`, `{"deleted":2}`, int64(2)},
		{"INCRBY", []any{"n", int64(5)}, "kv.incr", `{"key":"n","amount":5}`, `{"value":7}`, int64(7)},
		{"DECR", []any{"n"}, "kv.incr", `{"key":"n","amount":-1}`, `{"value":6}`, int64(6)},
		{"TTL", []any{"n"}, "kv.ttl", `{"key":"n"}`, `{"ttl":null}`, int64(-1)},
		{"MGET", []any{"a", "b"}, "kv.mget", `{"keys":["a","b"]}`, `{"values":["x",{"j":1}]}`, []any{"x", `{"j":1}`}},
		{"HSET", []any{"h", "f", "v"}, "hash.set", `{"key":"h","field":"f","value":"v"}`, `{"created":true}`, int64(1)},
		{"HGETALL", []any{"h"}, "hash.getall", `{"key":"h"}`, `{"fields":{"b":"2","a":1}}`, Map{{"a", "1"}, {"b", "2"}}},
		{"HMGET", []any{"h", "a", "z"}, "hash.mget", `{"key":"h","fields":["a","z"]}`, `{"values":{"a":"1","z":null}}`, []any{"1", nil}},
		{"LPOP", []any{"l"}, "list.lpop", `{"key":"l"}`, `{"values":["x"]}`, "x"},
		{"LPOP", []any{"l", "2"}, "list.lpop", `{"key":"l","count":2}`, `{"values":["x","y"]}`, []any{"x", "y"}},
		{"LPOP", []any{"l"}, "list.lpop", `{"key":"l"}`, `{"values":[]}`, nil},
		{"ZADD", []any{"z", "1.5", "a"}, "sortedset.zadd", `{"key":"z","members":[{"member":"a","score":1.5}]}`, `{"added":1}`, int64(1)},
		{"ZRANGE", []any{"z", int64(0), int64(-1), "WITHSCORES"}, "sortedset.zrange", `{"key":"z","start":0,"stop":-1,"withscores":true}`,
			`{"members":[{"member":"a","score":1.5}]}`, []any{"a", 1.5}},
		{"ZRANGEBYSCORE", []any{"z", "-inf", "+inf"}, "sortedset.zrangebyscore", `{"key":"z","min":"-inf","max":"+inf","withscores":false}`,
			`{"members":[{"member":"a","score":1.5}]}`, []any{"a"}},
		{"ZSCORE", []any{"z", "q"}, "sortedset.zscore", `{"key":"z","member":"q"}`, `{"score":null}`, nil},
		{"SISMEMBER", []any{"s", "a"}, "set.ismember", `{"key":"s","member":"a"}`, `{"is_member":true}`, true},
		{"PFADD", []any{"p", "a"}, "hyperloglog.pfadd", `{"key":"p","elements":["a"]}`, `{"added":1}`, true},
		{"PFADD", []any{"p", []any{int64(1), int64(2)}}, "hyperloglog.pfadd", `{"key":"p","elements":[[1,2]]}`, `{"added":1}`, true},
		{"GEOADD", []any{"g", "37.5", "-122.25", "sf"}, "geospatial.geoadd", `{"key":"g","locations":[{"lat":37.5,"lon":-122.25,"member":"sf"}]}`,
			`{"added":1}`, int64(1)},
		{"GEORADIUS", []any{"g", 37.5, -122.25, int64(10), "km", "WITHDIST", "COUNT", "5"}, "geospatial.georadius",
			`{"key":"g","center_lat":37.5,"center_lon":-122.25,"radius":10,"unit":"km","with_dist":true,"count":5}`,
			`{"results":[{"member":"sf","distance":0.5}]}`, []any{[]any{"sf", 0.5, nil}}},
		{"GEOSEARCH", []any{"g", "FROMLONLAT", "-122.25", "37.5", "BYBOX", "10", "20", "km", "ASC"}, "geospatial.geosearch",
			`{"key":"g","from_lonlat":[-122.25,37.5],"by_box":[10,20,"km"],"sort":"ASC"}`,
			`{"results":[{"member":"sf"}]}`, []any{"sf"}},
		{"GEOPOS", []any{"g", "sf", "zz"}, "geospatial.geopos", `{"key":"g","members":["sf","zz"]}`,
			`{"coordinates":[{"lat":1.5,"lon":2.5},null]}`, []any{[]any{1.5, 2.5}, nil}},
		{"QPUBLISH", []any{"q", `{"a":1}`, "5", "2"}, "queue.publish", `{"queue":"q","payload":"{\"a\":1}","priority":5,"max_retries":2}`,
			`{"message_id":"msg_1"}`, "msg_1"},
		{"QCONSUME", []any{"q", "w"}, "queue.consume", `{"queue":"q","consumer_id":"w"}`,
			`{"message":{"id":"msg_1","payload":"hi","priority":5,"retry_count":0}}`,
			Map{{"id", "msg_1"}, {"payload", []byte("hi")}, {"priority", int64(5)}, {"retry_count", int64(0)}}},
		{"QCONSUME", []any{"q", "w"}, "queue.consume", `{"queue":"q","consumer_id":"w"}`, `{"message":null}`, nil},
		{"QNACK", []any{"q", "m", false}, "queue.nack", `{"queue":"q","message_id":"m","requeue":false}`, `{}`, "OK"},
		{"SPUBLISH", []any{"r", "ev", `{"x":1}`}, "stream.publish", `{"room":"r","event":"ev","data":{"x":1}}`, `{"offset":3}`, int64(3)},
		{"SGETORCREATE", []any{"r"}, "stream.get_or_create", `{"room":"r"}`, `{"created":true}`, "CREATED"},
		{"PUBLISH", []any{"t", "plain"}, "pubsub.publish", `{"topic":"t","payload":"plain"}`,
			`{"message_id":"m1","subscribers_matched":2}`, Map{{"message_id", "m1"}, {"subscribers_matched", int64(2)}}},
		{"MULTI", []any{"c"}, "transaction.multi", `{"client_id":"c"}`, `{"success":true}`, "OK"},
		{"EXEC", []any{"c"}, "transaction.exec", `{"client_id":"c"}`, `{"success":true,"results":[{"value":1}]}`, []any{`{"value":1}`}},
		{"EXEC", []any{"c"}, "transaction.exec", `{"client_id":"c"}`, `{"aborted":true}`, nil},
	}
	for _, tc := range tests {
		h.cmds.reply(tc.data, tc.reply)
		got := c.ok(tc.cmd, tc.args...)
		last := h.cmds.last()
		if last.name != tc.data {
			t.Fatalf("%s %v ran %s, want %s", tc.cmd, tc.args, last.name, tc.data)
		}
		jsonEq(t, tc.cmd, last.payload, tc.payload)
		if !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("%s %v answered %#v, want %#v", tc.cmd, tc.args, got, tc.want)
		}
	}
}

// A failed command is an Err frame with a Redis-style prefix; an unknown
// command or a bad argument is one without reaching the data door.
func TestErrors(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.dial()
	h.cmds.failWith("list.lpush", &synap.CommandError{Code: messages.CodeWrongType, Message: "key holds a set"})
	if _, e := c.call("LPUSH", "s", "x"); e != "WRONGTYPE key holds a set" {
		t.Fatalf("LPUSH on a set: %q", e)
	}
	before, _ := h.cmds.ran()
	if _, e := c.call("NOPE"); e != "ERR unknown command 'NOPE'" {
		t.Fatalf("unknown command: %q", e)
	}
	if _, e := c.call("INCRBY", "n", "many"); !strings.HasPrefix(e, "ERR argument 1 is not an integer") {
		t.Fatalf("INCRBY with a word: %q", e)
	}
	if _, e := c.call("GET"); !strings.HasPrefix(e, "ERR missing argument 0") {
		t.Fatalf("GET without a key: %q", e)
	}
	if after, _ := h.cmds.ran(); len(after) != len(before) {
		t.Fatalf("refused commands reached the data door: %v", after[len(before):])
	}
	if v := c.ok("PING"); v != "PONG" {
		t.Fatalf("PING: %#v", v)
	}
}

// TXQUEUE queues a write into an open transaction and refuses, running
// nothing, without one or for a command that cannot be queued.
func TestTxQueue(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.dial()
	if v := c.ok("TXQUEUE", "open", "SET", "k", "v"); v != "QUEUED" {
		t.Fatalf("TXQUEUE: %#v", v)
	}
	_, queued := h.cmds.ran()
	if len(queued) != 1 || queued[0].name != "kv.set" {
		t.Fatalf("queued %v", queued)
	}
	jsonEq(t, "queued", queued[0].payload, `{"key":"k","value":"v"}`)
	if _, e := c.call("TXQUEUE", "closed", "SET", "k", "v"); !strings.Contains(e, "no transaction in progress") {
		t.Fatalf("TXQUEUE without MULTI: %q", e)
	}
	if _, e := c.call("TXQUEUE", "open", "ZADD", "z", "1", "a"); e != "ERR 'ZADD' cannot be queued in a transaction" {
		t.Fatalf("TXQUEUE ZADD: %q", e)
	}
	if calls, queued := h.cmds.ran(); len(queued) != 1 || len(calls) != 0 {
		t.Fatalf("refused TXQUEUEs ran or queued: %v %v", calls, queued)
	}
}

// With API keys, a connection runs nothing before AUTH with one of them.
func TestAuth(t *testing.T) {
	h := newHarness(t, Config{APIKeys: []string{"secret"}})
	c := h.dial()
	if _, e := c.call("GET", "k"); e != "NOAUTH Authentication required." {
		t.Fatalf("GET before AUTH: %q", e)
	}
	if _, e := c.call("AUTH", "wrong"); !strings.HasPrefix(e, "WRONGPASS") {
		t.Fatalf("AUTH with a wrong key: %q", e)
	}
	if _, e := c.call("GET", "k"); e != "NOAUTH Authentication required." {
		t.Fatalf("GET after a failed AUTH: %q", e)
	}
	if calls, _ := h.cmds.ran(); len(calls) != 0 {
		t.Fatalf("commands ran before AUTH: %v", calls)
	}
	if v := c.ok("AUTH", "user", "secret"); v != "OK" {
		t.Fatalf("AUTH: %#v", v)
	}
	h.cmds.reply("kv.get", `"v"`)
	if v := c.ok("GET", "k"); v != "v" {
		t.Fatalf("GET after AUTH: %#v", v)
	}
}

// The older SDKs' request shape (a map) and byte arrays (a list of
// integers) are understood.
func TestLegacyRequestShapes(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.dial()
	body := newFrameWriter()
	e := body.enc
	body.buf.Write([]byte{0, 0, 0, 0})
	_ = e.EncodeMapLen(3)
	_ = e.EncodeString("id")
	_ = e.EncodeUint(9)
	_ = e.EncodeString("command")
	_ = e.EncodeString("SET")
	_ = e.EncodeString("args")
	_ = e.EncodeArrayLen(2)
	encodeValue(e, "k")
	_ = e.EncodeMapLen(1)
	_ = e.EncodeString("Bytes")
	_ = e.EncodeArrayLen(2)
	_ = e.EncodeUint(104)
	_ = e.EncodeUint(105)
	frame := body.buf.Bytes()
	binary.LittleEndian.PutUint32(frame, uint32(len(frame)-4))
	if _, err := c.nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	id, v, errText := c.next()
	if id != 9 || v != "OK" || errText != "" {
		t.Fatalf("map-shaped SET: %d %#v %q", id, v, errText)
	}
	jsonEq(t, "SET", h.cmds.last().payload, `{"key":"k","value":"hi"}`)
}

// Every wire value survives a round trip through the codec.
func TestValueRoundTrip(t *testing.T) {
	in := []any{nil, true, false, int64(0), int64(-1), int64(1 << 40), 2.5, "", "héllo", []byte{}, []byte{0, 255},
		[]any{}, []any{int64(1), "a", []any{nil}}, Map{}, Map{{int64(1), "one"}, {"k", Map{{"x", 1.5}}}}}
	req, err := decodeRequest(EncodeRequest(7, "X", in)[4:])
	if err != nil {
		t.Fatal(err)
	}
	if req.id != 7 || req.cmd != "X" || !reflect.DeepEqual(req.args, in) {
		t.Fatalf("round trip: %d %s %#v", req.id, req.cmd, req.args)
	}
	fw := newFrameWriter()
	id, v, e, err := DecodeReply(fw.reply(3, Map{{"a", in}}, "")[4:])
	if err != nil || id != 3 || e != "" || !reflect.DeepEqual(v, Map{{"a", in}}) {
		t.Fatalf("reply round trip: %d %#v %q %v", id, v, e, err)
	}
	if _, _, e, _ := DecodeReply(fw.reply(4, nil, "ERR x")[4:]); e != "ERR x" {
		t.Fatalf("error reply: %q", e)
	}
}

// Malformed input is refused: too deep, an unknown variant, garbage.
func TestMalformed(t *testing.T) {
	deep := any("x")
	for range maxDepth + 2 {
		deep = []any{deep}
	}
	for name, body := range map[string][]byte{
		"too deep":        EncodeRequest(1, "X", []any{deep})[4:],
		"garbage":         []byte{0xc1, 0x00},
		"not a request":   []byte{0x05},
		"unknown variant": append(EncodeRequest(1, "X", nil)[4:len(EncodeRequest(1, "X", nil))-1], 0x91, 0x81, 0xa3, 'F', 'o', 'o', 0x01),
	} {
		if _, err := decodeRequest(body); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// A frame longer than the limit closes the connection before its body is
// read; a zero-length frame is a keep-alive.
func TestFrameBounds(t *testing.T) {
	h := newHarness(t, Config{MaxFrame: 1024})
	c := h.dial()
	if _, err := c.nc.Write([]byte{0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if v := c.ok("PING"); v != "PONG" {
		t.Fatalf("PING after a keep-alive: %#v", v)
	}
	big := EncodeRequest(1, "SET", []any{"k", strings.Repeat("x", 2000)})
	if _, err := c.nc.Write(big[:8]); err != nil {
		t.Fatal(err)
	}
	c.closed()
}

// Past MaxConns a new connection is closed at once.
func TestMaxConns(t *testing.T) {
	h := newHarness(t, Config{MaxConns: 1})
	first := h.dial()
	first.ok("PING")
	second := h.dial()
	second.send("PING")
	second.closed()
	first.ok("PING")
}

// SUBSCRIBE makes the connection a subscriber: the router's messages come
// as push frames; UNSUBSCRIBE drops patterns; closing the connection
// unsubscribes and stops its actor.
func TestSubscribePush(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.dial()
	v := c.ok("SUBSCRIBE", "news.*", "alerts")
	m, _ := v.(Map)
	if len(m) != 2 || m[0].K != "subscriber_id" || m[1] != (Pair{"subscription_count", int64(2)}) {
		t.Fatalf("SUBSCRIBE: %#v", v)
	}
	subID := m[0].V.(string)
	pid := h.ps.pid()
	h.sess.sys.Root.Send(pid, &messages.PubSubMessage{Topic: "news.a", Message: []byte(`{"n":1}`), MessageId: "m1", TimestampMs: 5000})
	id, push, e := c.next()
	want := Map{{"topic", "news.a"}, {"payload", `{"n":1}`}, {"id", "m1"}, {"timestamp", int64(5)}}
	if id != pushID || e != "" || !reflect.DeepEqual(push, want) {
		t.Fatalf("push: %d %#v %q", id, push, e)
	}
	if v := c.ok("UNSUBSCRIBE", subID, "alerts"); v != int64(1) {
		t.Fatalf("UNSUBSCRIBE alerts: %#v", v)
	}
	if _, e := c.call("UNSUBSCRIBE", "someone-else"); !strings.Contains(e, "unknown subscriber") {
		t.Fatalf("UNSUBSCRIBE of another id: %q", e)
	}
	c.nc.Close()
	waitFor(t, "the subscriber's end", func() bool {
		h.sess.mu.Lock()
		defer h.sess.mu.Unlock()
		return h.ps.subscribers() == 0 && h.sess.stopped == 1 && h.srv.Conns() == 0
	})
}

// A subscriber that does not read is closed once its output passes the
// bound, and counted; the pushes never wait on it.
func TestSlowSubscriberDropped(t *testing.T) {
	h := newHarness(t, Config{OutputBuffer: 64 << 10, WriteTimeout: time.Second})
	c := h.dial()
	c.ok("SUBSCRIBE", "t")
	pid := h.ps.pid()
	big := []byte(`"` + strings.Repeat("x", 32<<10) + `"`)
	for i := 0; h.metrics.Dropped() == 0; i++ {
		if i > 100000 {
			t.Fatal("the subscriber was never dropped")
		}
		h.sess.sys.Root.Send(pid, &messages.PubSubMessage{Topic: "t", Message: big})
	}
	waitFor(t, "the connection's end", func() bool { return h.srv.Conns() == 0 })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(doortest.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
