package main

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/troupe-run/troupe/system/store/pgtest"
)

// clusterShards is the --shards of the nodes the cluster benchmark starts
// (troupe's default), which clusterOwner needs to place a key.
const clusterShards = 16

// clusterLease is the nodes' --cluster-lease: the failover time after a
// kill -9 is bounded below by it (etcd drops the dead member's record a
// lease after its last renewal).
const clusterLease = 2 * time.Second

// benchCluster measures troupe in cluster mode: etcd and PostgreSQL of its
// own, then 1, 2 and 3 nodes (one joining at a time), with kv.get and
// kv.set through every node's data door at once, the load spread evenly.
// It prints requests/s with the ratio to one node, and the CPU the nodes
// and this load generator spent per request, which on a machine of a few
// cores (shared by every node, etcd, PostgreSQL and the load) says more
// than requests/s. With 3 nodes it then compares one connection's latency
// to a key whose shard is on the node asked with one on another node, and
// times the failover after kill -9 of a node: from the kill until every
// shard has answered a write through the survivors.
func benchCluster(troupeBin string, conns int, d time.Duration, keys int) error {
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		return fmt.Errorf("etcd is not installed (apt-get install etcd-server)")
	}
	dir, err := os.MkdirTemp("", "troupe-bench-cluster")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	etcd, stopEtcd, err := startBenchEtcd(etcdBin, filepath.Join(dir, "etcd"))
	if err != nil {
		return err
	}
	defer stopEtcd()
	pg, err := pgtest.Launch()
	if err != nil {
		return err
	}
	defer pg.Stop()

	c := &benchNodes{bin: troupeBin, etcd: etcd, journal: pg.URL, logs: dir}
	defer c.stopAll()
	client := newClient(conns)
	setBody := func(i int) []byte {
		return fmt.Appendf(nil, `{"command":"kv.set","payload":{"key":"bench:%d","value":"%s"}}`, i%keys, strings.Repeat("x", 64))
	}
	getBody := func(i int) []byte {
		return fmt.Appendf(nil, `{"command":"kv.get","payload":{"key":"bench:%d"}}`, i%keys)
	}
	fmt.Printf("troupe-bench --cluster: %d connections spread over the nodes' data doors, %s per run, %d keys, %d cores, --cluster-lease=%s, journal in PostgreSQL (fsync off)\n",
		conns, d, keys, runtime.NumCPU(), clusterLease)
	fmt.Printf("%-6s %-7s %10s %9s %14s %14s %16s\n", "nodes", "command", "req/s", "vs 1", "troupe cpu/req", "bench cpu/req", "req/s per core")
	base := map[string]float64{}
	for n := 1; n <= 3; n++ {
		if err := c.add(); err != nil {
			return err
		}
		if err := c.waitMembers(n); err != nil {
			return err
		}
		if n == 1 { // every kv.get finds its key
			if err := loadKeys(client, c.doors[0], keys); err != nil {
				return err
			}
		}
		// A join moves shards to the new node, which recovers them from
		// the journal on their first request: warm them up unmeasured.
		loadSpread(client, c.doors, getBody, conns, time.Second)
		for _, m := range []struct {
			name string
			body func(int) []byte
		}{{"kv.get", getBody}, {"kv.set", setBody}} {
			cpu0, self0 := c.cpu(), selfCPU()
			start := time.Now()
			rps := loadSpread(client, c.doors, m.body, conns, d)
			wall := time.Since(start)
			cpu, self := c.cpu()-cpu0, selfCPU()-self0
			reqs := rps * wall.Seconds()
			if n == 1 {
				base[m.name] = rps
			}
			// Per core: requests per second of CPU the nodes and the load
			// generator spent (etcd and PostgreSQL not counted: idle for
			// kv.get; kv.set's journal writes are PostgreSQL's).
			perCore := reqs / (cpu + self).Seconds()
			fmt.Printf("%-6d %-7s %10.0f %9.2f %11.1f µs %11.1f µs %16.0f\n", n, m.name, rps, rps/base[m.name],
				float64(cpu.Microseconds())/reqs, float64(self.Microseconds())/reqs, perCore)
		}
	}
	if err := c.localRemote(); err != nil {
		return err
	}
	return c.failover(client)
}

// benchNodes is the troupe nodes of a cluster benchmark.
type benchNodes struct {
	bin, etcd, journal string
	logs               string // the folder of the nodes' logs
	cmds               []*exec.Cmd
	doors              []string // base URL of each node's data door
	binds              []string // each node's --cluster-bind
}

