package kv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/systemtest"
)

// boot starts a system with a keyspace over dir (empty: memory only).
func boot(t *testing.T, dir string, shards int) (*system.System, *Keyspace) {
	t.Helper()
	sys := systemtest.Boot(t, "--data-dir="+dir, "--fsync=always", fmt.Sprint("--shards=", shards), "--chaos")
	ks, err := Start(sys, NewMemory(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.Close)
	return sys, ks
}

func do(t *testing.T, ks *Keyspace, req *messages.DataRequest) *messages.DataReply {
	t.Helper()
	r, err := ks.Do(context.Background(), req)
	if err != nil {
		t.Fatalf("%v: %v", req.Op, err)
	}
	if r.ErrorCode != "" {
		t.Fatalf("%v: %s %s", req.Op, r.ErrorCode, r.ErrorMessage)
	}
	return r
}

func setReq(key, value string) *messages.DataRequest {
	return &messages.DataRequest{Op: messages.DataOp_KV_SET, Key: key, Value: []byte(fmt.Sprintf("%q", value))}
}

func TestShardPanicRestartsWithNothingLost(t *testing.T) {
	sys, ks := boot(t, t.TempDir(), 4)
	for i := 0; i < 100; i++ {
		do(t, ks, setReq(fmt.Sprint("k", i), fmt.Sprint("v", i)))
	}
	do(t, ks, &messages.DataRequest{Op: messages.DataOp_LIST_RPUSH, Key: "l", Values: [][]byte{[]byte(`1`), []byte(`2`)}})

	names, err := sys.InjectFault("data/*", "panic")
	if err != nil || len(names) != 4 {
		t.Fatalf("InjectFault: %v %v", names, err)
	}
	// The first request to each shard meets the panic and gets an error.
	failed := 0
	for i := 0; i < 100; i++ {
		_, err := ks.Do(context.Background(), &messages.DataRequest{Op: messages.DataOp_KV_GET, Key: fmt.Sprint("k", i)})
		if errors.Is(err, system.ErrFailed) {
			failed++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if failed == 0 || failed > 4 {
		t.Fatalf("%d requests met an injected panic, want 1 to 4 (one per armed shard hit)", failed)
	}
	for i := 0; i < 100; i++ {
		r := do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_GET, Key: fmt.Sprint("k", i)})
		if !r.Found || string(r.Value) != fmt.Sprintf(`"v%d"`, i) {
			t.Fatalf("k%d after restart: %+v", i, r)
		}
	}
	r := do(t, ks, &messages.DataRequest{Op: messages.DataOp_LIST_LEN, Key: "l"})
	if r.Integer != 2 {
		t.Fatalf("list length after restart: %d", r.Integer)
	}
}

func TestReopenRebuildsFromStore(t *testing.T) {
	dir := t.TempDir()
	{
		cfgDir := dir
		sys, ks := boot(t, cfgDir, 3)
		for i := 0; i < 50; i++ {
			do(t, ks, setReq(fmt.Sprint("k", i), "x"))
		}
		do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_DEL, Keys: []string{"k1", "k2"}})
		ks.Close()
		if err := sys.Close(); err != nil {
			t.Fatal(err)
		}
	}
	_, ks := boot(t, dir, 3)
	r := do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_COUNT})
	if r.Integer != 48 {
		t.Fatalf("reopened keyspace holds %d keys, want 48", r.Integer)
	}
}

func TestShardCountIsFixedForADataDir(t *testing.T) {
	dir := t.TempDir()
	sys, ks := boot(t, dir, 2)
	ks.Close()
	sys.Close()
	sys2 := systemtest.Boot(t, "--data-dir="+dir, "--shards=3")
	if _, err := Start(sys2, NewMemory(0)); err == nil {
		t.Fatal("a data dir written with 2 shards was opened with 3")
	}
}

