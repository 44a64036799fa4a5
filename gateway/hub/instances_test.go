package hub_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-run/troupe/actors/instance"
	"github.com/troupe-run/troupe/actors/instance/process"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/systemtest"
)

func TestCountdownLogsAndStdout(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	seq := h.send(node(t, `
module.exports = async function* (_input, from) {
    for (let i = from; i > 0; i--) {
        this.logger.info("count", i);
        console.log("stdout " + i);
        yield i; // a JSON line each, as the original writes a generator's chunks
    }
};
`))
	id := h.start(seq, `{"args":[3]}`)
	if got := h.stream("/instance/" + id + "/output"); got != "3\n2\n1\n" {
		t.Errorf("output %q", got)
	}
	if got := h.stream("/instance/" + id + "/stdout"); got != "stdout 3\nstdout 2\nstdout 1\n" {
		t.Errorf("stdout %q", got)
	}
	logs := h.stream("/instance/" + id + "/log")
	for _, want := range []string{"info (Sequence) count 3\n", "info (Sequence) count 1\n"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if got := h.stream("/instance/" + id + "/stderr"); got != "" {
		t.Errorf("stderr %q", got)
	}
}

func TestStopRunsTheStopHandler(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	seq := h.send(node(t, `
module.exports = function () {
    this.addStopHandler(async (timeout, canCallKeepalive) => {
        process.stdout.write("cleaned up " + timeout + " " + canCallKeepalive + "\n");
    });
    return new Promise(() => {});
};
`))
	id := h.start(seq, "")
	h.running(id)
	var r struct {
		Code    int
		Message string
	}
	h.json("POST", "/instance/"+id+"/_stop", `{"timeout":5000,"canCallKeepalive":false}`, http.StatusOK, &r)
	i := h.ended(id)
	if i.Status != "completed" || i.Terminated.ExitCode != process.ExitStopped || i.Terminated.Reason != "Instance stopped" {
		t.Errorf("stopped instance %+v %+v", i, i.Terminated)
	}
	if got := h.stream("/instance/" + id + "/stdout"); got != "cleaned up 5000 false\n" {
		t.Errorf("stdout %q", got)
	}
	h.json("POST", "/instance/"+id+"/_stop", `{}`, http.StatusBadRequest, nil)
	h.json("POST", "/instance/"+id+"/_stop", `{"timeout":"soon"}`, http.StatusBadRequest, nil)
	h.json("POST", "/instance/"+id+"/_stop", `[4001]`, http.StatusBadRequest, nil)
}

func TestKeepAliveOutlivesTheStop(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	seq := h.send(node(t, `
module.exports = function () {
    this.addStopHandler(() => { this.keepAlive(1000); });
    this.on("still-there", () => this.emit("yes", "alive"));
    return new Promise(() => {});
};
`))
	id := h.start(seq, "")
	h.running(id)
	// The original client sends the stop as [4001, {...}].
	// The stop's timeout leaves the sequence time to ask to live on even
	// on a busy machine (its ALIVE must reach the hub before the timeout,
	// as in the original); once the hub has seen it, the timeout spares it
	// (the deadline itself is tested in package process).
	h.json("POST", "/instance/"+id+"/_stop", `[4001,{"timeout":5000,"canCallKeepalive":true}]`, http.StatusOK, nil)
	h.until(id, "kept itself alive", func(i info) bool { return i.Status == "running" })
	// Kept alive, the sequence still answers events.
	h.json("POST", "/instance/"+id+"/_event", `{"eventName":"still-there"}`, http.StatusOK, nil)
	var msg string
	h.json("GET", "/instance/"+id+"/event/yes", "", http.StatusOK, &msg)
	if msg != "alive" {
		t.Errorf("event yes = %q", msg)
	}
	h.json("POST", "/instance/"+id+"/_kill", "", http.StatusAccepted, nil)
	if i := h.ended(id); i.Terminated.ExitCode != process.ExitKilled {
		t.Errorf("killed instance %+v", i.Terminated)
	}
}

const replier = `
module.exports = function () {
    this.on("ping", (message) => this.emit("pong", { got: message }));
    return new Promise(() => {});
};
`

func TestEventsBothWaysAndToOtherInstances(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	seq := h.send(node(t, replier))
	id := h.start(seq, "")
	listener := h.start(h.send(node(t, `
module.exports = function () {
    this.on("pong", (message) => this.emit("heard", message));
    return new Promise(() => {});
};
`)), "")
	h.running(id)
	h.running(listener)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.url+"/instance/"+id+"/events/pong", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /events/pong: %v %v", res, err)
	}
	defer res.Body.Close()

	// The original client's form, then the plain one.
	h.json("POST", "/instance/"+id+"/_event", `[5001,{"eventName":"ping","message":"one"}]`, http.StatusOK, nil)
	var got struct{ Got string }
	h.json("GET", "/instance/"+id+"/event/pong", "", http.StatusOK, &got)
	if got.Got != "one" {
		t.Errorf("event pong = %+v", got)
	}
	next := make(chan string, 1)
	go func() {
		_, body := h.do("GET", "/instance/"+id+"/once/pong", nil)
		next <- body
	}()
	// /once waits for the next pong: keep pinging until it has one.
	var body string
	for i := 0; body == ""; i++ {
		h.json("POST", "/instance/"+id+"/_event", `{"eventName":"ping","message":"two"}`, http.StatusOK, nil)
		select {
		case body = <-next:
		case <-time.After(100 * time.Millisecond):
		}
	}
	if body != `{"got":"two"}` {
		t.Errorf("once pong = %s", body)
	}
	var latest struct {
		EventName string
		Message   map[string]string
	}
	h.json("GET", "/instance/"+id+"/event", "", http.StatusOK, &latest)
	if latest.EventName != "pong" || latest.Message["got"] != "two" {
		t.Errorf("latest event = %+v", latest)
	}
	line := make([]byte, 64)
	n, _ := io.ReadAtLeast(res.Body, line, len(`{"got":"one"}`+"\n"))
	if !strings.HasPrefix(string(line[:n]), `{"got":"one"}`+"\n") {
		t.Errorf("event stream began with %q", line[:n])
	}
	// The replier's pong reached the other instance, which said so.
	var heard struct{ Got string }
	h.json("GET", "/instance/"+listener+"/event/heard", "", http.StatusOK, &heard)
	if heard.Got == "" {
		t.Errorf("listener heard %+v", heard)
	}
	h.json("POST", "/instance/"+id+"/_event", `{"message":1}`, http.StatusBadRequest, nil)
}

