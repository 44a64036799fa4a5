package kv

import (
	"context"
	"errors"
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

// TestPipeWithdrawsHeldBatch: a pipe's batch held behind an msetnx's
// reservation whose client goes away (its context ends) is taken back
// from the shard: when the reservation ends, its commands past the
// reserved key are not applied.
func TestPipeWithdrawsHeldBatch(t *testing.T) {
	_, ks := boot(t, t.TempDir(), 1)
	do(t, ks, &messages.DataRequest{Op: messages.DataOp_TXN_RESERVE, Txn: 6, Nx: true,
		Pairs: []*messages.Pair{{Key: "held", Value: []byte("0")}}})
	p := ks.NewPipe()
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	first := p.Send(ctx, &messages.DataRequest{Op: messages.DataOp_KV_INCR, Key: "free", Amount: 1})
	p.Send(ctx, setReq("held", "late"))
	p.Send(ctx, &messages.DataRequest{Op: messages.DataOp_KV_INCR, Key: "free", Amount: 1})
	errc := make(chan error, 1)
	go func() {
		_, err := first.Wait()
		errc <- err
	}()
	bg := context.Background()
	systemtest.Eventually(t, "the batch's first command", func() bool {
		rep, err := ks.Do(bg, &messages.DataRequest{Op: messages.DataOp_KV_GET, Key: "free"})
		return err == nil && rep.Found
	})
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("the wait of a client gone: %v, want context.Canceled", err)
	}
	do(t, ks, &messages.DataRequest{Op: messages.DataOp_TXN_ABORT, Txn: 6})
	// A command sent after the abort is applied after anything the shard
	// could still have replayed from its stash.
	if rep := do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_GET, Key: "held"}); rep.Found {
		t.Fatalf("the withdrawn SET was applied: held = %s", rep.Value)
	}
	if rep := do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_GET, Key: "free"}); string(rep.Value) != "1" {
		t.Fatalf("free = %s, want 1: the withdrawn INCR was applied", rep.Value)
	}
}

// TestPipeReusesBatches sends rounds of commands of every kind that answers
// with a lent reply through one pipe, waiting for each round before the
// next: the batches and replies of a round are used again by the next
// one, and every reply is still the right one (none keeps a field of an
// earlier command's).
func TestPipeReusesBatches(t *testing.T) {
	_, ks := boot(t, t.TempDir(), 3)
	p := ks.NewPipe()
	defer p.Close()
	ctx := context.Background()
	for round := range 20 {
		key := fmt.Sprint("k", round%5)
		reqs := []*messages.DataRequest{
			setReq("s"+key, fmt.Sprint("v", round)),
			{Op: messages.DataOp_KV_GET, Key: "s" + key},
			{Op: messages.DataOp_KV_GET, Key: "missing"},
			{Op: messages.DataOp_KV_INCR, Key: "n" + key, Amount: 2},
			{Op: messages.DataOp_LIST_RPUSH, Key: "l" + key, Values: [][]byte{[]byte(fmt.Sprint(round))}},
			{Op: messages.DataOp_LIST_LPOP, Key: "l" + key},
			{Op: messages.DataOp_HASH_SET, Key: "h" + key, Pairs: []*messages.Pair{{Key: fmt.Sprint("f", round), Value: []byte("1")}}},
			{Op: messages.DataOp_SET_ADD, Key: "t" + key, Members: []string{"a"}},
			{Op: messages.DataOp_ZSET_ADD, Key: "z" + key, Scored: []*messages.ScoredMember{{Member: "m", Score: 1}}, Incr: true},
			{Op: messages.DataOp_KV_INCR, Key: "h" + key, Amount: 1}, // a hash: the error reply
		}
		var waits []Pending
		for _, req := range reqs {
			waits = append(waits, p.Send(ctx, req))
		}
		var got []string
		for _, w := range waits {
			rep, err := w.Wait()
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			got = append(got, fmt.Sprintf("%v %v %d %q %q %v %s", rep.Ok, rep.Found, rep.Integer, rep.Value, rep.Values, rep.Number, rep.ErrorCode))
		}
		n := int64(round/5+1) * 2
		added := map[bool]int64{true: 1, false: 0}[round < 5] // SADD, ZADD: the member is new in the first 5 rounds
		want := []string{
			"true false 0 \"\" [] 0 ",
			fmt.Sprintf("false true 0 %q [] 0 ", fmt.Sprintf("%q", fmt.Sprint("v", round))),
			"false false 0 \"\" [] 0 ",
			fmt.Sprintf("true false %d \"\" [] 0 ", n),
			"true false 1 \"\" [] 0 ",
			fmt.Sprintf("true true 0 \"\" [%q] 0 ", fmt.Sprint(round)),
			"true false 1 \"\" [] 0 ",
			fmt.Sprintf("true false %d \"\" [] 0 ", added),
			fmt.Sprintf("true false %d \"\" [] %d ", added, round/5+1),
			"false false 0 \"\" [] 0 " + messages.CodeWrongType,
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("round %d, command %d: got %s, want %s", round, i, got[i], want[i])
			}
		}
	}
}
