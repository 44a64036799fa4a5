package process

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestNodeHello(t *testing.T) {
	t.Parallel()
	r := node(t, `
module.exports = function (input) {
    return input.map((name) => "Hello " + name + "!");
};
`, Spec{})
	r.input("text/plain", "World")
	r.expectExit(ExitCompleted)
	if got := r.output.wait(t); got != "Hello World!" {
		t.Errorf("output %q, want %q", got, "Hello World!")
	}

	var hs handshake
	if err := r.msgs.await(t, CodePing, nil).Decode(&hs); err != nil || hs.ID != "test-instance" || hs.System.ProcessPID == "" {
		t.Errorf("PING = %+v, %v", hs, err)
	}
	var topics Topics
	if err := r.msgs.await(t, CodePang, nil).Decode(&topics); err != nil || topics != (Topics{}) {
		t.Errorf("PANG = %+v, %v; want no topics", topics, err)
	}
	var health Health
	if err := r.msgs.await(t, CodeMonitoring, nil).Decode(&health); err != nil || !health.Healthy {
		t.Errorf("MONITORING = %+v, %v", health, err)
	}
	r.msgs.await(t, CodeSequenceCompleted, nil)
}

func TestNodeArgsAndConfig(t *testing.T) {
	t.Parallel()
	r := node(t, `
module.exports = async function (_input, ...args) {
    return JSON.stringify({ args, config: this.config, same: this.appConfig === this.config, id: this.instanceId });
};
`, Spec{ID: "inst-1", Args: json.RawMessage(`["a", 2, {"x": [1]}]`), AppConfig: json.RawMessage(`{"greet": true}`)})
	r.expectExit(ExitCompleted)
	want := `{"args":["a",2,{"x":[1]}],"config":{"greet":true},"same":true,"id":"inst-1"}`
	if got := r.output.wait(t); got != want {
		t.Errorf("output %s, want %s", got, want)
	}
}

func TestNodeAsyncGeneratorOutput(t *testing.T) {
	t.Parallel()
	r := node(t, `
module.exports = async function* () {
    for (let i = 3; i > 0; i--) yield i;
    yield "lift-off\n";
    yield Buffer.from("bye");
    yield { done: true };
};
`, Spec{})
	r.expectExit(ExitCompleted)
	// Every chunk a JSON line, strings and bytes too, as the original
	// serializes what it makes a DataStream of.
	want := "3\n2\n1\n" + `"lift-off\n"` + "\n" + `{"type":"Buffer","data":[98,121,101]}` + "\n" + `{"done":true}` + "\n"
	if got := r.output.wait(t); got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

func TestNodePipedFunctions(t *testing.T) {
	t.Parallel()
	r := node(t, `
module.exports = [
    function (input) { return input.map((o) => ({ n: o.n * 10 })); },
    async function* (stream, suffix) { for await (const o of stream) yield o.n + suffix + "\n"; },
];
`, Spec{Args: json.RawMessage(`["!"]`)})
	r.input("application/x-ndjson", "{\"n\":1}\n{\"n\":2}\nnot json\n\n{\"n\":3}")
	r.expectExit(ExitCompleted)
	if got, want := r.output.wait(t), `"10!\n"`+"\n"+`"20!\n"`+"\n"+`"30!\n"`+"\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if logs := r.logs.wait(t); !strings.Contains(logs, "not JSON") {
		t.Errorf("log does not report the bad input line:\n%s", logs)
	}
}

func TestNodeEventsBothWays(t *testing.T) {
	t.Parallel()
	r := node(t, `
module.exports = function (_input) {
    return new Promise((resolve) => {
        this.on("ping", (message) => {
            this.emit("pong", { got: message });
            resolve();
        });
    });
};
`, Spec{})
	// PANG follows the loading of the code, which registers the handler.
	r.msgs.await(t, CodePang, nil)
	r.send(CodeEvent, event("ping", `"hi"`))
	var e Event
	if err := r.msgs.await(t, CodeEvent, named("pong")).Decode(&e); err != nil || string(e.Message) != `{"got":"hi"}` {
		t.Errorf("pong = %s, %v", e.Message, err)
	}
	r.expectExit(ExitCompleted)
}

