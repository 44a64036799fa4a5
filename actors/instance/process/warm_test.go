package process

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-run/troupe/actors/sequence"
)

// newWarm is a Warm of one runner per engine, closed with the test.
func newWarm(t *testing.T) *Warm {
	w := NewWarm(WarmOptions{PerEngine: 1, RunnerDir: filepath.Join(t.TempDir(), "runners")})
	t.Cleanup(w.Close)
	return w
}

// idleRunner waits until w holds an idle runner of engine and returns it.
func idleRunner(t *testing.T, w *Warm, engine sequence.Engine) *Process {
	t.Helper()
	for deadline := time.Now().Add(guard); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		w.mu.Lock()
		ps := w.idle[engine]
		w.mu.Unlock()
		if len(ps) > 0 {
			return ps[0]
		}
	}
	t.Fatalf("no idle %s runner", engine)
	return nil
}

// envOf reads a process's environment as the kernel has it.
func envOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "\x00", "\n")
}

// The first start of an engine is cold and leaves an idle runner behind;
// the next start takes it, and the sequence sees what a cold one sees:
// its folder, args, config, id, the runner's extra environment.
func TestWarmRunnerRunsTheNextStart(t *testing.T) {
	t.Parallel()
	cases := []struct {
		engine sequence.Engine
		main   string
		code   string
	}{
		{sequence.Node, "index.js", `
module.exports = async function (_input, ...args) {
    return JSON.stringify({ args, config: this.config, id: this.instanceId,
        cwd: process.cwd(), extra: process.env.TROUPE_TEST_EXTRA, argv: process.argv.slice(2) });
};
`},
		{sequence.Python, "main.py", `
import json, os, sys
async def run(context, input, *args):
    return json.dumps({"args": list(args), "config": context.config, "id": context.instance_id,
        "cwd": os.getcwd(), "extra": os.environ.get("TROUPE_TEST_EXTRA"), "argv": sys.argv[1:]},
        separators=(",", ":"))
`},
	}
	for _, c := range cases {
		t.Run(string(c.engine), func(t *testing.T) {
			t.Parallel()
			w := newWarm(t)
			files := map[string]string{c.main: c.code}
			spec := Spec{Args: json.RawMessage(`["a",2]`), AppConfig: json.RawMessage(`{"greet":true}`),
				ExtraEnv: []string{"TROUPE_TEST_EXTRA=yes"}}
			check := func(r *run, id string) {
				t.Helper()
				r.expectExit(ExitCompleted)
				var got struct {
					Args   []any          `json:"args"`
					Config map[string]any `json:"config"`
					ID     string         `json:"id"`
					Cwd    string         `json:"cwd"`
					Extra  string         `json:"extra"`
					Argv   []string       `json:"argv"`
				}
				out := r.output.wait(t)
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatalf("output %q: %v", out, err)
				}
				if len(got.Args) != 2 || got.Args[0] != "a" || got.Config["greet"] != true || got.ID != id ||
					got.Extra != "yes" || !strings.HasPrefix(got.Cwd, os.TempDir()) ||
					len(got.Argv) != 2 || got.Argv[0] != filepath.Join(got.Cwd, c.main) || got.Argv[1] != id {
					t.Errorf("the sequence saw %+v", got)
				}
				var hs handshake
				if err := r.msgs.await(t, CodePing, nil).Decode(&hs); err != nil || hs.ID != id {
					t.Errorf("PING = %+v, %v", hs, err)
				}
			}

			spec.ID = "cold-one"
			cold := startedBy(context.Background(), t, w.Start, c.engine, c.main, files, spec)
			if cold.p.Marker() != "cold-one" {
				t.Errorf("a cold runner's marker %q, want its instance id", cold.p.Marker())
			}
			check(cold, "cold-one")

			idle := idleRunner(t, w, c.engine)
			if !strings.HasPrefix(idle.Marker(), "warm-") || !strings.Contains(envOf(t, idle.PID()), MarkerEnv+"="+idle.Marker()) {
				t.Errorf("idle runner's marker %q not in its environment", idle.Marker())
			}
			spec.ID = "warm-one"
			warm := startedBy(context.Background(), t, w.Start, c.engine, c.main, files, spec)
			if warm.p != idle {
				t.Fatalf("the second start did not take the idle runner")
			}
			check(warm, "warm-one")
			if next := idleRunner(t, w, c.engine); next == idle {
				t.Errorf("the taken runner is still idle")
			}
		})
	}
}

