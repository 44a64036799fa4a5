package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The hub benchmark (issue 5 §8): a troupe is started with only its hub
// door, and in the same run node is spawned bare.
//
//   - start latency: POST /sequence/:id/start until GET /instance/:id says
//     running (polled every millisecond), against spawning node on a script
//     that loads the same sequence file and prints "ready", until it does;
//     on a troupe with its default warm runner (--hub-warm-runners=1) and
//     on a second one without (0), whose every runner starts cold. Each
//     start is followed by hubSettle, in which the warm hub replaces the
//     runner it gave away: starts that come faster than that find none
//     ready and start cold, which this does not measure;
//   - throughput: text pushed through POST /input of the hello sequence and
//     read back from GET /output, against the same hello function run by a
//     bare node program that pipes stdin through it to stdout.
const (
	hubStarts    = 30       // instances started, and bare spawns
	hubBytes     = 64 << 20 // bytes pushed through hello per run
	hubRuns      = 3        // throughput runs of each kind; the best counts
	hubChunkSize = 64 << 10 // the size of the input's lines
	hubSettle    = 300 * time.Millisecond
)

// hubHelloSequence is the hello sample of issue 5 §7.
const hubHelloSequence = `module.exports = function (input) {
    return input.map((name) => "Hello " + name + "!");
};
`

// hubBareReady loads the sequence as the runner would, then says so;
// with a third argument, it requires scramjet from that folder first, as
// the runner does when the hub has scramjet.
const hubBareReady = `if (process.argv[3]) require(require.resolve("scramjet", { paths: [process.argv[3]] }));
require(process.argv[2]);
process.stdout.write("ready\n");
`

// hubScramjet is a node_modules folder that holds scramjet: with it, the
// start latency is measured again with scramjet on both sides.
var hubScramjet = flag.String("hub-scramjet", "", "with --hub: a node_modules folder holding scramjet; start latency is measured again with the hub's --hub-scramjet set to it, against bare node requiring it")

// hubBarePipe runs the sequence's function on stdin, decoded as the runner
// decodes text/plain input, and writes what it returns to stdout with
// back-pressure, as the runner writes output.
const hubBarePipe = `const { PassThrough } = require("stream");
const { once } = require("events");
const fn = require(process.argv[2]);
const input = new PassThrough({ objectMode: true });
process.stdin.setEncoding("utf8");
process.stdin.pipe(input);
process.stderr.write("ready\n");
(async () => {
    for await (const chunk of fn(input)) {
        if (!process.stdout.write(chunk)) await once(process.stdout, "drain");
    }
})();
`

