package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-run/troupe/system/store/pgtest"
	"github.com/troupe-run/troupe/system/systemtest"
)

// The cluster tests run etcd (Debian's etcd-server) and PostgreSQL
// (pgtest) of their own, and three troupe nodes on loopback that share
// them: --cluster-name, --cluster-etcd, --cluster-bind, --journal.

// etcdPatience bounds etcd's start on a busy machine.
const etcdPatience = 60 * time.Second

// startEtcd runs a one-member etcd in a temporary folder and returns its
// client address.
func startEtcd(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal("etcd is not installed (Debian package etcd-server; .ci/run installs it)")
	}
	client, peer := "127.0.0.1:"+freePort(t), "127.0.0.1:"+freePort(t)
	log := &syncBuffer{}
	cmd := exec.Command(bin, "--name=troupe-test", "--data-dir="+t.TempDir(),
		"--listen-client-urls=http://"+client, "--advertise-client-urls=http://"+client,
		"--listen-peer-urls=http://"+peer, "--initial-advertise-peer-urls=http://"+peer,
		"--initial-cluster=troupe-test=http://"+peer, "--log-level=warn")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("etcd log:\n%s", tail(log.String(), 4000))
		}
	})
	deadline := time.Now().Add(etcdPatience)
	for {
		resp, err := http.Get("http://" + client + "/health")
		if err == nil {
			var h struct{ Health string }
			json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if h.Health == "true" {
				return client
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("etcd exited during start-up: %v\n%s", err, log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd did not become healthy within %s:\n%s", etcdPatience, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testCluster is etcd, PostgreSQL and the troupe nodes sharing them.
type testCluster struct {
	t     *testing.T
	etcd  string
	pg    string
	nodes []*server
}

func startCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	c := &testCluster{t: t, etcd: startEtcd(t), pg: pgtest.Start(t)}
	for range n {
		c.add()
	}
	c.waitMembers(n)
	return c
}

// add starts one more node.
func (c *testCluster) add() *server {
	c.t.Helper()
	return c.addVia(c.etcd)
}

// addVia starts one more node that reaches etcd at etcd (a proxy, say).
func (c *testCluster) addVia(etcd string) *server {
	c.t.Helper()
	s := startServer(c.t, "--journal="+c.pg, "--cluster-name=test", "--cluster-etcd="+etcd,
		"--cluster-bind=127.0.0.1:"+bindPort(c.t), "--cluster-lease=2s", "--resp-addr=off")
	c.nodes = append(c.nodes, s)
	return s
}

// bindPort returns a free loopback port below the kernel's ephemeral range
// (32768 and up on Linux), so that no door of another node, listening on
// port 0, is handed it between the pick and the node's own bind.
func bindPort(t *testing.T) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		port := strconv.Itoa(20000 + rand.IntN(12000))
		if portsHanded[port] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			continue
		}
		ln.Close()
		portsHanded[port] = true
		return port
	}
	t.Fatal("no free loopback port below the ephemeral range")
	return ""
}

// waitMembers waits until every running node's latest topology has n
// members.
func (c *testCluster) waitMembers(n int) {
	c.t.Helper()
	systemtest.Eventually(c.t, fmt.Sprintf("every node to see %d members", n), func() bool {
		for _, s := range c.nodes {
			if s.cmd.ProcessState == nil && lastMemberCount(s.log.String()) != n {
				return false
			}
		}
		return true
	})
}