func TestNodeStopRunsStopHandlers(t *testing.T) {
	t.Parallel()
	r := node(t, `
module.exports = function (_input) {
    this.addStopHandler(async (timeout, canCallKeepalive) => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        process.stdout.write("cleaned up " + timeout + " " + canCallKeepalive + "\n");
    });
    return new Promise(() => {});
};
`, Spec{})
	r.msgs.await(t, CodePang, nil)
	if err := r.p.Stop(10*time.Second, false); err != nil {
		t.Fatal(err)
	}
	r.msgs.await(t, CodeSequenceStopped, nil)
	r.expectExit(ExitStopped)
	if got := r.stdout.wait(t); got != "cleaned up 10000 false\n" {
		t.Errorf("stdout %q", got)
	}
}

const keepsAlive = `
module.exports = function (_input) {
    this.addStopHandler(() => { this.keepAlive(500); });
    this.on("still-there", () => this.emit("yes", null));
    return new Promise(() => {});
};
`

func TestNodeKeepAliveOutlivesStop(t *testing.T) {
	t.Parallel()
	r := node(t, keepsAlive, Spec{})
	r.msgs.await(t, CodePang, nil)
	if err := r.p.Stop(time.Hour, true); err != nil {
		t.Fatal(err)
	}
	var ka KeepAlive
	if err := r.msgs.await(t, CodeAlive, nil).Decode(&ka); err != nil || ka.KeepAlive != 500 {
		t.Errorf("ALIVE = %+v, %v", ka, err)
	}
	// The stop's timeout passes: the sequence asked to live on, and may.
	r.p.stopDeadline(true)
	r.send(CodeEvent, event("still-there", "null"))
	r.msgs.await(t, CodeEvent, named("yes"))
	if r.msgs.has(CodeSequenceStopped) {
		t.Errorf("a kept-alive sequence reported SEQUENCE_STOPPED")
	}
	if err := r.p.Kill(); err != nil {
		t.Fatal(err)
	}
	r.expectExit(ExitKilled)
}

func TestNodeKeepAliveNeedsPermission(t *testing.T) {
	t.Parallel()
	r := node(t, keepsAlive, Spec{})
	r.msgs.await(t, CodePang, nil)
	if err := r.p.Stop(time.Hour, false); err != nil {
		t.Fatal(err)
	}
	r.msgs.await(t, CodeSequenceStopped, nil)
	r.expectExit(ExitStopped)
}

func TestNodeStopTimeoutTerminates(t *testing.T) {
	t.Parallel()
	r := node(t, `
module.exports = function (_input) {
    this.addStopHandler(() => new Promise(() => {})); // never done
    this.addKillHandler(() => process.stdout.write("kill handler ran\n"));
    return new Promise(() => {});
};
`, Spec{})
	r.msgs.await(t, CodePang, nil)
	if err := r.p.Stop(50*time.Millisecond, true); err != nil {
		t.Fatal(err)
	}
	r.expectExit(ExitKilled)
	if got := r.stdout.wait(t); got != "kill handler ran\n" {
		t.Errorf("stdout %q", got)
	}
}

func TestNodeBadMain(t *testing.T) {
	t.Parallel()
	r := started(t, "node", "missing.js", map[string]string{"index.js": ""}, Spec{})
	r.expectExit(ExitBadMain)
	if got := r.stderr.wait(t); !strings.Contains(got, "Sequence entrypoint path") || !strings.Contains(got, "missing.js is invalid") {
		t.Errorf("stderr %q", got)
	}
	if r.msgs.has(CodePing) {
		t.Errorf("runner sent PING for a sequence it cannot run")
	}
}

func TestNodeFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, index string
		want        int
		log         string
	}{
		{"syntax error", "module.exports = ;", ExitFailedOnStart, "SyntaxError"},
		{"not a function", "module.exports = 42;", ExitFailedOnStart, "must export a function"},
		{"throws", `module.exports = async function () { throw new Error("boom"); };`, ExitFailedRunning, "boom"},
		{"async throw", `module.exports = function () { setTimeout(() => { throw new Error("late boom"); }, 1); return new Promise(() => {}); };`, ExitFailedRunning, "late boom"},
		{"nothing to pipe", `module.exports = [function () {}, function (s) { return s; }];`, ExitFailedRunning, "returned nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := node(t, tt.index, Spec{})
			r.expectExit(tt.want)
			if logs := r.logs.wait(t); !strings.Contains(logs, tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, logs)
			}
		})
	}
}