func benchHub(troupeBin string) error {
	node, err := exec.LookPath("node")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "troupe-bench-hub")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for name, body := range map[string]string{"index.js": hubHelloSequence, "ready.js": hubBareReady, "pipe.js": hubBarePipe} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	startHub := func(name string, extra ...string) (*hubBench, string, func(), error) {
		addr := freeAddr()
		args := append([]string{"--hub-addr=" + addr, "--data-dir=" + filepath.Join(dir, name),
			"--data-addr=off", "--ssp-addr=off", "--skip-control-addr=off", "--skip-streaming-addr=off", "--resp-addr=off",
			"--admin-addr=off", "--log-level=warn", "--hub-retention=5s",
			// The hub's own overhead against bare node: sequences get a plain
			// stream, as the bare scripts do (scramjet adds the same require
			// to both; --hub-scramjet measures it apart).
			"--hub-scramjet=off", "--hub-topic-retention=64MiB"}, extra...)
		stop, err := startProcess(troupeBin, args...)
		if err != nil {
			return nil, "", nil, err
		}
		hub := &hubBench{base: "http://" + addr + "/api/v1", client: newClient(8)}
		if err := hub.waitUp(); err != nil {
			stop()
			return nil, "", nil, err
		}
		seq, err := hub.send(hubHelloSequence)
		if err != nil {
			stop()
			return nil, "", nil, err
		}
		return hub, seq, stop, nil
	}
	hub, seq, stop, err := startHub("data")
	if err != nil {
		return err
	}
	defer stop()
	cold, coldSeq, stopCold, err := startHub("data-cold", "--hub-warm-runners=0")
	if err != nil {
		return err
	}
	defer stopCold()
	fmt.Printf("hub: node %s, %d starts, %d MiB through hello per run (best of %d)\n",
		hubNodeVersion(node), hubStarts, hubBytes>>20, hubRuns)

	// Start latency, interleaved so that all meet the same machine.
	var viaHub, viaCold, bare []time.Duration
	for range hubStarts {
		d, err := hub.startLatency(seq)
		if err != nil {
			return err
		}
		viaHub = append(viaHub, d)
		time.Sleep(hubSettle)
		d, err = cold.startLatency(coldSeq)
		if err != nil {
			return err
		}
		viaCold = append(viaCold, d)
		time.Sleep(hubSettle)
		d, err = hubBareStart(node, dir, "")
		if err != nil {
			return err
		}
		bare = append(bare, d)
		time.Sleep(hubSettle)
	}
	h, c, b := hubMedian(viaHub), hubMedian(viaCold), hubMedian(bare)
	fmt.Printf("start     bare node %8.1f ms   troupe start->running %8.1f ms   ratio %.2f   (medians; means %.1f / %.1f ms)\n",
		hubMS(b), hubMS(h), float64(h)/float64(b), hubMS(hubMean(bare)), hubMS(hubMean(viaHub)))
	fmt.Printf("          without warm runners (--hub-warm-runners=0) %8.1f ms   ratio %.2f   (mean %.1f ms)\n",
		hubMS(c), float64(c)/float64(b), hubMS(hubMean(viaCold)))
	if *hubScramjet != "" {
		modules, err := filepath.Abs(*hubScramjet)
		if err != nil {
			return err
		}
		sj, sjSeq, stopSJ, err := startHub("data-scramjet", "--hub-scramjet="+modules)
		if err != nil {
			return err
		}
		defer stopSJ()
		var viaSJ, bareSJ []time.Duration
		for range hubStarts {
			d, err := sj.startLatency(sjSeq)
			if err != nil {
				return err
			}
			viaSJ = append(viaSJ, d)
			time.Sleep(hubSettle)
			d, err = hubBareStart(node, dir, modules)
			if err != nil {
				return err
			}
			bareSJ = append(bareSJ, d)
			time.Sleep(hubSettle)
		}
		h, b := hubMedian(viaSJ), hubMedian(bareSJ)
		fmt.Printf("scramjet  bare node %8.1f ms   troupe start->running %8.1f ms   ratio %.2f   (medians, both loading scramjet)\n",
			hubMS(b), hubMS(h), float64(h)/float64(b))
	}

	// Throughput.
	var hubMBs, bareMBs float64
	for range hubRuns {
		mbs, err := hub.throughput(seq)
		if err != nil {
			return err
		}
		hubMBs = max(hubMBs, mbs)
		mbs, err = hubBareThroughput(node, dir)
		if err != nil {
			return err
		}
		bareMBs = max(bareMBs, mbs)
	}
	fmt.Printf("hello     bare pipe %8.1f MB/s  troupe input->output %8.1f MB/s  ratio %.2f\n",
		bareMBs, hubMBs, hubMBs/bareMBs)

	// Topic: one producer, ten consumers, every consumer reads everything.
	var best float64
	for run := range hubRuns {
		mbs, err := hub.topicThroughput(fmt.Sprintf("bench-%d", run), hubTopicConsumers)
		if err != nil {
			return err
		}
		best = max(best, mbs)
	}
	fmt.Printf("topic     1 producer, %d consumers: %8.1f MB/s published (%.1f MB/s delivered in all), %d MiB of 1 KiB ndjson lines\n",
		hubTopicConsumers, best, best*hubTopicConsumers, hubTopicBytes>>20)
	return nil
}

