package synap

import (
	"math"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/troupe-run/troupe/messages"
)

func TestRESTRoutes(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		want   *messages.DataRequest
		reply  *messages.DataReply
		out    string
	}{
		{"kv set", "POST", "/kv/set", `{"key":"user:1","value":{"a":1},"ttl":60}`,
			&dr{Op: messages.DataOp_KV_SET, Key: "user:1", Value: []byte(`{"a":1}`), TtlMs: 60000},
			&rep{Ok: true}, `{"key":"user:1","success":true,"previous":null}`},
		{"kv get with an escaped key", "GET", "/kv/get/user%3A1", "",
			&dr{Op: messages.DataOp_KV_GET, Key: "user:1"},
			&rep{Found: true, Value: []byte(`{"a":1}`), TtlMs: 59000}, `{"found":true,"value":{"a":1},"ttl":59}`},
		{"kv get of a key with a slash", "GET", "/kv/get/a%2Fb", "",
			&dr{Op: messages.DataOp_KV_GET, Key: "a/b"},
			&rep{}, `{"found":false,"value":null,"ttl":null}`},
		{"kv get of a key with invalid UTF-8", "GET", "/kv/get/a%FFb", "",
			&dr{Op: messages.DataOp_KV_GET, Key: "a\uFFFDb"},
			&rep{}, `{"found":false,"value":null,"ttl":null}`},
		{"kv del", "DELETE", "/kv/del/user:1", "",
			&dr{Op: messages.DataOp_KV_DEL, Keys: []string{"user:1"}},
			&rep{Integer: 1}, `{"deleted":1}`},
		{"kv msetnx object", "POST", "/kv/msetnx", `{"key":"user:1001","value":{"name":"Alice","age":30}}`,
			&dr{Op: messages.DataOp_KV_MSETNX, Pairs: []*messages.Pair{pair("user:1001", `{"name":"Alice","age":30}`)}},
			&rep{Ok: true}, `{"success":true}`},
		{"kv msetnx tuple", "POST", "/kv/msetnx", `["user:1001", {"name": "Alice", "age": 30}]`,
			&dr{Op: messages.DataOp_KV_MSETNX, Pairs: []*messages.Pair{pair("user:1001", `{"name":"Alice","age":30}`)}},
			&rep{Ok: true}, `{"success":true}`},
		{"kv msetnx tuples", "POST", "/kv/msetnx", `[["a",1],["b",2]]`,
			&dr{Op: messages.DataOp_KV_MSETNX, Pairs: []*messages.Pair{pair("a", `1`), pair("b", `2`)}},
			&rep{Ok: false}, `{"success":false}`},
		{"key type", "GET", "/key/k/type", "",
			&dr{Op: messages.DataOp_KV_TYPE, Key: "k"}, &rep{Type: "list"}, `{"key":"k","type":"list"}`},
		{"key exists", "GET", "/key/k/exists", "",
			&dr{Op: messages.DataOp_KV_EXISTS, Key: "k"}, &rep{Integer: 1}, `{"exists":true,"count":1}`},
		{"memory usage of a missing key", "GET", "/memory/nope/usage", "",
			&dr{Op: messages.DataOp_KV_USAGE, Key: "nope"}, &rep{}, `{"key":"nope","bytes":0,"human":"0B"}`},

		{"hash set", "POST", "/hash/h/set", `{"field":"f","value":1}`,
			&dr{Op: messages.DataOp_HASH_SET, Key: "h", Pairs: []*messages.Pair{pair("f", `1`)}},
			&rep{Integer: 1}, `{"key":"h","field":"f","created":true,"success":true}`},
		{"hash get", "GET", "/hash/h/name", "",
			&dr{Op: messages.DataOp_HASH_GET, Key: "h", Field: "name"},
			&rep{Found: true, Value: []byte(`"Alice"`)}, `{"found":true,"value":"Alice"}`},
		{"hash getall", "GET", "/hash/h/getall", "",
			&dr{Op: messages.DataOp_HASH_GETALL, Key: "h"},
			&rep{Pairs: []*messages.Pair{pair("f", `1`)}}, `{"fields":{"f":1},"count":1}`},
		{"hash keys", "GET", "/hash/h/keys", "",
			&dr{Op: messages.DataOp_HASH_KEYS, Key: "h"}, &rep{Keys: []string{"f"}}, `{"fields":["f"],"count":1}`},
		{"hash vals", "GET", "/hash/h/vals", "",
			&dr{Op: messages.DataOp_HASH_VALS, Key: "h"}, &rep{Values: values(`1`)}, `{"values":[1],"count":1}`},
		{"hash len", "GET", "/hash/h/len", "",
			&dr{Op: messages.DataOp_HASH_LEN, Key: "h"}, &rep{Integer: 1}, `{"key":"h","length":1}`},
		{"hash mset object", "POST", "/hash/user:1/mset", `{"fields":{"name":"Alice","age":30,"email":"alice@example.com"}}`,
			&dr{Op: messages.DataOp_HASH_SET, Key: "user:1", Pairs: []*messages.Pair{
				pair("name", `"Alice"`), pair("age", `30`), pair("email", `"alice@example.com"`)}},
			&rep{Integer: 3}, `{"key":"user:1","success":true}`},
		{"hash mset array", "POST", "/hash/user:1/mset", `[{"field":"name","value":"Alice"},{"field":"age","value":30},{"field":"email","value":"alice@example.com"}]`,
			&dr{Op: messages.DataOp_HASH_SET, Key: "user:1", Pairs: []*messages.Pair{
				pair("name", `"Alice"`), pair("age", `30`), pair("email", `"alice@example.com"`)}},
			&rep{Integer: 3}, `{"key":"user:1","success":true}`},
		{"hash mget", "POST", "/hash/h/mget", `{"fields":["a"]}`,
			&dr{Op: messages.DataOp_HASH_MGET, Key: "h", Fields: []string{"a"}},
			&rep{Values: values(`2`)}, `{"values":{"a":2}}`},
		{"hash del", "DELETE", "/hash/h/del", `{"fields":["a","b"]}`,
			&dr{Op: messages.DataOp_HASH_DEL, Key: "h", Fields: []string{"a", "b"}},
			&rep{Integer: 2}, `{"deleted":2}`},
		{"hash field exists", "GET", "/hash/h/name/exists", "",
			&dr{Op: messages.DataOp_HASH_EXISTS, Key: "h", Field: "name"}, &rep{Found: true}, `{"exists":true}`},
		{"hash incrby", "POST", "/hash/h/incrby", `{"field":"n","increment":2}`,
			&dr{Op: messages.DataOp_HASH_INCRBY, Key: "h", Field: "n", Amount: 2}, &rep{Integer: 2}, `{"value":2}`},

		{"list lpush", "POST", "/list/l/lpush", `{"values":["a","b"]}`,
			&dr{Op: messages.DataOp_LIST_LPUSH, Key: "l", Values: values(`"a"`, `"b"`)},
			&rep{Integer: 2}, `{"key":"l","length":2}`},
		{"list rpush", "POST", "/list/l/rpush", `{"values":[1]}`,
			&dr{Op: messages.DataOp_LIST_RPUSH, Key: "l", Values: values(`1`)},
			&rep{Integer: 3}, `{"key":"l","length":3}`},
		{"list lpop with count", "POST", "/list/l/lpop", `{"count": 3}`,
			&dr{Op: messages.DataOp_LIST_LPOP, Key: "l", Count: 3},
			&rep{Values: values(`"b"`, `"a"`, `1`)}, `{"key":"l","values":["b","a",1]}`},
		{"list rpop with {}", "POST", "/list/l/rpop", `{}`,
			&dr{Op: messages.DataOp_LIST_RPOP, Key: "l", Count: 1},
			&rep{Values: values(`1`)}, `{"key":"l","values":[1]}`},
		{"list lpop without a body", "POST", "/list/l/lpop", "",
			&dr{Op: messages.DataOp_LIST_LPOP, Key: "l", Count: 1},
			&rep{}, `{"key":"l","values":[]}`},
		{"list range", "GET", "/list/l/range?start=1&stop=2", "",
			&dr{Op: messages.DataOp_LIST_RANGE, Key: "l", Start: 1, Stop: 2},
			&rep{Values: values(`2`)}, `{"key":"l","values":[2]}`},
		{"list range defaults", "GET", "/list/l/range", "",
			&dr{Op: messages.DataOp_LIST_RANGE, Key: "l", Start: 0, Stop: -1},
			&rep{}, `{"key":"l","values":[]}`},
		{"list len", "GET", "/list/l/len", "",
			&dr{Op: messages.DataOp_LIST_LEN, Key: "l"}, &rep{Integer: 4}, `{"key":"l","length":4}`},
		{"list index", "GET", "/list/l/index/-1", "",
			&dr{Op: messages.DataOp_LIST_INDEX, Key: "l", Start: -1},
			&rep{Found: true, Value: []byte(`"z"`)}, `{"key":"l","index":-1,"value":"z"}`},
		{"list set", "POST", "/list/l/set", `{"index":1,"value":"y"}`,
			&dr{Op: messages.DataOp_LIST_SET, Key: "l", Start: 1, Value: []byte(`"y"`)},
			&rep{}, `{"key":"l","index":1,"success":true}`},
		{"list trim by query", "POST", "/list/l/trim?start=0&stop=9", "",
			&dr{Op: messages.DataOp_LIST_TRIM, Key: "l", Start: 0, Stop: 9},
			&rep{}, `{"key":"l","success":true}`},
		{"list trim by body", "POST", "/list/l/trim", `{"start":1,"stop":2}`,
			&dr{Op: messages.DataOp_LIST_TRIM, Key: "l", Start: 1, Stop: 2},
			&rep{}, `{"key":"l","success":true}`},
		{"list rem", "POST", "/list/l/rem", `{"count":1,"value":"x"}`,
			&dr{Op: messages.DataOp_LIST_REM, Key: "l", Count: 1, Value: []byte(`"x"`)},
			&rep{Integer: 1}, `{"key":"l","removed":1}`},

		{"set add", "POST", "/set/s/add", `{"members":["a","b"]}`,
			&dr{Op: messages.DataOp_SET_ADD, Key: "s", Members: []string{"a", "b"}},
			&rep{Integer: 2}, `{"key":"s","added":2}`},
		{"set rem", "POST", "/set/s/rem", `{"members":["a"]}`,
			&dr{Op: messages.DataOp_SET_REM, Key: "s", Members: []string{"a"}},
			&rep{Integer: 1}, `{"key":"s","removed":1}`},
		{"set ismember", "POST", "/set/s/ismember", `{"member":"b"}`,
			&dr{Op: messages.DataOp_SET_ISMEMBER, Key: "s", Member: "b"},
			&rep{Found: true}, `{"key":"s","is_member":true}`},
		{"set members", "GET", "/set/s/members", "",
			&dr{Op: messages.DataOp_SET_MEMBERS, Key: "s"},
			&rep{Keys: []string{"b"}}, `{"key":"s","members":["b"]}`},
		{"set card", "GET", "/set/s/card", "",
			&dr{Op: messages.DataOp_SET_CARD, Key: "s"},
			&rep{Integer: 1}, `{"key":"s","cardinality":1,"size":1}`},
		{"set pop", "POST", "/set/s/pop?count=2", "",
			&dr{Op: messages.DataOp_SET_POP, Key: "s", Count: 2},
			&rep{Keys: []string{"b"}}, `{"key":"s","members":["b"]}`},
		{"set randmember", "GET", "/set/s/randmember", "",
			&dr{Op: messages.DataOp_SET_RANDMEMBER, Key: "s", Count: 1},
			&rep{}, `{"key":"s","members":[]}`},

		{"zadd single", "POST", "/sortedset/z/zadd", `{"member":"player1","score":100.5}`,
			&dr{Op: messages.DataOp_ZSET_ADD, Key: "z", Scored: scored("player1", 100.5)},
			&rep{Integer: 1}, `{"key":"z","added":1}`},
		{"zadd multiple", "POST", "/sortedset/z/zadd", `{"members":[{"member":"player1","score":100.5},{"member":"player2","score":200.0}]}`,
			&dr{Op: messages.DataOp_ZSET_ADD, Key: "z", Scored: scored("player1", 100.5, "player2", 200.0)},
			&rep{Integer: 2}, `{"key":"z","added":2}`},
		{"zrem", "POST", "/sortedset/z/zrem", `{"members":["player1"]}`,
			&dr{Op: messages.DataOp_ZSET_REM, Key: "z", Members: []string{"player1"}},
			&rep{Integer: 1}, `{"key":"z","removed":1}`},
		{"zscore", "GET", "/sortedset/z/player2/zscore", "",
			&dr{Op: messages.DataOp_ZSET_SCORE, Key: "z", Member: "player2"},
			&rep{Found: true, Number: 200}, `{"key":"z","member":"player2","score":200}`},
		{"zcard", "GET", "/sortedset/z/zcard", "",
			&dr{Op: messages.DataOp_ZSET_CARD, Key: "z"}, &rep{Integer: 1}, `{"key":"z","count":1}`},
		{"zincrby", "POST", "/sortedset/z/zincrby", `{"member":"player2","increment":5}`,
			&dr{Op: messages.DataOp_ZSET_INCRBY, Key: "z", Member: "player2", Score: 5},
			&rep{Number: 205}, `{"key":"z","member":"player2","score":205}`},
		{"zrange", "GET", "/sortedset/z/zrange?start=0&stop=-1&withscores=true", "",
			&dr{Op: messages.DataOp_ZSET_RANGE, Key: "z", Start: 0, Stop: -1},
			&rep{Scored: scored("player2", 205.0)}, `{"key":"z","members":[{"member":"player2","score":205}]}`},
		{"zrevrange", "GET", "/sortedset/z/zrevrange?stop=0", "",
			&dr{Op: messages.DataOp_ZSET_REVRANGE, Key: "z", Start: 0, Stop: 0},
			&rep{}, `{"key":"z","members":[]}`},
		{"zrangebyscore", "GET", "/sortedset/z/zrangebyscore?min=-inf&max=100", "",
			&dr{Op: messages.DataOp_ZSET_RANGEBYSCORE, Key: "z", Min: math.Inf(-1), Max: 100},
			&rep{}, `{"key":"z","members":[]}`},
		{"zrank", "GET", "/sortedset/z/player2/zrank", "",
			&dr{Op: messages.DataOp_ZSET_RANK, Key: "z", Member: "player2"},
			&rep{Found: true}, `{"key":"z","member":"player2","rank":0}`},
		{"zrevrank", "GET", "/sortedset/z/player2/zrevrank", "",
			&dr{Op: messages.DataOp_ZSET_REVRANK, Key: "z", Member: "player2"},
			&rep{Found: true, Integer: 3}, `{"key":"z","member":"player2","rank":3}`},
		{"zcount", "GET", "/sortedset/z/zcount?min=1&max=5", "",
			&dr{Op: messages.DataOp_ZSET_COUNT, Key: "z", Min: 1, Max: 5},
			&rep{Integer: 0}, `{"key":"z","count":0}`},
		{"path overrides the body", "POST", "/hash/h/set", `{"key":"other","field":"f","value":1}`,
			&dr{Op: messages.DataOp_HASH_SET, Key: "h", Pairs: []*messages.Pair{pair("f", `1`)}},
			&rep{Integer: 1}, `{"key":"h","field":"f","created":true,"success":true}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, insecure())
			ts.ks.reply = replyWith(tc.reply)
			rec := serve(ts, tc.method, tc.path, tc.body)
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tc.out {
				t.Errorf("body\n got %s\nwant %s", got, tc.out)
			}
			reqs := ts.ks.requests()
			if len(reqs) != 1 {
				t.Fatalf("backend got %d requests, want 1", len(reqs))
			}
			if !proto.Equal(reqs[0], tc.want) {
				t.Errorf("request\n got %v\nwant %v", prototext.Format(reqs[0]), prototext.Format(tc.want))
			}
			if obs := ts.metrics.Last(); obs.Door != "data" || obs.Status != 200 ||
				obs.Command != ts.routeCommand(tc.method, tc.path) {
				t.Errorf("metrics observed %+v", obs)
			}
		})
	}
}

// routeCommand finds the command the route of method and path runs.
func (ts *testServer) routeCommand(method, path string) string {
	req, _ := http.NewRequest(method, path, nil)
	_, pattern := ts.mux.Handler(req)
	for _, rt := range restRoutes {
		if rt.pattern == pattern {
			return rt.command
		}
	}
	return ""
}

func TestRESTErrors(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		path     string
		body     string
		status   int
		code     string
		mentions string
	}{
		{"unknown route", "GET", "/nope", "", 404, codeNotFound, "GET /nope"},
		{"wrong method", "POST", "/kv/get/a", "", 404, codeNotFound, "POST /kv/get/a"},
		{"command endpoint by GET", "GET", "/api/v1/command", "", 404, codeNotFound, "GET /api/v1/command"},
		{"malformed body", "POST", "/kv/set", `{"key":`, 400, codeBadRequest, "not valid JSON"},
		{"body not an object", "POST", "/set/s/add", `["a"]`, 422, messages.CodeInvalid, "JSON object"},
		{"body a string", "POST", "/hash/h/mset", `"x"`, 422, messages.CodeInvalid, "JSON object"},
		{"bad query number", "GET", "/list/l/range?start=abc", "", 422, messages.CodeInvalid, "start must be an integer"},
		{"bad path number", "GET", "/list/l/index/x", "", 422, messages.CodeInvalid, "index must be an integer"},
		{"bad score bound", "GET", "/sortedset/z/zcount?min=low", "", 422, messages.CodeInvalid, "min must be a number"},
		{"wrong field type", "POST", "/kv/set", `{"key":1,"value":1}`, 422, messages.CodeInvalid, "key must be a string"},
		{"missing field", "POST", "/hash/h/set", `{"value":1}`, 422, messages.CodeInvalid, "field is required"},
		{"bad msetnx tuple", "POST", "/kv/msetnx", `["a"]`, 422, messages.CodeInvalid, "pairs[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, insecure())
			wantError(t, serve(ts, tc.method, tc.path, tc.body), tc.status, tc.code, tc.mentions)
			if n := len(ts.ks.requests()); n != 0 {
				t.Errorf("backend got %d requests", n)
			}
		})
	}
}

func TestRESTBackendError(t *testing.T) {
	ts := newTestServer(t, insecure())
	ts.ks.reply = replyWith(&rep{ErrorCode: messages.CodeWrongType, ErrorMessage: "h holds a list"})
	wantError(t, serve(ts, "GET", "/hash/h/getall", ""), 400, messages.CodeWrongType, "h holds a list")
}
