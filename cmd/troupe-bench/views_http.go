package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// benchViewsHTTP measures the views door as clients use it: a troupe
// process is started, 20,000 records are ingested over HTTP, then m views
// of a mix of kinds are registered (equality on a link, a price range,
// ORDER BY + LIMIT over a category, a subquery, GROUP BY over a range),
// and ingests (updates of random records) are timed one by one over HTTP,
// first from one client, then from 16 at once. It prints p50, p99 and the
// maximum per ingest, and the server's resident memory (VmRSS) after the
// views are registered and after the ingests. Each view count runs twice,
// with a durable store and with a memory-only one (see storeName), and
// each one-client p50 is printed against the bare handler's, measured
// again just before each run (on a loaded machine the floor moves within
// minutes): with no view, that is what the door costs. Beside it, the CPU
// time the server spent per one-client ingest against the bare handler's:
// on a loaded machine the latency is that CPU stretched by waiting for a
// core, and the CPU shows what the door and the engine add.
//
// With surrealNpm (integration/surrealnpm, installed with npm ci), the same
// records and ingests go to an embedded SurrealDB 3 with a LIVE SELECT per
// view (bench.mjs: the WHERE of each view, as LIVE SELECT takes no ORDER BY,
// LIMIT or GROUP BY), and the ratio of the p50s is printed. SurrealDB gets
// fewer ingests with many views (it takes long per ingest).
func benchViewsHTTP(troupeBin, surrealNpm string, ingests int, counts string) error {
	const records = 20000
	fmt.Printf("views over HTTP: %d records, %d timed ingests per client count, mixed views (equality, range, ORDER BY+LIMIT, subquery, GROUP BY)\n",
		records, ingests)
	for _, field := range strings.Split(counts, ",") {
		m, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil {
			return fmt.Errorf("--view-counts: %q is not a number", field)
		}
		var p50 time.Duration
		for _, durable := range []bool{true, false} {
			bare, err := benchBareIngests(records, ingests)
			if err != nil {
				return err
			}
			p, err := benchViewsHTTPOnce(troupeBin, m, records, ingests, durable)
			if err != nil {
				return err
			}
			fmt.Printf("views=%-5d %s one client: p50 %.2f times the bare handler's (%+.1f µs); server CPU per ingest %.1f µs, the bare handler's %.1f µs (%+.1f µs)\n",
				m, storeName(durable), float64(p.p50)/float64(bare.p50), us(p.p50-bare.p50), us(p.cpu), us(bare.cpu), us(p.cpu-bare.cpu))
			if durable {
				p50 = p.p50
			}
		}
		if surrealNpm == "" || m == 0 {
			continue
		}
		n := min(ingests, max(20, 100000/m))
		cmd := exec.Command("node", "bench.mjs", strconv.Itoa(records), strconv.Itoa(m), strconv.Itoa(n))
		cmd.Dir = surrealNpm
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("SurrealDB (node bench.mjs in %s; npm ci there first): %w", surrealNpm, err)
		}
		var sr struct{ P50, P99, Max float64 }
		if err := json.Unmarshal(out, &sr); err != nil {
			return fmt.Errorf("SurrealDB answered %q: %w", out, err)
		}
		fmt.Printf("views=%-5d SurrealDB 3 embedded, LIVE SELECT per view, %d ingests: p50 %8.1f µs  p99 %8.1f µs  max %8.1f µs"+
			"   Troupe/SurrealDB p50 ratio %.4f\n", m, n, sr.P50, sr.P99, sr.Max, us(p50)/sr.P50)
	}
	return nil
}

// storeName names the store of a run: durable runs write every ingest to
// the journal (Pebble, --fsync=none: written, not synced), whose commit
// pipeline answers on a goroutine of its own; memory-only runs
// (--data-dir=) keep nothing, and show what the door and the engine cost
// without the journal.
func storeName(durable bool) string {
	if durable {
		return "durable"
	}
	return "memory "
}

