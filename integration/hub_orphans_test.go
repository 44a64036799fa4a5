package integration

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hubSpinner busy-loops after starting a child in its process group, and
// says the child's pid on stdout first.
const hubSpinner = `
const { spawn } = require("child_process");
module.exports = function () {
    const child = spawn("sleep", ["300"], { stdio: "ignore" });
    process.stdout.write("child " + child.pid + "\n");
    setTimeout(() => { for (;;) {} }, 0);
    return new Promise(() => {});
};
`

// TestHubKill9LeavesNoOrphans: troupe is killed without warning while a
// busy-looping sequence (and the child it started) runs. Such a runner
// never reads the end of its control pipe, so it outlives the hub; the next
// start on the same data dir kills it before it serves, and shows the
// instance as errored.
func TestHubKill9LeavesNoOrphans(t *testing.T) {
	t.Parallel()
	s := hubServer(t)
	h := hubOf(s)
	seq := h.send(hubNode(t, "spinner", hubSpinner))
	spinner := h.start(seq, `{"args":["x"]}`)
	h.running(spinner)
	pgid := h.pid(spinner)
	out := h.open("/instance/" + spinner + "/stdout")
	line := readUntil(t, out, "\n")
	child, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "child ")))
	if err != nil {
		t.Fatalf("the spinner's stdout %q", line)
	}
	// A second spinner on the runner the hub started ahead (the first start
	// was cold): it carries a token of its own as its mark, which the hub
	// recorded beside its pid.
	warmSpinner, warmPGID := hubWarmStart(t, s, seq)
	// A sequence that reads its control pipe ends with the hub by itself.
	quiet := h.start(h.send(hubNode(t, "never-reads", hubNeverReads)), "")
	h.running(quiet)
	quietPID := h.pid(quiet)

	s.kill9()
	// The orphans are there: the runner spins, its child sleeps.
	if members := liveGroup(t, pgid); !slices.Contains(members, pgid) || !slices.Contains(members, child) {
		t.Fatalf("after kill -9 the group %d holds %v, want the runner and its child %d", pgid, members, child)
	}

	s.restart()
	h = hubOf(s)
	// Start-up is over: nothing of the spinner is left, without waiting.
	if members := liveGroup(t, pgid); len(members) != 0 {
		t.Fatalf("after the restart the spinner's group %d still holds %v", pgid, members)
	}
	if pids := markedProcesses(t, spinner); len(pids) != 0 {
		t.Fatalf("processes marked as the spinner's after the restart: %v", pids)
	}
	if members := liveGroup(t, warmPGID); len(members) != 0 {
		t.Fatalf("after the restart the warm spinner's group %d still holds %v", warmPGID, members)
	}
	if i := h.info(warmSpinner); i.Status != "errored" || i.Terminated == nil || i.Terminated.ExitCode != 137 {
		t.Errorf("the warm spinner after the restart: %+v %+v", i, i.Terminated)
	}
	waitGroupGone(t, quietPID)

	i := h.info(spinner)
	if i.Status != "errored" || i.Terminated == nil || i.Terminated.ExitCode != 137 ||
		!strings.Contains(i.Terminated.Reason, "killed") || i.Sequence != seq || len(i.Args) != 1 {
		t.Errorf("the spinner after the restart: %+v %+v", i, i.Terminated)
	}
	if i := h.info(quiet); i.Status != "errored" || i.Terminated == nil {
		t.Errorf("the quiet instance after the restart: %+v %+v", i, i.Terminated)
	}
	if got := h.stream("/instance/" + spinner + "/output"); got != "" {
		t.Errorf("output of the lost instance: %q", got)
	}
	h.json("POST", "/instance/"+spinner+"/_kill", "", http.StatusBadRequest, nil)

	// The sequence survived, and runs again; this new run ends normally.
	again := h.start(seq, "")
	h.running(again)
	pid := h.pid(again)
	h.json("POST", "/instance/"+again+"/_kill", "", http.StatusAccepted, nil)
	if i := h.ended(again); i.Terminated.ExitCode != 137 || i.Status != "completed" {
		t.Errorf("the spinner started again, then killed: %+v %+v", i, i.Terminated)
	}
	waitGroupGone(t, pid)
	// A clean stop after that leaves nothing to clean up at the next start.
	if err := s.stop(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	s.restart()
	h = hubOf(s)
	var list []hubInfo
	h.json("GET", "/instances", "", http.StatusOK, &list)
	for _, i := range list {
		if i.ID == again {
			t.Errorf("an instance that ended before a clean stop came back: %+v", i)
		}
	}
}

