package synap

import (
	"testing"

	"github.com/troupe-run/troupe/messages"
)

func values(vs ...string) [][]byte {
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = []byte(v)
	}
	return out
}

func TestListCommands(t *testing.T) {
	runCommandCases(t, []commandCase{
		{"lpush", "list.lpush", `{"key":"l","values":["a", {"b": 1}, 3]}`,
			&dr{Op: messages.DataOp_LIST_LPUSH, Key: "l", Values: values(`"a"`, `{"b":1}`, `3`)},
			&rep{Integer: 3}, `{"key":"l","length":3}`},
		{"rpush one value", "list.rpush", `{"key":"l","value":"z"}`,
			&dr{Op: messages.DataOp_LIST_RPUSH, Key: "l", Values: values(`"z"`)},
			&rep{Integer: 4}, `{"key":"l","length":4}`},
		{"lpop one by default", "list.lpop", `{"key":"l"}`,
			&dr{Op: messages.DataOp_LIST_LPOP, Key: "l", Count: 1},
			&rep{Values: values(`"a"`)}, `{"key":"l","values":["a"]}`},
		{"rpop count", "list.rpop", `{"key":"l","count":3}`,
			&dr{Op: messages.DataOp_LIST_RPOP, Key: "l", Count: 3},
			&rep{Values: values(`3`, `{"b":1}`)}, `{"key":"l","values":[3,{"b":1}]}`},
		{"pop an empty list", "list.lpop", `{"key":"l"}`,
			&dr{Op: messages.DataOp_LIST_LPOP, Key: "l", Count: 1},
			&rep{}, `{"key":"l","values":[]}`},
		{"range defaults to the whole list", "list.range", `{"key":"l"}`,
			&dr{Op: messages.DataOp_LIST_RANGE, Key: "l", Start: 0, Stop: -1},
			&rep{Values: values(`1`, `2`)}, `{"key":"l","values":[1,2]}`},
		{"lrange", "list.lrange", `{"key":"l","start":1,"stop":-2}`,
			&dr{Op: messages.DataOp_LIST_RANGE, Key: "l", Start: 1, Stop: -2},
			&rep{}, `{"key":"l","values":[]}`},
		{"len", "list.len", `{"key":"l"}`,
			&dr{Op: messages.DataOp_LIST_LEN, Key: "l"},
			&rep{Integer: 2}, `{"key":"l","length":2}`},
		{"llen", "list.llen", `{"key":"l"}`,
			&dr{Op: messages.DataOp_LIST_LEN, Key: "l"},
			&rep{}, `{"key":"l","length":0}`},
		{"index", "list.index", `{"key":"l","index":-1}`,
			&dr{Op: messages.DataOp_LIST_INDEX, Key: "l", Start: -1},
			&rep{Found: true, Value: []byte(`"x"`)}, `{"key":"l","index":-1,"value":"x"}`},
		{"index past the end", "list.lindex", `{"key":"l","index":9}`,
			&dr{Op: messages.DataOp_LIST_INDEX, Key: "l", Start: 9},
			&rep{}, `{"key":"l","index":9,"value":null}`},
		{"set", "list.set", `{"key":"l","index":0,"value":"y"}`,
			&dr{Op: messages.DataOp_LIST_SET, Key: "l", Start: 0, Value: []byte(`"y"`)},
			&rep{Ok: true}, `{"key":"l","index":0,"success":true}`},
		{"lset", "list.lset", `{"key":"l","index":2,"value":[1]}`,
			&dr{Op: messages.DataOp_LIST_SET, Key: "l", Start: 2, Value: []byte(`[1]`)},
			&rep{Ok: true}, `{"key":"l","index":2,"success":true}`},
		{"trim", "list.trim", `{"key":"l","start":0,"stop":99}`,
			&dr{Op: messages.DataOp_LIST_TRIM, Key: "l", Start: 0, Stop: 99},
			&rep{}, `{"key":"l","success":true}`},
		{"ltrim", "list.ltrim", `{"key":"l","start":2}`,
			&dr{Op: messages.DataOp_LIST_TRIM, Key: "l", Start: 2, Stop: -1},
			&rep{}, `{"key":"l","success":true}`},
		{"rem", "list.rem", `{"key":"l","count":-2,"value":"x"}`,
			&dr{Op: messages.DataOp_LIST_REM, Key: "l", Count: -2, Value: []byte(`"x"`)},
			&rep{Integer: 2}, `{"key":"l","removed":2}`},
		{"lrem every occurrence", "list.lrem", `{"key":"l","value":"x"}`,
			&dr{Op: messages.DataOp_LIST_REM, Key: "l", Value: []byte(`"x"`)},
			&rep{Integer: 5}, `{"key":"l","removed":5}`},
	})
}

func TestListInvalid(t *testing.T) {
	runInvalidCases(t, []invalidCase{
		{"push without values", "list.lpush", `{"key":"l"}`, "values is required"},
		{"push with empty values", "list.rpush", `{"key":"l","values":[]}`, "values is required"},
		{"push values not an array", "list.rpush", `{"key":"l","values":"a"}`, "values must be an array"},
		{"pop count 0", "list.lpop", `{"key":"l","count":0}`, "count must be at least 1"},
		{"pop count a string", "list.rpop", `{"key":"l","count":"2"}`, "count must be an integer"},
		{"range start a fraction", "list.range", `{"key":"l","start":0.5}`, "start must be an integer"},
		{"range stop a string", "list.range", `{"key":"l","stop":"end"}`, "stop must be an integer"},
		{"index without index", "list.index", `{"key":"l"}`, "index is required"},
		{"set without value", "list.set", `{"key":"l","index":0}`, "value is required"},
		{"set without index", "list.set", `{"key":"l","value":1}`, "index is required"},
		{"rem without value", "list.rem", `{"key":"l","count":1}`, "value is required"},
		{"len without key", "list.len", `{}`, "key is required"},
	})
}
