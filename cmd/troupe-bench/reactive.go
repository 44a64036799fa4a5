package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The reactive benchmark: the same Skip service files, run by the real Skip
// server (node, @skipruntime/server on the wasm backend, installed in
// integration/skipnpm) and by Troupe, measured by the same load:
//   - PATCH throughput, in keys/s, with batches of 1 and of 1,000 keys;
//   - PATCH-to-SSE latency: from sending a PATCH to its event reaching
//     every live stream, p50 and p99;
//
// on the sum service and the groups service, with 1 and 100 live streams.

// reactiveTarget is one server of the comparison.
type reactiveTarget struct {
	name               string
	control, streaming string
	stop               func()
}

func benchReactive(troupeBin, npmDir, servicesDir string, conns int, d time.Duration, samples int) error {
	npmDir, err := filepath.Abs(npmDir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(npmDir, "node_modules", "@skipruntime", "wasm")); err != nil {
		return fmt.Errorf("the real Skip server is not installed in %s: run npm ci there (%v)", npmDir, err)
	}
	type row struct {
		service string
		streams int
		metric  string
		skip    float64
		troupe  float64
		better  string // "higher" or "lower"
	}
	var rows []row
	var notes []string
	for _, svc := range []string{"sum", "groups"} {
		file := filepath.Join(servicesDir, svc+".mjs")
		for _, streams := range []int{1, 100} {
			var res [2]reactiveResult
			for i, start := range []func(string) (*reactiveTarget, error){
				func(f string) (*reactiveTarget, error) { return startRealSkip(npmDir, f) },
				func(f string) (*reactiveTarget, error) { return startTroupeSkip(troupeBin, f) },
			} {
				name := [2]string{"skip", "troupe"}[i]
				t, err := start(file)
				if err == nil {
					res[i], err = measureReactive(t, svc, streams, conns, d, samples)
					t.stop()
				}
				// A server that fails or stalls (the real Skip server
				// under load) costs its own figures, not the whole run.
				if err != nil {
					res[i].failed = err.Error()
				}
				for _, n := range res[i].notes(name, svc, streams) {
					notes = append(notes, n)
					fmt.Fprintln(os.Stderr, n)
				}
				fmt.Fprintf(os.Stderr, "%s %s %d streams: %s\n", name, svc, streams, res[i])
			}
			rows = append(rows,
				row{svc, streams, "PATCH keys/s, batches of 1", res[0].keysPerSec1, res[1].keysPerSec1, "higher"},
				row{svc, streams, "PATCH keys/s, batches of 1000", res[0].keysPerSec1000, res[1].keysPerSec1000, "higher"},
				row{svc, streams, "PATCH-to-SSE p50 (ms)", ms(res[0].p50), ms(res[1].p50), "lower"},
				row{svc, streams, "PATCH-to-SSE p99 (ms)", ms(res[0].p99), ms(res[1].p99), "lower"})
		}
	}
	fmt.Printf("reactive services, Skip 0.0.15 (node %s, wasm) vs Troupe; %d writers, %v per throughput run, %d latency samples\n",
		nodeVersion(), conns, d, samples)
	fmt.Printf("%-8s %7s  %-30s %12s %12s %8s\n", "service", "streams", "metric", "skip", "troupe", "ratio")
	for _, r := range rows {
		ratio := r.troupe / r.skip
		goal := "goal >= 3x"
		if r.better == "lower" {
			ratio = r.skip / r.troupe
			goal = "goal >= 2x (half the latency)"
		}
		ratioText := fmt.Sprintf("%7.1fx", ratio)
		if r.skip <= 0 || r.troupe <= 0 {
			ratioText = "      - " // a side has no figure: see the notes
		}
		fmt.Printf("%-8s %7d  %-30s %12s %12s %s  %s\n", r.service, r.streams, r.metric, figure(r.skip), figure(r.troupe), ratioText, goal)
	}
	for _, n := range notes {
		fmt.Println("note:", n)
	}
	return nil
}