func TestNodeStdioAndLogger(t *testing.T) {
	t.Parallel()
	r := node(t, `
const readline = require("readline");
module.exports = async function () {
    this.logger.info("reading", "stdin");
    for await (const line of readline.createInterface({ input: process.stdin })) {
        console.log(">>> " + line);
    }
    console.error("stdin ended");
};
`, Spec{})
	if _, err := r.p.Stdin().Write([]byte("one\ntwo\n")); err != nil {
		t.Fatal(err)
	}
	r.p.Stdin().Close()
	r.expectExit(ExitCompleted)
	if got := r.stdout.wait(t); got != ">>> one\n>>> two\n" {
		t.Errorf("stdout %q", got)
	}
	if got := r.stderr.wait(t); got != "stdin ended\n" {
		t.Errorf("stderr %q", got)
	}
	if logs := r.logs.wait(t); !strings.Contains(logs, "info (Sequence) reading stdin\n") {
		t.Errorf("log:\n%s", logs)
	}
}

func TestNodeESModule(t *testing.T) {
	t.Parallel()
	r := started(t, "node", "index.mjs", map[string]string{"index.mjs": `
export default async function* (_input, who) { yield "hello from " + who; }
`}, Spec{Args: json.RawMessage(`["esm"]`)})
	r.expectExit(ExitCompleted)
	if got := r.output.wait(t); got != `"hello from esm"`+"\n" {
		t.Errorf("output %q", got)
	}
}

func TestNodeRequiresTopic(t *testing.T) {
	t.Parallel()
	r := node(t, `
module.exports = [
    { requires: "names", contentType: "text/plain" },
    async function* (input) { for await (const s of input) yield s.toUpperCase(); },
];
`, Spec{})
	var topics Topics
	if err := r.msgs.await(t, CodePang, nil).Decode(&topics); err != nil || topics.Requires != "names" || topics.ContentType != "text/plain" {
		t.Errorf("PANG = %+v, %v", topics, err)
	}
	// The declared content type is used: no INPUT_CONTENT_TYPE is needed.
	r.p.Input().Write([]byte("ann"))
	r.p.Input().Close()
	r.expectExit(ExitCompleted)
	if got := r.output.wait(t); got != `"ANN"`+"\n" {
		t.Errorf("output %q", got)
	}
}

func TestNodeProvidesTopic(t *testing.T) {
	t.Parallel()
	r := node(t, `
const { PassThrough } = require("stream");
module.exports = function () {
    const out = new PassThrough({ objectMode: true });
    out.end("plain");
    return Object.assign(out, { topic: "words", contentType: "application/x-ndjson" });
};
`, Spec{})
	r.expectExit(ExitCompleted)
	var topics Topics
	if err := r.msgs.await(t, CodePang, func(m Message) bool { return strings.Contains(string(m.Data), "provides") }).Decode(&topics); err != nil ||
		topics.Provides != "words" || topics.ContentType != "application/x-ndjson" {
		t.Errorf("PANG = %+v, %v", topics, err)
	}
	if got := r.output.wait(t); got != "\"plain\"\n" {
		t.Errorf("ndjson output %q", got)
	}
}

func TestNodeContextEndKillsProcess(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := startedIn(ctx, t, "node", "index.js", map[string]string{"index.js": `module.exports = () => new Promise(() => {});`}, Spec{})
	r.msgs.await(t, CodePang, nil)
	cancel()
	r.expectExit(ExitKilled)
}

// What the original writes as it is: a Node stream's strings and bytes
// (no DataStream), and a primitive's text, without a line end.
func TestNodeOutputNotSerialized(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]string{
		`module.exports = function () {
    this.exitTimeout = 0;
    const out = new (require("stream").PassThrough)({ objectMode: true });
    out.write("a\n");
    out.end("b");
    return out;
};`: "a\nb",
		`module.exports = async function () { this.exitTimeout = 0; return 42; };`: "42",
	} {
		r := node(t, src, Spec{})
		r.expectExit(ExitCompleted)
		if got := r.output.wait(t); got != want {
			t.Errorf("output %q, want %q of\n%s", got, want, src)
		}
	}
}

// As the original's runner.ts, whose primitive branch writes the template
// string of what the last function returned: nothing is "undefined".
func TestNodeReturnsNothing(t *testing.T) {
	t.Parallel()
	r := node(t, `module.exports = function () { this.exitTimeout = 0; };`, Spec{})
	r.expectExit(ExitCompleted)
	if got := r.output.wait(t); got != "undefined" {
		t.Errorf("output %q, want %q", got, "undefined")
	}
}