func TestMultiKeyCommandsAcrossShards(t *testing.T) {
	_, ks := boot(t, "", 8)
	var keys []string
	for i := 0; i < 40; i++ {
		keys = append(keys, fmt.Sprintf("user:%02d", i))
	}
	pairs := func(ks []string) []*messages.Pair {
		var out []*messages.Pair
		for _, k := range ks {
			out = append(out, &messages.Pair{Key: k, Value: []byte(`"` + k + `"`)})
		}
		return out
	}
	if r := do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_MSETNX, Pairs: pairs(keys[:20])}); !r.Ok {
		t.Fatal("msetnx of new keys refused")
	}
	// One existing key makes the whole msetnx fail, on every shard.
	if r := do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_MSETNX, Pairs: pairs(keys[19:])}); r.Ok {
		t.Fatal("msetnx with an existing key succeeded")
	}
	if r := do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_EXISTS, Keys: keys}); r.Integer != 20 {
		t.Fatalf("%d keys exist after a refused msetnx, want 20", r.Integer)
	}
	do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_MSET, Pairs: pairs(keys[20:])})

	r := do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_MGET, Keys: []string{keys[5], "missing", keys[30]}})
	if !slices.Equal(r.Flags, []bool{true, false, true}) || string(r.Values[2]) != `"`+keys[30]+`"` {
		t.Fatalf("mget out of order: %+v", r)
	}

	// Scanning in pages of 7 visits every key once, in order.
	var seen []string
	cursor := ""
	for {
		r := do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_SCAN, Prefix: "user:", Cursor: cursor, Count: 7})
		seen = append(seen, r.Keys...)
		if !r.HasMore {
			break
		}
		cursor = r.Keys[len(r.Keys)-1]
	}
	if !slices.Equal(seen, keys) {
		t.Fatalf("scan pages gave %v", seen)
	}
	if r := do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_DEL, Keys: append(keys[:10], "missing")}); r.Integer != 10 {
		t.Fatalf("del counted %d", r.Integer)
	}
}

// Concurrent msetnx over the same keys: exactly one wins, and writers to
// those keys never see a half-applied msetnx.
func TestConcurrentMsetnxIsAtomic(t *testing.T) {
	_, ks := boot(t, "", 8)
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for round := 0; round < 20; round++ {
		do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_DEL, Keys: keys})
		var wg sync.WaitGroup
		wins := make(chan int, 4)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var pairs []*messages.Pair
				for _, k := range keys {
					pairs = append(pairs, &messages.Pair{Key: k, Value: []byte(fmt.Sprint(w))})
				}
				r, err := ks.Do(context.Background(), &messages.DataRequest{Op: messages.DataOp_KV_MSETNX, Pairs: pairs})
				if err == nil && r.Ok {
					wins <- w
				}
			}()
		}
		wg.Wait()
		close(wins)
		var winners []int
		for w := range wins {
			winners = append(winners, w)
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d msetnx won, want exactly 1", round, len(winners))
		}
		r := do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_MGET, Keys: keys})
		for i, v := range r.Values {
			if string(v) != fmt.Sprint(winners[0]) {
				t.Fatalf("round %d: %s = %s, want every key from winner %d", round, keys[i], v, winners[0])
			}
		}
	}
}

func TestExpiredKeysAreSwept(t *testing.T) {
	_, ks := boot(t, "", 2)
	do(t, ks, setReq("long", "x"))
	before := ks.Memory().Used()
	do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_SET, Key: "short", Value: []byte(`1`), TtlMs: 1})
	if ks.Memory().Used() <= before {
		t.Fatal("setting a key charged no memory")
	}
	// Nobody reads "short" again: only the active sweep can free it.
	deadline := time.Now().Add(10 * time.Second)
	for ks.Memory().Used() != before {
		if time.Now().After(deadline) {
			t.Fatalf("the expired key was never swept: %d bytes used, want %d", ks.Memory().Used(), before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
