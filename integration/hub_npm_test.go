package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The original hub's own npm clients, unchanged, against Troupe: the si
// command of @scramjet/cli and @scramjet/api-client, at the versions
// integration/hubnpm pins.

// hubNpmDir is integration/hubnpm with its packages installed. npm ci runs
// once, when node_modules is missing.
func hubNpmDir(t *testing.T) string { return hubNpm.path(t) }

var hubNpm = &npmFolder{name: "hubnpm", marker: "node_modules/.bin/si"}

// hubSI runs the si command with a configuration of its own (HOME and
// TMPDIR are the test's) pointing at a hub.
type hubSI struct {
	t   *testing.T
	bin string
	env []string
	dir string // the working folder, where packages are written
}

func newHubSI(t *testing.T, npm, hub string) *hubSI {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "HOME" && k != "TMPDIR" && !strings.HasPrefix(k, "SI_") && k != "NODE_ENV" {
			env = append(env, kv)
		}
	}
	home := t.TempDir()
	// si writes ~/.si/si-config.json as it loads, before it makes ~/.si
	// (and says it could not, on its first run only): the folder is there,
	// as after a first run.
	if err := os.Mkdir(filepath.Join(home, ".si"), 0o755); err != nil {
		t.Fatal(err)
	}
	si := &hubSI{t: t, bin: filepath.Join(npm, "node_modules", ".bin", "si"), dir: t.TempDir(),
		env: append(env, "HOME="+home, "TMPDIR="+t.TempDir())}
	// As si config set apiUrl <hub> and si config set log --format json.
	si.run(nil, "config", "set", "json", `{"apiUrl":"`+hub+`","log":{"format":"json"}}`)
	return si
}

func (si *hubSI) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, si.bin, args...)
	cmd.Env, cmd.Dir = si.env, si.dir
	return cmd
}