func TestInputBackPressureAndRules(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	seq := h.send(node(t, `module.exports = function () { return new Promise(() => {}); };`))
	id := h.start(seq, "")
	h.running(id)
	h.json("POST", "/instance/"+id+"/input", "", http.StatusNotAcceptable, nil, "Content-Type", "")

	// The sequence never reads its input: a body larger than any buffer on
	// the way cannot be delivered, so the request cannot succeed; it ends
	// when the instance does. The kill is sent once the input is attached
	// (its type is set then), so that it ends a held request.
	done := make(chan int, 1)
	go func() {
		status, _ := h.do("POST", "/instance/"+id+"/input", bytes.NewReader(make([]byte, 8<<20)), "Content-Type", "application/octet-stream")
		done <- status
	}()
	systemtest.Eventually(t, "the input to be attached", func() bool {
		i, err := h.inst.Do(context.Background(), id, &messages.InstanceInfoRequest{})
		return err == nil && i.InputType == "application/octet-stream"
	})
	h.json("POST", "/instance/"+id+"/_kill", "", http.StatusAccepted, nil)
	if status := <-done; status != http.StatusConflict {
		t.Errorf("input to an instance that never read it = %d, want 409", status)
	}
	h.ended(id)
	if status, body := h.do("POST", "/instance/"+id+"/input", strings.NewReader("late"), "Content-Type", "text/plain"); status != http.StatusConflict {
		t.Errorf("input to an ended instance = %d %s, want 409", status, body)
	}
}

func TestStdinAndInputWithoutEnd(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	seq := h.send(node(t, `
const readline = require("readline");
module.exports = async function* (input) {
    for await (const line of readline.createInterface({ input: process.stdin })) yield "stdin " + line + "\n";
    for await (const chunk of input) yield "input " + chunk + "\n";
};
`))
	id := h.start(seq, "")
	if status, _ := h.do("POST", "/instance/"+id+"/stdin", strings.NewReader("a\nb\n")); status != http.StatusOK {
		t.Fatalf("stdin = %d", status)
	}
	if status, _ := h.do("POST", "/instance/"+id+"/input", strings.NewReader("x"), "Content-Type", "text/plain", "X-End-Stream", "false"); status != http.StatusAccepted {
		t.Fatalf("input without end = %d", status)
	}
	if status, _ := h.do("POST", "/instance/"+id+"/input", strings.NewReader("y")); status != http.StatusOK {
		t.Fatalf("input with end = %d", status)
	}
	if status, _ := h.do("POST", "/instance/"+id+"/input", strings.NewReader("z")); status != http.StatusConflict {
		t.Errorf("input after its end = %d", status)
	}
	got := h.stream("/instance/" + id + "/output")
	// The generator's strings come as JSON lines, as the original's.
	if !strings.HasPrefix(got, `"stdin a\n"`+"\n"+`"stdin b\n"`+"\n"+`"input x`) || !strings.HasSuffix(got, `y\n"`+"\n") {
		t.Errorf("output %q", got)
	}
}

