package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// The data door's two reply modes, driven with the request and reply shapes
// the original's TypeScript SDK (@hivehub/synap) uses, against the built
// binary.

// originalReply is the original server's envelope.
type originalReply struct {
	Success   bool            `json:"success"`
	RequestID string          `json:"request_id"`
	Payload   json.RawMessage `json:"payload"`
	Error     *string         `json:"error"`
}

// sdk posts a command as the SDK does (with a request_id) to a server in
// original mode and decodes the envelope; every reply is HTTP 200.
func (s *server) sdk(name string, payload any) originalReply {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"command": name, "request_id": "rid-1", "payload": payload})
	status, raw := s.do("POST", "/api/v1/command", body)
	var r originalReply
	if err := json.Unmarshal(raw, &r); err != nil || status != http.StatusOK || r.RequestID != "rid-1" {
		s.t.Fatalf("%s: %d %s (%v)", name, status, raw, err)
	}
	return r
}

// sdkOK runs a command that must succeed and returns its payload as JSON text.
func (s *server) sdkOK(name string, payload any) string {
	s.t.Helper()
	r := s.sdk(name, payload)
	if !r.Success || r.Error != nil {
		s.t.Fatalf("%s %v: %+v", name, payload, r)
	}
	return string(r.Payload)
}

func wantJSON(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s\n got %s\nwant %s", what, got, want)
	}
}

// TestOriginalReplies: in original mode the envelope, kv.get's bare value
// and failures as HTTP 200 with the error as text; the shapes both modes
// share.
func TestOriginalReplies(t *testing.T) {
	s := startServer(t, "--data-replies=original")

	wantJSON(t, "kv.set", s.sdkOK("kv.set", map[string]any{"key": "s", "value": "hello"}), `{"key":"s","success":true,"previous":null}`)
	wantJSON(t, "kv.get of a string", s.sdkOK("kv.get", map[string]any{"key": "s"}), `"hello"`)
	s.sdkOK("kv.set", map[string]any{"key": "o", "value": map[string]any{"a": 1}})
	wantJSON(t, "kv.get of an object", s.sdkOK("kv.get", map[string]any{"key": "o"}), `"{\"a\":1}"`)
	wantJSON(t, "kv.get of a missing key", s.sdkOK("kv.get", map[string]any{"key": "nope"}), `null`)
	wantJSON(t, "kv.mget", s.sdkOK("kv.mget", map[string]any{"keys": []string{"s", "nope"}}), `{"values":["hello",null]}`)
	wantJSON(t, "kv.mget []", s.sdkOK("kv.mget", map[string]any{"keys": []string{}}), `{"values":[]}`)
	wantJSON(t, "kv.del one key", s.sdkOK("kv.del", map[string]any{"key": "s"}), `{"deleted":true}`)
	wantJSON(t, "kv.del a missing key", s.sdkOK("kv.del", map[string]any{"key": "s"}), `{"deleted":false}`)
	for i := range 3 {
		s.sdkOK("kv.set", map[string]any{"key": fmt.Sprintf("pat-%d", i), "value": i})
	}
	wantJSON(t, "kv.keys", s.sdkOK("kv.keys", map[string]any{"pattern": "pat-*"}), `{"keys":["pat-0","pat-1","pat-2"],"count":3}`)

	// A failure is HTTP 200 with success false and the reason as text.
	s.sdkOK("hash.set", map[string]any{"key": "h", "field": "f", "value": 1})
	r := s.sdk("kv.get", map[string]any{"key": "h"})
	if r.Success || r.Error == nil || string(r.Payload) != "null" {
		t.Errorf("kv.get of a hash: %+v", r)
	}
	if r := s.sdk("no.such", nil); r.Success || r.Error == nil {
		t.Errorf("unknown command: %+v", r)
	}

	// queue.consume with a consumer_id, the SDK's payload of bytes.
	s.sdkOK("queue.create", map[string]any{"name": "q", "config": map[string]any{}})
	var pub struct {
		MessageID string `json:"message_id"`
	}
	json.Unmarshal([]byte(s.sdkOK("queue.publish", map[string]any{"queue": "q", "payload": []int{104, 105}, "priority": 7})), &pub)
	var got struct {
		Message *struct {
			ID         string            `json:"id"`
			Payload    []int             `json:"payload"`
			Priority   int               `json:"priority"`
			RetryCount int               `json:"retry_count"`
			MaxRetries int               `json:"max_retries"`
			Headers    map[string]string `json:"headers"`
		} `json:"message"`
	}
	json.Unmarshal([]byte(s.sdkOK("queue.consume", map[string]any{"queue": "q", "consumer_id": "c1"})), &got)
	if m := got.Message; m == nil || m.ID != pub.MessageID || fmt.Sprint(m.Payload) != "[104 105]" || m.Priority != 7 || m.MaxRetries != 3 {
		t.Errorf("consume: %+v", m)
	}
	wantJSON(t, "empty consume", s.sdkOK("queue.consume", map[string]any{"queue": "q", "consumer_id": "c1"}), `{"message":null}`)

	var published struct {
		MessageID string `json:"message_id"`
	}
	json.Unmarshal([]byte(s.sdkOK("pubsub.publish", map[string]any{"topic": "t.a", "payload": map[string]any{"x": 1}})), &published)
	if len(published.MessageID) != 36 {
		t.Errorf("pubsub.publish message_id %q", published.MessageID)
	}
}

