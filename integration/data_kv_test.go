package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// kvGot is kv.get's reply; the value stays raw so that it can be compared
// byte for byte.
type kvGot struct {
	Found bool            `json:"found"`
	Value json.RawMessage `json:"value"`
	TTL   *int64          `json:"ttl"`
}

// TestDataKVValuesOfEveryJSONType: every kind of JSON value comes back from
// kv.get, kv.mget and GET /kv/get/{key} exactly as it was stored (compacted),
// under keys with unicode, spaces and slashes.
func TestDataKVValuesOfEveryJSONType(t *testing.T) {
	s := startServer(t)
	tests := []struct {
		name, value, want string // want: the stored form, when not value itself
	}{
		{name: "string", value: `"hello"`},
		{name: "empty string", value: `""`},
		{name: "unicode string", value: `"héllo wörld 世界 🎉"`},
		{name: "escapes", value: `"tab\tquote\"slash\\ \u00e9 \ud83c\udf89"`},
		{name: "integer", value: `42`},
		{name: "negative", value: `-7`},
		{name: "beyond int64", value: `12345678901234567890`},
		{name: "beyond float64 precision", value: `3.14159265358979323846264338327950288`},
		{name: "exponent", value: `6.02214076e+23`},
		{name: "beyond float64 range", value: `1e400`},
		{name: "true", value: `true`},
		{name: "false", value: `false`},
		{name: "null", value: `null`},
		{name: "object", value: `{"name":"Alice","age":30,"tags":["a","b"],"nested":{"deep":[1,{"x":null}]}}`},
		{name: "array", value: `[1,"two",3.0,[4],{"five":5},12345678901234567890]`},
		{name: "empty object", value: `{}`},
		{name: "empty array", value: `[]`},
		{name: "white space", value: "{ \"a\" :\n [ 1 , 2 ] ,\t\"b\" : \"x y\" }", want: `{"a":[1,2],"b":"x y"}`},
	}
	keys := make([]string, len(tests))
	for i, tc := range tests {
		key := fmt.Sprintf("ключ:🔑/%d %s", i, tc.name)
		keys[i] = key
		want := tc.want
		if want == "" {
			want = tc.value
		}
		body := fmt.Sprintf(`{"command":"kv.set","payload":{"key":%q,"value":%s}}`, key, tc.value)
		status, r := s.rawCommand(body)
		if status != http.StatusOK || !jsonEqual(r.Payload, []byte(fmt.Sprintf(`{"key":%q,"success":true,"previous":null}`, key))) {
			t.Fatalf("%s: kv.set: %d %s %+v", tc.name, status, r.Payload, r.Error)
		}
		var got kvGot
		s.ok("kv.get", map[string]any{"key": key}, &got)
		if !got.Found || string(got.Value) != want || got.TTL != nil {
			t.Errorf("%s: kv.get = found %v value %s ttl %v, want found true value %s ttl null", tc.name, got.Found, got.Value, got.TTL, want)
		}
		// The REST route reads the same value, the key escaped in the path.
		status, raw := s.rest("GET", "/kv/get/"+url.PathEscape(key), nil)
		var rest kvGot
		if status != http.StatusOK || json.Unmarshal(raw, &rest) != nil || !rest.Found || string(rest.Value) != want {
			t.Errorf("%s: GET /kv/get: %d %s, want value %s", tc.name, status, raw, want)
		}
		// Overwriting returns the previous value, byte for byte.
		var set struct {
			Success  bool            `json:"success"`
			Previous json.RawMessage `json:"previous"`
		}
		s.ok("kv.set", map[string]any{"key": key, "value": "replaced"}, &set)
		if !set.Success || string(set.Previous) != want {
			t.Errorf("%s: kv.set over it: success %v previous %s, want %s", tc.name, set.Success, set.Previous, want)
		}
		s.rawCommand(body) // back to the original value
	}

	// kv.mget returns them all in request order, null for a missing key.
	var mget struct {
		Values []json.RawMessage `json:"values"`
	}
	s.ok("kv.mget", map[string]any{"keys": append(slices.Clone(keys), "no such key")}, &mget)
	if len(mget.Values) != len(keys)+1 {
		t.Fatalf("kv.mget: %d values for %d keys", len(mget.Values), len(keys)+1)
	}
	for i, tc := range tests {
		want := tc.want
		if want == "" {
			want = tc.value
		}
		if string(mget.Values[i]) != want {
			t.Errorf("kv.mget[%d] (%s) = %s, want %s", i, tc.name, mget.Values[i], want)
		}
	}
	if string(mget.Values[len(keys)]) != "null" {
		t.Errorf("kv.mget of a missing key = %s, want null", mget.Values[len(keys)])
	}
	s.stopClean()
}

