package synap

import (
	"testing"

	"github.com/troupe-run/troupe/messages"
)

func TestSetCommands(t *testing.T) {
	runCommandCases(t, []commandCase{
		{"add", "set.add", `{"key":"s","members":["a","b"]}`,
			&dr{Op: messages.DataOp_SET_ADD, Key: "s", Members: []string{"a", "b"}},
			&rep{Integer: 2}, `{"key":"s","added":2}`},
		{"add one member", "set.add", `{"key":"s","member":"c"}`,
			&dr{Op: messages.DataOp_SET_ADD, Key: "s", Members: []string{"c"}},
			&rep{Integer: 0}, `{"key":"s","added":0}`},
		{"rem", "set.rem", `{"key":"s","members":["a"]}`,
			&dr{Op: messages.DataOp_SET_REM, Key: "s", Members: []string{"a"}},
			&rep{Integer: 1}, `{"key":"s","removed":1}`},
		{"members", "set.members", `{"key":"s"}`,
			&dr{Op: messages.DataOp_SET_MEMBERS, Key: "s"},
			&rep{Keys: []string{"a", "b"}}, `{"key":"s","members":["a","b"]}`},
		{"ismember", "set.ismember", `{"key":"s","member":"a"}`,
			&dr{Op: messages.DataOp_SET_ISMEMBER, Key: "s", Member: "a"},
			&rep{Found: true}, `{"key":"s","is_member":true}`},
		{"card", "set.card", `{"key":"s"}`,
			&dr{Op: messages.DataOp_SET_CARD, Key: "s"},
			&rep{Integer: 2}, `{"key":"s","cardinality":2,"size":2}`},
		{"size", "set.size", `{"key":"s"}`,
			&dr{Op: messages.DataOp_SET_CARD, Key: "s"},
			&rep{}, `{"key":"s","cardinality":0,"size":0}`},
		{"pop", "set.pop", `{"key":"s","count":2}`,
			&dr{Op: messages.DataOp_SET_POP, Key: "s", Count: 2},
			&rep{Keys: []string{"b", "a"}}, `{"key":"s","members":["b","a"]}`},
		{"randmember", "set.randmember", `{"key":"s"}`,
			&dr{Op: messages.DataOp_SET_RANDMEMBER, Key: "s", Count: 1},
			&rep{Keys: []string{"a"}}, `{"key":"s","members":["a"]}`},
	})
}

func TestSetInvalid(t *testing.T) {
	runInvalidCases(t, []invalidCase{
		{"add without members", "set.add", `{"key":"s"}`, "members is required"},
		{"add numeric members", "set.add", `{"key":"s","members":[1,2]}`, "members must be an array of strings"},
		{"add an empty member", "set.add", `{"key":"s","members":["a",""]}`, "members[1] must not be empty"},
		{"ismember without member", "set.ismember", `{"key":"s"}`, "member is required"},
		{"pop count -1", "set.pop", `{"key":"s","count":-1}`, "count must be at least 1"},
	})
}
