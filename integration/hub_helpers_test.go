package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hubPatience bounds every wait of the hub tests, so that a broken hub
// fails a test instead of hanging it; nothing needs more than a fraction.
const hubPatience = 30 * time.Second

// hubArgs are the flags of the servers the hub tests start: kills are
// quick, and Node sequences get a plain stream (the tests of the scramjet
// DataStream name a node_modules holding it, so that not every server
// installs its own).
var hubArgs = []string{"--hub-kill-grace=500ms", "--hub-scramjet=off"}

// The sample sequences of issue 5 §7. Each Node sample is index.js.
const (
	// hello: input -> "Hello X!".
	hubHello = `
module.exports = function (input) {
    this.exitTimeout = 0; // the original's 10 s before the exit would only slow the tests
    return input.map((name) => "Hello " + name + "!");
};
`
	// args to output.
	hubArgsToOutput = `module.exports = async function* (_input, ...args) { yield JSON.stringify(args); };`
	// a countdown that logs (and writes stdout and stderr).
	hubCountdown = `
module.exports = async function* (_input, from) {
    for (let i = from; i > 0; i--) {
        this.logger.info("count", i);
        console.log("stdout " + i);
        console.error("stderr " + i);
        yield i; // a JSON line each, as the original writes a generator's chunks
    }
};
`
	// stop-handler cleanup.
	hubStopHandler = `
module.exports = function () {
    this.addStopHandler(async (timeout, canCallKeepalive) => {
        process.stdout.write("cleaned up " + timeout + " " + canCallKeepalive + "\n");
    });
    return new Promise(() => {});
};
`
	// keep-alive: a stop it may refuse, it refuses.
	hubKeepAlive = `
module.exports = function () {
    this.addStopHandler(() => { this.keepAlive(1000); });
    this.on("still-there", () => this.emit("yes", "alive"));
    return new Promise(() => {});
};
`
	// an event replier.
	hubReplier = `
module.exports = function () {
    this.on("ping", (message) => this.emit("pong", { got: message }));
    return new Promise(() => {});
};
`
	// one that never reads its input.
	hubNeverReads = `module.exports = function () { return new Promise(() => {}); };`
	// one that busy-loops and must be killed.
	hubBusyLoop = `module.exports = function () { setTimeout(() => { for (;;) {} }, 0); return new Promise(() => {}); };`
	// the Python hello (main.py).
	hubPythonHello = `
async def run(context, input, *args):
    async for name in input:
        yield "Hello " + name + "!"
`
	// a pair joined by a topic: the producer's output is the topic its
	// start names, the consumer declares the topic it reads.
	hubPairProducer = `
module.exports = function (_input, ...names) {
    return require("stream").Readable.from(names.map((n) => n + "\n"));
};
`
	hubPairConsumer = `
module.exports = [
    { requires: "names", contentType: "text/plain" },
    function (input) { return input.map((s) => s.toUpperCase()); },
];
`
)