func (c *benchNodes) add() error {
	addr, bind := freeAddr(), freeAddr()
	cmd := exec.Command(c.bin, "--data-addr="+addr, "--data-dir=", "--journal="+c.journal,
		"--cluster-name=bench", "--cluster-etcd="+c.etcd, "--cluster-bind="+bind,
		"--cluster-lease="+clusterLease.String(), "--shards="+strconv.Itoa(clusterShards),
		"--ssp-addr=off", "--hub-addr=off", "--skip-control-addr=off", "--skip-streaming-addr=off",
		"--resp-addr=off", "--synap-rpc-addr=off", "--admin-addr=off", "--log-level=warn")
	// The nodes' logs go to files (the kill -9 makes the survivors log
	// their reconnection attempts), removed with the benchmark's folder.
	log, err := os.Create(filepath.Join(c.logs, fmt.Sprintf("node-%d.log", len(c.cmds)+1)))
	if err != nil {
		return err
	}
	defer log.Close() // the node has its own copy
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", c.bin, err)
	}
	c.cmds = append(c.cmds, cmd)
	c.doors = append(c.doors, "http://"+addr)
	c.binds = append(c.binds, bind)
	return nil
}

// waitMembers waits until every node's /health reports n members.
func (c *benchNodes) waitMembers(n int) error {
	want := fmt.Sprintf("operational: %d members", n)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ready := 0
		for _, door := range c.doors {
			if strings.Contains(getText(door+"/health"), want) {
				ready++
			}
		}
		if ready == len(c.doors) {
			return nil
		}
	}
	return fmt.Errorf("the %d nodes did not all report %d members within 60s", len(c.doors), n)
}

// cpu is the CPU time the running nodes spent so far.
func (c *benchNodes) cpu() time.Duration {
	var total time.Duration
	for _, cmd := range c.cmds {
		if cmd.ProcessState == nil {
			total += cpuTime(cmd.Process.Pid)
		}
	}
	return total
}

func (c *benchNodes) stopAll() {
	for _, cmd := range c.cmds {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
	}
}

// clusterOwner is the --cluster-bind of the node the cluster places key's
// shard on: the shard is FNV-1a of the key modulo the shards (as the
// keyspace hashes it), and its identity kv/shard-N is placed by rendezvous
// hashing over the members' addresses (FNV-1a of identity then address,
// highest wins, as Proto.Actor's Rendezvous and system/cluster do).
func clusterOwner(key string, binds []string) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	identity := "shard-" + strconv.Itoa(int(h.Sum32()%clusterShards))
	var best string
	var bestScore uint32
	for _, b := range binds {
		h := fnv.New32a()
		h.Write([]byte(identity))
		h.Write([]byte(b))
		if s := h.Sum32(); best == "" || s > bestScore {
			best, bestScore = b, s
		}
	}
	return best
}

// localRemote compares, through each node with one connection, kv.get of
// a key whose shard is on that node with one whose shard is on another,
// in alternating rounds so that the machine's load weighs on both alike.
func (c *benchNodes) localRemote() error {
	const rounds, per = 10, 200
	client := newClient(1)
	var local, remote []time.Duration
	for i, door := range c.doors {
		var lk, rk string
		for k := 0; lk == "" || rk == ""; k++ {
			key := "bench:" + strconv.Itoa(k)
			if clusterOwner(key, c.binds) == c.binds[i] {
				lk = firstOf(lk, key)
			} else {
				rk = firstOf(rk, key)
			}
		}
		for r := range rounds {
			for j, key := range []string{lk, rk} {
				if r%2 == 1 {
					key = []string{rk, lk}[j]
				}
				body := fmt.Appendf(nil, `{"command":"kv.get","payload":{"key":"%s"}}`, key)
				for range per {
					start := time.Now()
					if _, err := call(client, door, body); err != nil {
						return fmt.Errorf("kv.get %s through node %d: %w", key, i+1, err)
					}
					if key == lk {
						local = append(local, time.Since(start))
					} else {
						remote = append(remote, time.Since(start))
					}
				}
			}
		}
	}
	slices.Sort(local)
	slices.Sort(remote)
	q := func(s []time.Duration, f float64) float64 { return float64(s[int(f*float64(len(s)-1))].Microseconds()) }
	fmt.Printf("\none connection, kv.get, 3 nodes: shard on the node asked p50 %.0f µs p90 %.0f µs; on another node p50 %.0f µs p90 %.0f µs; remote/local p50 %.2f\n",
		q(local, .5), q(local, .9), q(remote, .5), q(remote, .9), q(remote, .5)/q(local, .5))
	return nil
}