const busyLoop = `module.exports = function () { setTimeout(() => { for (;;) {} }, 0); return new Promise(() => {}); };`

func TestBusyLoopIsKilled(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	id := h.start(h.send(node(t, busyLoop)), "")
	h.running(id)
	var r struct{ OpStatus, Status string }
	h.json("POST", "/instance/"+id+"/_kill", "", http.StatusAccepted, &r)
	if r.OpStatus != "Accepted" || r.Status != "killing" {
		t.Errorf("_kill answered %+v", r)
	}
	if i := h.ended(id); i.Status != "completed" || i.Terminated.ExitCode != process.ExitKilled || i.Terminated.Reason != "Instance killed" {
		t.Errorf("killed instance %+v %+v", i, i.Terminated)
	}
	h.json("POST", "/instance/"+id+"/_kill", "", http.StatusBadRequest, nil)
}

func TestWatchdogKillsASilentInstance(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{instances: instance.Options{UnhealthyAfter: 300 * time.Millisecond, KillAfter: 900 * time.Millisecond}})
	id := h.start(h.send(node(t, busyLoop)), "")
	h.running(id)
	i := h.ended(id)
	if i.Status != "errored" || !strings.Contains(i.Terminated.Reason, "no health report") {
		t.Errorf("silent instance %+v %+v", i, i.Terminated)
	}
	// As the original's: an ended instance has no health.
	h.json("GET", "/instance/"+id+"/health", "", http.StatusNotFound, nil)
}

func TestRetentionThenGone(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{instances: instance.Options{Retention: 200 * time.Millisecond}})
	seq := h.send(node(t, `module.exports = async function* () { yield "done"; };`))
	id := h.start(seq, "")
	h.ended(id)
	deadline := time.Now().Add(guard)
	for {
		status, _ := h.do("GET", "/instance/"+id, nil)
		if status == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance still there past its retention")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var ids []string
	h.json("GET", "/sequence/"+seq+"/instances", "", http.StatusOK, &ids)
	if len(ids) != 0 {
		t.Errorf("forgotten instance still listed: %v", ids)
	}
	var list []info
	h.json("GET", "/instances", "", http.StatusOK, &list)
	if len(list) != 0 {
		t.Errorf("GET /instances = %+v", list)
	}
}

// Past --hub-max-ended ended instances, the one that ended longest ago is
// forgotten before its retention is over: quick starts of short-lived
// instances do not pile up their streams.
func TestEndedInstancesAreBounded(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{instances: instance.Options{MaxEnded: 2}})
	// It fails on start: it ends at once.
	seq := h.send(node(t, `module.exports = 42;`))
	var ids []string
	for range 3 {
		id := h.start(seq, "")
		h.ended(id)
		ids = append(ids, id)
	}
	systemtest.Eventually(t, "the oldest ended instance to be forgotten", func() bool {
		status, _ := h.do("GET", "/instance/"+ids[0], nil)
		return status == http.StatusNotFound
	})
	for _, id := range ids[1:] {
		if status, body := h.do("GET", "/instance/"+id, nil); status != http.StatusOK {
			t.Errorf("GET /instance/%s, one of the last two ended = %d %s", id, status, body)
		}
	}
}

func TestCrashedInstanceActorKillsItsProcess(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{args: []string{"--chaos"}})
	id := h.start(h.send(node(t, `module.exports = function () { return new Promise(() => {}); };`)), "")
	h.running(id)
	var health struct{ ProcessID int }
	h.json("GET", "/instance/"+id+"/health", "", http.StatusOK, &health)
	if _, err := h.sys.InjectFault("instances/"+id, "panic"); err != nil {
		t.Fatal(err)
	}
	// The next message crashes the actor: this request fails, the actor is
	// restarted, and the restarted actor kills the process it cannot adopt.
	if status, _ := h.do("GET", "/instance/"+id, nil); status != http.StatusServiceUnavailable {
		t.Errorf("request to the crashing actor = %d, want 503", status)
	}
	i := h.ended(id)
	if i.Status != "errored" || !strings.Contains(i.Terminated.Reason, "actor failed") {
		t.Errorf("instance after the crash %+v %+v", i, i.Terminated)
	}
	if err := syscall.Kill(-health.ProcessID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the process group %d is still there: %v", health.ProcessID, err)
	}
	// It is still one instance, readable, and it was not started twice:
	// nothing runs (the ended one is no longer listed).
	var list []info
	h.json("GET", "/instances", "", http.StatusOK, &list)
	if len(list) != 0 {
		t.Errorf("instances after the crash: %+v", list)
	}
	if status, body := h.do("GET", "/instance/"+id, nil); status != http.StatusOK {
		t.Errorf("GET /instance/%s after the crash = %d %s", id, status, body)
	}
}