// TestDataKVSetOptions: nx, xx, previous, ttl and the validation of kv.set.
func TestDataKVSetOptions(t *testing.T) {
	s := startServer(t)
	steps := []struct {
		name    string
		payload map[string]any
		want    string // kv.set's payload
		after   string // kv.get's payload afterwards, "" to skip
	}{
		{"new key", map[string]any{"key": "k", "value": 1}, `{"key":"k","success":true,"previous":null}`, `{"found":true,"value":1,"ttl":null}`},
		{"nx on an existing key", map[string]any{"key": "k", "value": 2, "nx": true}, `{"key":"k","success":false,"previous":1}`, `{"found":true,"value":1,"ttl":null}`},
		{"xx on an existing key", map[string]any{"key": "k", "value": 3, "xx": true}, `{"key":"k","success":true,"previous":1}`, `{"found":true,"value":3,"ttl":null}`},
		{"overwrite", map[string]any{"key": "k", "value": map[string]any{"a": "b"}}, `{"key":"k","success":true,"previous":3}`, `{"found":true,"value":{"a":"b"},"ttl":null}`},
		{"xx on a missing key", map[string]any{"key": "missing", "value": 1, "xx": true}, `{"key":"missing","success":false,"previous":null}`, `{"found":false,"value":null,"ttl":null}`},
		{"nx on a missing key", map[string]any{"key": "fresh", "value": "v", "nx": true}, `{"key":"fresh","success":true,"previous":null}`, `{"found":true,"value":"v","ttl":null}`},
		{"false flags", map[string]any{"key": "fresh", "value": "w", "nx": false, "xx": false}, `{"key":"fresh","success":true,"previous":"v"}`, `{"found":true,"value":"w","ttl":null}`},
	}
	for _, st := range steps {
		s.okJSON("kv.set", st.payload, st.want)
		if st.after != "" {
			s.okJSON("kv.get", map[string]any{"key": st.payload["key"]}, st.after)
		}
	}

	// ttl: kv.get and kv.ttl report the remaining seconds.
	s.okJSON("kv.set", map[string]any{"key": "t", "value": "x", "ttl": 3600}, `{"key":"t","success":true,"previous":null}`)
	var got kvGot
	s.ok("kv.get", map[string]any{"key": "t"}, &got)
	if got.TTL == nil || *got.TTL < 3500 || *got.TTL > 3600 {
		t.Fatalf("kv.get ttl after ttl 3600: %v", got.TTL)
	}
	var ttl struct {
		TTL *int64 `json:"ttl"`
	}
	s.ok("kv.ttl", map[string]any{"key": "t"}, &ttl)
	if ttl.TTL == nil || *ttl.TTL < 3500 || *ttl.TTL > 3600 {
		t.Fatalf("kv.ttl after ttl 3600: %v", ttl.TTL)
	}
	// A plain set clears the ttl, as in Redis.
	s.okJSON("kv.set", map[string]any{"key": "t", "value": "y"}, `{"key":"t","success":true,"previous":"x"}`)
	s.okJSON("kv.ttl", map[string]any{"key": "t"}, `{"ttl":null}`)
	// nx refused on a key with a ttl leaves its ttl alone.
	s.okJSON("kv.set", map[string]any{"key": "t2", "value": 1, "ttl": 600}, `{"key":"t2","success":true,"previous":null}`)
	s.okJSON("kv.set", map[string]any{"key": "t2", "value": 2, "nx": true}, `{"key":"t2","success":false,"previous":1}`)
	s.ok("kv.ttl", map[string]any{"key": "t2"}, &ttl)
	if ttl.TTL == nil || *ttl.TTL < 500 || *ttl.TTL > 600 {
		t.Fatalf("kv.ttl after a refused nx: %v", ttl.TTL)
	}

	invalid := []struct {
		name    string
		payload any
	}{
		{"nx and xx", map[string]any{"key": "k", "value": 1, "nx": true, "xx": true}},
		{"no key", map[string]any{"value": 1}},
		{"empty key", map[string]any{"key": "", "value": 1}},
		{"no value", map[string]any{"key": "k"}},
		{"key not a string", map[string]any{"key": 5, "value": 1}},
		{"negative ttl", map[string]any{"key": "k", "value": 1, "ttl": -1}},
		{"fractional ttl", map[string]any{"key": "k", "value": 1, "ttl": 1.5}},
		{"ttl a string", map[string]any{"key": "k", "value": 1, "ttl": "60"}},
		{"nx not a boolean", map[string]any{"key": "k", "value": 1, "nx": "yes"}},
		{"payload an array", []any{"k", 1}},
		{"no payload", nil},
	}
	for _, tc := range invalid {
		s.fails("kv.set", tc.payload, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	}
	// None of the refused writes changed k.
	s.okJSON("kv.get", map[string]any{"key": "k"}, `{"found":true,"value":{"a":"b"},"ttl":null}`)
	s.stopClean()
}

// TestDataKVDelExistsIncr: kv.del, kv.exists, kv.incr and kv.decr.
func TestDataKVDelExistsIncr(t *testing.T) {
	s := startServer(t)
	for _, k := range []string{"a", "b", "c", "d"} {
		s.ok("kv.set", map[string]any{"key": "del:" + k, "value": k}, nil)
	}
	s.okJSON("kv.exists", map[string]any{"key": "del:a"}, `{"exists":true,"count":1}`)
	s.okJSON("kv.exists", map[string]any{"key": "del:zz"}, `{"exists":false,"count":0}`)
	s.okJSON("kv.del", map[string]any{"keys": []string{"del:a", "del:b", "del:missing", "del:c"}}, `{"deleted":3}`)
	s.okJSON("kv.exists", map[string]any{"key": "del:a"}, `{"exists":false,"count":0}`)
	s.okJSON("kv.exists", map[string]any{"key": "del:d"}, `{"exists":true,"count":1}`)
	s.okJSON("kv.del", map[string]any{"keys": []string{"del:a"}}, `{"deleted":0}`)
	s.okJSON("kv.get", map[string]any{"key": "del:b"}, `{"found":false,"value":null,"ttl":null}`)
	s.restJSON("DELETE", "/kv/del/del:d", nil, `{"deleted":1}`)
	s.okJSON("kv.exists", map[string]any{"key": "del:d"}, `{"exists":false,"count":0}`)
	// kv.del removes keys of every type.
	s.ok("hash.set", map[string]any{"key": "del:h", "field": "f", "value": 1}, nil)
	s.ok("list.rpush", map[string]any{"key": "del:l", "values": []any{1}}, nil)
	s.okJSON("kv.del", map[string]any{"keys": []string{"del:h", "del:l"}}, `{"deleted":2}`)
	s.okJSON("hash.len", map[string]any{"key": "del:h"}, `{"key":"del:h","length":0}`)
	s.fails("kv.del", map[string]any{}, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.fails("kv.del", map[string]any{"keys": []string{}}, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.fails("kv.del", map[string]any{"keys": "del:a"}, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.fails("kv.exists", map[string]any{}, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")

	steps := []struct {
		command string
		payload map[string]any
		want    string
	}{
		{"kv.incr", map[string]any{"key": "n"}, `{"value":1}`},
		{"kv.incr", map[string]any{"key": "n", "amount": 10}, `{"value":11}`},
		{"kv.decr", map[string]any{"key": "n"}, `{"value":10}`},
		{"kv.decr", map[string]any{"key": "n", "amount": 15}, `{"value":-5}`},
		{"kv.incr", map[string]any{"key": "n", "amount": -5}, `{"value":-10}`},
		{"kv.decr", map[string]any{"key": "fresh", "amount": 3}, `{"value":-3}`},
		{"kv.get", map[string]any{"key": "n"}, `{"found":true,"value":-10,"ttl":null}`},
		{"kv.set", map[string]any{"key": "s", "value": "41"}, `{"key":"s","success":true,"previous":null}`},
		{"kv.incr", map[string]any{"key": "s"}, `{"value":42}`},
		{"kv.get", map[string]any{"key": "s"}, `{"found":true,"value":42,"ttl":null}`},
		{"kv.set", map[string]any{"key": "big", "value": int64(9223372036854775806)}, `{"key":"big","success":true,"previous":null}`},
		{"kv.incr", map[string]any{"key": "big"}, `{"value":9223372036854775807}`},
	}
	for _, st := range steps {
		s.okJSON(st.command, st.payload, st.want)
	}
	s.fails("kv.incr", map[string]any{"key": "big"}, http.StatusBadRequest, "INTEGER_OVERFLOW")

	// NOT_AN_INTEGER on every value that is not an integer; the value stays.
	notIntegers := []struct{ key, value string }{
		{"f", `1.5`}, {"w", `"abc"`}, {"o", `{"a":1}`}, {"arr", `[1]`}, {"b", `true`},
		{"e", `""`}, {"sp", `" 7"`}, {"lead", `"007"`}, {"huge", `12345678901234567890`},
	}
	for _, ni := range notIntegers {
		s.rawCommand(fmt.Sprintf(`{"command":"kv.set","payload":{"key":%q,"value":%s}}`, ni.key, ni.value))
		for _, cmd := range []string{"kv.incr", "kv.decr"} {
			msg := s.fails(cmd, map[string]any{"key": ni.key}, http.StatusBadRequest, "NOT_AN_INTEGER")
			if !strings.Contains(msg, ni.key) {
				t.Errorf("%s %s: message %q does not name the key", cmd, ni.key, msg)
			}
		}
		var got kvGot
		s.ok("kv.get", map[string]any{"key": ni.key}, &got)
		if string(got.Value) != ni.value {
			t.Errorf("%s after a refused incr: %s, want %s", ni.key, got.Value, ni.value)
		}
	}
	s.fails("kv.incr", map[string]any{"key": "n", "amount": "ten"}, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.fails("kv.incr", map[string]any{"key": "n", "amount": 1.5}, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.fails("kv.incr", map[string]any{}, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.ok("hash.set", map[string]any{"key": "hk", "field": "f", "value": 1}, nil)
	s.fails("kv.incr", map[string]any{"key": "hk"}, http.StatusBadRequest, "WRONG_TYPE")
	s.okJSON("kv.get", map[string]any{"key": "n"}, `{"found":true,"value":-10,"ttl":null}`)

	// incr keeps the key's ttl.
	s.ok("kv.set", map[string]any{"key": "tc", "value": 5, "ttl": 600}, nil)
	s.okJSON("kv.incr", map[string]any{"key": "tc", "amount": 2}, `{"value":7}`)
	var ttl struct {
		TTL *int64 `json:"ttl"`
	}
	s.ok("kv.ttl", map[string]any{"key": "tc"}, &ttl)
	if ttl.TTL == nil || *ttl.TTL < 500 || *ttl.TTL > 600 {
		t.Fatalf("kv.ttl after incr of a key with ttl 600: %v", ttl.TTL)
	}
	s.stopClean()
}

// TestDataKVExpiry: kv.expire, kv.ttl, and keys that expire: checked on
// read, and swept actively (memory comes back without any read).
func TestDataKVExpiry(t *testing.T) {
	s := startServer(t, "--sweep-interval=200ms")
	s.okJSON("kv.expire", map[string]any{"key": "none", "ttl": 10}, `{"result":false}`)
	s.okJSON("kv.ttl", map[string]any{"key": "none"}, `{"ttl":null}`)
	s.ok("kv.set", map[string]any{"key": "p", "value": "v"}, nil)
	s.okJSON("kv.ttl", map[string]any{"key": "p"}, `{"ttl":null}`)
	s.okJSON("kv.expire", map[string]any{"key": "p", "ttl": 500}, `{"result":true}`)
	var ttl struct {
		TTL *int64 `json:"ttl"`
	}
	s.ok("kv.ttl", map[string]any{"key": "p"}, &ttl)
	if ttl.TTL == nil || *ttl.TTL < 400 || *ttl.TTL > 500 {
		t.Fatalf("kv.ttl after kv.expire 500: %v", ttl.TTL)
	}
	var got kvGot
	s.ok("kv.get", map[string]any{"key": "p"}, &got)
	if !got.Found || got.TTL == nil || *got.TTL < 400 || *got.TTL > 500 {
		t.Fatalf("kv.get after kv.expire 500: %+v", got)
	}
	s.fails("kv.expire", map[string]any{"key": "p", "ttl": 0}, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.fails("kv.expire", map[string]any{"key": "p"}, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.fails("kv.expire", map[string]any{"key": "p", "ttl": -3}, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.fails("kv.ttl", map[string]any{}, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")

	// Keys that expire in a second: a string set with ttl, one given a ttl
	// by kv.expire, and a list given one by kv.expire.
	s.ok("kv.set", map[string]any{"key": "exp:set", "value": "x", "ttl": 1}, nil)
	s.ok("kv.set", map[string]any{"key": "exp:expire", "value": "y"}, nil)
	s.okJSON("kv.expire", map[string]any{"key": "exp:expire", "ttl": 1}, `{"result":true}`)
	s.ok("list.rpush", map[string]any{"key": "exp:list", "values": []any{1, 2}}, nil)
	s.okJSON("kv.expire", map[string]any{"key": "exp:list", "ttl": 1}, `{"result":true}`)
	s.ok("kv.set", map[string]any{"key": "exp:stays", "value": "z"}, nil)
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.ok("kv.get", map[string]any{"key": "exp:set"}, &got)
		if !got.Found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exp:set (ttl 1) still there after 20s: %+v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.okJSON("kv.get", map[string]any{"key": "exp:set"}, `{"found":false,"value":null,"ttl":null}`)
	for {
		var ex struct {
			Count int `json:"count"`
		}
		s.ok("kv.exists", map[string]any{"keys": []string{"exp:expire", "exp:list"}}, &ex)
		if ex.Count == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exp:expire and exp:list (kv.expire 1) still there after 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, k := range []string{"exp:set", "exp:expire", "exp:list"} {
		s.okJSON("kv.exists", map[string]any{"key": k}, `{"exists":false,"count":0}`)
		s.okJSON("kv.ttl", map[string]any{"key": k}, `{"ttl":null}`)
		s.okJSON("kv.expire", map[string]any{"key": k, "ttl": 10}, `{"result":false}`)
	}
	s.okJSON("list.range", map[string]any{"key": "exp:list"}, `{"key":"exp:list","values":[]}`)
	s.okJSON("kv.scan", map[string]any{"prefix": "exp:"}, `{"keys":["exp:stays"],"cursor":null,"has_more":false,"count":1}`)
	// An expired key can be written again, as a new key.
	s.okJSON("kv.set", map[string]any{"key": "exp:set", "value": "again", "nx": true}, `{"key":"exp:set","success":true,"previous":null}`)

	// Active sweeping: keys that are never read again still give their
	// memory back, and leave the key count.
	var before dataStats
	s.ok("admin.stats", nil, &before)
	big := strings.Repeat("x", 2000)
	for i := range 30 {
		s.ok("kv.set", map[string]any{"key": fmt.Sprint("sweep:", i), "value": big, "ttl": 1}, nil)
	}
	var during dataStats
	s.ok("admin.stats", nil, &during)
	if during.Memory.UsedBytes < before.Memory.UsedBytes+30*2000 {
		t.Fatalf("used_bytes %d after writing 60 KB, %d before", during.Memory.UsedBytes, before.Memory.UsedBytes)
	}
	for {
		var now dataStats
		s.ok("admin.stats", nil, &now)
		if now.Memory.UsedBytes == before.Memory.UsedBytes && now.KV.TotalKeys == before.KV.TotalKeys {
			break
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("expired keys never swept: used_bytes %d (%d before), total_keys %d (%d before)",
				now.Memory.UsedBytes, before.Memory.UsedBytes, now.KV.TotalKeys, before.KV.TotalKeys)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stopClean()
}

// scanPage is kv.scan's reply.
type scanPage struct {
	Keys    []string `json:"keys"`
	Cursor  *string  `json:"cursor"`
	HasMore bool     `json:"has_more"`
	Count   int      `json:"count"`
}

// TestDataKVScan pages through 250 keys spread over every shard, 40 at a
// time, and gets each exactly once, in order.
func TestDataKVScan(t *testing.T) {
	s := startServer(t)
	var pairs []map[string]any
	for i := range 250 {
		pairs = append(pairs, map[string]any{"key": fmt.Sprintf("user:%03d", i), "value": i})
	}
	s.okJSON("kv.mset", map[string]any{"pairs": pairs}, `{"success":true}`)
	for i := range 20 {
		s.ok("kv.set", map[string]any{"key": fmt.Sprintf("other:%d", i), "value": i}, nil)
	}
	s.ok("kv.set", map[string]any{"key": "user", "value": "no colon: outside the prefix"}, nil)

	var cursor any // null on the first page
	seen := map[string]int{}
	var order []string
	pages := 0
	for {
		var page scanPage
		s.ok("kv.scan", map[string]any{"prefix": "user:", "cursor": cursor, "count": 40}, &page)
		pages++
		if page.Count != len(page.Keys) || len(page.Keys) > 40 {
			t.Fatalf("page %d: count %d, %d keys (count 40)", pages, page.Count, len(page.Keys))
		}
		for _, k := range page.Keys {
			if !strings.HasPrefix(k, "user:") {
				t.Fatalf("page %d: key %q outside the prefix", pages, k)
			}
			seen[k]++
			order = append(order, k)
		}
		if !page.HasMore {
			if page.Cursor != nil {
				t.Fatalf("last page: cursor %q, want null", *page.Cursor)
			}
			break
		}
		if len(page.Keys) != 40 {
			t.Fatalf("page %d has more after it but only %d keys", pages, len(page.Keys))
		}
		if page.Cursor == nil || *page.Cursor == "" {
			t.Fatalf("page %d: has_more without a cursor", pages)
		}
		cursor = *page.Cursor
		if pages > 20 {
			t.Fatal("kv.scan never ends")
		}
	}
	if len(seen) != 250 || len(order) != 250 {
		t.Fatalf("scan returned %d keys (%d distinct), want 250", len(order), len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s returned %d times", k, n)
		}
	}
	if !slices.IsSorted(order) {
		t.Errorf("keys not in order across pages")
	}
	if pages != 7 {
		t.Errorf("%d pages of 40 for 250 keys, want 7", pages)
	}

	// Without a prefix, every key; with an unknown prefix, none.
	var all scanPage
	s.ok("kv.scan", map[string]any{"count": 1000}, &all)
	if len(all.Keys) != 271 || all.HasMore || all.Cursor != nil || all.Count != 271 {
		t.Fatalf("kv.scan of everything: %d keys, has_more %v, cursor %v", len(all.Keys), all.HasMore, all.Cursor)
	}
	s.okJSON("kv.scan", map[string]any{"prefix": "nope:"}, `{"keys":[],"cursor":null,"has_more":false,"count":0}`)
	// The default page size is 100.
	var def scanPage
	s.ok("kv.scan", map[string]any{"prefix": "user:"}, &def)
	if len(def.Keys) != 100 || !def.HasMore || def.Cursor == nil || *def.Cursor != "user:099" {
		t.Fatalf("kv.scan with the default count: %d keys, has_more %v, cursor %v", len(def.Keys), def.HasMore, def.Cursor)
	}
	// A cursor in the middle resumes after it.
	s.okJSON("kv.scan", map[string]any{"prefix": "user:", "cursor": "user:246", "count": 10},
		`{"keys":["user:247","user:248","user:249"],"cursor":null,"has_more":false,"count":3}`)
	for _, bad := range []any{0, -1, 10001, "ten", 2.5} {
		s.fails("kv.scan", map[string]any{"count": bad}, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	}
	s.stopClean()
}

// TestDataKVMsetMget: kv.mset in each pair format, kv.mget in order.
func TestDataKVMsetMget(t *testing.T) {
	s := startServer(t)
	var pairs []map[string]any
	var keys []string
	for i := range 40 {
		k := fmt.Sprint("m:", i)
		keys = append(keys, k)
		pairs = append(pairs, map[string]any{"key": k, "value": map[string]any{"i": i}})
	}
	s.okJSON("kv.mset", map[string]any{"pairs": pairs}, `{"success":true}`)
	s.ok("hash.set", map[string]any{"key": "m:hash", "field": "f", "value": 1}, nil)
	var mget struct {
		Values []json.RawMessage `json:"values"`
	}
	s.ok("kv.mget", map[string]any{"keys": append(slices.Clone(keys), "m:missing", "m:hash", "m:0")}, &mget)
	if len(mget.Values) != 43 {
		t.Fatalf("kv.mget: %d values, want 43", len(mget.Values))
	}
	for i := range 40 {
		if want := fmt.Sprintf(`{"i":%d}`, i); string(mget.Values[i]) != want {
			t.Errorf("kv.mget[%d] = %s, want %s", i, mget.Values[i], want)
		}
	}
	if string(mget.Values[40]) != "null" || string(mget.Values[41]) != "null" || string(mget.Values[42]) != `{"i":0}` {
		t.Errorf("kv.mget of missing, hash, repeated key: %s %s %s", mget.Values[40], mget.Values[41], mget.Values[42])
	}
	// The object format and the tuple format; a key given twice takes its last value.
	s.okJSON("kv.mset", map[string]any{"pairs": map[string]any{"o:a": 1, "o:b": "two"}}, `{"success":true}`)
	s.okJSON("kv.mset", map[string]any{"pairs": []any{[]any{"t:a", 3}, []any{"t:b", []int{4}}, []any{"t:a", 5}}}, `{"success":true}`)
	s.okJSON("kv.mget", map[string]any{"keys": []string{"o:a", "o:b", "t:a", "t:b"}}, `{"values":[1,"two",5,[4]]}`)
	// mset overwrites and clears ttls.
	s.ok("kv.set", map[string]any{"key": "o:a", "value": 0, "ttl": 100}, nil)
	s.okJSON("kv.mset", map[string]any{"pairs": map[string]any{"o:a": 10}}, `{"success":true}`)
	s.okJSON("kv.get", map[string]any{"key": "o:a"}, `{"found":true,"value":10,"ttl":null}`)
	// mset onto a key of another type is WRONG_TYPE.
	s.fails("kv.mset", map[string]any{"pairs": map[string]any{"m:hash": 1}}, http.StatusBadRequest, "WRONG_TYPE")

	for _, bad := range []any{
		map[string]any{},
		map[string]any{"pairs": []any{}},
		map[string]any{"pairs": map[string]any{}},
		map[string]any{"pairs": "x"},
		map[string]any{"pairs": []any{map[string]any{"key": "k"}}},
		map[string]any{"pairs": []any{map[string]any{"value": 1}}},
		map[string]any{"pairs": []any{[]any{"k"}}},
		map[string]any{"pairs": []any{[]any{1, 2}}},
	} {
		s.fails("kv.mset", bad, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	}
	s.fails("kv.mget", map[string]any{}, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.fails("kv.mget", map[string]any{"keys": []any{1, 2}}, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.stopClean()
}

// TestDataKVMsetnx: all or nothing across keys hashed to different shards,
// in every format the spec shows, and under contention.
func TestDataKVMsetnx(t *testing.T) {
	s := startServer(t)
	fresh := func(prefix string, n int) ([]map[string]any, []string) {
		var pairs []map[string]any
		var keys []string
		for i := range n {
			k := fmt.Sprintf("%s:%d", prefix, i)
			keys = append(keys, k)
			pairs = append(pairs, map[string]any{"key": k, "value": i})
		}
		return pairs, keys
	}
	pairs, keys := fresh("nx1", 40)
	s.okJSON("kv.msetnx", map[string]any{"pairs": pairs}, `{"success":true}`)
	var ex struct {
		Count int `json:"count"`
	}
	s.ok("kv.exists", map[string]any{"keys": keys}, &ex)
	if ex.Count != 40 {
		t.Fatalf("after a successful msetnx of 40 keys, %d exist", ex.Count)
	}
	s.okJSON("kv.get", map[string]any{"key": "nx1:39"}, `{"found":true,"value":39,"ttl":null}`)

	// One existing key among 40 new ones, whichever shard it is on: nothing is written.
	for _, pos := range []int{0, 20, 40} {
		pairs, keys := fresh(fmt.Sprint("nx2-", pos), 40)
		pairs = slices.Insert(pairs, pos, map[string]any{"key": "nx1:7", "value": "clobbered"})
		s.okJSON("kv.msetnx", map[string]any{"pairs": pairs}, `{"success":false}`)
		s.ok("kv.exists", map[string]any{"keys": keys}, &ex)
		if ex.Count != 0 {
			t.Fatalf("a refused msetnx (existing key at %d) wrote %d of its 40 new keys", pos, ex.Count)
		}
		s.okJSON("kv.get", map[string]any{"key": "nx1:7"}, `{"found":true,"value":7,"ttl":null}`)
	}
	// A key of another type counts as existing.
	s.ok("set.add", map[string]any{"key": "nx:set", "members": []string{"a"}}, nil)
	pairs, keys = fresh("nx3", 10)
	s.okJSON("kv.msetnx", map[string]any{"pairs": append(pairs, map[string]any{"key": "nx:set", "value": 1})}, `{"success":false}`)
	s.ok("kv.exists", map[string]any{"keys": keys}, &ex)
	if ex.Count != 0 {
		t.Fatalf("msetnx refused by a set key wrote %d keys", ex.Count)
	}

	// REST: the object format and the tuple format of the spec, and tuples.
	s.restJSON("POST", "/kv/msetnx", `{"key": "user:1001", "value": {"name": "Alice", "age": 30}}`, `{"success":true}`)
	s.restJSON("POST", "/kv/msetnx", `{"key": "user:1001", "value": "again"}`, `{"success":false}`)
	s.restJSON("POST", "/kv/msetnx", `["user:1002", {"name": "Bob", "age": 31}]`, `{"success":true}`)
	s.restJSON("POST", "/kv/msetnx", `[["user:1003", 3], ["user:1004", 4]]`, `{"success":true}`)
	s.restJSON("POST", "/kv/msetnx", `{"pairs": {"user:1005": 5, "user:1001": 1}}`, `{"success":false}`)
	s.restJSON("POST", "/kv/msetnx", `[["user:1006", 6], ["user:1003", 33]]`, `{"success":false}`)
	s.okJSON("kv.mget", map[string]any{"keys": []string{"user:1001", "user:1002", "user:1003", "user:1004", "user:1005", "user:1006"}},
		`{"values":[{"name":"Alice","age":30},{"name":"Bob","age":31},3,4,null,null]}`)
	s.restFails("POST", "/kv/msetnx", `{}`, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.restFails("POST", "/kv/msetnx", `["user:1007"]`, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.restFails("POST", "/kv/msetnx", `{"key": "user:1007"}`, http.StatusUnprocessableEntity, "INVALID_ARGUMENT")
	s.restFails("POST", "/kv/msetnx", `{"key": `, http.StatusBadRequest, "BAD_REQUEST")

	// Contention: writers race to msetnx the same 24 keys. Exactly one wins,
	// and every key holds the winner's value.
	_, keys = fresh("race", 24)
	const writers = 8
	var wg sync.WaitGroup
	results := make([]string, writers)
	client := &http.Client{Timeout: 30 * time.Second}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ps []map[string]any
			for _, k := range keys {
				ps = append(ps, map[string]any{"key": k, "value": w})
			}
			body, _ := json.Marshal(map[string]any{"command": "kv.msetnx", "payload": map[string]any{"pairs": ps}})
			resp, err := client.Post(s.data+"/api/v1/command", "application/json", strings.NewReader(string(body)))
			if err != nil {
				results[w] = err.Error()
				return
			}
			defer resp.Body.Close()
			var r reply
			if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
				results[w] = err.Error()
				return
			}
			switch {
			case resp.StatusCode == http.StatusOK:
				results[w] = string(r.Payload)
			case r.Error != nil:
				results[w] = fmt.Sprintf("%d %s", resp.StatusCode, r.Error.Code)
			default:
				results[w] = fmt.Sprint(resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	winner := -1
	for w, res := range results {
		switch res {
		case `{"success":true}`:
			if winner >= 0 {
				t.Fatalf("writers %d and %d both won msetnx: %v", winner, w, results)
			}
			winner = w
		case `{"success":false}`, "409 KEY_BUSY":
		default:
			t.Fatalf("writer %d: unexpected msetnx result %q (all: %v)", w, res, results)
		}
	}
	if winner < 0 {
		t.Fatalf("no writer won msetnx: %v", results)
	}
	var mget struct {
		Values []json.RawMessage `json:"values"`
	}
	s.ok("kv.mget", map[string]any{"keys": keys}, &mget)
	for i, v := range mget.Values {
		if string(v) != fmt.Sprint(winner) {
			t.Fatalf("race:%d = %s, want the winner's %d (results %v)", i, v, winner, results)
		}
	}
	s.stopClean()
}

// dataStats is admin.stats's reply.
type dataStats struct {
	Server struct {
		Version    string `json:"version"`
		UptimeSecs int64  `json:"uptime_secs"`
		Role       string `json:"role"`
	} `json:"server"`
	Memory struct {
		UsedBytes  int64 `json:"used_bytes"`
		LimitBytes int64 `json:"limit_bytes"`
	} `json:"memory"`
	KV struct {
		TotalKeys        int64   `json:"total_keys"`
		OperationsPerSec float64 `json:"operations_per_sec"`
	} `json:"kv"`
}

// TestDataKVMsetIsAllOrNothing: a kv.mset answered with an error (WRONG_TYPE,
// MEMORY_LIMIT_EXCEEDED) writes none of its pairs, whichever shards they
// are on.
func TestDataKVMsetIsAllOrNothing(t *testing.T) {
	s := startServer(t, "--max-memory=64KiB")
	s.ok("hash.set", map[string]any{"key": "hk", "field": "f", "value": 1}, nil)
	var pairs []map[string]any
	var keys []string
	for i := range 40 {
		keys = append(keys, fmt.Sprint("p:", i))
		pairs = append(pairs, map[string]any{"key": keys[i], "value": i})
	}
	s.fails("kv.mset", map[string]any{"pairs": append(pairs, map[string]any{"key": "hk", "value": 1})}, http.StatusBadRequest, "WRONG_TYPE")
	var ex struct {
		Count int `json:"count"`
	}
	s.ok("kv.exists", map[string]any{"keys": keys}, &ex)
	if ex.Count != 0 {
		t.Errorf("kv.mset answered 400 WRONG_TYPE but wrote %d of its 40 other keys", ex.Count)
	}
	s.okJSON("hash.getall", map[string]any{"key": "hk"}, `{"fields":{"f":1},"count":1}`)

	// Fill most of the budget, then mset more than is left.
	value := strings.Repeat("v", 1000)
	for i := range 50 {
		s.ok("kv.set", map[string]any{"key": fmt.Sprint("fill:", i), "value": value}, nil)
	}
	pairs, keys = nil, nil
	for i := range 20 {
		keys = append(keys, fmt.Sprint("q:", i))
		pairs = append(pairs, map[string]any{"key": keys[i], "value": value})
	}
	s.fails("kv.mset", map[string]any{"pairs": pairs}, http.StatusInsufficientStorage, "MEMORY_LIMIT_EXCEEDED")
	s.ok("kv.exists", map[string]any{"keys": keys}, &ex)
	if ex.Count != 0 {
		t.Errorf("kv.mset answered 507 but wrote %d of its 20 keys", ex.Count)
	}
	s.stopClean()
}

// TestDataKVConcurrentWriters: concurrent clients over real connections lose
// no update: counters, list pushes, score and field increments add up.
func TestDataKVConcurrentWriters(t *testing.T) {
	s := startServer(t)
	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	failed := make(chan string, workers*rounds*4)
	client := &http.Client{Timeout: 30 * time.Second}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				for _, c := range []struct {
					command string
					payload map[string]any
				}{
					{"kv.incr", map[string]any{"key": fmt.Sprint("counter:", i%4)}},
					{"list.rpush", map[string]any{"key": "pushes", "values": []any{w, i}}},
					{"sortedset.zincrby", map[string]any{"key": "scores", "member": fmt.Sprint("w", w%2), "increment": 0.5}},
					{"kv.decr", map[string]any{"key": "down", "amount": 2}},
				} {
					if !post(client, s.data, c.command, c.payload) {
						failed <- c.command
					}
				}
			}
		}()
	}
	wg.Wait()
	close(failed)
	for c := range failed {
		t.Errorf("%s failed under concurrency", c)
	}
	s.okJSON("kv.mget", map[string]any{"keys": []string{"counter:0", "counter:1", "counter:2", "counter:3", "down"}},
		fmt.Sprintf(`{"values":[56,48,48,48,%d]}`, -2*workers*rounds))
	s.okJSON("list.len", map[string]any{"key": "pushes"}, fmt.Sprintf(`{"key":"pushes","length":%d}`, 2*workers*rounds))
	// Each push of two values landed whole, and each worker's pushes in order.
	var pushes struct {
		Values []int `json:"values"`
	}
	s.ok("list.range", map[string]any{"key": "pushes"}, &pushes)
	next := make([]int, workers)
	for k := 0; k+1 < len(pushes.Values); k += 2 {
		w, i := pushes.Values[k], pushes.Values[k+1]
		if w < 0 || w >= workers || i != next[w] {
			t.Fatalf("pushes[%d:%d] = [%d %d]: a two-value push split or out of order", k, k+2, w, i)
		}
		next[w]++
	}
	s.okJSON("sortedset.zrange", map[string]any{"key": "scores"}, `{"key":"scores","members":[{"member":"w0","score":50},{"member":"w1","score":50}]}`)
	s.stopClean()
}