// oneClient is what a run measures of one client's ingests: the p50, and
// the CPU time the server spent per ingest (user and system, from /proc),
// which the load of other processes moves much less than the latency.
type oneClient struct{ p50, cpu time.Duration }

// benchViewsHTTPOnce runs one view count against a troupe with a durable
// store or a memory-only one, and returns what it measured of one client.
func benchViewsHTTPOnce(troupeBin string, m, records, ingests int, durable bool) (one oneClient, err error) {
	dir, err := os.MkdirTemp("", "troupe-bench")
	if err != nil {
		return oneClient{}, err
	}
	defer os.RemoveAll(dir)
	if !durable {
		dir = ""
	}
	addr := freeAddr()
	stopProc, err := startProcess(troupeBin, "--ssp-addr="+addr, "--data-dir="+dir, "--fsync=none", "--data-addr=off",
		"--hub-addr=off", "--resp-addr=off", "--admin-addr=off", "--skip-control-addr=off", "--skip-streaming-addr=off", "--log-level=warn",
		"--max-views="+strconv.Itoa(m+10))
	if err != nil {
		return oneClient{}, err
	}
	defer stopProc()
	pid := int(lastServer.Load())
	base := "http://" + addr
	if err := waitHealthy(base); err != nil {
		return oneClient{}, err
	}
	post := func(path, body string) error { return viewsPost(base, path, body) }
	rng := rand.New(rand.NewPCG(1, 2))
	record := func(i int) string { return viewsIngestBody(rng, i) }
	for i := 0; i < 1000; i++ {
		if err := post("/ingest", fmt.Sprintf(`{"table":"user","op":"CREATE","id":"user:%d","record":{"name":"u%d"}}`, i, i)); err != nil {
			return oneClient{}, err
		}
	}
	for i := 0; i < records; i++ {
		if err := post("/ingest", record(i)); err != nil {
			return oneClient{}, err
		}
	}
	start := time.Now()
	for i := 0; i < m; i++ {
		var q, params string
		switch i % 5 {
		case 0:
			q, params = "SELECT * FROM product WHERE owner = $owner", fmt.Sprintf(`"{ owner: user:%d }"`, rng.IntN(1000))
		case 1:
			lo := rng.IntN(990)
			q = fmt.Sprintf("SELECT * FROM product WHERE price > %d AND price < %d", lo, lo+3)
		case 2:
			q = fmt.Sprintf("SELECT * FROM product WHERE category = 'c%d' ORDER BY price DESC, id LIMIT 10", rng.IntN(50))
		case 3:
			q = fmt.Sprintf("SELECT *, (SELECT name FROM user WHERE id = $parent.owner) AS who FROM product WHERE owner = user:%d", rng.IntN(1000))
		case 4:
			q = fmt.Sprintf("SELECT category, count() AS n FROM product WHERE price > %d GROUP BY category", 990+rng.IntN(10))
		}
		body := fmt.Sprintf(`{"id":"bench:%d","surql":%q,"clientId":"bench","ttl":"1h"`, i, q)
		if params != "" {
			body += `,"params":` + params
		}
		if err := post("/view/register", body+"}"); err != nil {
			return oneClient{}, err
		}
	}
	registered := time.Since(start)
	rssViews := vmRSS(pid)
	// The memory per view is this RSS less that of a run with 0 views
	// (--view-counts=0,...), which holds the same tables.
	fmt.Printf("views=%-5d %s registered in %v; RSS %.1f MB\n", m, storeName(durable), registered.Round(time.Millisecond), float64(rssViews)/1e6)
	for _, clients := range []int{1, 16} {
		cpu := cpuTime(pid)
		all, err := timeIngests(base, viewsBodies(rng, records, ingests, clients))
		if err != nil {
			return oneClient{}, err
		}
		pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
		fmt.Printf("views=%-5d %s clients=%-2d ingests=%d  p50 %8.1f µs  p99 %8.1f µs  max %8.1f µs  RSS %.1f MB\n",
			m, storeName(durable), clients, len(all), us(pct(0.50)), us(pct(0.99)), us(all[len(all)-1]), float64(vmRSS(pid))/1e6)
		if clients == 1 {
			one = oneClient{p50: pct(0.50), cpu: (cpuTime(pid) - cpu) / time.Duration(len(all))}
		}
	}
	return one, nil
}