// figure prints a measurement; 0 is none (the run failed or stalled).
func figure(v float64) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func nodeVersion() string {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// startRealSkip runs the service file with node in a temporary folder whose
// node_modules is npmDir's.
func startRealSkip(npmDir, file string) (*reactiveTarget, error) {
	dir, err := os.MkdirTemp("", "troupe-bench-skip")
	if err != nil {
		return nil, err
	}
	src, err := os.ReadFile(file)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, filepath.Base(file)), src, 0o644)
	}
	if err == nil {
		err = os.Symlink(filepath.Join(npmDir, "node_modules"), filepath.Join(dir, "node_modules"))
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"type":"module"}`), 0o644)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	control, streaming := freeAddr(), freeAddr()
	cmd := exec.Command("node", filepath.Base(file))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SKIP_CONTROL_PORT="+port(control), "SKIP_STREAMING_PORT="+port(streaming))
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	t := &reactiveTarget{name: "skip", control: "http://" + control, streaming: "http://" + streaming, stop: func() {
		// node may take its time to close 100 streams under load, or
		// never: SIGKILL after stopWait.
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(stopWait):
			cmd.Process.Kill()
			<-done
		}
		os.RemoveAll(dir)
	}}
	if err := waitReactive(t.control); err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

func port(addr string) string { return addr[strings.LastIndex(addr, ":")+1:] }

func startTroupeSkip(troupeBin, file string) (*reactiveTarget, error) {
	dir, err := os.MkdirTemp("", "troupe-bench")
	if err != nil {
		return nil, err
	}
	control, streaming := freeAddr(), freeAddr()
	stop, err := startProcess(troupeBin, "--data-dir="+dir, "--skip-service="+file,
		"--skip-control-addr="+control, "--skip-streaming-addr="+streaming,
		"--data-addr=off", "--ssp-addr=off", "--hub-addr=off", "--resp-addr=off", "--synap-rpc-addr=off", "--admin-addr=off",
		"--log-level=warn")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	t := &reactiveTarget{name: "troupe", control: "http://" + control, streaming: "http://" + streaming, stop: func() {
		stop()
		os.RemoveAll(dir)
	}}
	if err := waitReactive(t.control); err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

func waitReactive(base string) error {
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := boundedClient.Get(base + "/v1/healthcheck"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("%s did not become healthy", base)
}

// The bounds of one measurement: a server that passes them loses that
// figure (it is reported as missing, with the reason) and the run goes on.
const (
	// reactiveWait bounds one PATCH and the wait for one stream's event.
	reactiveWait = 30 * time.Second
	// stopWait bounds a server's shutdown before it is killed.
	stopWait = 10 * time.Second
	// maxStalls ends a latency run after that many samples in a row with
	// an event missing past reactiveWait.
	maxStalls = 3
)

// boundedClient makes the benchmark's one-off requests (health checks,
// stream creations): none waits past reactiveWait.
var boundedClient = &http.Client{Timeout: reactiveWait}

type reactiveResult struct {
	keysPerSec1, keysPerSec1000 float64
	p50, p99                    time.Duration
	// failedPatches counts the PATCHes of the throughput runs that failed
	// or timed out (the rates count the keys of the others); firstErr is
	// the first of them.
	failedPatches int64
	firstErr      string
	// stalled counts latency samples whose event did not arrive within
	// reactiveWait; they count as reactiveWait in the percentiles.
	stalled, sampled int
	failed           string // why the measurement stopped early
}

func (r reactiveResult) String() string {
	return fmt.Sprintf("keys/s %.0f (batches of 1), %.0f (of 1000); p50 %.2f ms, p99 %.2f ms over %d samples",
		r.keysPerSec1, r.keysPerSec1000, ms(r.p50), ms(r.p99), r.sampled)
}

// notes says what went wrong in a measurement, if anything.
func (r reactiveResult) notes(name, service string, streams int) []string {
	var out []string
	at := fmt.Sprintf("%s, %s service, %d streams", name, service, streams)
	if r.failedPatches > 0 {
		out = append(out, fmt.Sprintf("%s: %d PATCHes of the throughput runs failed (first: %s)", at, r.failedPatches, r.firstErr))
	}
	if r.stalled > 0 {
		out = append(out, fmt.Sprintf("%s: %d of %d latency samples waited past %v for an event (counted as %v)", at, r.stalled, r.sampled, reactiveWait, reactiveWait))
	}
	if r.failed != "" {
		out = append(out, fmt.Sprintf("%s: stopped early: %s", at, r.failed))
	}
	return out
}

// reactiveLoad is what the benchmark writes to one service: the collection,
// the resource its streams read, and bodies of n keys.
type reactiveLoad struct {
	setup      [][2]string // collection, body
	collection string
	resource   string
	params     string
	batch      func(seq, n int) string
	// toggle writes a change every stream sees when seq follows the one
	// before (it starts at 1).
	toggle func(seq int) (collection, body string)
}

func loadFor(service string) reactiveLoad {
	switch service {
	case "sum":
		return reactiveLoad{
			collection: "input",
			resource:   "sum",
			params:     `{}`,
			batch: func(seq, n int) string {
				var b strings.Builder
				b.WriteByte('[')
				for i := range n {
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `["k%d",[%d]]`, (seq*n+i)%100000, seq%1000)
				}
				b.WriteByte(']')
				return b.String()
			},
			toggle: func(seq int) (string, string) { return "input", fmt.Sprintf(`[["latency",[%d]]]`, 1000000+seq) },
		}
	default: // groups
		members := make([]string, 200)
		for i := range members {
			members[i] = strconv.Itoa(i + 1)
		}
		ids := strings.Join(members, ",")
		return reactiveLoad{
			setup: [][2]string{
				{"groups", `[[100,[{"name":"bench","members":[` + ids + `]}]]]`},
				// User 2 (active in the service's initial data) starts
				// inactive: the first toggle makes it active.
				{"users", `[[1,[{"name":"me","active":true,"friends":[` + ids + `]}]],[2,[{"name":"u2","active":false,"friends":[1]}]]]`},
			},
			collection: "users",
			resource:   "activeFriends",
			params:     `{"uid":1}`,
			// Users outside the group and not friends: written, joined,
			// and not in the stream.
			batch: func(seq, n int) string {
				var b strings.Builder
				b.WriteByte('[')
				for i := range n {
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `[%d,[{"name":"u%d","active":%v,"friends":[]}]]`, 1000+(seq*n+i)%100000, seq, seq%2 == 0)
				}
				b.WriteByte(']')
				return b.String()
			},
			// User 2, a friend in the group, goes active and inactive.
			toggle: func(seq int) (string, string) {
				return "users", fmt.Sprintf(`[[2,[{"name":"u2","active":%v,"friends":[1]}]]]`, seq%2 == 1)
			},
		}
	}
}

func measureReactive(t *reactiveTarget, service string, streams, conns int, d time.Duration, samples int) (reactiveResult, error) {
	var res reactiveResult
	l := loadFor(service)
	client := newClient(conns + 8)
	client.Timeout = reactiveWait
	for _, s := range l.setup {
		if err := reactivePatch(client, t.control, s[0], s[1]); err != nil {
			return res, fmt.Errorf("setup: %w", err)
		}
	}
	// The streams: all on one resource instance, as clients watching the
	// same thing are.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watchers := make([]*watcher, streams)
	for i := range watchers {
		w, err := watch(ctx, t, l.resource, l.params)
		if err != nil {
			return res, fmt.Errorf("opening stream %d: %w", i+1, err)
		}
		watchers[i] = w
	}
	for _, run := range []struct {
		batch int
		rate  *float64
	}{{1, &res.keysPerSec1}, {1000, &res.keysPerSec1000}} {
		rate, failed, first := patchThroughput(client, t.control, l, run.batch, conns, d)
		*run.rate = rate
		if failed > 0 && res.firstErr == "" {
			res.firstErr = first.Error()
		}
		res.failedPatches += failed
	}
	// Let the streams catch up with the throughput runs before timing.
	if err := settle(client, t, l, watchers); err != nil {
		return res, fmt.Errorf("the streams did not catch up with the throughput runs: %w", err)
	}
	lat := make([]time.Duration, 0, samples)
	stalls := 0
	for i := range samples {
		coll, body := l.toggle(3 + i) // settle wrote 1 and 2
		before := make([]int64, len(watchers))
		for j, w := range watchers {
			before[j] = w.count.Load()
		}
		start := time.Now()
		if err := reactivePatch(client, t.control, coll, body); err != nil {
			res.failed = fmt.Sprintf("latency sample %d: %v", i+1, err)
			break
		}
		deadline := start.Add(reactiveWait)
		stalled := false
		for j, w := range watchers {
			if err := w.waitPast(before[j], deadline); err != nil {
				stalled = true
				break
			}
		}
		res.sampled++
		if stalled {
			res.stalled++
			lat = append(lat, reactiveWait)
			if stalls++; stalls == maxStalls {
				res.failed = fmt.Sprintf("%d latency samples in a row waited past %v for an event", maxStalls, reactiveWait)
				break
			}
			// The next sample starts from the counts of then: a late
			// event of this one may still make it look faster, which
			// the stall count above says.
			continue
		}
		stalls = 0
		lat = append(lat, time.Since(start))
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		res.p50 = lat[len(lat)/2]
		res.p99 = lat[len(lat)*99/100]
	}
	return res, nil
}

// settle writes a toggle and waits until every stream has seen an event
// after it: the backlog of the throughput runs is drained.
func settle(client *http.Client, t *reactiveTarget, l reactiveLoad, watchers []*watcher) error {
	for round := 1; round <= 2; round++ {
		before := make([]int64, len(watchers))
		for j, w := range watchers {
			before[j] = w.count.Load()
		}
		coll, body := l.toggle(round)
		if err := reactivePatch(client, t.control, coll, body); err != nil {
			return err
		}
		// The backlog may be long: a few waits' worth.
		deadline := time.Now().Add(4 * reactiveWait)
		for j, w := range watchers {
			if err := w.waitPast(before[j], deadline); err != nil {
				return err
			}
		}
	}
	return nil
}

// patchThroughput runs conns writers for d and returns the keys/s of the
// PATCHes that succeeded; a writer whose PATCH fails (a timeout of a
// server under load) counts it and goes on after a pause.
func patchThroughput(client *http.Client, base string, l reactiveLoad, batch, conns int, d time.Duration) (float64, int64, error) {
	var keys, failed atomic.Int64
	var seq atomic.Int64
	var firstErr error
	var once sync.Once
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				body := l.batch(int(seq.Add(1)), batch)
				if err := reactivePatch(client, base, l.collection, body); err != nil {
					once.Do(func() { firstErr = err })
					failed.Add(1)
					// A refusing server is not hammered: one try per
					// writer per 100 ms.
					time.Sleep(100 * time.Millisecond)
					continue
				}
				keys.Add(int64(batch))
			}
		}()
	}
	wg.Wait()
	return float64(keys.Load()) / time.Since(start).Seconds(), failed.Load(), firstErr
}

func reactivePatch(client *http.Client, base, collection, body string) error {
	req, err := http.NewRequest("PATCH", base+"/v1/inputs/"+collection, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PATCH %s: %d %s", collection, resp.StatusCode, b)
	}
	return nil
}

// watcher counts the events of one stream.
type watcher struct {
	count  atomic.Int64
	mu     sync.Mutex
	cond   *sync.Cond
	closed bool
}

func watch(ctx context.Context, t *reactiveTarget, resource, params string) (*watcher, error) {
	resp, err := boundedClient.Post(t.control+"/v1/streams/"+resource, "application/json", strings.NewReader(params))
	if err != nil {
		return nil, err
	}
	uuid, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("stream of %s: %d %s", resource, resp.StatusCode, uuid)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", t.streaming+"/v1/streams/"+string(uuid), nil)
	req.Header.Set("Accept", "text/event-stream")
	// One connection per stream, as browsers have.
	sse := &http.Client{Transport: &http.Transport{}}
	resp, err = sse.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET stream: %d", resp.StatusCode)
	}
	w := &watcher{}
	w.cond = sync.NewCond(&w.mu)
	rd := bufio.NewReaderSize(resp.Body, 1<<16)
	go func() {
		defer resp.Body.Close()
		defer func() {
			w.mu.Lock()
			w.closed = true
			w.cond.Broadcast()
			w.mu.Unlock()
		}()
		for {
			line, err := rd.ReadSlice('\n')
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				return
			}
			if bytes.HasPrefix(line, []byte("id:")) { // heartbeats have none
				w.mu.Lock()
				w.count.Add(1)
				w.cond.Broadcast()
				w.mu.Unlock()
			}
		}
	}()
	return w, nil
}

// waitPast waits until the stream has had an event after the first n,
// until deadline.
func (w *watcher) waitPast(n int64, deadline time.Time) error {
	// The timer only wakes the waiter; the stream stays usable after.
	timer := time.AfterFunc(time.Until(deadline), func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer timer.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.count.Load() <= n {
		if w.closed {
			return errors.New("the stream ended")
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("no event within %v", reactiveWait)
		}
		w.cond.Wait()
	}
	return nil
}
