package kv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
)

func TestChange(t *testing.T) {
	str := func(v string, exp int64) keyState {
		return keyState{present: true, str: true, value: []byte(v), expireAt: exp}
	}
	expired := keyState{present: true, str: true, expired: true, value: []byte(`"x"`), expireAt: 1}
	hash := keyState{present: true}
	for _, tc := range []struct {
		name          string
		before, after keyState
		op            messages.DataOp
		amount        int64
		ok            bool
		event         string
		value         bool
	}{
		{"new key", keyState{}, str(`1`, 0), messages.DataOp_KV_SET, 0, true, "set", true},
		{"same value set again", str(`1`, 0), str(`1`, 0), messages.DataOp_KV_SET, 0, true, "set", true},
		{"nx refused", str(`1`, 0), str(`1`, 0), messages.DataOp_KV_SET, 0, false, "", false},
		{"incr", str(`1`, 0), str(`3`, 0), messages.DataOp_KV_INCR, 2, true, "incrby", true},
		{"decr", str(`3`, 0), str(`1`, 0), messages.DataOp_KV_INCR, -2, true, "decrby", true},
		{"deleted", str(`1`, 0), keyState{}, messages.DataOp_KV_DEL, 0, true, "del", false},
		{"expired, removed by a write's lookup", expired, keyState{}, messages.DataOp_KV_DEL, 0, false, "expired", false},
		{"expired, set again", expired, str(`2`, 0), messages.DataOp_KV_SET, 0, true, "set", true},
		{"expire", str(`1`, 0), str(`1`, 99), messages.DataOp_KV_EXPIRE, 0, true, "expire", false},
		{"persist", str(`1`, 99), str(`1`, 0), messages.DataOp_KV_PERSIST, 0, true, "persist", false},
		{"a read", str(`1`, 0), str(`1`, 0), messages.DataOp_KV_GET, 0, false, "", false},
		{"a hash is not watched", hash, hash, messages.DataOp_HASH_SET, 0, true, "", false},
		{"a string replaced by a hash", str(`1`, 0), hash, messages.DataOp_KV_SET, 0, true, "del", false},
		{"absent, still absent", keyState{}, keyState{}, messages.DataOp_KV_DEL, 0, false, "", false},
	} {
		event, value := change(tc.before, tc.after, tc.op, tc.amount, tc.ok)
		if event != tc.event || value != tc.value {
			t.Errorf("%s: got (%q, %v), want (%q, %v)", tc.name, event, value, tc.event, tc.value)
		}
	}
}

func TestWatchersRegistry(t *testing.T) {
	w := newWatchers()
	a, b := actor.NewPID("local", "a"), actor.NewPID("local", "b")
	if n, fresh, ok := w.add(a, []string{"user:*", "user:*", "k"}, 3); n != 2 || !fresh || !ok {
		t.Fatalf("add = %d %v %v, want 2 patterns, fresh", n, fresh, ok)
	}
	if _, _, ok := w.add(a, []string{"x", "y"}, 3); ok {
		t.Fatal("a subscriber went past its limit of patterns")
	}
	w.add(b, []string{"k"}, 3)
	if got := w.matching("user:1", nil); len(got) != 1 || got[0] != a {
		t.Fatalf("matching user:1 = %v", got)
	}
	if got := w.matching("k", nil); len(got) != 2 {
		t.Fatalf("matching k = %v, want both", got)
	}
	if v1, v2 := w.next("k", false), w.next("k", true); v1 != 1 || v2 != 2 || w.next("k", false) != 1 {
		t.Fatal("a version does not count from 1 again after the key went")
	}
	if n := w.remove(a, []string{"k"}); n != 1 {
		t.Fatalf("remove one pattern left %d", n)
	}
	w.remove(a, nil)
	w.remove(b, nil)
	if w.active() || len(w.versions) != 0 {
		t.Fatal("the registry keeps state with nobody watching")
	}
}

// changes collects the KeyChange pushes an actor receives.
func changes(t *testing.T, ks *Keyspace) (*actor.PID, chan *messages.KeyChange) {
	t.Helper()
	ch := make(chan *messages.KeyChange, 100)
	pid := ks.sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if m, ok := c.Message().(*messages.KeyChange); ok {
			ch <- m
		}
	}))
	t.Cleanup(func() { ks.sys.Root.Stop(pid) })
	return pid, ch
}