// benchBareIngests times the same ingests, from the same client, against a
// bare net/http handler in a process of its own (it reads the body and
// answers 200): the least an ingest over HTTP costs on this machine at
// this moment, the floor of the figures above. It returns what it measured
// of one client.
func benchBareIngests(records, ingests int) (oneClient, error) {
	addr := freeAddr()
	self, _ := os.Executable()
	stop, err := startProcess(self, "--bare="+addr, "--bare-size=0")
	if err != nil {
		return oneClient{}, err
	}
	defer stop()
	pid := int(lastServer.Load())
	if err := waitHealthy("http://" + addr); err != nil {
		return oneClient{}, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var one oneClient
	for _, clients := range []int{1, 16} {
		cpu := cpuTime(pid)
		all, err := timeIngests("http://"+addr, viewsBodies(rng, records, ingests, clients))
		if err != nil {
			return oneClient{}, err
		}
		pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
		fmt.Printf("bare net/http handler clients=%-2d ingests=%d  p50 %8.1f µs  p99 %8.1f µs  max %8.1f µs\n",
			clients, len(all), us(pct(0.50)), us(pct(0.99)), us(all[len(all)-1]))
		if clients == 1 {
			one = oneClient{p50: pct(0.50), cpu: (cpuTime(pid) - cpu) / time.Duration(len(all))}
		}
	}
	return one, nil
}

// viewsClient is the bench's HTTP client, with a connection per client kept.
var viewsClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 60 * time.Second}

// viewsPost posts body to base+path and wants a 200.
func viewsPost(base, path, body string) error {
	req, err := http.NewRequest("POST", base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	// Without SPKY_AUTH_SECRET any bearer token is taken (loopback only).
	req.Header.Set("Authorization", "Bearer bench")
	req.Header.Set("Content-Type", "application/json")
	resp, err := viewsClient.Do(req)
	if err != nil {
		return err
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, bytes.TrimSpace(out))
	}
	return nil
}

// viewsIngestBody is an update of product:i with random fields.
func viewsIngestBody(rng *rand.Rand, i int) string {
	return fmt.Sprintf(`{"table":"product","op":"UPDATE","id":"product:%d","record":{"price":%d,"category":"c%d","owner":"user:%d","status":"open"}}`,
		i, rng.IntN(1000), rng.IntN(50), rng.IntN(1000))
}

// viewsBodies makes each client's share of ingests updates of random
// records.
func viewsBodies(rng *rand.Rand, records, ingests, clients int) [][]string {
	bodies := make([][]string, clients)
	for c := range bodies {
		for i := 0; i < ingests/clients; i++ {
			bodies[c] = append(bodies[c], viewsIngestBody(rng, rng.IntN(records)))
		}
	}
	return bodies
}

// timeIngests posts each client's bodies to base's /ingest, the clients at
// once, one ingest after another each, and returns every latency, sorted.
func timeIngests(base string, bodies [][]string) ([]time.Duration, error) {
	lat := make([][]time.Duration, len(bodies))
	var wg sync.WaitGroup
	errs := make(chan error, len(bodies))
	for c := range bodies {
		wg.Go(func() {
			for _, b := range bodies[c] {
				t0 := time.Now()
				if err := viewsPost(base, "/ingest", b); err != nil {
					errs <- err
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	return all, nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// vmRSS returns a process's resident memory in bytes, 0 if unknown.
func vmRSS(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1000
		}
	}
	return 0
}
