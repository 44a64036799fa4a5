package synap

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/troupe-run/troupe/gateway/internal/doortest"
	"github.com/troupe-run/troupe/messages"
)

func TestBodyLimit(t *testing.T) {
	cfg := insecure()
	cfg.MaxBody = 64
	big := `{"command":"kv.set","payload":{"key":"a","value":"` + strings.Repeat("x", 64) + `"}}`
	tests := []struct {
		name   string
		path   string
		length int64 // -1: unknown, as with chunked encoding
	}{
		{"declared length", commandPath, int64(len(big))},
		{"chunked", commandPath, -1},
		{"REST route", "/kv/set", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, cfg)
			req := httptest.NewRequest("POST", tc.path, io.MultiReader(strings.NewReader(big)))
			req.ContentLength = tc.length
			rec := httptest.NewRecorder()
			ts.ServeHTTP(rec, req)
			wantError(t, rec, http.StatusRequestEntityTooLarge, codeTooLarge, "64 bytes")
			if n := len(ts.ks.requests()); n != 0 {
				t.Errorf("an oversized request reached the backend")
			}
		})
	}

	ts := newTestServer(t, cfg)
	if rec := postCommand(ts, getA); rec.Code != 200 {
		t.Errorf("a request under the limit: %d %s", rec.Code, rec.Body)
	}
}

func TestDrain(t *testing.T) {
	ts := newTestServer(t, insecure())
	if rec := postCommand(ts, getA); rec.Code != 200 {
		t.Fatalf("before Drain: %d", rec.Code)
	}
	ts.Drain()
	for _, tc := range []struct{ method, path, body string }{
		{"POST", commandPath, getA},
		{"GET", "/kv/get/a", ""},
		{"GET", "/nope", ""},
	} {
		rec := serve(ts, tc.method, tc.path, tc.body)
		wantError(t, rec, http.StatusServiceUnavailable, messages.CodeUnavailable, "shutting down")
		if rec.Header().Get("Connection") != "close" {
			t.Errorf("%s %s while draining keeps the connection open", tc.method, tc.path)
		}
	}
	if n := len(ts.ks.requests()); n != 1 {
		t.Errorf("the backend got %d requests, want only the one before Drain", n)
	}
	if rec := serve(ts, "GET", "/metrics", ""); rec.Code != 200 {
		t.Errorf("GET /metrics while draining = %d", rec.Code)
	}
}

func TestPanicRecovery(t *testing.T) {
	ts := newTestServer(t, insecure())
	ts.ks.reply = func(req *messages.DataRequest) (*messages.DataReply, error) {
		if req.Key == "boom" {
			panic("shard exploded")
		}
		return &messages.DataReply{Found: true, Value: []byte(`1`)}, nil
	}
	wantError(t, postCommand(ts, `{"command":"kv.get","payload":{"key":"boom"}}`), 500, codeInternal, "internal error")
	wantError(t, serve(ts, "GET", "/kv/get/boom", ""), 500, codeInternal)
	if !strings.Contains(ts.logs.String(), "shard exploded") {
		t.Errorf("the panic was not logged: %s", ts.logs)
	}
	if obs := ts.metrics.Last(); obs.Command != "panic" || obs.Status != 500 {
		t.Errorf("metrics observed %+v", obs)
	}
	if rec := postCommand(ts, getA); rec.Code != 200 {
		t.Errorf("after a panic: %d %s", rec.Code, rec.Body)
	}
}

func TestCommandMetrics(t *testing.T) {
	tests := []struct {
		body    string
		command string
		status  int
	}{
		{getA, "kv.get", 200},
		{`{"command":"kv.get","payload":{}}`, "kv.get", 422},
		{`{"command":"kv.whatever"}`, "unknown", 400},
		{`{"command":`, "invalid", 400},
		{`{"type":"batch","commands":[]}`, "batch", 200},
	}
	for _, tc := range tests {
		ts := newTestServer(t, insecure())
		postCommand(ts, tc.body)
		want := doortest.Observation{Door: "data", Command: tc.command, Status: tc.status}
		if got := ts.metrics.Last(); got != want {
			t.Errorf("%s: observed %+v, want %+v", tc.body, got, want)
		}
	}
}

// TestCommandTableIsComplete checks that every command the issue names, and
// every alias Synap's SDKs send, is registered.
func TestCommandTableIsComplete(t *testing.T) {
	ts := newTestServer(t, insecure())
	names := `kv.set kv.get kv.del kv.exists kv.incr kv.decr kv.expire kv.ttl kv.scan kv.mset kv.mget kv.msetnx
		kv.mdel kv.incrby kv.decrby kv.persist kv.stats kv.type kv.dbsize key.type key.exists memory.usage
		hash.set hash.get hash.getall hash.del hash.mset hash.exists hash.len hash.keys hash.vals hash.values
		hash.mget hash.incrby
		list.lpush list.rpush list.lpop list.rpop list.range list.len list.lrange list.llen list.index list.lindex
		list.set list.lset list.trim list.ltrim list.rem list.lrem
		set.add set.rem set.members set.ismember set.card set.size set.pop set.randmember
		sortedset.zadd sortedset.zrem sortedset.zscore sortedset.zrange sortedset.zrevrange
		sortedset.zrangebyscore sortedset.zincrby sortedset.zcard sortedset.zrank sortedset.zrevrank sortedset.zcount
		admin.stats admin.config admin.health admin.shutdown
		queue.create queue.delete queue.publish queue.consume queue.ack queue.nack queue.purge queue.stats queue.list
		queue.dlq.list queue.dlq.requeue queue.dlq.purge queue.subscribe queue.unsubscribe
		stream.publish stream.history stream.consume stream.rooms stream.list stream.stats stream.subscribe stream.unsubscribe
		pubsub.publish pubsub.topics pubsub.stats pubsub.subscribe pubsub.unsubscribe`
	for _, name := range strings.Fields(names) {
		if _, ok := ts.commands[name]; !ok {
			t.Errorf("command %s is not registered", name)
		}
	}
}