// A warm runner handed a missing main exits 21 with the original's
// message, as a cold one does; control messages sent right after its
// start (an event) wait for the function, as a cold one's.
func TestWarmRunnerBadMainAndHeldEvent(t *testing.T) {
	t.Parallel()
	w := newWarm(t)
	w.refill(sequence.Node, closedChan())
	idle := idleRunner(t, w, sequence.Node)

	r := startedBy(context.Background(), t, w.Start, sequence.Node, "missing.js", map[string]string{"index.js": ""}, Spec{})
	if r.p != idle {
		t.Fatalf("the start did not take the idle runner")
	}
	r.expectExit(ExitBadMain)
	if got := r.stderr.wait(t); !strings.Contains(got, "missing.js is invalid") {
		t.Errorf("stderr %q", got)
	}

	idle = idleRunner(t, w, sequence.Node)
	r = startedBy(context.Background(), t, w.Start, sequence.Node, "index.js", map[string]string{"index.js": `
module.exports = function () {
    return new Promise((resolve) => this.on("hello", (m) => resolve("got " + m.who)));
};
`}, Spec{})
	if r.p != idle {
		t.Fatalf("the start did not take the idle runner")
	}
	r.send(CodeEvent, event("hello", `{"who":"early"}`))
	r.expectExit(ExitCompleted)
	if got := r.output.wait(t); got != "got early" {
		t.Errorf("output %q", got)
	}
}

// An idle runner that died is passed over: the start runs cold. Bad args
// fail before a runner is spent. Close ends the idle runners.
func TestWarmDeadIdleRunnerBadArgsAndClose(t *testing.T) {
	t.Parallel()
	w := newWarm(t)
	w.refill(sequence.Node, closedChan())
	idle := idleRunner(t, w, sequence.Node)

	files := map[string]string{"index.js": `module.exports = () => "ran"`}
	if _, err := w.Start(context.Background(), Spec{ID: "x", Dir: t.TempDir(), Args: json.RawMessage(`{}`),
		Package: &sequence.Package{Main: "index.js", Entry: "index.js", Engine: sequence.Node}}); err == nil {
		t.Errorf("args that are not an array started")
	}
	if w.Idle(sequence.Node) != 1 {
		t.Errorf("bad args spent the idle runner")
	}

	syscall.Kill(idle.PID(), syscall.SIGKILL)
	<-idle.Done()
	r := startedBy(context.Background(), t, w.Start, sequence.Node, "index.js", files, Spec{ID: "after-death"})
	if r.p == idle || r.p.Marker() != "after-death" {
		t.Fatalf("a dead idle runner was given the start")
	}
	r.expectExit(ExitCompleted)
	if got := r.output.wait(t); got != "ran" {
		t.Errorf("output %q", got)
	}

	idle = idleRunner(t, w, sequence.Node)
	w.Close()
	select {
	case <-idle.Done():
	case <-time.After(guard):
		t.Fatal("Close left the idle runner running")
	}
	if w.Idle(sequence.Node) != 0 {
		t.Errorf("idle runners after Close")
	}
}

func closedChan() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// An idle Node runner loads the hub's scramjet (WarmOptions.Env) before
// its sequence is known; the sequence's input is a DataStream of that
// very copy, loaded once.
func TestWarmRunnerPreloadsScramjet(t *testing.T) {
	t.Parallel()
	modules := filepath.Join(t.TempDir(), "node_modules")
	for name, body := range map[string]string{
		"scramjet/package.json": `{"name":"scramjet","main":"index.js"}`,
		"scramjet/index.js": `
const { PassThrough } = require("stream");
class DataStream extends PassThrough { constructor(o) { super({ objectMode: true, ...o }); } }
class StringStream extends DataStream {}
module.exports = { DataStream, StringStream, loadedIn: process.cwd(), loads: (global.loads = (global.loads || 0) + 1) };
`} {
		path := filepath.Join(modules, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := "TROUPE_SCRAMJET_MODULES=" + modules
	w := NewWarm(WarmOptions{PerEngine: 1, RunnerDir: filepath.Join(t.TempDir(), "runners"),
		Env: func(e sequence.Engine) []string { return []string{env} }})
	t.Cleanup(w.Close)
	w.refill(sequence.Node, closedChan())
	idle := idleRunner(t, w, sequence.Node)
	r := startedBy(context.Background(), t, w.Start, sequence.Node, "index.js", map[string]string{"index.js": `
module.exports = function (input) {
    this.exitTimeout = 0;
    const sj = require(require.resolve("scramjet", { paths: [process.env.TROUPE_SCRAMJET_MODULES] }));
    return JSON.stringify({ loadedIn: sj.loadedIn, loads: sj.loads, input: input instanceof sj.DataStream });
};
`}, Spec{ExtraEnv: []string{env}})
	if r.p != idle {
		t.Fatalf("the start did not take the idle runner")
	}
	r.expectExit(ExitCompleted)
	if got, want := r.output.wait(t), `{"loadedIn":"/","loads":1,"input":true}`; got != want {
		t.Errorf("output %s, want %s (loaded while idle, in /, once)", got, want)
	}
}
