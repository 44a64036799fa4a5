package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Issue 13: real scramjet sequences, the runner's context, lossless
// topics, through the built binary, si and raw HTTP.

// hubScramjetServer is a hub whose Node sequences get the real scramjet
// package, the one integration/hubnpm pins.
func hubScramjetServer(t *testing.T, args ...string) *server {
	t.Helper()
	npm := hubNpmDir(t)
	return hubServer(t, append([]string{"--hub-scramjet=" + filepath.Join(npm, "node_modules")}, args...)...)
}

func TestHubScramjetDataStreamInput(t *testing.T) {
	t.Parallel()
	s := hubScramjetServer(t)
	h := hubOf(s)
	// The input is scramjet's DataStream: filter, map, batch are its own.
	id := h.start(h.send(hubNode(t, "scramjet-input", `
module.exports = function (input) {
    this.exitTimeout = 0;
    if (input.constructor.name !== "DataStream") throw new Error("input is a " + input.constructor.name);
    return input
        .filter((o) => o.n % 2)
        .map((o) => o.n * 10)
        .batch(2)
        .map((b) => b.join("+") + "\n");
};
`)), "")
	lines := strings.Join([]string{`{"n":1}`, `{"n":2}`, `{"n":3}`, `{"n":4}`, `{"n":5}`}, "\n") + "\n"
	if status, body := h.do("POST", "/instance/"+id+"/input", strings.NewReader(lines), "Content-Type", "application/x-ndjson"); status != http.StatusOK {
		t.Fatalf("POST /input = %d %s", status, body)
	}
	// A DataStream's chunks are JSON lines, strings too, as the
	// original's runner serializes them.
	if got, want := h.stream("/instance/"+id+"/output"), `"10+30\n"`+"\n"+`"50\n"`+"\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if i := h.ended(id); i.Terminated.ExitCode != 0 {
		t.Errorf("ended %+v", i.Terminated)
	}
	// The runner's lifecycle lines are in the instance's log.
	if log := h.stream("/instance/" + id + "/log"); !strings.Contains(log, "scramjet loaded") {
		t.Errorf("instance log %q lacks the runner's lines", log)
	}
	// A StringStream's strings go as they are, as the original writes them.
	text := h.start(h.send(hubNode(t, "scramjet-stringify", `
module.exports = function (input) {
    this.exitTimeout = 0;
    return input.stringify((o) => o.n + "\n");
};
`)), "")
	if status, body := h.do("POST", "/instance/"+text+"/input", strings.NewReader(lines), "Content-Type", "application/x-ndjson"); status != http.StatusOK {
		t.Fatalf("POST /input = %d %s", status, body)
	}
	if got, want := h.stream("/instance/"+text+"/output"), "1\n2\n3\n4\n5\n"; got != want {
		t.Errorf("StringStream output %q, want %q", got, want)
	}
}

// The context: an event sent right after start reaches the handler the
// function registers; this.hub reaches this hub; a generator function
// returned is the output.
func TestHubRunnerContext(t *testing.T) {
	t.Parallel()
	s := hubScramjetServer(t)
	h := hubOf(s)
	seq := h.send(hubNode(t, "context", `
module.exports = function () {
    this.exitTimeout = 0;
    const self = this;
    const got = new Promise((resolve) => this.on("hello", resolve));
    return async function* () {
        const message = await got;
        const version = await self.hub.getVersion();
        const sequences = await self.hub.listSequences();
        yield { message, service: version.service, sequences: sequences.length, id: self.instanceId };
    };
};
`))
	id := h.start(seq, "")
	h.json("POST", "/instance/"+id+"/_event", `{"eventName":"hello","message":{"early":true}}`, http.StatusOK, nil)
	var out struct {
		Message   map[string]bool
		Service   string
		Sequences int
		ID        string
	}
	got := h.stream("/instance/" + id + "/output")
	if err := json.Unmarshal([]byte(got), &out); err != nil {
		t.Fatalf("output %q: %v", got, err)
	}
	if !out.Message["early"] || out.Service != "troupe" || out.Sequences != 1 || out.ID != id {
		t.Errorf("context output %+v", out)
	}
}

// With --api-keys, this.hub presents a key of the instances' own: it is
// served, and the operator's key is not handed to the sequence's code.
func TestHubThisHubWithAPIKeys(t *testing.T) {
	t.Parallel()
	s := hubScramjetServer(t, "--api-keys=operator-secret")
	h := hubOf(s)
	h.key = "operator-secret"
	seq := h.send(hubNode(t, "keyed", `
module.exports = async function* () {
    this.exitTimeout = 0;
    const sequences = await this.hub.listSequences();
    yield { sequences: sequences.length, operatorKey: process.env.TROUPE_HUB_KEY === "operator-secret" };
};
`))
	id := h.start(seq, "")
	got := h.stream("/instance/" + id + "/output")
	var out struct {
		Sequences   int
		OperatorKey bool
	}
	if err := json.Unmarshal([]byte(got), &out); err != nil {
		t.Fatalf("output %q: %v; stderr %q", got, err, h.stream("/instance/"+id+"/stderr"))
	}
	if out.Sequences != 1 || out.OperatorKey {
		t.Errorf("this.hub with --api-keys: %+v", out)
	}
}