const (
	hubTopicConsumers = 10
	hubTopicBytes     = 32 << 20
)

// topicThroughput publishes hubTopicBytes of ndjson to a topic with n
// consumers reading it, and times from the first byte sent until every
// consumer has read the last.
func (h *hubBench) topicThroughput(name string, n int) (float64, error) {
	if err := h.do("POST", "/topics", "application/json",
		strings.NewReader(`{"id":"`+name+`","content-type":"application/x-ndjson"}`), http.StatusOK, nil); err != nil {
		return 0, err
	}
	line := append(append([]byte(`{"x":"`), bytes.Repeat([]byte("x"), 1024-9)...), '"', '}', '\n')
	// Streams of their own: one connection each, bounded by a deadline
	// rather than the short requests' timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	streams := &http.Client{Transport: &http.Transport{}}
	defer streams.CloseIdleConnections()
	read := make(chan error, n)
	for range n {
		req, err := http.NewRequestWithContext(ctx, "GET", h.base+"/topic/"+name+"?from=0", nil)
		if err != nil {
			return 0, err
		}
		resp, err := streams.Do(req)
		if err != nil {
			return 0, err
		}
		go func() {
			defer resp.Body.Close()
			got, err := io.CopyN(io.Discard, resp.Body, hubTopicBytes)
			if err == nil && got != hubTopicBytes {
				err = fmt.Errorf("a consumer read %d bytes of %d", got, hubTopicBytes)
			}
			read <- err
		}()
	}
	t0 := time.Now()
	req, err := http.NewRequestWithContext(ctx, "POST", h.base+"/topic/"+name, io.LimitReader(&hubRepeater{b: line}, hubTopicBytes))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := streams.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return 0, fmt.Errorf("POST /topic/%s: %s", name, resp.Status)
	}
	for range n {
		if err := <-read; err != nil {
			return 0, err
		}
	}
	d := time.Since(t0)
	return float64(hubTopicBytes) / 1e6 / d.Seconds(), nil
}

type hubBench struct {
	base   string
	client *http.Client
}

func (h *hubBench) waitUp() error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := h.client.Get(h.base + "/version"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("the hub did not answer /version within 30s")
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (h *hubBench) do(method, path, ct string, body io.Reader, want int, out any) error {
	req, err := http.NewRequest(method, h.base+path, body)
	if err != nil {
		return err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// send uploads a Node sequence whose index.js is src.
func (h *hubBench) send(src string) (string, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range map[string]string{"package.json": `{"name":"hello","version":"1.0.0","main":"index.js"}`, "index.js": src} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		io.WriteString(tw, body)
	}
	tw.Close()
	zw.Close()
	var r struct{ ID string }
	err := h.do("POST", "/sequence", "application/octet-stream", &buf, http.StatusAccepted, &r)
	return r.ID, err
}

func (h *hubBench) start(seq string) (string, error) {
	var r struct{ ID string }
	err := h.do("POST", "/sequence/"+seq+"/start", "application/json", strings.NewReader("{}"), http.StatusOK, &r)
	return r.ID, err
}

func (h *hubBench) status(id string) (string, error) {
	var i struct{ Status string }
	err := h.do("GET", "/instance/"+id, "", nil, http.StatusOK, &i)
	return i.Status, err
}

func (h *hubBench) kill(id string) {
	h.do("POST", "/instance/"+id+"/_kill", "", nil, http.StatusAccepted, nil)
}

// startLatency starts an instance and times it until it runs; it kills
// the instance afterwards.
func (h *hubBench) startLatency(seq string) (time.Duration, error) {
	t0 := time.Now()
	id, err := h.start(seq)
	if err != nil {
		return 0, err
	}
	defer h.kill(id)
	for deadline := t0.Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		status, err := h.status(id)
		if err != nil {
			return 0, err
		}
		switch status {
		case "running":
			return time.Since(t0), nil
		case "completed", "errored":
			return 0, fmt.Errorf("instance %s ended before it ran", id)
		}
	}
	return 0, fmt.Errorf("instance %s did not run within 30s", id)
}

// hubBareStart spawns node on a script that loads the sequence, and times it
// until it prints ready.
func hubBareStart(node, dir, scramjet string) (time.Duration, error) {
	t0 := time.Now()
	cmd := exec.Command(node, filepath.Join(dir, "ready.js"), filepath.Join(dir, "index.js"), scramjet)
	cmd.Env = hubRunnerEnv()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	d := time.Since(t0)
	cmd.Wait()
	if line != "ready\n" {
		return 0, fmt.Errorf("the bare node printed %q: %v", line, err)
	}
	return d, nil
}

// hubInput is hubBytes of text, in lines of hubChunkSize.
func hubInput() io.Reader {
	line := append(bytes.Repeat([]byte("x"), hubChunkSize-1), '\n')
	return io.LimitReader(&hubRepeater{b: line}, hubBytes)
}

type hubRepeater struct {
	b   []byte
	off int
}

func (r *hubRepeater) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.b[r.off:])
		n += c
		r.off = (r.off + c) % len(r.b)
	}
	return n, nil
}

