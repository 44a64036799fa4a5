package kv

import (
	"context"
	"fmt"
	"testing"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/systemtest"
)

// TestPipeKeepsOrderPerKey sends many commands over several keys through a
// pipe before waiting for any: each key sees them in the order sent, and
// every reply comes back to its own wait.
func TestPipeKeepsOrderPerKey(t *testing.T) {
	_, ks := boot(t, t.TempDir(), 4)
	p := ks.NewPipe()
	defer p.Close()
	var waits []Pending
	var want []int64
	counts := map[string]int64{}
	for i := range 300 {
		key := fmt.Sprint("k", i%7)
		counts[key]++
		want = append(want, counts[key])
		waits = append(waits, p.Send(context.Background(), &messages.DataRequest{Op: messages.DataOp_KV_INCR, Key: key, Amount: 1}))
	}
	for i, wait := range waits {
		rep, err := wait.Wait()
		if err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
		if rep.Integer != want[i] {
			t.Fatalf("command %d answered %d, want %d", i, rep.Integer, want[i])
		}
	}
	// A command that fails on its shard answers its error code.
	do(t, ks, &messages.DataRequest{Op: messages.DataOp_LIST_LPUSH, Key: "list", Values: [][]byte{[]byte(`"x"`)}})
	rep, err := p.Send(context.Background(), &messages.DataRequest{Op: messages.DataOp_KV_INCR, Key: "list", Amount: 1}).Wait()
	if err != nil || rep.ErrorCode != messages.CodeWrongType {
		t.Fatalf("INCR of a list through the pipe: %v %v", rep, err)
	}
}

// TestPipeBatchWaitsBehindReservation: a pipe's batch that meets a key an
// msetnx reserved applies its commands before that key, and the rest,
// in order, once the reservation ends; every command gets its own reply.
func TestPipeBatchWaitsBehindReservation(t *testing.T) {
	_, ks := boot(t, t.TempDir(), 1)
	do(t, ks, &messages.DataRequest{Op: messages.DataOp_TXN_RESERVE, Txn: 5, Nx: true,
		Pairs: []*messages.Pair{{Key: "held", Value: []byte("0")}}})
	p := ks.NewPipe()
	defer p.Close()
	ctx := context.Background()
	waits := []Pending{
		p.Send(ctx, &messages.DataRequest{Op: messages.DataOp_KV_INCR, Key: "free", Amount: 1}),
		p.Send(ctx, setReq("held", "mine")),
		p.Send(ctx, &messages.DataRequest{Op: messages.DataOp_KV_INCR, Key: "free", Amount: 1}),
		p.Send(ctx, &messages.DataRequest{Op: messages.DataOp_KV_GET, Key: "held"}),
	}
	// Sent by the first wait, from another goroutine: the batch is
	// held back until the reservation ends.
	got := make(chan []*messages.DataReply, 1)
	go func() {
		var reps []*messages.DataReply
		for _, wait := range waits {
			rep, err := wait.Wait()
			if err != nil {
				t.Errorf("pipe: %v", err)
			}
			reps = append(reps, rep)
		}
		got <- reps
	}()
	// The first INCR was applied before the held key stopped the batch.
	systemtest.Eventually(t, "the batch's first command", func() bool {
		rep, err := ks.Do(ctx, &messages.DataRequest{Op: messages.DataOp_KV_GET, Key: "free"})
		return err == nil && rep.Found
	})
	select {
	case reps := <-got:
		t.Fatalf("answered while the key is reserved: %v", reps)
	default:
	}
	do(t, ks, &messages.DataRequest{Op: messages.DataOp_TXN_ABORT, Txn: 5})
	reps := <-got
	if reps[0].Integer != 1 || !reps[1].Ok || reps[2].Integer != 2 || string(reps[3].Value) != `"mine"` {
		t.Fatalf("replies %v", reps)
	}
}