// TestSpecRepliesUnchanged: the default mode keeps the spec's envelope and
// status codes, with the shapes both modes share.
func TestSpecRepliesUnchanged(t *testing.T) {
	s := startServer(t)
	var got struct {
		Found bool   `json:"found"`
		Value string `json:"value"`
	}
	s.ok("kv.set", map[string]any{"key": "s", "value": "v"}, nil)
	s.ok("kv.get", map[string]any{"key": "s"}, &got)
	if !got.Found || got.Value != "v" {
		t.Errorf("kv.get: %+v", got)
	}
	var del struct {
		Deleted bool `json:"deleted"`
	}
	s.ok("kv.del", map[string]any{"key": "s"}, &del)
	if !del.Deleted {
		t.Errorf("kv.del one key: %+v", del)
	}
	s.ok("hash.set", map[string]any{"key": "h", "field": "f", "value": 1}, nil)
	status, r := s.command("kv.get", map[string]any{"key": "h"})
	if status != http.StatusBadRequest || r.Error == nil || r.Error.Code != "WRONG_TYPE" {
		t.Errorf("kv.get of a hash: %d %+v", status, r)
	}
}

// TestNewCommandsSurviveKill9: HyperLogLogs, bitmaps and geo sets written
// with --fsync=always (and on the PostgreSQL journal) are there after
// kill -9, with their types.
func TestNewCommandsSurviveKill9(t *testing.T) {
	eachJournal(t, func(t *testing.T, journal string) {
		s := startServer(t, "--data-replies=original", journal)
		s.sdkOK("hyperloglog.pfadd", map[string]any{"key": "hll", "elements": []any{"a", "b", "c", []int{100}}})
		s.sdkOK("bitmap.setbit", map[string]any{"key": "bm", "offset": 10, "value": 1})
		s.sdkOK("bitmap.bitfield", map[string]any{"key": "bf", "operations": []any{
			map[string]any{"operation": "SET", "offset": 0, "width": 8, "value": 200}}})
		s.sdkOK("geospatial.geoadd", map[string]any{"key": "geo", "locations": []any{
			map[string]any{"lat": 37.7749, "lon": -122.4194, "member": "sf"},
			map[string]any{"lat": 37.8044, "lon": -122.2711, "member": "oak"}}})
		s.kill9()
		s.restart()

		wantJSON(t, "pfcount", s.sdkOK("hyperloglog.pfcount", map[string]any{"key": "hll"}), `{"key":"hll","count":4}`)
		wantJSON(t, "getbit", s.sdkOK("bitmap.getbit", map[string]any{"key": "bm", "offset": 10}), `{"key":"bm","offset":10,"value":1}`)
		wantJSON(t, "bitcount", s.sdkOK("bitmap.bitcount", map[string]any{"key": "bm"}), `{"key":"bm","count":1}`)
		wantJSON(t, "bitfield get", s.sdkOK("bitmap.bitfield", map[string]any{"key": "bf", "operations": []any{
			map[string]any{"operation": "GET", "offset": 0, "width": 8}}}), `{"key":"bf","results":[200]}`)
		var dist struct {
			Distance float64 `json:"distance"`
		}
		json.Unmarshal([]byte(s.sdkOK("geospatial.geodist", map[string]any{"key": "geo", "member1": "sf", "member2": "oak", "unit": "km"})), &dist)
		if dist.Distance < 12 || dist.Distance > 15 {
			t.Errorf("sf-oak after restart: %v km", dist.Distance)
		}
		wantJSON(t, "type of a sketch", s.sdkOK("key.type", map[string]any{"key": "hll"}), `{"key":"hll","type":"hyperloglog"}`)
		if r := s.sdk("kv.get", map[string]any{"key": "bm"}); r.Success {
			t.Errorf("kv.get of a bitmap: %+v", r)
		}
	})
}