// hubPackage builds a sequence package: package.json from manifest, then
// files.
func hubPackage(t *testing.T, manifest string, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	add := func(name, body string) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, body)
	}
	add("package.json", manifest)
	for name, body := range files {
		add(name, body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

// hubNode is a Node sequence named name whose index.js is src.
func hubNode(t *testing.T, name, src string) []byte {
	return hubPackage(t, `{"name":"`+name+`","version":"1.0.0","main":"index.js"}`, map[string]string{"index.js": src})
}

// hubPython is a Python sequence whose main.py is src.
func hubPython(t *testing.T, name, src string) []byte {
	return hubPackage(t, `{"name":"`+name+`","version":"1.0.0","main":"main.py","engines":{"python3":"3"}}`,
		map[string]string{"main.py": src})
}

// hubServer starts a server for a hub test. When the test ends, after the
// server is killed, whatever its instances left running is killed too: a
// busy sequence outlives a troupe killed without warning (that is what
// TestHubKill9LeavesNoOrphans is about), and must not outlive the test.
func hubServer(t *testing.T, args ...string) *server {
	t.Helper()
	var s *server
	t.Cleanup(func() {
		if s != nil {
			reapInstances(t, filepath.Join(s.dataDir, "sequences")+"/")
		}
	})
	s = startServer(t, append(append([]string{}, hubArgs...), args...)...)
	return s
}

// reapInstances kills the process groups of the instances whose runner
// runs a sequence under dir (named on its command line, or its working
// folder: a warm runner's), and waits for them to die.
func reapInstances(t *testing.T, dir string) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	var groups []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		args, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if cwd, _ := os.Readlink("/proc/" + e.Name() + "/cwd"); !bytes.Contains(args, []byte(dir)) && !strings.HasPrefix(cwd+"/", dir) {
			continue
		}
		if state, pgrp, ok := procState(pid); ok && state != "Z" && pgrp == pid {
			groups = append(groups, pid)
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
	for _, g := range groups {
		for deadline := time.Now().Add(hubPatience); len(liveGroup(t, g)) > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if len(groups) > 0 {
		t.Logf("killed %d instance process groups left running when the server was killed", len(groups))
	}
}

// hubClient drives a server's hub door.
type hubClient struct {
	t    *testing.T
	base string // with /api/v1
	key  string // sent as X-API-Key when set
}

func hubOf(s *server) *hubClient { return &hubClient{t: s.t, base: s.hub} }

// do sends a request and returns the status and the whole body.
func (h *hubClient) do(method, path string, body io.Reader, headers ...string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if h.key != "" {
		req.Header.Set("X-API-Key", h.key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), hubPatience)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return res.StatusCode, string(data)
}

// json sends a request (a JSON body unless body is "") expecting status
// want, and decodes the answer into out.
func (h *hubClient) json(method, path, body string, want int, out any, headers ...string) {
	h.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
		headers = append([]string{"Content-Type", "application/json"}, headers...)
	}
	status, data := h.do(method, path, r, headers...)
	if status != want {
		h.t.Fatalf("%s %s = %d %s, want %d", method, path, status, data, want)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(data), out); err != nil {
			h.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}

// send uploads a package as the raw body and returns the sequence id.
func (h *hubClient) send(archive []byte) string {
	h.t.Helper()
	var r struct{ ID string }
	status, data := h.do("POST", "/sequence", bytes.NewReader(archive), "Content-Type", "application/octet-stream")
	if status != http.StatusAccepted || json.Unmarshal([]byte(data), &r) != nil || r.ID == "" {
		h.t.Fatalf("POST /sequence = %d %s", status, data)
	}
	return r.ID
}

// start starts a sequence with a start body ("" for none).
func (h *hubClient) start(seq, body string) string {
	h.t.Helper()
	var r struct{ ID, Result, OpStatus string }
	h.json("POST", "/sequence/"+seq+"/start", body, http.StatusOK, &r)
	if r.ID == "" || r.Result != "success" {
		h.t.Fatalf("start answered %+v", r)
	}
	return r.ID
}

// hubInfo is an instance's description.
type hubInfo struct {
	ID         string
	Sequence   string
	Status     string
	Created    string
	Started    string
	AppConfig  map[string]any
	Args       []any
	Terminated *struct {
		ExitCode int
		Reason   string
	}
}

func (h *hubClient) info(id string) hubInfo {
	h.t.Helper()
	var i hubInfo
	h.json("GET", "/instance/"+id, "", http.StatusOK, &i)
	return i
}

// until polls an instance's description until ok accepts it.
func (h *hubClient) until(id, what string, ok func(hubInfo) bool) hubInfo {
	h.t.Helper()
	for deadline := time.Now().Add(hubPatience); ; time.Sleep(20 * time.Millisecond) {
		i := h.info(id)
		if ok(i) {
			return i
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("instance %s never %s: %+v", id, what, i)
		}
	}
}

func (h *hubClient) ended(id string) hubInfo {
	h.t.Helper()
	return h.until(id, "ended", func(i hubInfo) bool { return i.Terminated != nil })
}

func (h *hubClient) running(id string) hubInfo {
	h.t.Helper()
	return h.until(id, "ran", func(i hubInfo) bool { return i.Status == "running" })
}

// pid is the process id of a running instance (its process group's too).
func (h *hubClient) pid(id string) int {
	h.t.Helper()
	var health struct {
		Healthy   bool
		ProcessID int
	}
	h.json("GET", "/instance/"+id+"/health", "", http.StatusOK, &health)
	if health.ProcessID <= 1 {
		h.t.Fatalf("health of %s: %+v", id, health)
	}
	return health.ProcessID
}

// stream reads a whole stream route (it ends with the instance).
func (h *hubClient) stream(path string) string {
	h.t.Helper()
	status, data := h.do("GET", path, nil)
	if status != http.StatusOK {
		h.t.Fatalf("GET %s = %d %s", path, status, data)
	}
	return data
}

// open starts reading a stream route and returns its body, closed when the
// test ends.
func (h *hubClient) open(path string, headers ...string) io.ReadCloser {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", h.base+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		h.t.Fatalf("GET %s: %v", path, err)
	}
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		cancel()
		h.t.Fatalf("GET %s = %d %s", path, res.StatusCode, body)
	}
	h.t.Cleanup(func() { cancel(); res.Body.Close() })
	return res.Body
}

// readUntil reads r until what it read contains want, and returns it all.
func readUntil(t *testing.T, r io.Reader, want string) string {
	t.Helper()
	type chunk struct {
		b   []byte
		err error
	}
	got := ""
	deadline := time.After(hubPatience)
	for !strings.Contains(got, want) {
		c := make(chan chunk, 1)
		go func() {
			b := make([]byte, 4096)
			n, err := r.Read(b)
			c <- chunk{b[:n], err}
		}()
		select {
		case ch := <-c:
			got += string(ch.b)
			if ch.err != nil && !strings.Contains(got, want) {
				t.Fatalf("stream ended (%v) without %q: %q", ch.err, want, got)
			}
		case <-deadline:
			t.Fatalf("no %q in the stream: %q", want, got)
		}
	}
	return got
}

// Processes, as /proc shows them.

// liveGroup lists the processes of group pgid that are alive. Zombies are
// dead: they wait for whoever adopted them (perhaps an init that never
// reaps) to collect them.
func liveGroup(t *testing.T, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if state, group, ok := procState(pid); ok && group == pgid && state != "Z" && state != "X" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// markedProcesses lists the live processes whose environment carries
// TROUPE_INSTANCE=id, the mark the hub sets on an instance's process.
func markedProcesses(t *testing.T, id string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if string(kv) == "TROUPE_INSTANCE="+id {
				if state, _, ok := procState(pid); ok && state != "Z" && state != "X" {
					pids = append(pids, pid)
				}
			}
		}
	}
	return pids
}

// procState reads the state and process group of pid.
func procState(pid int) (state string, pgrp int, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(fields) < 3 {
		return "", 0, false
	}
	pgrp, err = strconv.Atoi(fields[2])
	return fields[0], pgrp, err == nil
}

// waitGroupGone waits until no live process is left in group pgid.
func waitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	for deadline := time.Now().Add(hubPatience); ; time.Sleep(20 * time.Millisecond) {
		members := liveGroup(t, pgid)
		if len(members) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still holds %v", pgid, members)
		}
	}
}
