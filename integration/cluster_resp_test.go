package integration

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/troupe-run/troupe/system/store/pgtest"
	"github.com/troupe-run/troupe/system/systemtest"
)

// startRESPCluster is startCluster with every node's Redis-protocol door
// open.
func startRESPCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	c := &testCluster{t: t, etcd: startEtcd(t), pg: pgtest.Start(t)}
	for range n {
		c.nodes = append(c.nodes, startServer(t, "--journal="+c.pg, "--cluster-name=test", "--cluster-etcd="+c.etcd,
			"--cluster-bind=127.0.0.1:"+bindPort(t), "--cluster-lease=2s"))
	}
	c.waitMembers(n)
	return c
}

// ownerOf is the index of the node the cluster places key's KV shard on
// (16 shards, the default): FNV-1a of the key modulo the shards, then
// rendezvous hashing of kv's identity over the members' --cluster-bind
// addresses, as system/cluster places it.
func (c *testCluster) ownerOf(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	identity := "shard-" + strconv.Itoa(int(h.Sum32()%16))
	best, bestScore := -1, uint32(0)
	for i, s := range c.nodes {
		h := fnv.New32a()
		h.Write([]byte(identity))
		h.Write([]byte(lastFlag(s.args, "cluster-bind")))
		if score := h.Sum32(); best < 0 || score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

// keyOn returns a key with prefix whose shard is on node i.
func (c *testCluster) keyOn(prefix string, i int) string {
	for k := 0; ; k++ {
		if key := prefix + strconv.Itoa(k); c.ownerOf(key) == i {
			return key
		}
	}
}

// TestClusterRESP: the Redis-protocol door of each of two nodes serves
// every key wherever its shard is (plain and pipelined commands), counts
// and lists the keys of the whole cluster, runs WATCH/MULTI/EXEC over
// shards on both nodes, wakes a blocked pop on one node with a push
// through the other, and delivers a message published on one node to
// subscribers on both.
func TestClusterRESP(t *testing.T) {
	c := startRESPCluster(t, 2)
	ctx := context.Background()
	var rdbs []*redis.Client
	for _, s := range c.nodes {
		rdb := redis.NewClient(&redis.Options{Addr: s.resp})
		t.Cleanup(func() { rdb.Close() })
		rdbs = append(rdbs, rdb)
	}
	a, b := rdbs[0], rdbs[1]

	// Keys written through one node, pipelined, read back through the
	// other; some of their shards are on each node.
	const n = 64
	owners := map[int]int{}
	p := a.Pipeline()
	for i := range n {
		key := fmt.Sprintf("k%d", i)
		owners[c.ownerOf(key)]++
		p.Set(ctx, key, "v"+strconv.Itoa(i), 0)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if owners[0] == 0 || owners[1] == 0 {
		t.Fatalf("the keys' shards are not on both nodes: %v", owners)
	}
	for i := range n {
		key := fmt.Sprintf("k%d", i)
		if v, err := b.Get(ctx, key).Result(); err != nil || v != "v"+strconv.Itoa(i) {
			t.Fatalf("GET %s through node 2: %q %v", key, v, err)
		}
	}
	p = b.Pipeline()
	var incrs []*redis.IntCmd
	for range 50 {
		incrs = append(incrs, p.Incr(ctx, c.keyOn("counter", 0)))
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range incrs {
		if cmd.Val() != int64(i+1) {
			t.Fatalf("pipelined INCR %d through node 2 answered %d", i, cmd.Val())
		}
	}

	// DBSIZE, KEYS and SCAN see the whole cluster's keys on every node.
	for j, rdb := range rdbs {
		if size, err := rdb.DBSize(ctx).Result(); err != nil || size != n+1 {
			t.Fatalf("DBSIZE through node %d: %d %v, want %d", j+1, size, err, n+1)
		}
		keys, err := rdb.Keys(ctx, "k*").Result()
		if err != nil || len(keys) != n {
			t.Fatalf("KEYS k* through node %d: %d keys %v, want %d", j+1, len(keys), err, n)
		}
		var scanned []string
		iter := rdb.Scan(ctx, 0, "k*", 10).Iterator()
		for iter.Next(ctx) {
			scanned = append(scanned, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(scanned)
		if len(slices.Compact(scanned)) != n {
			t.Fatalf("SCAN through node %d found %d distinct keys, want %d", j+1, len(slices.Compact(scanned)), n)
		}
	}

	// A transaction over two keys whose shards are on different nodes:
	// aborted when a watched key changes through the other node,
	// committed when none did.
	k0, k1 := c.keyOn("tx", 0), c.keyOn("tx", 1)
	err := a.Watch(ctx, func(tx *redis.Tx) error {
		if err := b.Set(ctx, k1, "changed", 0).Err(); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, k0, "mine", 0)
			p.Set(ctx, k1, "mine", 0)
			return nil
		})
		return err
	}, k0, k1)
	if err != redis.TxFailedErr {
		t.Fatalf("a transaction whose watched key changed through the other node: %v", err)
	}
	if v, _ := b.Get(ctx, k1).Result(); v != "changed" {
		t.Fatalf("the aborted transaction wrote %s: %q", k1, v)
	}
	if err := b.Get(ctx, k0).Err(); err != redis.Nil {
		t.Fatalf("the aborted transaction wrote %s: %v", k0, err)
	}
	err = a.Watch(ctx, func(tx *redis.Tx) error {
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, k0, "mine", 0)
			p.Incr(ctx, k1+"n")
			return nil
		})
		return err
	}, k0, k1)
	if err != nil {
		t.Fatalf("a transaction over both nodes: %v", err)
	}
	if v, _ := b.Get(ctx, k0).Result(); v != "mine" {
		t.Fatalf("after EXEC, %s through node 2: %q", k0, v)
	}

	// A blocked pop on node 1 is woken by a push through node 2, for a
	// list whose shard is on either node.
	for i := range 2 {
		list := c.keyOn("list", i)
		popped := make(chan []string, 1)
		errs := make(chan error, 1)
		go func() {
			got, err := a.BLPop(ctx, 0, list).Result()
			if err != nil {
				errs <- err
				return
			}
			popped <- got
		}()
		waitBlocked(t, a)
		if err := b.RPush(ctx, list, "item").Err(); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-popped:
			if len(got) != 2 || got[0] != list || got[1] != "item" {
				t.Fatalf("BLPOP %s: %v", list, got)
			}
		case err := <-errs:
			t.Fatalf("BLPOP %s: %v", list, err)
		case <-time.After(20 * time.Second):
			t.Fatalf("BLPOP %s on node 1 was not woken by an RPUSH through node 2", list)
		}
	}

	// Pub/sub: a subscriber on each node gets what is published on
	// node 2, once.
	var subs []*redis.PubSub
	for _, rdb := range rdbs {
		sub := rdb.Subscribe(ctx, "news.cluster")
		t.Cleanup(func() { sub.Close() })
		if _, err := sub.Receive(ctx); err != nil { // the subscription's confirmation
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	if got, err := b.Publish(ctx, "news.cluster", "hello").Result(); err != nil || got != 2 {
		t.Fatalf("PUBLISH through node 2: %d receivers %v, want 2", got, err)
	}
	for j, sub := range subs {
		msg, err := sub.ReceiveMessage(ctx)
		if err != nil || msg.Channel != "news.cluster" || msg.Payload != "hello" {
			t.Fatalf("the subscriber on node %d: %v %v", j+1, msg, err)
		}
	}
}

// waitBlocked waits until a client of rdb's node is blocked (INFO
// clients' blocked_clients).
func waitBlocked(t *testing.T, rdb *redis.Client) {
	t.Helper()
	systemtest.Eventually(t, "a client blocked", func() bool {
		info, err := rdb.Info(context.Background(), "clients").Result()
		if err != nil {
			return false
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "blocked_clients:"); ok {
				return v != "0"
			}
		}
		return false
	})
}