// A Python sequence: its __pypackages__ imports, its traceback reaches
// stderr.
func TestHubPythonPackagesAndTraceback(t *testing.T) {
	t.Parallel()
	s := hubServer(t)
	h := hubOf(s)
	seq := h.send(hubPackage(t, `{"name":"py","version":"1.0.0","main":"main.py","engines":{"python3":"3"}}`, map[string]string{
		"__pypackages__/shout/__init__.py": "def shout(s):\n    return s.upper() + '!'\n",
		"main.py": `
import shout

async def run(context, input):
    async for s in input:
        if s == "fail":
            raise RuntimeError("failing as asked")
        yield shout.shout(s)
`}))
	id := h.start(seq, "")
	h.do("POST", "/instance/"+id+"/input", strings.NewReader("hey"), "Content-Type", "text/plain")
	if got := h.stream("/instance/" + id + "/output"); got != "HEY!" {
		t.Errorf("output %q", got)
	}
	failing := h.start(seq, "")
	h.do("POST", "/instance/"+failing+"/input", strings.NewReader("fail"), "Content-Type", "text/plain")
	if got := h.stream("/instance/" + failing + "/stderr"); !strings.Contains(got, "RuntimeError: failing as asked") {
		t.Errorf("stderr %q lacks the traceback", got)
	}
	if i := h.ended(failing); i.Terminated.ExitCode != 23 {
		t.Errorf("failing instance %+v", i.Terminated)
	}
}

// Through si: a package whose main is missing is accepted, and its start
// is refused with the original's message (si exits 1 and prints it), as the
// original's start answers the runner's early exit 21.
func TestHubSIMissingMain(t *testing.T) {
	t.Parallel()
	npm := hubNpmDir(t)
	s := hubServer(t)
	si := newHubSI(t, npm, s.hub)
	var seq struct {
		ID string `json:"_id"`
	}
	si.json(&seq, "seq", "send", si.file("nomain.tar.gz", hubPackage(t, `{"name":"nomain","main":"gone.js"}`, map[string]string{"other.js": ""})))
	ctx, cancel := context.WithTimeout(context.Background(), hubPatience)
	defer cancel()
	cmd := si.command(ctx, "seq", "start", seq.ID)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 ||
		!strings.Contains(stderr.String(), "Sequence entrypoint path gone.js is invalid. Check `main` field in Sequence package.json") {
		t.Errorf("si seq start of a package without its main: %v, stderr %q", err, stderr.String())
	}
}

// Topics lose nothing: producers at once interleave whole lines, every
// reader gets every line in order, and the topic survives a restart.
func TestHubTopicsLoseNothing(t *testing.T) {
	t.Parallel()
	s := hubServer(t)
	h := hubOf(s)
	h.json("POST", "/topics", `{"id":"events","content-type":"text/plain"}`, http.StatusOK, nil)
	readers := []*bufio.Reader{bufio.NewReader(h.open("/topic/events")), bufio.NewReader(h.open("/topic/events?from=0"))}
	// Bodies of 100 KiB: the hub reads them in pieces that cut lines.
	const producers, lines = 3, 1000
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body strings.Builder
			for n := range lines {
				fmt.Fprintf(&body, "p%d-%d %s\n", p, n, strings.Repeat("x", 90))
			}
			if status, _ := h.do("POST", "/topic/events", strings.NewReader(body.String()), "Content-Type", "text/plain"); status != http.StatusAccepted {
				t.Errorf("POST /topic = %d", status)
			}
		}()
	}
	wg.Wait()
	for i, r := range readers {
		seen := make([]int, producers)
		for range producers * lines {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reader %d: %v", i, err)
			}
			var p, n int
			var pad string
			if _, err := fmt.Sscanf(line, "p%d-%d %s\n", &p, &n, &pad); err != nil || n != seen[p] || pad != strings.Repeat("x", 90) {
				t.Fatalf("reader %d got %q, want line %d of producer %d", i, line, seen[p], p)
			}
			seen[p]++
		}
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s.restart()
	h = hubOf(s)
	r := bufio.NewReader(h.open("/topic/events?from=0"))
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "p") {
		t.Errorf("first line after restart %q %v", line, err)
	}
}
