package process

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/troupe-run/troupe/actors/sequence"
)

// An event and a stop sent before the sequence's function was called are
// held by the runner and delivered once it was: the handlers the function
// registers get them.
func TestNodeControlHeldWhileStarting(t *testing.T) {
	t.Parallel()
	r := node(t, `
module.exports = function () {
    this.on("greet", (m) => process.stdout.write("event " + JSON.stringify(m) + "\n"));
    this.addStopHandler(() => { process.stdout.write("stop handler ran\n"); });
    return new Promise(() => {});
};
`, Spec{})
	// Sent at once, before the runner even shook hands.
	r.send(CodeEvent, event("greet", `{"who":"early"}`))
	r.send(CodeStop, stopRequest{Timeout: 20000})
	r.expectExit(ExitStopped)
	out := r.stdout.wait(t)
	if !strings.Contains(out, `event {"who":"early"}`) || !strings.Contains(out, "stop handler ran") {
		t.Errorf("stdout %q: the held event or stop did not reach the handlers", out)
	}
	if i, j := strings.Index(out, "event"), strings.Index(out, "stop handler"); i > j {
		t.Errorf("stdout %q: the stop overtook the event sent before it", out)
	}
}

// A function that returns a generator function (or an async one) is run
// as a stream, last in an array as well as in the middle; the last one's
// chunks are JSON lines, strings too, as the original's DataStream.from
// output is serialized.
func TestNodeReturnedGeneratorFunctions(t *testing.T) {
	t.Parallel()
	r := node(t, `
module.exports = [
    function () { return function* () { yield "a"; yield "b"; }; },
    function (input) {
        this.exitTimeout = 0;
        return async function* () { for await (const s of input) yield s.toUpperCase() + "\n"; };
    },
];
`, Spec{})
	r.expectExit(ExitCompleted)
	if got, want := r.output.wait(t), `"A\n"`+"\n"+`"B\n"`+"\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

// The context: instanceId, exitTimeout's default, describe, save
// rejecting as the original's, this.hub with the HostClient's methods.
func TestNodeContext(t *testing.T) {
	t.Parallel()
	r := node(t, `
module.exports = async function () {
    const exitTimeout = this.exitTimeout;
    this.exitTimeout = 0;
    let save;
    try { this.save({}); } catch (err) { save = err.message; }
    this.describe({ name: "ctx", mode: "object" });
    return JSON.stringify({
        id: this.instanceId, exitTimeout, save, definition: this.definition,
        hub: ["getVersion", "listSequences", "listInstances", "getInstanceClient"].every((m) => typeof this.hub[m] === "function"),
        instanceClient: typeof this.hub.getInstanceClient("x").sendEvent === "function",
    });
};
`, Spec{ID: "ctx-1"})
	r.expectExit(ExitCompleted)
	var got struct {
		ID             string
		ExitTimeout    int
		Save           string
		Definition     map[string]string
		Hub            bool
		InstanceClient bool
	}
	if err := json.Unmarshal([]byte(r.output.wait(t)), &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != "ctx-1" || got.ExitTimeout != 10000 || got.Save != "Method not implemented." ||
		got.Definition["name"] != "ctx" || got.Definition["mode"] != "object" || !got.Hub || !got.InstanceClient {
		t.Errorf("context %+v", got)
	}
}

// this.end() ends the instance with its output flushed (exit 0);
// this.destroy(err) ends it failed (exit 23).
func TestNodeEndAndDestroy(t *testing.T) {
	t.Parallel()
	r := node(t, `
module.exports = function () {
    setTimeout(() => { process.stdout.write("ending\n"); this.end(); }, 10);
    return new Promise(() => {});
};
`, Spec{})
	r.expectExit(ExitCompleted)
	r.msgs.await(t, CodeSequenceStopped, nil)

	d := node(t, `
module.exports = function () {
    setTimeout(() => this.destroy(new Error("broken on purpose")), 10);
    return new Promise(() => {});
};
`, Spec{})
	d.expectExit(ExitFailedRunning)
	if log := d.logs.wait(t); !strings.Contains(log, "broken on purpose") {
		t.Errorf("log %q lacks the destroy's error", log)
	}
}

// With scramjet in the sequence's node_modules the input is its
// DataStream, and the StringStream methods samples call on it work. The
// package here is a stand-in with the real one's shape; integration tests
// run the real one.
func TestNodeInputIsScramjetDataStream(t *testing.T) {
	t.Parallel()
	fake := `
const { PassThrough, Transform } = require("stream");
class DataStream extends PassThrough {
    constructor(o) { super({ objectMode: true, ...o }); }
    static from(it) { const s = new DataStream(); require("stream").Readable.from(typeof it === "function" ? it() : it).pipe(s); return s; }
}
class StringStream extends DataStream {
    lines() {
        let rest = "";
        return this.pipe(new Transform({ objectMode: true,
            transform(c, _e, done) { const l = (rest + c).split("\n"); rest = l.pop(); l.forEach((x) => this.push(x)); done(); },
            flush(done) { if (rest) this.push(rest); done(); } }));
    }
}
module.exports = { DataStream, StringStream };
`
	r := started(t, sequence.Node, "index.js", map[string]string{
		"node_modules/scramjet/package.json": `{"name":"scramjet","main":"index.js"}`,
		"node_modules/scramjet/index.js":     fake,
		"index.js": `
const { DataStream } = require("scramjet");
module.exports = async function* (input) {
    this.exitTimeout = 0;
    yield (input instanceof DataStream) + "\n";
    for await (const line of input.lines()) yield "[" + line + "]";
};
`}, Spec{})
	r.input("text/plain", "one\ntwo\nthree")
	r.expectExit(ExitCompleted)
	if got, want := r.output.wait(t), `"true\n"`+"\n"+`"[one]"`+"\n"+`"[two]"`+"\n"+`"[three]"`+"\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if log := r.logs.wait(t); !strings.Contains(log, "scramjet loaded") || !strings.Contains(log, "Sequence completed") {
		t.Errorf("log %q lacks the runner's lifecycle lines", log)
	}
}