// run runs si to its end and returns its stdout; a failure (an exit code
// other than 0, or an error si printed) fails the test.
func (si *hubSI) run(stdin io.Reader, args ...string) string {
	si.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hubPatience)
	defer cancel()
	cmd := si.command(ctx, args...)
	cmd.Stdin = stdin
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// si prints some errors and exits 0 all the same.
	if err != nil || strings.Contains(stderr.String(), "Error") || strings.Contains(string(out), `"error":true`) {
		si.t.Fatalf("si %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// json runs si and decodes its JSON output.
func (si *hubSI) json(out any, args ...string) {
	si.t.Helper()
	stdout := si.run(nil, args...)
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		si.t.Fatalf("si %s printed %q: %v", strings.Join(args, " "), stdout, err)
	}
}

// background starts a si command that streams; its stdout is returned, and
// the command is killed when the test ends.
func (si *hubSI) background(args ...string) (io.Reader, *exec.Cmd) {
	si.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := si.command(ctx, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		si.t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		si.t.Fatal(err)
	}
	si.t.Cleanup(func() { cancel(); cmd.Wait() })
	return out, cmd
}

func (si *hubSI) file(name string, data []byte) string {
	si.t.Helper()
	if err := os.WriteFile(filepath.Join(si.dir, name), data, 0o644); err != nil {
		si.t.Fatal(err)
	}
	return name
}

func TestHubNpmSI(t *testing.T) {
	t.Parallel()
	npm := hubNpmDir(t)
	s := hubServer(t)
	h := hubOf(s)
	si := newHubSI(t, npm, s.hub)

	// si seq send, si seq start.
	var seq struct {
		ID string `json:"_id"`
	}
	si.json(&seq, "seq", "send", si.file("hello.tar.gz", hubNode(t, "hello", hubHello)))
	if seq.ID == "" {
		t.Fatal("si seq send printed no id")
	}
	var listed []struct{ ID string }
	si.json(&listed, "seq", "ls")
	if len(listed) != 1 || listed[0].ID != seq.ID {
		t.Errorf("si seq ls: %+v", listed)
	}
	var inst struct {
		ID string `json:"_id"`
	}
	si.json(&inst, "seq", "start", seq.ID, "--config-string", `{"who":"si"}`, "--args", `[]`)
	if i := h.info(inst.ID); i.Sequence != seq.ID || i.AppConfig["who"] != "si" {
		t.Errorf("the instance si started: %+v", i)
	}

	// si inst output, si inst input (a file, then the end of the stream).
	output, outCmd := si.background("inst", "output", inst.ID)
	si.run(nil, "inst", "input", inst.ID, si.file("names.txt", []byte("World")), "--end")
	if got, err := io.ReadAll(output); string(got) != "Hello World!" || err != nil {
		t.Errorf("si inst output: %q %v", got, err)
	}
	if err := outCmd.Wait(); err != nil {
		t.Errorf("si inst output exited with %v", err)
	}
	if i := h.ended(inst.ID); i.Status != "completed" {
		t.Errorf("hello after si: %+v %+v", i, i.Terminated)
	}
	var info struct{ Status string }
	si.json(&info, "inst", "info", inst.ID)
	if info.Status != "completed" {
		t.Errorf("si inst info: %+v", info)
	}

	// si inst input from its own stdin, without ending the input.
	echo := h.start(h.send(hubNode(t, "echo", `module.exports = async function* (input) { for await (const s of input) yield "<" + s + ">"; };`)), "")
	echoOut := bufio.NewReader(h.open("/instance/" + echo + "/output"))
	si.run(strings.NewReader("typed"), "inst", "input", echo)
	if got := readUntil(t, echoOut, "\n"); got != `"<typed>"`+"\n" {
		t.Errorf("output of input typed into si: %q", got)
	}
	h.json("GET", "/instance/"+echo, "", http.StatusOK, &info)
	if info.Status != "running" {
		t.Errorf("input without --end ended the stream: %+v", info)
	}

	// si inst kill of a busy loop.
	var busySeq struct {
		ID string `json:"_id"`
	}
	si.json(&busySeq, "seq", "send", si.file("busy.tar.gz", hubNode(t, "busy", hubBusyLoop)))
	var busy struct {
		ID string `json:"_id"`
	}
	si.json(&busy, "seq", "start", busySeq.ID)
	h.running(busy.ID)
	pid := h.pid(busy.ID)
	var killed struct{ OpStatus, Status string }
	si.json(&killed, "inst", "kill", busy.ID)
	if killed.OpStatus != "Accepted" || killed.Status != "killing" {
		t.Errorf("si inst kill: %+v", killed)
	}
	if i := h.ended(busy.ID); i.Terminated.ExitCode != 137 {
		t.Errorf("the busy loop si killed: %+v", i.Terminated)
	}
	waitGroupGone(t, pid)

	// si topic get, si topic send (a file, then stdin). si topic get sends
	// no content type, so the topic is the default, NDJSON, as in the
	// original; the sends name it.
	topic, _ := si.background("topic", "get", "names")
	for deadline := time.Now().Add(hubPatience); ; time.Sleep(20 * time.Millisecond) {
		var topics []struct{ TopicName string }
		h.json("GET", "/topics", "", http.StatusOK, &topics)
		if len(topics) == 1 && topics[0].TopicName == "names" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("si topic get never reached the hub: %+v", topics)
		}
	}
	si.run(nil, "topic", "send", "names", si.file("one.ndjson", []byte(`{"n":1}`+"\n")), "-t", "application/x-ndjson")
	si.run(strings.NewReader(`{"n":2}`+"\n"), "topic", "send", "names", "-t", "application/x-ndjson")
	if got := readUntil(t, topic, `{"n":2}`); got != `{"n":1}`+"\n"+`{"n":2}`+"\n" {
		t.Errorf("si topic get: %q", got)
	}
	var topics []struct{ TopicName, ContentType string }
	si.json(&topics, "topic", "ls")
	if len(topics) != 1 || topics[0].TopicName != "names" || topics[0].ContentType != "application/x-ndjson" {
		t.Errorf("si topic ls: %+v", topics)
	}
}