// hubWarmStart starts seq on the hub's idle warm runner, and returns the
// instance and its pid. The idle runner is known by its command line
// (--warm) and parent; a start that comes between its exec and its
// joining the hub's pool starts cold, and is killed and tried again.
func hubWarmStart(t *testing.T, s *server, seq string) (string, int) {
	t.Helper()
	h := hubOf(s)
	for range 3 {
		warm := 0
		for deadline := time.Now().Add(hubPatience); warm == 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the hub started no warm runner")
			}
			warm = hubWarmRunner(s.cmd.Process.Pid)
		}
		id := h.start(seq, "")
		h.running(id)
		if pid := h.pid(id); pid == warm {
			return id, pid
		}
		h.json("POST", "/instance/"+id+"/_kill", "", http.StatusAccepted, nil)
		h.ended(id)
	}
	t.Fatal("no start took the hub's warm runner")
	return "", 0
}

// hubWarmRunner is the pid of an idle runner the hub (parent) started
// ahead, or 0.
func hubWarmRunner(parent int) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		args, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !bytes.Contains(args, []byte("\x00--warm\x00")) {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if i := bytes.LastIndexByte(stat, ')'); err == nil && i > 0 {
			if f := strings.Fields(string(stat[i+1:])); len(f) > 1 && f[1] == strconv.Itoa(parent) {
				return pid
			}
		}
	}
	return 0
}

// TestHubChaosInstanceActors: every instance actor is made to panic. Each
// is restarted; the restarted actor cannot adopt the process its last
// incarnation drove, so it kills it: the instance ends errored, its process
// group is gone, and no process was started twice. The hub serves on.
func TestHubChaosInstanceActors(t *testing.T) {
	t.Parallel()
	s := hubServer(t, "--chaos")
	h := hubOf(s)
	ids := []string{
		h.start(h.send(hubNode(t, "replier", hubReplier)), ""),
		h.start(h.send(hubNode(t, "busy-loop", hubBusyLoop)), ""),
		h.start(h.send(hubNode(t, "never-reads", hubNeverReads)), ""),
	}
	pids := map[string]int{}
	for _, id := range ids {
		h.running(id)
		pids[id] = h.pid(id)
	}
	status, body := s.do("POST", "/admin/chaos", []byte(`{"target":"instances/*","fault":"panic"}`))
	var armed struct{ Affected int }
	if status != http.StatusOK || json.Unmarshal(body, &armed) != nil || armed.Affected != len(ids) {
		t.Fatalf("chaos: %d %s", status, body)
	}
	for _, id := range ids {
		// The next message crashes the actor, this request's or another.
		var i hubInfo
		for deadline := time.Now().Add(hubPatience); ; time.Sleep(20 * time.Millisecond) {
			status, body := h.do("GET", "/instance/"+id, nil)
			if status == http.StatusOK && json.Unmarshal([]byte(body), &i) == nil && i.Terminated != nil {
				break
			}
			if status != http.StatusOK && status != http.StatusServiceUnavailable {
				t.Fatalf("GET /instance/%s = %d %s", id, status, body)
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %s never ended after its actor's crash: %s", id, body)
			}
		}
		if i.Status != "errored" || !strings.Contains(i.Terminated.Reason, "actor failed") {
			t.Errorf("instance %s after the crash: %+v %+v", id, i, i.Terminated)
		}
		waitGroupGone(t, pids[id])
		if marked := markedProcesses(t, id); len(marked) != 0 {
			t.Errorf("processes of %s after the crash: %v", id, marked)
		}
		// None was started in its place: an ended instance has no health
		// (404, as the original's), and no process carries its mark.
		if status, body := h.do("GET", "/instance/"+id+"/health", nil); status != http.StatusNotFound {
			t.Errorf("health of %s after the crash = %d %s, want 404", id, status, body)
		}
	}
	// Ended, none of them is listed, and none runs in its place.
	var list []hubInfo
	h.json("GET", "/instances", "", http.StatusOK, &list)
	if len(list) != 0 {
		t.Errorf("GET /instances after the crashes: %+v", list)
	}
	// The hub serves on.
	hello := h.start(h.send(hubNode(t, "hello", hubHello)), "")
	h.do("POST", "/instance/"+hello+"/input", strings.NewReader("again"), "Content-Type", "text/plain")
	if got := h.stream("/instance/" + hello + "/output"); got != "Hello again!" {
		t.Errorf("hello after the crashes: %q", got)
	}
}
