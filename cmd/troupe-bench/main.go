// Command troupe-bench measures the data door's kv.set and kv.get through
// POST /api/v1/command against a bare net/http handler that answers a JSON
// body of the same size, in the same run and with the same load generator,
// and prints requests/s for each and their ratio.
//
//	go build -o /tmp/troupe ./cmd/troupe && go run ./cmd/troupe-bench --troupe /tmp/troupe
//
// Both servers run as separate processes (the bare one is this program
// started again with --bare), so neither shares a Go runtime with the load.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	var (
		troupeBin  = flag.String("troupe", "troupe", "troupe binary to start (ignored with --target)")
		target     = flag.String("target", "", "base URL of a running data door instead of starting one")
		fsync      = flag.String("fsync", "batch", "--fsync of the troupe started")
		conns      = flag.Int("conns", 64, "keep-alive connections")
		duration   = flag.Duration("duration", 5*time.Second, "length of each measurement")
		keys       = flag.Int("keys", 10000, "distinct keys")
		views      = flag.Int("views", 0, "instead: measure the views service with this many ingests per run")
		hub        = flag.Bool("hub", false, "instead: measure the sequence hub (start latency, hello throughput) against bare node")
		viewSets   = flag.String("view-counts", "10,100,1000,5000", "registered views of each --views run")
		viewsHTTP  = flag.Bool("views-http", false, "with --views: the mixed workload over HTTP against a troupe started from --troupe, 1 and 16 clients")
		surrealNpm = flag.String("views-surreal", "integration/surrealnpm", "with --views-http: the folder of the embedded SurrealDB (npm ci) the same ingests go to, with LIVE SELECT views; empty: none")
		startup    = flag.Int("startup-keys", 0, "instead: load this many keys, restart troupe and time its start-up")
		reactive   = flag.Bool("reactive", false, "instead: measure the reactive door (PATCH throughput, PATCH-to-SSE latency) against the real Skip server on the same service files")
		skipNpm    = flag.String("skip-npm", "integration/skipnpm", "with --reactive: the folder where the real Skip server is installed (npm ci)")
		skipFiles  = flag.String("skip-services", "integration/testdata/skip", "with --reactive: the folder of the sum.mjs and groups.mjs services")
		samples    = flag.Int("samples", 200, "with --reactive: latency samples per run")
		clusterRun = flag.Bool("cluster", false, "instead: kv.get and kv.set through 1, 2 and 3 cluster nodes (etcd and PostgreSQL started here), local vs remote latency, failover after kill -9")
		respBench  = flag.Bool("resp", false, "instead: run redis-benchmark against Troupe's Redis-protocol door and redis-server in alternation (memory only and durable, -P 1 and -P 16)")
		respN      = flag.Int("resp-requests", 200000, "with --resp: redis-benchmark -n")
		respTests  = flag.String("resp-tests", "set,get,incr,lpush,lpop,hset,zadd", "with --resp: redis-benchmark -t, one test at a time")
		rounds     = flag.Int("rounds", 3, "with --messaging: rounds of the queue comparison, the peers taking turns (medians compared)")
		messaging  = flag.Bool("messaging", false, "instead: measure queues (publish -> consume -> ack) and pub/sub fan-out over WebSocket against a bare coder/websocket server")
		queuePeers = flag.String("queue-peers", "", "with --messaging: only the queue comparison, of these peers (comma-separated: ws, ws-original, http, nats, redis)")
		bareWS     = flag.String("bare-ws", "", "internal: serve the bare WebSocket broadcast server on this address")
		profile    = flag.String("cpuprofile", "", "write a CPU profile of this process to the file (for the in-process benchmarks)")
		bare       = flag.String("bare", "", "internal: serve the bare handler on this address with a body of --bare-size bytes")
		bareSize   = flag.Int("bare-size", 0, "internal: body size of the bare handler")
	)
	flag.Parse()
	if *bare != "" {
		serveBare(*bare, *bareSize)
		return
	}
	if *bareWS != "" {
		serveBareWS(*bareWS)
		return
	}
	run := func() error { return bench(*troupeBin, *target, *fsync, *conns, *duration, *keys) }
	if *startup > 0 {
		run = func() error { return startupTime(*troupeBin, *startup) }
	}
	if *views > 0 {
		run = func() error { return benchViews(*views, *viewSets) }
		if *viewsHTTP {
			run = func() error { return benchViewsHTTP(*troupeBin, *surrealNpm, *views, *viewSets) }
		}
	}
	if *messaging {
		run = func() error { return benchMessaging(*troupeBin, *conns, *duration, *rounds, *queuePeers) }
	}
	if *hub {
		run = func() error { return benchHub(*troupeBin) }
	}
	if *clusterRun {
		run = func() error { return benchCluster(*troupeBin, *conns, *duration, *keys) }
	}
	if *respBench {
		run = func() error { return benchRESP(*troupeBin, *respN, 50, *respTests) }
	}
	if *reactive {
		run = func() error { return benchReactive(*troupeBin, *skipNpm, *skipFiles, *conns, *duration, *samples) }
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "troupe-bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "troupe-bench:", err)
		os.Exit(1)
	}
}