// TestTransactions: queued commands are invisible until exec, discard drops
// them, and a watched key written meanwhile aborts exec.
func TestTransactions(t *testing.T) {
	s := startServer(t, "--data-replies=original")
	s.sdkOK("transaction.multi", map[string]any{"client_id": "c"})
	wantJSON(t, "queued", s.sdkOK("kv.set", map[string]any{"key": "a", "value": "1", "client_id": "c"}), `{"success":true,"queued":true}`)
	s.sdkOK("kv.incr", map[string]any{"key": "n", "client_id": "c"})
	wantJSON(t, "before exec", s.sdkOK("kv.get", map[string]any{"key": "a"}), `null`)
	wantJSON(t, "exec", s.sdkOK("transaction.exec", map[string]any{"client_id": "c"}),
		`{"success":true,"results":[{"key":"a","success":true,"previous":null},{"value":1}]}`)
	wantJSON(t, "after exec", s.sdkOK("kv.get", map[string]any{"key": "a"}), `"1"`)

	s.sdkOK("transaction.multi", map[string]any{"client_id": "c"})
	s.sdkOK("kv.set", map[string]any{"key": "b", "value": 1, "client_id": "c"})
	s.sdkOK("transaction.discard", map[string]any{"client_id": "c"})
	wantJSON(t, "after discard", s.sdkOK("kv.get", map[string]any{"key": "b"}), `null`)

	s.sdkOK("transaction.watch", map[string]any{"client_id": "c", "keys": []string{"n"}})
	s.sdkOK("transaction.multi", map[string]any{"client_id": "c"})
	s.sdkOK("kv.incr", map[string]any{"key": "n", "client_id": "c"})
	s.sdkOK("kv.set", map[string]any{"key": "n", "value": 10})
	wantJSON(t, "exec after a watched write", s.sdkOK("transaction.exec", map[string]any{"client_id": "c"}),
		`{"aborted":true,"message":"Transaction aborted: watched keys changed"}`)
	wantJSON(t, "the aborted incr did not run", s.sdkOK("kv.get", map[string]any{"key": "n"}), `"10"`)
}