// lastMemberCount is the member count of the last topology a node logged.
func lastMemberCount(log string) int {
	count := -1
	for _, line := range strings.Split(log, "\n") {
		var entry struct {
			Msg   string
			Count int `json:"member-count"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "onClusterTopology" {
			count = entry.Count
		}
	}
	return count
}

// getString reads a string key through a node.
func getString(s *server, key string) (string, bool) {
	var got struct {
		Found bool            `json:"found"`
		Value json.RawMessage `json:"value"`
	}
	s.ok("kv.get", map[string]any{"key": key}, &got)
	var v string
	json.Unmarshal(got.Value, &v)
	return v, got.Found
}

// TestClusterReadsAndWritesThroughEveryNode: a key written through any
// node reads back through every node (the shards are spread over the
// three, so most requests cross to another node).
func TestClusterReadsAndWritesThroughEveryNode(t *testing.T) {
	c := startCluster(t, 3)
	for i := range 48 {
		key, value := fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%d", i)
		c.nodes[i%3].ok("kv.set", map[string]any{"key": key, "value": value}, nil)
	}
	for i := range 48 {
		key, want := fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%d", i)
		for j, s := range c.nodes {
			if got, found := getString(s, key); !found || got != want {
				t.Fatalf("%s through node %d: got %q (found %v), want %q", key, j, got, found, want)
			}
		}
	}
	// Multi-key commands fan out over shards on several nodes.
	var n struct {
		Count int `json:"count"`
	}
	keys := []string{"key-1", "key-2", "key-3", "key-4", "missing"}
	c.nodes[1].ok("kv.exists", map[string]any{"keys": keys}, &n)
	if n.Count != 4 {
		t.Fatalf("kv.exists of %v through node 1: %d, want 4", keys, n.Count)
	}
	var incr struct {
		Value int64 `json:"value"`
	}
	for i := range 9 {
		c.nodes[i%3].ok("kv.incr", map[string]any{"key": "counter"}, &incr)
	}
	if incr.Value != 9 {
		t.Fatalf("9 kv.incr through three nodes: %d", incr.Value)
	}
	// /health and /metrics show the membership.
	for j, s := range c.nodes {
		_, raw := s.do("GET", "/health", nil)
		var h struct {
			Status     string            `json:"status"`
			Components map[string]string `json:"components"`
		}
		json.Unmarshal(raw, &h)
		if h.Status != "healthy" || !strings.HasPrefix(h.Components["cluster"], "operational: 3 members") {
			t.Fatalf("/health of node %d: %s", j, raw)
		}
		if v := s.metric("troupe_cluster_members"); v != "3" {
			t.Fatalf("troupe_cluster_members of node %d: %q", j, v)
		}
	}
}

// TestClusterQueueAcrossNodes: messages published through every node are
// consumed on three nodes at once, each delivered once, and acked through
// the node that took it.
func TestClusterQueueAcrossNodes(t *testing.T) {
	c := startCluster(t, 3)
	const total = 60
	c.nodes[0].ok("queue.create", map[string]any{"queue": "jobs"}, nil)
	for i := range total {
		c.nodes[i%3].ok("queue.publish", map[string]any{"queue": "jobs", "message": map[string]any{"n": i}}, nil)
	}
	var (
		mu   sync.Mutex
		seen = map[string]int{} // message id -> deliveries
		wg   sync.WaitGroup
		got  atomic.Int64
	)
	for _, s := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			for got.Load() < total {
				status, r, err := tryCommand(client, s.data, "queue.consume", map[string]any{"queue": "jobs", "timeout_ms": 200})
				if err != nil || status != http.StatusOK {
					t.Errorf("consume through %s: %d %v %+v", s.data, status, err, r.Error)
					return
				}
				var m queueMsg
				json.Unmarshal(r.Payload, &m)
				if m.none() {
					continue
				}
				mu.Lock()
				seen[m.MessageID]++
				mu.Unlock()
				got.Add(1)
				if status, r, err := tryCommand(client, s.data, "queue.ack", map[string]any{"queue": "jobs", "message_id": m.MessageID}); err != nil || status != http.StatusOK {
					t.Errorf("ack through %s: %d %v %+v", s.data, status, err, r.Error)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if len(seen) != total {
		t.Fatalf("%d distinct messages consumed, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("message %s delivered %d times", id, n)
		}
	}
	st := c.nodes[2].queueStats("jobs")
	if st.Depth != 0 || st.InFlight != 0 || st.AckedTotal != total {
		t.Fatalf("queue.stats after every ack: %+v", st)
	}
}

// TestClusterKill9: a node killed under a writer loop; the survivors take
// its shards from the journal, every acknowledged write reads back, and
// the node rejoins and serves again.
func TestClusterKill9(t *testing.T) {
	c := startCluster(t, 3)
	survivors, victim := c.nodes[:2], c.nodes[2]
	var (
		mu       sync.Mutex
		acked    = map[string]string{}
		stopping atomic.Bool
		wg       sync.WaitGroup
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 20 * time.Second}
			s := survivors[w%2]
			for i := 0; !stopping.Load(); i++ {
				key, value := fmt.Sprintf("w%d:%d", w, i), fmt.Sprintf("v%d", i)
				if post(client, s.data, "kv.set", map[string]any{"key": key, "value": value}) {
					mu.Lock()
					acked[key] = value
					mu.Unlock()
				}
			}
		}()
	}
	systemtest.Eventually(t, "200 acknowledged writes", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 200
	})
	victim.kill9()
	killed := time.Now()
	// Failover: every shard answers again through the survivors.
	client := &http.Client{Timeout: 20 * time.Second}
	var failover time.Duration
	for i := 0; ; i++ {
		ok := true
		for k := range 64 { // 64 keys cover the 16 shards many times over
			if !post(client, survivors[i%2].data, "kv.set", map[string]any{"key": fmt.Sprintf("probe-%d", k), "value": "x"}) {
				ok = false
				break
			}
		}
		if ok {
			failover = time.Since(killed)
			break
		}
		if time.Since(killed) > 60*time.Second {
			t.Fatal("the survivors did not serve every shard within 60 s of the kill")
		}
	}
	t.Logf("failover after kill -9: every shard answered again %s after the kill", failover.Round(time.Millisecond))
	// More writes after the failover, then stop.
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	systemtest.Eventually(t, "writes after the failover", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= before+100
	})
	stopping.Store(true)
	wg.Wait()
	for key, value := range acked {
		for j, s := range survivors {
			if got, found := getString(s, key); !found || got != value {
				t.Fatalf("acknowledged %s=%q lost after kill -9 (read through node %d): got %q found %v", key, value, j, got, found)
			}
		}
	}
	t.Logf("%d acknowledged writes all read back through both survivors", len(acked))

	// Rejoin: the node comes back on its address and serves again.
	victim.restart()
	c.waitMembers(3)
	for key, value := range acked {
		if got, found := getString(victim, key); !found || got != value {
			t.Fatalf("after the rejoin, %s through the rejoined node: got %q found %v, want %q", key, got, found, value)
		}
	}
	systemtest.Eventually(t, "the rejoined node to host shards again", func() bool {
		return strings.Contains(victim.log.String(), `"msg":"activated"`)
	})
}

// TestClusterGracefulLeave: a node stopped with SIGTERM, three times over,
// hands its actors over while a writer loop on the others goes on: it
// exits cleanly, no client request fails, and every acknowledged write
// reads back. Between leaves it rejoins and takes actors again.
func TestClusterGracefulLeave(t *testing.T) {
	c := startCluster(t, 3)
	stayers, leaver := c.nodes[:2], c.nodes[2]
	var (
		mu       sync.Mutex
		acked    = map[string]string{}
		failures []error
		stopping atomic.Bool
		phase    atomic.Value // what the leaver is doing, for the failures
		wg       sync.WaitGroup
	)
	phase.Store("starting")
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 20 * time.Second}
			s := stayers[w%2]
			for i := 0; !stopping.Load(); i++ {
				key, value := fmt.Sprintf("w%d:%d", w, i), fmt.Sprintf("v%d", i)
				sent, start := phase.Load(), time.Now()
				status, r, err := tryCommand(client, s.data, "kv.set", map[string]any{"key": key, "value": value})
				mu.Lock()
				if err != nil || status != http.StatusOK {
					failures = append(failures, fmt.Errorf("kv.set %s through %s at %s sent while the leaver was %s, answered %s later while %s: %d %v %+v",
						key, s.data, start.Format("15:04:05.000"), sent, time.Since(start).Round(time.Millisecond), phase.Load(), status, err, r.Error))
				} else {
					acked[key] = value
				}
				mu.Unlock()
			}
		}()
	}
	moreWrites := func(what string, n int) {
		t.Helper()
		mu.Lock()
		before := len(acked)
		mu.Unlock()
		systemtest.Eventually(t, fmt.Sprintf("%d acknowledged writes %s", n, what), func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(acked) >= before+n
		})
	}
	const leaves = 3
	for round := range leaves {
		moreWrites("before the leave", 100)
		phase.Store(fmt.Sprintf("leaving (%d)", round))
		if err := leaver.stop(); err != nil {
			t.Fatalf("leave %d: SIGTERM: exit %v\n%s", round, err, tail(leaver.log.String(), 4000))
		}
		if !strings.Contains(leaver.log.String(), `"msg":"left the cluster"`) {
			t.Fatalf("leave %d: the leaver did not log its leave:\n%s", round, tail(leaver.log.String(), 4000))
		}
		phase.Store(fmt.Sprintf("gone (%d)", round))
		c.waitMembers(2)
		moreWrites("after the leave", 100)
		if round < leaves-1 {
			phase.Store(fmt.Sprintf("rejoining (%d)", round))
			leaver.restart()
			c.waitMembers(3)
			phase.Store(fmt.Sprintf("back (%d)", round))
		}
	}
	stopping.Store(true)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(failures) > 0 {
		t.Fatalf("%d of %d writes failed across %d graceful leaves: %v", len(failures), len(acked)+len(failures), leaves, errors.Join(failures[:min(len(failures), 5)]...))
	}
	t.Logf("%d writes across %d graceful leaves and %d rejoins, none failed", len(acked), leaves, leaves-1)
	for key, value := range acked {
		if got, found := getString(stayers[0], key); !found || got != value {
			t.Fatalf("acknowledged %s=%q: got %q found %v", key, value, got, found)
		}
	}
}

// TestClusterPubSubAcrossNodes: a subscriber on any node gets what is
// published through any node, once.
func TestClusterPubSubAcrossNodes(t *testing.T) {
	c := startCluster(t, 3)
	var subs []*wsClient
	for _, s := range c.nodes {
		ws := s.dialWS("", nil)
		ws.ok("pubsub.subscribe", map[string]any{"topics": []string{"news.*", "end"}}, nil)
		subs = append(subs, ws)
	}
	const rounds = 6
	for i := range rounds {
		var r struct {
			SubscribersNotified int `json:"subscribers_notified"`
		}
		c.nodes[i%3].ok("pubsub.publish", map[string]any{"topic": "news.x", "message": map[string]int{"n": i}}, &r)
		if r.SubscribersNotified != 3 {
			t.Fatalf("publish %d through node %d: subscribers_notified %d, want 3", i, i%3, r.SubscribersNotified)
		}
	}
	c.nodes[0].ok("pubsub.publish", map[string]any{"topic": "end", "message": "end"}, nil)
	for j, ws := range subs {
		seen := map[string]int{}
		for {
			f := ws.next()
			if f.Type != "message" {
				t.Fatalf("subscriber on node %d got %+v", j, f)
			}
			if f.Topic == "end" {
				break
			}
			seen[string(f.Message)]++
		}
		// Messages from different nodes' publishes may interleave; each
		// arrives once.
		for i := range rounds {
			if n := seen[fmt.Sprintf(`{"n":%d}`, i)]; n != 1 {
				t.Fatalf("subscriber on node %d got message %d %d times: %v", j, i, n, seen)
			}
		}
	}
}

// TestClusterRoomAcrossNodes: a room's events published through every
// node take contiguous offsets, reach its subscribers on every node in
// offset order, and read back through every node.
func TestClusterRoomAcrossNodes(t *testing.T) {
	c := startCluster(t, 3)
	var subs []*wsClient
	for _, s := range c.nodes {
		ws := s.dialWS("", nil)
		ws.ok("stream.subscribe", map[string]any{"room": "chat"}, nil)
		subs = append(subs, ws)
	}
	const total = 9
	for i := range total {
		var pub struct {
			Offset int64 `json:"offset"`
		}
		c.nodes[i%3].ok("stream.publish", map[string]any{"room": "chat", "event_type": "said", "data": i}, &pub)
		if pub.Offset != int64(i) {
			t.Fatalf("publish %d through node %d: offset %d", i, i%3, pub.Offset)
		}
	}
	for j, ws := range subs {
		for i := range total {
			f := ws.next()
			if f.Room != "chat" || f.Offset != int64(i) || string(f.Data) != fmt.Sprint(i) {
				t.Fatalf("subscriber on node %d: event %d is %+v", j, i, f)
			}
		}
	}
	for j, s := range c.nodes {
		var h struct {
			Events []struct {
				Offset int64 `json:"offset"`
				Data   int   `json:"data"`
			} `json:"events"`
		}
		s.ok("stream.history", map[string]any{"room": "chat", "from_offset": 0}, &h)
		if len(h.Events) != total {
			t.Fatalf("history through node %d: %d events, want %d", j, len(h.Events), total)
		}
		for i, e := range h.Events {
			if e.Offset != int64(i) || e.Data != i {
				t.Fatalf("history through node %d: event %d is %+v", j, i, e)
			}
		}
	}
}
