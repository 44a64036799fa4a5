package process

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// busyLoop starts a child in its group, says so, and never yields again.
const busyLoop = `
const { spawn } = require("child_process");
module.exports = function () {
    const child = spawn("sleep", ["300"], { stdio: "ignore" });
    process.stdout.write("child " + child.pid + "\n");
    for (;;) {}
};
`

func TestKillBusyLoopEndsTheGroup(t *testing.T) {
	t.Parallel()
	r := node(t, busyLoop, Spec{})
	r.stdout.waitFor(t, "\n")
	child := childPID(t, r.stdout.String())
	if members := liveGroupMembers(t, r.p.PID()); len(members) < 2 {
		t.Fatalf("group %d holds %v, want the runner and its child", r.p.PID(), members)
	}
	if err := r.p.Kill(); err != nil {
		t.Fatal(err)
	}
	r.expectExit(ExitKilled)
	waitGroupGone(t, r.p.PID())
	waitGone(t, child)
}

func TestTerminateBusyLoopAfterGrace(t *testing.T) {
	t.Parallel()
	r := node(t, busyLoop, Spec{KillGrace: 50 * time.Millisecond})
	r.stdout.waitFor(t, "\n")
	child := childPID(t, r.stdout.String())
	// The runner never reads KILL: SIGKILL follows the grace period.
	r.p.Terminate()
	r.expectExit(ExitKilled)
	waitGone(t, child)
}

func TestExitKillsWhatTheSequenceLeftBehind(t *testing.T) {
	t.Parallel()
	r := node(t, `
const { spawn } = require("child_process");
module.exports = function () {
    const child = spawn("sleep", ["300"], { stdio: "ignore" });
    child.unref();
    process.stdout.write("child " + child.pid + "\n");
    return "done";
};
`, Spec{})
	r.expectExit(ExitCompleted)
	child := childPID(t, r.stdout.wait(t))
	waitGone(t, child)
}

func childPID(t *testing.T, stdout string) int {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(stdout, "child ")))
	if err != nil {
		t.Fatalf("stdout %q: %v", stdout, err)
	}
	return pid
}

// liveGroupMembers lists the processes of group pgid that are not zombies.
// Zombies count as gone: they are dead, waiting for whoever adopted them
// (here perhaps an init that never reaps) to collect them.
func liveGroupMembers(t *testing.T, pgid int) []int {
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
		state, group, ok := procStat(pid)
		if ok && group == pgid && state != "Z" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// A process sent SIGKILL dies soon, not at once: these wait for it, up to
// the guard.

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(guard); ; time.Sleep(10 * time.Millisecond) {
		if state, _, ok := procStat(pid); !ok || state == "Z" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d is still alive", pid)
		}
	}
}

func waitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	for deadline := time.Now().Add(guard); ; time.Sleep(10 * time.Millisecond) {
		members := liveGroupMembers(t, pgid)
		if len(members) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still holds %v", pgid, members)
		}
	}
}

// procStat reads the state and process group of pid from /proc.
func procStat(pid int) (state string, pgrp int, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	// The command name, in parentheses, may hold spaces: fields start after it.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(fields) < 3 {
		return "", 0, false
	}
	pgrp, err = strconv.Atoi(fields[2])
	return fields[0], pgrp, err == nil
}