// TestExtraCommands: the original's commands for strings, keys, hashes,
// lists, sets and sorted sets, in spec mode, and a renamed hash and a room
// created with its own retention after kill -9.
func TestExtraCommands(t *testing.T) {
	eachJournal(t, func(t *testing.T, journal string) {
		s := startServer(t, journal)
		payload := func(name string, p any) string {
			t.Helper()
			var raw json.RawMessage
			s.ok(name, p, &raw)
			return string(raw)
		}
		s.ok("kv.set", map[string]any{"key": "s", "value": "hello"}, nil)
		wantJSON(t, "append", payload("kv.append", map[string]any{"key": "s", "value": " world"}), `{"length":11}`)
		wantJSON(t, "getrange", payload("kv.getrange", map[string]any{"key": "s", "start": 0, "end": 4}), `"hello"`)
		wantJSON(t, "setrange", payload("kv.setrange", map[string]any{"key": "s", "offset": 6, "value": "W"}), `{"length":11}`)
		wantJSON(t, "getset", payload("kv.getset", map[string]any{"key": "s", "value": 1}), `"hello World"`)

		s.ok("hash.set", map[string]any{"key": "h", "field": "f", "value": 1.5}, nil)
		wantJSON(t, "incrbyfloat", payload("hash.incrbyfloat", map[string]any{"key": "h", "field": "f", "increment": 0.25}), `{"value":1.75}`)
		wantJSON(t, "setnx", payload("hash.setnx", map[string]any{"key": "h", "field": "f", "value": 9}), `{"created":false}`)
		wantJSON(t, "rename", payload("key.rename", map[string]any{"source": "h", "destination": "h2"}),
			`{"success":true,"source":"h","destination":"h2"}`)

		s.ok("list.rpush", map[string]any{"key": "l", "values": []string{"a", "b", "c"}}, nil)
		wantJSON(t, "linsert", payload("list.linsert", map[string]any{"key": "l", "position": "AFTER", "pivot": "a", "value": "z"}), `{"length":4,"key":"l"}`)
		wantJSON(t, "lpos", payload("list.lpos", map[string]any{"key": "l", "element": "c"}), `{"position":3,"key":"l"}`)
		wantJSON(t, "rpoplpush", payload("list.rpoplpush", map[string]any{"source": "l", "destination": "l2"}), `{"value":"c","source":"l","destination":"l2"}`)
		wantJSON(t, "rpushx on nothing", payload("list.rpushx", map[string]any{"key": "none", "values": []string{"x"}}), `{"length":0,"key":"none"}`)

		s.ok("set.add", map[string]any{"key": "s1", "members": []string{"a", "b", "c"}}, nil)
		s.ok("set.add", map[string]any{"key": "s2", "members": []string{"b", "c", "d"}}, nil)
		wantJSON(t, "inter", payload("set.inter", map[string]any{"keys": []string{"s1", "s2"}}), `{"members":["b","c"]}`)
		wantJSON(t, "diffstore", payload("set.diffstore", map[string]any{"destination": "s3", "keys": []string{"s1", "s2"}}), `{"count":1,"destination":"s3"}`)
		wantJSON(t, "move", payload("set.move", map[string]any{"source": "s1", "destination": "s2", "member": "a"}), `{"moved":true}`)

		s.ok("sortedset.zadd", map[string]any{"key": "z", "members": []any{map[string]any{"member": "a", "score": 1}, map[string]any{"member": "b", "score": 2}}}, nil)
		wantJSON(t, "zpopmax", payload("sortedset.zpopmax", map[string]any{"key": "z"}), `{"members":[{"member":"b","score":2}],"count":1,"key":"z"}`)
		wantJSON(t, "zunionstore", payload("sortedset.zunionstore", map[string]any{"destination": "z2", "keys": []string{"z", "z"}, "weights": []float64{1, 2}}),
			`{"count":1,"destination":"z2"}`)
		wantJSON(t, "zmscore", payload("sortedset.zmscore", map[string]any{"key": "z2", "members": []string{"a", "x"}}), `{"scores":[3,null],"key":"z2"}`)

		status, r := s.command("kv.append", map[string]any{"key": "h2", "value": "x"})
		if status != http.StatusBadRequest || r.Error == nil || r.Error.Code != "WRONG_TYPE" {
			t.Errorf("append to a hash: %d %+v", status, r.Error)
		}
		wantJSON(t, "get_or_create", payload("stream.get_or_create", map[string]any{"room": "r", "max_events": 2}), `{"success":true,"room":"r","created":true}`)
		for i := range 3 {
			s.ok("stream.publish", map[string]any{"room": "r", "event": "e", "data": i}, nil)
		}
		s.kill9()
		s.restart()
		wantJSON(t, "renamed hash after restart", payload("hash.getall", map[string]any{"key": "h2"}), `{"fields":{"f":1.75},"count":1}`)
		var st struct {
			MessageCount int   `json:"message_count"`
			Generation   int64 `json:"generation"`
			CreatedAt    int64 `json:"created_at"`
		}
		s.ok("stream.stats", map[string]any{"room": "r"}, &st)
		if st.MessageCount != 2 || st.Generation == 0 || st.CreatedAt == 0 {
			t.Errorf("room after restart: %+v", st)
		}
	})
}