// firstOf keeps the first key found.
func firstOf(have, key string) string {
	if have != "" {
		return have
	}
	return key
}

// failover kills the last node with SIGKILL and writes, through the
// others, one key of each shard until every one of them has succeeded: the
// time of the last first success after the kill is the failover time.
func (c *benchNodes) failover(client *http.Client) error {
	last := len(c.cmds) - 1
	survivors := c.doors[:last]
	var keys []string // one key per shard
	seen := map[string]bool{}
	for k := 0; len(keys) < clusterShards; k++ {
		key := "failover:" + strconv.Itoa(k)
		h := fnv.New32a()
		h.Write([]byte(key))
		if s := strconv.Itoa(int(h.Sum32() % clusterShards)); !seen[s] {
			seen[s] = true
			keys = append(keys, key)
		}
	}
	moved := 0
	for _, key := range keys {
		if clusterOwner(key, c.binds) == c.binds[last] {
			moved++
		}
	}
	cmd := c.cmds[last]
	killed := time.Now()
	if err := cmd.Process.Kill(); err != nil {
		return err
	}
	cmd.Wait()
	var mu sync.Mutex
	var worst time.Duration
	var wg sync.WaitGroup
	errs := make(chan error, len(keys))
	for i, key := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Appendf(nil, `{"command":"kv.set","payload":{"key":"%s","value":"after"}}`, key)
			for time.Since(killed) < time.Minute {
				if _, err := call(client, survivors[i%len(survivors)], body); err == nil {
					mu.Lock()
					worst = max(worst, time.Since(killed))
					mu.Unlock()
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			errs <- fmt.Errorf("%s: no write succeeded within a minute of the kill", key)
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("failover after kill -9 of node 3 (%d of %d shards on it): every shard written again through the survivors %.2f s after the kill (--cluster-lease=%s)\n",
		moved, len(keys), worst.Seconds(), clusterLease)
	return nil
}

// loadKeys writes keys keys through door, in kv.mset batches.
func loadKeys(client *http.Client, door string, keys int) error {
	const batch = 500
	for i := 0; i < keys; i += batch {
		var pairs []map[string]string
		for j := i; j < min(i+batch, keys); j++ {
			pairs = append(pairs, map[string]string{"key": "bench:" + strconv.Itoa(j), "value": strings.Repeat("x", 64)})
		}
		body, _ := json.Marshal(map[string]any{"command": "kv.mset", "payload": map[string]any{"pairs": pairs}})
		if _, err := call(client, door, body); err != nil {
			return fmt.Errorf("loading keys: %w", err)
		}
	}
	return nil
}

// loadSpread runs load with its connections spread evenly over the doors
// and returns the requests per second of all of them together.
func loadSpread(client *http.Client, doors []string, body func(int) []byte, conns int, d time.Duration) float64 {
	var wg sync.WaitGroup
	rates := make([]float64, len(doors))
	for i, door := range doors {
		share := conns / len(doors)
		if i < conns%len(doors) {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rates[i] = load(client, door, body, max(share, 1), d)
		}()
	}
	wg.Wait()
	var total float64
	for _, r := range rates {
		total += r
	}
	return total
}

// selfCPU is the CPU time this process (the load generator) spent so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startBenchEtcd runs a one-member etcd with its data in dir.
func startBenchEtcd(bin, dir string) (client string, stop func(), err error) {
	client, peer := freeAddr(), freeAddr()
	cmd := exec.Command(bin, "--name=troupe-bench", "--data-dir="+dir,
		"--listen-client-urls=http://"+client, "--advertise-client-urls=http://"+client,
		"--listen-peer-urls=http://"+peer, "--initial-advertise-peer-urls=http://"+peer,
		"--initial-cluster=troupe-bench=http://"+peer, "--log-level=warn")
	log, err := os.Create(dir + ".log") // removed with the benchmark's folder
	if err != nil {
		return "", nil, err
	}
	defer log.Close() // etcd has its own copy
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(getText("http://"+client+"/health"), `"health":"true"`) {
			return client, stop, nil
		}
	}
	stop()
	return "", nil, fmt.Errorf("etcd did not become healthy within 60s")
}

// getText is a GET's body, empty on any error.
func getText(url string) string {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
