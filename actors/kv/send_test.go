package kv

import (
	"context"
	"fmt"
	"testing"

	"github.com/troupe-run/troupe/messages"
)

// TestPipeKeepsOrderPerKey sends many commands over several keys through a
// pipe before waiting for any: each key sees them in the order sent, and
// every reply comes back to its own wait.
func TestPipeKeepsOrderPerKey(t *testing.T) {
	_, ks := boot(t, t.TempDir(), 4)
	p := ks.NewPipe()
	defer p.Close()
	var waits []func() (*messages.DataReply, error)
	var want []int64
	counts := map[string]int64{}
	for i := range 300 {
		key := fmt.Sprint("k", i%7)
		counts[key]++
		want = append(want, counts[key])
		waits = append(waits, p.Send(context.Background(), &messages.DataRequest{Op: messages.DataOp_KV_INCR, Key: key, Amount: 1}))
	}
	for i, wait := range waits {
		rep, err := wait()
		if err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
		if rep.Integer != want[i] {
			t.Fatalf("command %d answered %d, want %d", i, rep.Integer, want[i])
		}
	}
	// A command that fails on its shard answers its error code.
	do(t, ks, &messages.DataRequest{Op: messages.DataOp_LIST_LPUSH, Key: "list", Values: [][]byte{[]byte(`"x"`)}})
	rep, err := p.Send(context.Background(), &messages.DataRequest{Op: messages.DataOp_KV_INCR, Key: "list", Amount: 1})()
	if err != nil || rep.ErrorCode != messages.CodeWrongType {
		t.Fatalf("INCR of a list through the pipe: %v %v", rep, err)
	}
}
