package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestDataHash drives every hash command, as commands and as REST routes,
// with both body formats of POST /hash/{key}/mset.
func TestDataHash(t *testing.T) {
	s := startServer(t)
	steps := []struct {
		command string
		payload map[string]any
		want    string
	}{
		{"hash.get", map[string]any{"key": "h", "field": "name"}, `{"found":false,"value":null}`},
		{"hash.getall", map[string]any{"key": "h"}, `{"fields":{},"count":0}`},
		{"hash.len", map[string]any{"key": "h"}, `{"key":"h","length":0}`},
		{"hash.exists", map[string]any{"key": "h", "field": "name"}, `{"exists":false}`},
		{"hash.set", map[string]any{"key": "h", "field": "name", "value": "Alice"}, `{"key":"h","field":"name","created":true,"success":true}`},
		{"hash.set", map[string]any{"key": "h", "field": "name", "value": "Alicia"}, `{"key":"h","field":"name","created":false,"success":true}`},
		{"hash.set", map[string]any{"key": "h", "field": "prefs", "value": map[string]any{"theme": "dark", "n": []int{1, 2}}}, `{"key":"h","field":"prefs","created":true,"success":true}`},
		{"hash.get", map[string]any{"key": "h", "field": "name"}, `{"found":true,"value":"Alicia"}`},
		{"hash.get", map[string]any{"key": "h", "field": "prefs"}, `{"found":true,"value":{"theme":"dark","n":[1,2]}}`},
		{"hash.get", map[string]any{"key": "h", "field": "nope"}, `{"found":false,"value":null}`},
		{"hash.exists", map[string]any{"key": "h", "field": "name"}, `{"exists":true}`},
		{"hash.mset", map[string]any{"key": "h", "fields": map[string]any{"age": 30, "email": "a@example.com"}}, `{"key":"h","success":true}`},
		{"hash.mset", map[string]any{"key": "h", "fields": []any{map[string]any{"field": "age", "value": 31}, map[string]any{"field": "city", "value": "Zürich"}}}, `{"key":"h","success":true}`},
		{"hash.len", map[string]any{"key": "h"}, `{"key":"h","length":5}`},
		{"hash.getall", map[string]any{"key": "h"}, `{"fields":{"name":"Alicia","prefs":{"theme":"dark","n":[1,2]},"age":31,"email":"a@example.com","city":"Zürich"},"count":5}`},
		{"hash.del", map[string]any{"key": "h", "fields": []string{"email", "city", "nope"}}, `{"deleted":2}`},
		{"hash.del", map[string]any{"key": "h", "field": "age"}, `{"deleted":1}`},
		{"hash.getall", map[string]any{"key": "h"}, `{"fields":{"name":"Alicia","prefs":{"theme":"dark","n":[1,2]}},"count":2}`},
		{"hash.exists", map[string]any{"key": "h", "field": "age"}, `{"exists":false}`},
		// Deleting the last field deletes the key.
		{"hash.del", map[string]any{"key": "h", "fields": []string{"name", "prefs"}}, `{"deleted":2}`},
		{"kv.exists", map[string]any{"key": "h"}, `{"exists":false,"count":0}`},
		{"hash.len", map[string]any{"key": "h"}, `{"key":"h","length":0}`},
	}
	for _, st := range steps {
		s.okJSON(st.command, st.payload, st.want)
	}
	for _, bad := range []struct {
		command string
		payload map[string]any
	}{
		{"hash.set", map[string]any{"field": "f", "value": 1}},
		{"hash.set", map[string]any{"key": "h", "value": 1}},
		{"hash.set", map[string]any{"key": "h", "field": "f"}},
		{"hash.set", map[string]any{"key": "h", "field": 3, "value": 1}},
		{"hash.get", map[string]any{"key": "h"}},
		{"hash.getall", map[string]any{}},
		{"hash.del", map[string]any{"key": "h"}},
		{"hash.del", map[string]any{"key": "h", "fields": "f"}},
		{"hash.mset", map[string]any{"key": "h"}},
		{"hash.mset", map[string]any{"key": "h", "fields": 5}},
		{"hash.mset", map[string]any{"key": "h", "fields": []any{map[string]any{"field": "f"}}}},
		{"hash.mset", map[string]any{"key": "h", "fields": map[string]any{}}},
		{"hash.exists", map[string]any{"key": "h"}},
		{"hash.len", map[string]any{}},
	} {
		s.fails(bad.command, bad.payload, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	}

	// The same over REST, on a key that needs escaping.
	key := "user:1001/profile é"
	base := "/hash/" + url.PathEscape(key)
	ek, _ := json.Marshal(key)
	s.restJSON("POST", base+"/set", `{"field":"name","value":"Alice"}`, fmt.Sprintf(`{"key":%s,"field":"name","created":true,"success":true}`, ek))
	s.restJSON("POST", base+"/mset", `{"fields":{"name":"Alice","age":30,"email":"alice@example.com"}}`, fmt.Sprintf(`{"key":%s,"success":true}`, ek))
	s.restJSON("POST", base+"/mset", `[{"field":"name","value":"Alice"},{"field":"age","value":31},{"field":"city","value":"Paris"}]`, fmt.Sprintf(`{"key":%s,"success":true}`, ek))
	s.restJSON("GET", base+"/name", nil, `{"found":true,"value":"Alice"}`)
	s.restJSON("GET", base+"/nope", nil, `{"found":false,"value":null}`)
	s.restJSON("GET", base+"/age/exists", nil, `{"exists":true}`)
	s.restJSON("GET", base+"/nope/exists", nil, `{"exists":false}`)
	s.restJSON("GET", base+"/len", nil, fmt.Sprintf(`{"key":%s,"length":4}`, ek))
	s.restJSON("GET", base+"/getall", nil, `{"fields":{"name":"Alice","age":31,"email":"alice@example.com","city":"Paris"},"count":4}`)
	s.restJSON("DELETE", base+"/del", `{"fields":["email","city"]}`, `{"deleted":2}`)
	s.restJSON("DELETE", base+"/del?field=age", nil, `{"deleted":1}`)
	s.restJSON("GET", base+"/getall", nil, `{"fields":{"name":"Alice"},"count":1}`)
	// The command sees what REST wrote.
	s.okJSON("hash.get", map[string]any{"key": key, "field": "name"}, `{"found":true,"value":"Alice"}`)
	s.restFails("POST", base+"/set", `{"field":"f"}`, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.restFails("POST", base+"/set", `[1,2]`, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.restFails("POST", base+"/set", `{"field":`, http.StatusBadRequest, "BAD_REQUEST")
	s.restFails("POST", base+"/mset", `[{"field":"x"}]`, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.restFails("POST", base+"/mset", `"fields"`, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.stopClean()
}

// TestDataList drives every list command, as commands and as REST routes,
// with pops that take a count and pops with an empty body.
func TestDataList(t *testing.T) {
	s := startServer(t)
	steps := []struct {
		command string
		payload map[string]any
		want    string
	}{
		{"list.len", map[string]any{"key": "l"}, `{"key":"l","length":0}`},
		{"list.range", map[string]any{"key": "l"}, `{"key":"l","values":[]}`},
		{"list.lpop", map[string]any{"key": "l"}, `{"key":"l","values":[]}`},
		{"list.rpush", map[string]any{"key": "l", "values": []any{"a", "b"}}, `{"key":"l","length":2}`},
		{"list.rpush", map[string]any{"key": "l", "values": []any{map[string]any{"c": 3}, 4, nil, []int{5}}}, `{"key":"l","length":6}`},
		// lpush pushes each value at the head in turn, as in Redis.
		{"list.lpush", map[string]any{"key": "l", "values": []any{"y", "x"}}, `{"key":"l","length":8}`},
		{"list.range", map[string]any{"key": "l"}, `{"key":"l","values":["x","y","a","b",{"c":3},4,null,[5]]}`},
		{"list.range", map[string]any{"key": "l", "start": 0, "stop": -1}, `{"key":"l","values":["x","y","a","b",{"c":3},4,null,[5]]}`},
		{"list.range", map[string]any{"key": "l", "start": 1, "stop": 3}, `{"key":"l","values":["y","a","b"]}`},
		{"list.range", map[string]any{"key": "l", "start": -3, "stop": -2}, `{"key":"l","values":[4,null]}`},
		{"list.range", map[string]any{"key": "l", "start": 6, "stop": 100}, `{"key":"l","values":[null,[5]]}`},
		{"list.range", map[string]any{"key": "l", "start": 5, "stop": 2}, `{"key":"l","values":[]}`},
		{"list.range", map[string]any{"key": "l", "start": 50, "stop": 60}, `{"key":"l","values":[]}`},
		{"list.len", map[string]any{"key": "l"}, `{"key":"l","length":8}`},
		{"list.lpop", map[string]any{"key": "l"}, `{"key":"l","values":["x"]}`},
		{"list.lpop", map[string]any{"key": "l", "count": 2}, `{"key":"l","values":["y","a"]}`},
		{"list.rpop", map[string]any{"key": "l"}, `{"key":"l","values":[[5]]}`},
		{"list.rpop", map[string]any{"key": "l", "count": 2}, `{"key":"l","values":[null,4]}`},
		{"list.range", map[string]any{"key": "l"}, `{"key":"l","values":["b",{"c":3}]}`},
		// A count past the length pops what there is; the empty list is gone.
		{"list.rpop", map[string]any{"key": "l", "count": 10}, `{"key":"l","values":[{"c":3},"b"]}`},
		{"list.len", map[string]any{"key": "l"}, `{"key":"l","length":0}`},
		{"kv.exists", map[string]any{"key": "l"}, `{"exists":false,"count":0}`},
		{"list.rpop", map[string]any{"key": "l"}, `{"key":"l","values":[]}`},
		{"list.lpush", map[string]any{"key": "l", "value": "single"}, `{"key":"l","length":1}`},
	}
	for _, st := range steps {
		s.okJSON(st.command, st.payload, st.want)
	}
	for _, bad := range []struct {
		command string
		payload map[string]any
	}{
		{"list.lpush", map[string]any{"key": "l"}},
		{"list.rpush", map[string]any{"key": "l", "values": []any{}}},
		{"list.rpush", map[string]any{"values": []any{1}}},
		{"list.rpush", map[string]any{"key": "l", "values": "v"}},
		{"list.lpop", map[string]any{"key": "l", "count": 0}},
		{"list.lpop", map[string]any{"key": "l", "count": -1}},
		{"list.rpop", map[string]any{"key": "l", "count": "2"}},
		{"list.range", map[string]any{"key": "l", "start": "a"}},
		{"list.range", map[string]any{"key": "l", "stop": 1.5}},
		{"list.range", map[string]any{}},
		{"list.len", map[string]any{}},
	} {
		s.fails(bad.command, bad.payload, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	}
	s.okJSON("list.range", map[string]any{"key": "l"}, `{"key":"l","values":["single"]}`)

	// REST, with the spec's pop bodies: a count, {}, and no body at all.
	s.restJSON("POST", "/list/q/rpush", `{"values":[1,2,3,4,5,6]}`, `{"key":"q","length":6}`)
	s.restJSON("POST", "/list/q/lpush", `{"values":[0]}`, `{"key":"q","length":7}`)
	s.restJSON("GET", "/list/q/len", nil, `{"key":"q","length":7}`)
	s.restJSON("GET", "/list/q/range", nil, `{"key":"q","values":[0,1,2,3,4,5,6]}`)
	s.restJSON("GET", "/list/q/range?start=1&stop=-2", nil, `{"key":"q","values":[1,2,3,4,5]}`)
	s.restJSON("POST", "/list/q/lpop", `{"count": 3}`, `{"key":"q","values":[0,1,2]}`)
	s.restJSON("POST", "/list/q/rpop", `{"count": 2}`, `{"key":"q","values":[6,5]}`)
	s.restJSON("POST", "/list/q/lpop", `{}`, `{"key":"q","values":[3]}`)
	s.restJSON("POST", "/list/q/rpop", `{}`, `{"key":"q","values":[4]}`)
	s.restJSON("POST", "/list/q/rpop", nil, `{"key":"q","values":[]}`)
	s.restJSON("POST", "/list/q/lpop", nil, `{"key":"q","values":[]}`)
	s.restJSON("GET", "/list/q/len", nil, `{"key":"q","length":0}`)
	s.restFails("POST", "/list/q/lpop", `{"count": 0}`, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.restFails("GET", "/list/q/range?start=x", nil, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.restFails("POST", "/list/q/rpush", `{}`, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.stopClean()
}

// TestDataSet drives every set command, as commands and as REST routes.
func TestDataSet(t *testing.T) {
	s := startServer(t)
	members := func(key string) []string {
		t.Helper()
		var got struct {
			Key     string   `json:"key"`
			Members []string `json:"members"`
		}
		s.ok("set.members", map[string]any{"key": key}, &got)
		if got.Key != key || got.Members == nil {
			t.Fatalf("set.members %s: %+v", key, got)
		}
		slices.Sort(got.Members)
		return got.Members
	}
	s.okJSON("set.card", map[string]any{"key": "s"}, `{"key":"s","cardinality":0,"size":0}`)
	s.okJSON("set.ismember", map[string]any{"key": "s", "member": "a"}, `{"key":"s","is_member":false}`)
	s.okJSON("set.add", map[string]any{"key": "s", "members": []string{"a", "b", "a", "ü 🎉"}}, `{"key":"s","added":3}`)
	s.okJSON("set.add", map[string]any{"key": "s", "members": []string{"b", "c"}}, `{"key":"s","added":1}`)
	s.okJSON("set.add", map[string]any{"key": "s", "member": "d"}, `{"key":"s","added":1}`)
	if got := members("s"); !slices.Equal(got, []string{"a", "b", "c", "d", "ü 🎉"}) {
		t.Fatalf("set.members: %q", got)
	}
	s.okJSON("set.card", map[string]any{"key": "s"}, `{"key":"s","cardinality":5,"size":5}`)
	s.okJSON("set.ismember", map[string]any{"key": "s", "member": "ü 🎉"}, `{"key":"s","is_member":true}`)
	s.okJSON("set.ismember", map[string]any{"key": "s", "member": "z"}, `{"key":"s","is_member":false}`)
	s.okJSON("set.rem", map[string]any{"key": "s", "members": []string{"a", "z", "ü 🎉"}}, `{"key":"s","removed":2}`)
	s.okJSON("set.rem", map[string]any{"key": "s", "member": "b"}, `{"key":"s","removed":1}`)
	if got := members("s"); !slices.Equal(got, []string{"c", "d"}) {
		t.Fatalf("set.members after rem: %q", got)
	}
	s.okJSON("set.rem", map[string]any{"key": "s", "members": []string{"c", "d"}}, `{"key":"s","removed":2}`)
	s.okJSON("kv.exists", map[string]any{"key": "s"}, `{"exists":false,"count":0}`)
	s.okJSON("set.members", map[string]any{"key": "s"}, `{"key":"s","members":[]}`)
	s.okJSON("set.rem", map[string]any{"key": "s", "members": []string{"x"}}, `{"key":"s","removed":0}`)
	for _, bad := range []struct {
		command string
		payload map[string]any
	}{
		{"set.add", map[string]any{"key": "s"}},
		{"set.add", map[string]any{"key": "s", "members": []string{}}},
		{"set.add", map[string]any{"key": "s", "members": []any{1}}},
		{"set.add", map[string]any{"key": "s", "members": []string{""}}},
		{"set.add", map[string]any{"members": []string{"a"}}},
		{"set.rem", map[string]any{"key": "s"}},
		{"set.ismember", map[string]any{"key": "s"}},
		{"set.members", map[string]any{}},
		{"set.card", map[string]any{}},
	} {
		s.fails(bad.command, bad.payload, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	}

	s.restJSON("POST", "/set/tags/add", `{"members":["go","rust","go"]}`, `{"key":"tags","added":2}`)
	s.restJSON("POST", "/set/tags/add", `{"member":"zig"}`, `{"key":"tags","added":1}`)
	s.restJSON("POST", "/set/tags/ismember", `{"member":"rust"}`, `{"key":"tags","is_member":true}`)
	s.restJSON("POST", "/set/tags/ismember", `{"member":"c"}`, `{"key":"tags","is_member":false}`)
	s.restJSON("GET", "/set/tags/card", nil, `{"key":"tags","cardinality":3,"size":3}`)
	s.restJSON("POST", "/set/tags/rem", `{"members":["rust","c"]}`, `{"key":"tags","removed":1}`)
	status, raw := s.rest("GET", "/set/tags/members", nil)
	var got struct {
		Key     string   `json:"key"`
		Members []string `json:"members"`
	}
	if status != http.StatusOK || json.Unmarshal(raw, &got) != nil {
		t.Fatalf("GET /set/tags/members: %d %s", status, raw)
	}
	slices.Sort(got.Members)
	if got.Key != "tags" || !slices.Equal(got.Members, []string{"go", "zig"}) {
		t.Fatalf("GET /set/tags/members: %s", raw)
	}
	if got := members("tags"); !slices.Equal(got, []string{"go", "zig"}) {
		t.Fatalf("set.members after REST writes: %q", got)
	}
	s.restFails("POST", "/set/tags/add", `{}`, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.restFails("POST", "/set/tags/ismember", `{}`, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.stopClean()
}

// TestDataSortedSet drives every sorted-set command, as commands and as
// REST routes, with single and multiple zadd bodies.
func TestDataSortedSet(t *testing.T) {
	s := startServer(t)
	steps := []struct {
		command string
		payload map[string]any
		want    string
	}{
		{"sortedset.zcard", map[string]any{"key": "z"}, `{"key":"z","count":0}`},
		{"sortedset.zrange", map[string]any{"key": "z"}, `{"key":"z","members":[]}`},
		{"sortedset.zscore", map[string]any{"key": "z", "member": "a"}, `{"key":"z","member":"a","score":null}`},
		{"sortedset.zadd", map[string]any{"key": "z", "member": "a", "score": 1}, `{"key":"z","added":1}`},
		{"sortedset.zadd", map[string]any{"key": "z", "members": []any{
			map[string]any{"member": "b", "score": 2.5},
			map[string]any{"member": "c", "score": -1},
			map[string]any{"member": "a", "score": 3},
			map[string]any{"member": "d", "score": 2.5},
		}}, `{"key":"z","added":3}`},
		{"sortedset.zcard", map[string]any{"key": "z"}, `{"key":"z","count":4}`},
		{"sortedset.zscore", map[string]any{"key": "z", "member": "a"}, `{"key":"z","member":"a","score":3}`},
		{"sortedset.zscore", map[string]any{"key": "z", "member": "b"}, `{"key":"z","member":"b","score":2.5}`},
		// By rank, ascending score, ties by member.
		{"sortedset.zrange", map[string]any{"key": "z"}, `{"key":"z","members":[{"member":"c","score":-1},{"member":"b","score":2.5},{"member":"d","score":2.5},{"member":"a","score":3}]}`},
		{"sortedset.zrange", map[string]any{"key": "z", "start": 1, "stop": 2}, `{"key":"z","members":[{"member":"b","score":2.5},{"member":"d","score":2.5}]}`},
		{"sortedset.zrange", map[string]any{"key": "z", "start": -1, "stop": -1}, `{"key":"z","members":[{"member":"a","score":3}]}`},
		{"sortedset.zrange", map[string]any{"key": "z", "start": 3, "stop": 1}, `{"key":"z","members":[]}`},
		{"sortedset.zrevrange", map[string]any{"key": "z"}, `{"key":"z","members":[{"member":"a","score":3},{"member":"d","score":2.5},{"member":"b","score":2.5},{"member":"c","score":-1}]}`},
		{"sortedset.zrevrange", map[string]any{"key": "z", "start": 0, "stop": 1}, `{"key":"z","members":[{"member":"a","score":3},{"member":"d","score":2.5}]}`},
		{"sortedset.zrangebyscore", map[string]any{"key": "z", "min": 0, "max": 2.5}, `{"key":"z","members":[{"member":"b","score":2.5},{"member":"d","score":2.5}]}`},
		{"sortedset.zrangebyscore", map[string]any{"key": "z", "min": "-inf", "max": "+inf"}, `{"key":"z","members":[{"member":"c","score":-1},{"member":"b","score":2.5},{"member":"d","score":2.5},{"member":"a","score":3}]}`},
		{"sortedset.zrangebyscore", map[string]any{"key": "z"}, `{"key":"z","members":[{"member":"c","score":-1},{"member":"b","score":2.5},{"member":"d","score":2.5},{"member":"a","score":3}]}`},
		{"sortedset.zrangebyscore", map[string]any{"key": "z", "min": 2.5, "count": 2}, `{"key":"z","members":[{"member":"b","score":2.5},{"member":"d","score":2.5}]}`},
		{"sortedset.zrangebyscore", map[string]any{"key": "z", "min": 10, "max": 20}, `{"key":"z","members":[]}`},
		{"sortedset.zincrby", map[string]any{"key": "z", "member": "c", "increment": 5}, `{"key":"z","member":"c","score":4}`},
		{"sortedset.zincrby", map[string]any{"key": "z", "member": "new", "increment": -0.5}, `{"key":"z","member":"new","score":-0.5}`},
		{"sortedset.zcard", map[string]any{"key": "z"}, `{"key":"z","count":5}`},
		{"sortedset.zrange", map[string]any{"key": "z"}, `{"key":"z","members":[{"member":"new","score":-0.5},{"member":"b","score":2.5},{"member":"d","score":2.5},{"member":"a","score":3},{"member":"c","score":4}]}`},
		{"sortedset.zrem", map[string]any{"key": "z", "members": []string{"b", "zz", "new"}}, `{"key":"z","removed":2}`},
		{"sortedset.zrem", map[string]any{"key": "z", "member": "d"}, `{"key":"z","removed":1}`},
		{"sortedset.zrange", map[string]any{"key": "z"}, `{"key":"z","members":[{"member":"a","score":3},{"member":"c","score":4}]}`},
		{"sortedset.zadd", map[string]any{"key": "z", "member": "a", "score": 1e-7}, `{"key":"z","added":0}`},
		{"sortedset.zscore", map[string]any{"key": "z", "member": "a"}, `{"key":"z","member":"a","score":1e-7}`},
		{"sortedset.zrem", map[string]any{"key": "z", "members": []string{"a", "c"}}, `{"key":"z","removed":2}`},
		{"kv.exists", map[string]any{"key": "z"}, `{"exists":false,"count":0}`},
	}
	for _, st := range steps {
		s.okJSON(st.command, st.payload, st.want)
	}
	for _, bad := range []struct {
		command string
		payload map[string]any
	}{
		{"sortedset.zadd", map[string]any{"key": "z", "member": "a"}},
		{"sortedset.zadd", map[string]any{"key": "z", "score": 1}},
		{"sortedset.zadd", map[string]any{"key": "z", "member": "a", "score": "x"}},
		{"sortedset.zadd", map[string]any{"key": "z", "members": []any{}}},
		{"sortedset.zadd", map[string]any{"key": "z", "members": []any{map[string]any{"member": "a"}}}},
		{"sortedset.zadd", map[string]any{"key": "z", "members": []any{map[string]any{"score": 1}}}},
		{"sortedset.zadd", map[string]any{"member": "a", "score": 1}},
		{"sortedset.zrem", map[string]any{"key": "z"}},
		{"sortedset.zscore", map[string]any{"key": "z"}},
		{"sortedset.zrange", map[string]any{"key": "z", "start": "x"}},
		{"sortedset.zrevrange", map[string]any{"key": "z", "stop": "y"}},
		{"sortedset.zrangebyscore", map[string]any{"key": "z", "min": "low"}},
		{"sortedset.zrangebyscore", map[string]any{"key": "z", "count": 0}},
		{"sortedset.zincrby", map[string]any{"key": "z", "member": "a"}},
		{"sortedset.zincrby", map[string]any{"key": "z", "member": "a", "increment": "1"}},
		{"sortedset.zcard", map[string]any{}},
	} {
		s.fails(bad.command, bad.payload, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	}
	s.okJSON("sortedset.zcard", map[string]any{"key": "z"}, `{"key":"z","count":0}`)

	// REST: the spec's single and multiple zadd bodies, then every read route.
	s.restJSON("POST", "/sortedset/board/zadd", `{"member":"player1","score":100.5}`, `{"key":"board","added":1}`)
	s.restJSON("POST", "/sortedset/board/zadd", `{"members":[{"member":"player1","score":100.5},{"member":"player2","score":200.0},{"member":"player3","score":50}]}`, `{"key":"board","added":2}`)
	s.restJSON("GET", "/sortedset/board/zcard", nil, `{"key":"board","count":3}`)
	s.restJSON("GET", "/sortedset/board/player2/zscore", nil, `{"key":"board","member":"player2","score":200}`)
	s.restJSON("GET", "/sortedset/board/nobody/zscore", nil, `{"key":"board","member":"nobody","score":null}`)
	s.restJSON("GET", "/sortedset/board/zrange", nil, `{"key":"board","members":[{"member":"player3","score":50},{"member":"player1","score":100.5},{"member":"player2","score":200}]}`)
	s.restJSON("GET", "/sortedset/board/zrange?start=0&stop=0", nil, `{"key":"board","members":[{"member":"player3","score":50}]}`)
	s.restJSON("GET", "/sortedset/board/zrevrange?start=0&stop=1", nil, `{"key":"board","members":[{"member":"player2","score":200},{"member":"player1","score":100.5}]}`)
	q := url.Values{"min": {"60"}, "max": {"+inf"}}
	s.restJSON("GET", "/sortedset/board/zrangebyscore?"+q.Encode(), nil, `{"key":"board","members":[{"member":"player1","score":100.5},{"member":"player2","score":200}]}`)
	q = url.Values{"min": {"-inf"}, "max": {"100.5"}, "count": {"1"}}
	s.restJSON("GET", "/sortedset/board/zrangebyscore?"+q.Encode(), nil, `{"key":"board","members":[{"member":"player3","score":50}]}`)
	s.restJSON("POST", "/sortedset/board/zincrby", `{"member":"player3","increment":200}`, `{"key":"board","member":"player3","score":250}`)
	s.restJSON("GET", "/sortedset/board/zrevrange?start=0&stop=0", nil, `{"key":"board","members":[{"member":"player3","score":250}]}`)
	s.restJSON("POST", "/sortedset/board/zrem", `{"members":["player1","ghost"]}`, `{"key":"board","removed":1}`)
	s.okJSON("sortedset.zrange", map[string]any{"key": "board"}, `{"key":"board","members":[{"member":"player2","score":200},{"member":"player3","score":250}]}`)
	s.restFails("POST", "/sortedset/board/zadd", `{"member":"p"}`, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.restFails("POST", "/sortedset/board/zadd", `{"members":[{"member":"p","score":"high"}]}`, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.restFails("GET", "/sortedset/board/zrangebyscore?min=abc", nil, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.stopClean()
}

// TestDataWrongType: every command of one type on a key of every other type
// is WRONG_TYPE (400), over commands and REST, and changes nothing.
func TestDataWrongType(t *testing.T) {
	s := startServer(t)
	keys := map[string]string{"string": "wt:string", "hash": "wt:hash", "list": "wt:list", "set": "wt:set", "zset": "wt:zset"}
	s.ok("kv.set", map[string]any{"key": keys["string"], "value": 7}, nil)
	s.ok("hash.set", map[string]any{"key": keys["hash"], "field": "f", "value": 1}, nil)
	s.ok("list.rpush", map[string]any{"key": keys["list"], "values": []any{1}}, nil)
	s.ok("set.add", map[string]any{"key": keys["set"], "members": []string{"m"}}, nil)
	s.ok("sortedset.zadd", map[string]any{"key": keys["zset"], "member": "m", "score": 1}, nil)
	snapshot := func() string {
		var b strings.Builder
		for _, c := range []struct {
			command, key string
		}{
			{"kv.get", keys["string"]}, {"hash.getall", keys["hash"]}, {"list.range", keys["list"]},
			{"set.members", keys["set"]}, {"sortedset.zrange", keys["zset"]},
		} {
			b.Write(s.payload(c.command, map[string]any{"key": c.key}))
		}
		return b.String()
	}
	before := snapshot()

	ops := []struct {
		kind, command string
		args          map[string]any
	}{
		{"string", "kv.get", nil},
		{"string", "kv.set", map[string]any{"value": 1}},
		{"string", "kv.incr", nil},
		{"string", "kv.decr", map[string]any{"amount": 2}},
		{"hash", "hash.set", map[string]any{"field": "f", "value": 1}},
		{"hash", "hash.get", map[string]any{"field": "f"}},
		{"hash", "hash.getall", nil},
		{"hash", "hash.del", map[string]any{"fields": []string{"f"}}},
		{"hash", "hash.mset", map[string]any{"fields": map[string]any{"f": 1}}},
		{"hash", "hash.exists", map[string]any{"field": "f"}},
		{"hash", "hash.len", nil},
		{"list", "list.lpush", map[string]any{"values": []any{1}}},
		{"list", "list.rpush", map[string]any{"values": []any{1}}},
		{"list", "list.lpop", nil},
		{"list", "list.rpop", map[string]any{"count": 2}},
		{"list", "list.range", nil},
		{"list", "list.len", nil},
		{"set", "set.add", map[string]any{"members": []string{"m"}}},
		{"set", "set.rem", map[string]any{"members": []string{"m"}}},
		{"set", "set.members", nil},
		{"set", "set.ismember", map[string]any{"member": "m"}},
		{"set", "set.card", nil},
		{"zset", "sortedset.zadd", map[string]any{"member": "m", "score": 2}},
		{"zset", "sortedset.zrem", map[string]any{"members": []string{"m"}}},
		{"zset", "sortedset.zscore", map[string]any{"member": "m"}},
		{"zset", "sortedset.zrange", nil},
		{"zset", "sortedset.zrevrange", nil},
		{"zset", "sortedset.zrangebyscore", nil},
		{"zset", "sortedset.zincrby", map[string]any{"member": "m", "increment": 1}},
		{"zset", "sortedset.zcard", nil},
	}
	for _, op := range ops {
		for kind, key := range keys {
			if kind == op.kind {
				continue
			}
			payload := map[string]any{"key": key}
			for k, v := range op.args {
				payload[k] = v
			}
			msg := s.fails(op.command, payload, http.StatusBadRequest, "WRONG_TYPE")
			if !strings.Contains(msg, key) {
				t.Errorf("%s on a %s: message %q does not name the key", op.command, kind, msg)
			}
		}
	}
	// The same through REST routes.
	rest := []struct{ method, path, body string }{
		{"GET", "/hash/wt:list/getall", ""},
		{"POST", "/hash/wt:set/mset", `[{"field":"a","value":1}]`},
		{"GET", "/hash/wt:zset/f", ""},
		{"POST", "/list/wt:hash/lpop", `{}`},
		{"POST", "/list/wt:string/rpush", `{"values":[1]}`},
		{"GET", "/list/wt:set/range", ""},
		{"POST", "/set/wt:zset/add", `{"members":["x"]}`},
		{"GET", "/set/wt:list/members", ""},
		{"POST", "/sortedset/wt:hash/zadd", `{"member":"x","score":1}`},
		{"GET", "/sortedset/wt:string/zrange", ""},
		{"GET", "/kv/get/wt:zset", ""},
	}
	for _, r := range rest {
		var body any
		if r.body != "" {
			body = r.body
		}
		s.restFails(r.method, r.path, body, http.StatusBadRequest, "WRONG_TYPE")
	}
	if after := snapshot(); after != before {
		t.Fatalf("WRONG_TYPE commands changed data:\nbefore %s\nafter  %s", before, after)
	}
	// Commands on keys of any type still work on each of them.
	for _, key := range keys {
		s.okJSON("kv.exists", map[string]any{"key": key}, `{"exists":true,"count":1}`)
	}
	s.stopClean()
}

// TestDataMemoryUsage: GET /memory/{key}/usage, 0B for a missing key, and a
// figure that follows what the key holds.
func TestDataMemoryUsage(t *testing.T) {
	s := startServer(t)
	s.restJSON("GET", "/memory/missing/usage", nil, `{"key":"missing","bytes":0,"human":"0B"}`)
	type usage struct {
		Key   string `json:"key"`
		Bytes int64  `json:"bytes"`
		Human string `json:"human"`
	}
	get := func(key string) usage {
		t.Helper()
		status, raw := s.rest("GET", "/memory/"+url.PathEscape(key)+"/usage", nil)
		var u usage
		if status != http.StatusOK || json.Unmarshal(raw, &u) != nil || u.Key != key {
			t.Fatalf("GET /memory/%s/usage: %d %s", key, status, raw)
		}
		return u
	}
	s.ok("kv.set", map[string]any{"key": "small", "value": "x"}, nil)
	small := get("small")
	if small.Bytes < int64(len(`"x"`)) || small.Bytes >= 1024 || small.Human != fmt.Sprintf("%dB", small.Bytes) {
		t.Fatalf("usage of a 3-byte value: %+v", small)
	}
	s.ok("kv.set", map[string]any{"key": "big", "value": strings.Repeat("y", 100<<10)}, nil)
	big := get("big")
	if big.Bytes < 100<<10 || big.Bytes > 101<<10 || !strings.HasSuffix(big.Human, "KB") || !strings.HasPrefix(big.Human, "100") {
		t.Fatalf("usage of a 100 KiB value: %+v", big)
	}
	// A hash grows with its fields, and is back to 0B once deleted.
	s.ok("hash.set", map[string]any{"key": "h é", "field": "a", "value": 1}, nil)
	one := get("h é")
	s.ok("hash.mset", map[string]any{"key": "h é", "fields": map[string]any{"b": strings.Repeat("z", 500), "c": 3}}, nil)
	three := get("h é")
	if one.Bytes <= 0 || three.Bytes < one.Bytes+500 {
		t.Fatalf("hash usage: %d with one field, %d with three", one.Bytes, three.Bytes)
	}
	s.ok("kv.del", map[string]any{"keys": []string{"h é", "big"}}, nil)
	if u := get("h é"); u.Bytes != 0 || u.Human != "0B" {
		t.Fatalf("usage of a deleted hash: %+v", u)
	}
	// The command form answers the same.
	s.okJSON("memory.usage", map[string]any{"key": "big"}, `{"key":"big","bytes":0,"human":"0B"}`)
	s.stopClean()
}

// TestDataRestartKeepsEveryType: keys of every type, after a mix of writes,
// read back the same after a graceful restart and after kill -9 (under
// --fsync=always, and on the PostgreSQL journal), ttls included, and
// admin.stats counts the same keys and bytes as before.
func TestDataRestartKeepsEveryType(t *testing.T) {
	eachJournal(t, func(t *testing.T, journal string) {
		s := startServer(t, journal)
		v := strings.Repeat("a", 100)
		for _, c := range []struct {
			command string
			payload map[string]any
		}{
			{"kv.set", map[string]any{"key": "s", "value": v}},
			{"kv.set", map[string]any{"key": "s", "value": "short"}},
			{"kv.set", map[string]any{"key": "t", "value": map[string]any{"big": json.Number("12345678901234567890")}, "ttl": 3600}},
			{"kv.incr", map[string]any{"key": "n", "amount": 123456}},
			{"kv.decr", map[string]any{"key": "n", "amount": 123000}},
			{"hash.mset", map[string]any{"key": "h", "fields": map[string]any{"a": v, "b": 1, "c": "x"}}},
			{"hash.set", map[string]any{"key": "h", "field": "a", "value": "y"}},
			{"hash.del", map[string]any{"key": "h", "fields": []string{"b"}}},
			{"list.rpush", map[string]any{"key": "l", "values": []any{v, 1, 2, 3}}},
			{"list.lpush", map[string]any{"key": "l", "values": []any{"z"}}},
			{"list.lpop", map[string]any{"key": "l", "count": 2}},
			{"list.rpop", map[string]any{"key": "l"}},
			{"set.add", map[string]any{"key": "st", "members": []string{"a", "b", v}}},
			{"set.rem", map[string]any{"key": "st", "members": []string{"a"}}},
			{"sortedset.zadd", map[string]any{"key": "z", "members": []any{map[string]any{"member": "a", "score": 1}, map[string]any{"member": v, "score": 2}}}},
			{"sortedset.zincrby", map[string]any{"key": "z", "member": "a", "increment": 5.5}},
			{"sortedset.zadd", map[string]any{"key": "z", "member": "b", "score": 3}},
			{"sortedset.zrem", map[string]any{"key": "z", "members": []string{"b"}}},
			{"kv.msetnx", map[string]any{"pairs": map[string]any{"x1": v, "x2": v, "x3": v, "x4": 1}}},
			{"kv.mset", map[string]any{"pairs": map[string]any{"x1": 1, "x5": v}}},
			{"kv.del", map[string]any{"keys": []string{"x2"}}},
		} {
			s.ok(c.command, c.payload, nil)
		}
		dump := func() string {
			var b strings.Builder
			for _, c := range []struct {
				command string
				payload map[string]any
			}{
				{"kv.mget", map[string]any{"keys": []string{"s", "n", "t", "x1", "x2", "x3", "x4", "x5"}}},
				{"hash.getall", map[string]any{"key": "h"}},
				{"list.range", map[string]any{"key": "l"}},
				{"set.members", map[string]any{"key": "st"}},
				{"sortedset.zrange", map[string]any{"key": "z"}},
			} {
				b.Write(s.payload(c.command, c.payload))
				b.WriteByte('\n')
			}
			return b.String()
		}
		want := dump()
		if !strings.Contains(want, `{"big":12345678901234567890}`) || !strings.Contains(want, `{"member":"a","score":6.5}`) {
			t.Fatalf("unexpected data before restarting:\n%s", want)
		}
		var before dataStats
		s.ok("admin.stats", nil, &before)
		if before.KV.TotalKeys != 11 {
			t.Fatalf("total_keys %d, want 11", before.KV.TotalKeys)
		}
		for _, how := range []string{"SIGTERM", "kill -9"} {
			if how == "SIGTERM" {
				if err := s.stop(); err != nil {
					t.Fatalf("SIGTERM: exit %v", err)
				}
			} else {
				s.kill9()
			}
			s.restart()
			if got := dump(); got != want {
				t.Fatalf("after %s and a restart:\n got  %s\n want %s", how, got, want)
			}
			var ttl struct {
				TTL *int64 `json:"ttl"`
			}
			s.ok("kv.ttl", map[string]any{"key": "t"}, &ttl)
			if ttl.TTL == nil || *ttl.TTL < 3500 || *ttl.TTL > 3600 {
				t.Fatalf("ttl of t after %s: %v, want about 3600", how, ttl.TTL)
			}
			var after dataStats
			s.ok("admin.stats", nil, &after)
			if after.KV.TotalKeys != before.KV.TotalKeys || after.Memory.UsedBytes != before.Memory.UsedBytes {
				t.Fatalf("admin.stats after %s: total_keys %d used_bytes %d; before: %d and %d", how,
					after.KV.TotalKeys, after.Memory.UsedBytes, before.KV.TotalKeys, before.Memory.UsedBytes)
			}
		}
		// Deleting everything gives every byte back.
		s.okJSON("kv.del", map[string]any{"keys": []string{"s", "n", "t", "h", "l", "st", "z", "x1", "x3", "x4", "x5"}}, `{"deleted":11}`)
		var empty dataStats
		s.ok("admin.stats", nil, &empty)
		if empty.KV.TotalKeys != 0 || empty.Memory.UsedBytes != 0 {
			t.Fatalf("admin.stats after deleting every key: %+v", empty)
		}
		s.stopClean()
	})
}

// TestDataSortedSetInfiniteScore: zadd refuses a score JSON cannot carry
// (1e309); zincrby must not create one either, or the member's score reads
// back as null, like a missing member's.
func TestDataSortedSetInfiniteScore(t *testing.T) {
	s := startServer(t)
	s.fails("sortedset.zadd", map[string]any{"key": "zi", "member": "m", "score": json.Number("1e309")}, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.okJSON("sortedset.zadd", map[string]any{"key": "zi", "member": "m", "score": 1e308}, `{"key":"zi","added":1}`)
	status, r := s.command("sortedset.zincrby", map[string]any{"key": "zi", "member": "m", "increment": 1e308})
	if status == http.StatusOK || r.Status != "error" {
		t.Errorf("zincrby of 1e308 by 1e308 (past the largest float): %d %s, want a 4xx error", status, r.Payload)
	}
	s.okJSON("sortedset.zscore", map[string]any{"key": "zi", "member": "m"}, `{"key":"zi","member":"m","score":1e+308}`)
	s.okJSON("sortedset.zrange", map[string]any{"key": "zi"}, `{"key":"zi","members":[{"member":"m","score":1e+308}]}`)
	s.stopClean()
}
