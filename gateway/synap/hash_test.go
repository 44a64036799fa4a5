package synap

import (
	"testing"

	"github.com/troupe-run/troupe/messages"
)

func TestHashCommands(t *testing.T) {
	runCommandCases(t, []commandCase{
		{"set", "hash.set", `{"key":"user:1","field":"name","value":"Alice"}`,
			&dr{Op: messages.DataOp_HASH_SET, Key: "user:1", Pairs: []*messages.Pair{pair("name", `"Alice"`)}},
			&rep{Integer: 1}, `{"key":"user:1","field":"name","created":true,"success":true}`},
		{"set an existing field", "hash.set", `{"key":"user:1","field":"age","value":31}`,
			&dr{Op: messages.DataOp_HASH_SET, Key: "user:1", Pairs: []*messages.Pair{pair("age", `31`)}},
			&rep{Integer: 0}, `{"key":"user:1","field":"age","created":false,"success":true}`},
		{"get", "hash.get", `{"key":"user:1","field":"name"}`,
			&dr{Op: messages.DataOp_HASH_GET, Key: "user:1", Field: "name"},
			&rep{Found: true, Value: []byte(`"Alice"`)}, `{"found":true,"value":"Alice"}`},
		{"get missing", "hash.get", `{"key":"user:1","field":"nick"}`,
			&dr{Op: messages.DataOp_HASH_GET, Key: "user:1", Field: "nick"},
			&rep{}, `{"found":false,"value":null}`},
		{"getall", "hash.getall", `{"key":"user:1"}`,
			&dr{Op: messages.DataOp_HASH_GETALL, Key: "user:1"},
			&rep{Pairs: []*messages.Pair{pair("name", `"Alice"`), pair(`we"ird`, `{"a":1}`)}},
			`{"fields":{"name":"Alice","we\"ird":{"a":1}},"count":2}`},
		{"getall of a missing hash", "hash.getall", `{"key":"nope"}`,
			&dr{Op: messages.DataOp_HASH_GETALL, Key: "nope"},
			&rep{}, `{"fields":{},"count":0}`},
		{"del fields", "hash.del", `{"key":"h","fields":["a","b"]}`,
			&dr{Op: messages.DataOp_HASH_DEL, Key: "h", Fields: []string{"a", "b"}},
			&rep{Integer: 2}, `{"deleted":2}`},
		{"del field, as the SDKs send", "hash.del", `{"key":"h","field":"a"}`,
			&dr{Op: messages.DataOp_HASH_DEL, Key: "h", Fields: []string{"a"}},
			&rep{Integer: 1}, `{"deleted":1}`},
		{"mset object", "hash.mset", `{"key":"user:1","fields":{"name":"Alice","age":30,"email":"alice@example.com"}}`,
			&dr{Op: messages.DataOp_HASH_SET, Key: "user:1", Pairs: []*messages.Pair{
				pair("name", `"Alice"`), pair("age", `30`), pair("email", `"alice@example.com"`)}},
			&rep{Integer: 3}, `{"key":"user:1","success":true}`},
		{"mset array", "hash.mset", `{"key":"user:1","fields":[{"field":"name","value":"Alice"},{"field":"age","value":30}]}`,
			&dr{Op: messages.DataOp_HASH_SET, Key: "user:1", Pairs: []*messages.Pair{pair("name", `"Alice"`), pair("age", `30`)}},
			&rep{Integer: 2}, `{"key":"user:1","success":true}`},
		{"mget", "hash.mget", `{"key":"h","fields":["a","b"]}`,
			&dr{Op: messages.DataOp_HASH_MGET, Key: "h", Fields: []string{"a", "b"}},
			&rep{Values: [][]byte{[]byte(`1`), nil}, Flags: []bool{true, false}},
			`{"values":{"a":1,"b":null}}`},
		{"exists", "hash.exists", `{"key":"h","field":"a"}`,
			&dr{Op: messages.DataOp_HASH_EXISTS, Key: "h", Field: "a"},
			&rep{Found: true}, `{"exists":true}`},
		{"len", "hash.len", `{"key":"h"}`,
			&dr{Op: messages.DataOp_HASH_LEN, Key: "h"},
			&rep{Integer: 3}, `{"key":"h","length":3}`},
		{"keys", "hash.keys", `{"key":"h"}`,
			&dr{Op: messages.DataOp_HASH_KEYS, Key: "h"},
			&rep{Keys: []string{"a", "b"}}, `{"fields":["a","b"],"count":2}`},
		{"vals", "hash.vals", `{"key":"h"}`,
			&dr{Op: messages.DataOp_HASH_VALS, Key: "h"},
			&rep{Values: [][]byte{[]byte(`1`), []byte(`"x"`)}}, `{"values":[1,"x"],"count":2}`},
		{"values", "hash.values", `{"key":"h"}`,
			&dr{Op: messages.DataOp_HASH_VALS, Key: "h"},
			&rep{}, `{"values":[],"count":0}`},
		{"incrby", "hash.incrby", `{"key":"h","field":"n","increment":5}`,
			&dr{Op: messages.DataOp_HASH_INCRBY, Key: "h", Field: "n", Amount: 5},
			&rep{Integer: 8}, `{"value":8}`},
		{"incrby amount", "hash.incrby", `{"key":"h","field":"n","amount":-2}`,
			&dr{Op: messages.DataOp_HASH_INCRBY, Key: "h", Field: "n", Amount: -2},
			&rep{Integer: 6}, `{"value":6}`},
	})
}

func TestHashInvalid(t *testing.T) {
	runInvalidCases(t, []invalidCase{
		{"set without field", "hash.set", `{"key":"h","value":1}`, "field is required"},
		{"set without value", "hash.set", `{"key":"h","field":"f"}`, "value is required"},
		{"set without key", "hash.set", `{"field":"f","value":1}`, "key is required"},
		{"get without field", "hash.get", `{"key":"h"}`, "field is required"},
		{"del without fields", "hash.del", `{"key":"h"}`, "fields is required"},
		{"del fields not strings", "hash.del", `{"key":"h","fields":[1]}`, "fields must be an array of strings"},
		{"mset without fields", "hash.mset", `{"key":"h"}`, "fields is required"},
		{"mset item without field", "hash.mset", `{"key":"h","fields":[{"value":1}]}`, "fields[0]: field is required"},
		{"mset item without value", "hash.mset", `{"key":"h","fields":[{"field":"a"}]}`, "fields[0]: value is required"},
		{"mset fields a number", "hash.mset", `{"key":"h","fields":3}`, "fields must be an object or an array"},
		{"mget without fields", "hash.mget", `{"key":"h"}`, "fields is required"},
		{"incrby without increment", "hash.incrby", `{"key":"h","field":"n"}`, "increment is required"},
		{"incrby by a fraction", "hash.incrby", `{"key":"h","field":"n","increment":0.5}`, "increment must be an integer"},
	})
}