// hubAPIClientScript drives @scramjet/api-client; it prints one JSON line per
// call checked: {"call", "ok", "got"}.
const hubAPIClientScript = `
import { HostClient } from "@scramjet/api-client";
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";

const host = new HostClient(process.env.HUB_URL);
const read = async (s) => { let out = ""; for await (const c of s) out += c; return out; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const report = (call, ok, got) => console.log(JSON.stringify({ call, ok: !!ok, got: got === undefined ? null : got }));
const check = async (call, fn, ok) => {
    try {
        const got = await fn();
        report(call, ok(got), got);
        return got;
    } catch (e) {
        report(call, false, { error: String(e && e.message), status: e && e.status, body: e && e.body });
    }
};
const running = async (inst) => {
    for (let i = 0; i < 600; i++) {
        if ((await inst.getInfo()).status === "running") return;
        await sleep(50);
    }
};

await check("HostClient.getVersion", () => host.getVersion(), (v) => v.apiVersion === "v1");
await check("HostClient.getLoadCheck", () => host.getLoadCheck(), (l) => l.memFree > 0 && Array.isArray(l.fsSize));
await check("HostClient.getConfig", () => host.getConfig(), (c) => typeof c === "object");
const hello = await check("HostClient.sendSequence", () => host.sendSequence(createReadStream("hello.tar.gz")), (s) => /^[0-9a-f-]{36}$/.test(s.id));
await check("HostClient.listSequences", () => host.listSequences(), (l) => l.some((s) => s.id === hello.id));
await check("HostClient.getSequence", () => host.getSequence(hello.id), (s) => s.id === hello.id);
await check("SequenceClient.getInfo", () => hello.getInfo(), (s) => s.id === hello.id);
const inst = await check("SequenceClient.start", () => hello.start({ appConfig: { who: "api" }, args: [] }), (i) => /^[0-9a-f-]{36}$/.test(i.id));
await check("SequenceClient.listInstances", () => hello.listInstances(), (l) => l.includes(inst.id));
// Listed while it waits for its input: an ended instance is not listed.
await check("HostClient.listInstances", () => host.listInstances(), (l) => l.some((i) => i.id === inst.id));
const output = inst.getStream("output").then(read);
await check("InstanceClient.sendInput", () => inst.sendInput(Readable.from(["World"]), {}, { type: "text/plain", end: true }), () => true);
await check("InstanceClient.getStream(output)", () => output, (o) => o === "Hello World!");
await check("InstanceClient.getInfo", () => inst.getInfo(), (i) => i.sequence === hello.id && i.appConfig.who === "api");
await check("HostClient.getInstanceInfo", () => host.getInstanceInfo(inst.id), (i) => i.id === inst.id);

const replier = await (await host.sendSequence(createReadStream("replier.tar.gz"))).start({});
await running(replier);
await check("InstanceClient.getHealth", () => replier.getHealth(), (h) => h.healthy === true);
const stdout = replier.getStream("stdout");
await check("InstanceClient.sendEvent", () => replier.sendEvent("ping", "one"), () => true);
await check("InstanceClient.getEvent", () => replier.getEvent("pong"), (p) => p && p.got === "one");
const next = replier.getNextEvent("pong");
for (let i = 0; i < 100; i++) {
    await replier.sendEvent("ping", "two");
    if (await Promise.race([next.then(() => true, () => true), sleep(100).then(() => false)])) break;
}
await check("InstanceClient.getNextEvent", () => next, (p) => p && p.got === "two");
const stopped = await check("InstanceClient.stop", () => replier.stop(500, false), (r) => r.code === 0);
if (stopped) {
    await check("stopped instance's status", async () => {
        for (let i = 0; i < 600; i++) {
            const info = await replier.getInfo();
            if (info.terminated) return info;
            await sleep(50);
        }
    }, (i) => i && i.terminated && i.terminated.exitcode === 138);
} else {
    await replier.kill(); // the stop did not take
}
await check("stopped instance's stdout", async () => read(await stdout), (o) => o === "");

const busy = await (await host.sendSequence(createReadStream("busy.tar.gz"))).start({});
await running(busy);
await check("InstanceClient.kill", () => busy.kill(), (k) => k.opStatus === "Accepted");
await check("killed instance's status", async () => {
    for (let i = 0; i < 600; i++) {
        const info = await busy.getInfo();
        if (info.terminated) return info;
        await sleep(50);
    }
}, (i) => i && i.terminated && i.terminated.exitcode === 137);

const topic = host.getNamedData("letters");
await check("HostClient.sendNamedData", () => host.sendNamedData("letters", Readable.from(['{"a":1}\n']), {}, "application/x-ndjson", true), () => true);
await check("HostClient.getTopics", () => host.getTopics(), (l) => l.some((t) => t.topicName === "letters" && t.contentType === "application/x-ndjson"));
await check("HostClient.getNamedData", async () => {
    const s = await topic;
    for await (const c of s) { s.destroy(); return String(c); }
}, (d) => d === '{"a":1}\n');
await check("HostClient.deleteSequence", () => host.deleteSequence(hello.id), (r) => r.id === hello.id);
console.log(JSON.stringify({ done: true }));
process.exit(0);
`

func TestHubNpmAPIClient(t *testing.T) {
	t.Parallel()
	npm := hubNpmDir(t)
	s := hubServer(t)
	dir := t.TempDir()
	// The script imports the packages of hubnpm: node looks for them in the
	// node_modules next to it.
	if err := os.Symlink(filepath.Join(npm, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"client.mjs":     []byte(hubAPIClientScript),
		"hello.tar.gz":   hubNode(t, "hello", hubHello),
		"replier.tar.gz": hubNode(t, "replier", hubReplier),
		"busy.tar.gz":    hubNode(t, "busy", hubBusyLoop),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*hubPatience)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "client.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HUB_URL="+s.hub)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client.mjs: %v\nstdout: %s\nstderr: %s", err, out, stderr.String())
	}
	done := false
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct {
			Call string
			OK   bool
			Got  json.RawMessage
			Done bool
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Call == "" && !r.Done {
			t.Errorf("the script printed %q", line)
			continue
		}
		if r.Done {
			done = true
			continue
		}
		t.Run(r.Call, func(t *testing.T) {
			if !r.OK {
				t.Errorf("%s against Troupe: %s", r.Call, r.Got)
			}
		})
	}
	if !done {
		t.Errorf("the script did not reach its end:\n%s\n%s", out, stderr.String())
	}
}