// throughput pushes hubBytes through a running hello instance and reads
// its output to the end; MB/s of input, from the first byte sent to the
// last read.
func (h *hubBench) throughput(seq string) (float64, error) {
	id, err := h.start(seq)
	if err != nil {
		return 0, err
	}
	defer h.kill(id)
	for {
		status, err := h.status(id)
		if err != nil {
			return 0, err
		}
		if status == "running" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp, err := h.client.Get(h.base + "/instance/" + id + "/output")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	t0 := time.Now()
	sent := make(chan error, 1)
	go func() { sent <- h.do("POST", "/instance/"+id+"/input", "text/plain", hubInput(), http.StatusOK, nil) }()
	n, err := io.Copy(io.Discard, resp.Body)
	d := time.Since(t0)
	if err != nil {
		return 0, err
	}
	if err := <-sent; err != nil {
		return 0, err
	}
	if n < hubBytes {
		return 0, fmt.Errorf("hello gave %d bytes for %d", n, hubBytes)
	}
	return float64(hubBytes) / 1e6 / d.Seconds(), nil
}

// hubBareThroughput pipes hubBytes through the same function in a bare node.
func hubBareThroughput(node, dir string) (float64, error) {
	cmd := exec.Command(node, filepath.Join(dir, "pipe.js"), filepath.Join(dir, "index.js"))
	cmd.Env = hubRunnerEnv()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer cmd.Wait()
	if line, err := bufio.NewReader(stderr).ReadString('\n'); line != "ready\n" {
		return 0, fmt.Errorf("the bare pipe printed %q: %v", line, err)
	}
	t0 := time.Now()
	sent := make(chan error, 1)
	go func() {
		_, err := io.Copy(stdin, hubInput())
		stdin.Close()
		sent <- err
	}()
	n, err := io.Copy(io.Discard, stdout)
	d := time.Since(t0)
	if err != nil {
		return 0, err
	}
	if err := <-sent; err != nil {
		return 0, err
	}
	if n < hubBytes {
		return 0, fmt.Errorf("the bare pipe gave %d bytes for %d", n, hubBytes)
	}
	return float64(hubBytes) / 1e6 / d.Seconds(), nil
}

// hubRunnerEnv is the environment troupe gives a sequence (and nothing
// else: NODE_OPTIONS or NODE_EXTRA_CA_CERTS of this shell would slow the
// bare node down, or speed it up, alone).
func hubRunnerEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func hubNodeVersion(node string) string {
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

func hubMedian(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func hubMean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

func hubMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