func bench(troupeBin, target, fsync string, conns int, d time.Duration, keys int) error {
	if target == "" {
		dir, err := os.MkdirTemp("", "troupe-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		addr := freeAddr()
		stop, err := startProcess(troupeBin, "--data-addr="+addr, "--data-dir="+dir, "--fsync="+fsync,
			"--ssp-addr=off", "--hub-addr=off", "--skip-control-addr=off", "--skip-streaming-addr=off", "--resp-addr=off", "--synap-rpc-addr=off", "--log-level=warn")
		if err != nil {
			return err
		}
		defer stop()
		target = "http://" + addr
		if err := waitHealthy(target); err != nil {
			return err
		}
	}
	client := newClient(conns)
	setBody := func(i int) []byte {
		return fmt.Appendf(nil, `{"command":"kv.set","payload":{"key":"bench:%d","value":"%s"}}`, i%keys, strings.Repeat("x", 64))
	}
	getBody := func(i int) []byte {
		return fmt.Appendf(nil, `{"command":"kv.get","payload":{"key":"bench:%d"}}`, i%keys)
	}
	for i := 0; i < keys; i++ { // every kv.get finds its key
		if _, err := call(client, target, setBody(i)); err != nil {
			return err
		}
	}
	getSize, err := call(client, target, getBody(0))
	if err != nil {
		return err
	}
	setSize, err := call(client, target, setBody(0))
	if err != nil {
		return err
	}

	fmt.Printf("troupe-bench: %d connections, %s per run, fsync=%s, reply sizes get=%dB set=%dB\n", conns, d, fsync, getSize, setSize)
	for _, c := range []struct {
		name string
		body func(int) []byte
		size int
	}{{"kv.get", getBody, getSize}, {"kv.set", setBody, setSize}} {
		bareAddr := freeAddr()
		self, _ := os.Executable()
		stop, err := startProcess(self, "--bare="+bareAddr, fmt.Sprint("--bare-size=", c.size))
		if err != nil {
			return err
		}
		if err := waitHealthy("http://" + bareAddr); err != nil {
			stop()
			return err
		}
		base := load(client, "http://"+bareAddr, c.body, conns, d)
		stop()
		got := load(client, target, c.body, conns, d)
		fmt.Printf("%-7s bare net/http %9.0f req/s   troupe %9.0f req/s   ratio %.2f\n", c.name, base, got, got/base)
	}
	return nil
}

// startupTime fills a fresh data dir with n keys through kv.mset, stops
// troupe, and times how long a new process takes to rebuild and answer.
func startupTime(troupeBin string, n int) error {
	dir, err := os.MkdirTemp("", "troupe-startup")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	addr := freeAddr()
	args := []string{"--data-addr=" + addr, "--data-dir=" + dir, "--fsync=none", "--max-body=64MiB",
		"--ssp-addr=off", "--hub-addr=off", "--skip-control-addr=off", "--skip-streaming-addr=off", "--resp-addr=off", "--synap-rpc-addr=off", "--log-level=warn"}
	stop, err := startProcess(troupeBin, args...)
	if err != nil {
		return err
	}
	base := "http://" + addr
	if err := waitHealthy(base); err != nil {
		stop()
		return err
	}
	client := newClient(8)
	const batch = 5000
	for i := 0; i < n; i += batch {
		var b bytes.Buffer
		b.WriteString(`{"command":"kv.mset","payload":{"pairs":[`)
		for j := i; j < min(i+batch, n); j++ {
			if j > i {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"key":"user:%08d","value":{"n":%d,"name":"user number %d"}}`, j, j, j)
		}
		b.WriteString(`]}}`)
		if _, err := call(client, base, b.Bytes()); err != nil {
			stop()
			return fmt.Errorf("loading keys: %w", err)
		}
	}
	stop()
	start := time.Now()
	stop, err = startProcess(troupeBin, args...)
	if err != nil {
		return err
	}
	defer stop()
	if err := waitHealthy(base); err != nil {
		return err
	}
	took := time.Since(start)
	size, err := call(client, base, []byte(`{"command":"kv.get","payload":{"key":"user:00000000"}}`))
	if err != nil || size == 0 {
		return fmt.Errorf("after restart: %v", err)
	}
	fmt.Printf("start-up with %d keys: %s (until /health answers 200)\n", n, took.Round(time.Millisecond))
	return nil
}

// load runs conns workers for d and returns completed requests per second.
func load(client *http.Client, base string, body func(int) []byte, conns int, d time.Duration) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var done, next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := call(client, base, body(int(next.Add(1)))); err != nil {
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "troupe-bench: %d requests to %s failed\n", n, base)
	}
	return float64(done.Load()) / time.Since(start).Seconds()
}

func decodeJSON(raw []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	return m, d.Decode(&m)
}

func call(client *http.Client, base string, body []byte) (int, error) {
	resp, err := client.Post(base+"/api/v1/command", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return int(n), err
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     time.Minute,
		},
	}
}

// serveBare answers every request with a JSON body of size bytes, after
// reading the request body: the least any handler does.
func serveBare(addr string, size int) {
	body := bareBody(size)
	http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.Write([]byte(`{"status":"healthy"}`))
			return
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
}

// bareBody is a JSON object of exactly size bytes (at least 14).
func bareBody(size int) []byte {
	pad := max(size-len(`{"payload":""}`), 0)
	return fmt.Appendf(nil, `{"payload":"%s"}`, strings.Repeat("x", pad))
}

func startProcess(bin string, args ...string) (stop func(), err error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	lastServer.Store(int64(cmd.Process.Pid))
	return func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}, nil
}

func waitHealthy(base string) error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(base + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("%s did not become healthy", base)
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