func next(t *testing.T, ch chan *messages.KeyChange) *messages.KeyChange {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no change pushed")
	}
	return nil
}

func TestWatchPushesChanges(t *testing.T) {
	sys, ks := boot(t, t.TempDir(), 4)
	pid, ch := changes(t, ks)
	rep, err := ks.Watch(context.Background(), pid, []string{"user:*"})
	if err != nil || rep.ErrorCode != "" {
		t.Fatalf("Watch: %v %v", rep, err)
	}
	expect := func(key, event string, version uint64, value string) {
		t.Helper()
		c := next(t, ch)
		if c.Key != key || c.Event != event || c.Version != version || string(c.Value) != value || c.HasValue != (value != "") {
			t.Fatalf("got %s %s v%d %q (has %v), want %s %s v%d %q", c.Key, c.Event, c.Version, c.Value, c.HasValue,
				key, event, version, value)
		}
	}
	do(t, ks, setReq("other", "x")) // not watched: nothing comes of it
	do(t, ks, setReq("user:1", "ann"))
	expect("user:1", "set", 1, `"ann"`)
	do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_SET, Key: "user:n", Value: []byte(`1`)})
	expect("user:n", "set", 1, `1`)
	do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_INCR, Key: "user:n", Amount: 4})
	expect("user:n", "incrby", 2, `5`)
	do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_EXPIRE, Key: "user:1", TtlMs: 3600_000})
	expect("user:1", "expire", 2, "")
	do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_PERSIST, Key: "user:1"})
	expect("user:1", "persist", 3, "")
	do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_DEL, Key: "user:1"})
	expect("user:1", "del", 4, "")
	do(t, ks, setReq("user:1", "bob"))
	expect("user:1", "set", 1, `"bob"`)

	// Across shards, the two-phase mset: one event per key, order between
	// shards aside.
	var pairs []*messages.Pair
	for i := range 8 {
		pairs = append(pairs, &messages.Pair{Key: fmt.Sprint("user:m", i), Value: []byte(`0`)})
	}
	do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_MSET, Pairs: pairs})
	seen := map[string]bool{}
	for range pairs {
		c := next(t, ch)
		if c.Event != "set" || string(c.Value) != "0" {
			t.Fatalf("mset pushed %s %s %q", c.Key, c.Event, c.Value)
		}
		seen[c.Key] = true
	}
	if len(seen) != len(pairs) {
		t.Fatalf("mset pushed %d keys, want %d", len(seen), len(pairs))
	}

	// The sweep's expiry.
	do(t, ks, &messages.DataRequest{Op: messages.DataOp_KV_SET, Key: "user:t", Value: []byte(`1`), TtlMs: 1})
	expect("user:t", "set", 1, `1`)
	expect("user:t", "expired", 2, "")

	// A shard that crashes keeps its watchers.
	if _, err := sys.InjectFault("data/*", "panic"); err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // meet every shard's panic
		ks.Do(context.Background(), &messages.DataRequest{Op: messages.DataOp_KV_GET, Key: fmt.Sprint("z", i)})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := ks.Do(context.Background(), setReq("user:2", "cy"))
		if err == nil && r.ErrorCode == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shard did not come back: %v %v", r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	expect("user:2", "set", 1, `"cy"`)

	// Unwatched: nothing more.
	if _, err := ks.Unwatch(context.Background(), pid, nil); err != nil {
		t.Fatal(err)
	}
	do(t, ks, setReq("user:3", "dee"))
	do(t, ks, setReq("user:2", "last")) // ask the shards again: their pushes would be out by now
	select {
	case c := <-ch:
		t.Fatalf("an unwatched subscriber got %s %s", c.Key, c.Event)
	default:
	}
}

func TestWatchPatternsAreBounded(t *testing.T) {
	_, ks := boot(t, "", 2)
	pid, _ := changes(t, ks)
	many := make([]string, ks.sys.Config.MaxSubscriptions+1)
	for i := range many {
		many[i] = fmt.Sprint("p", i)
	}
	rep, err := ks.Watch(context.Background(), pid, many)
	if err != nil || rep.ErrorCode != messages.CodeLimit {
		t.Fatalf("past --max-subscriptions: %v %v", rep, err)
	}
}
