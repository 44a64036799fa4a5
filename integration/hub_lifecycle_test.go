package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// siAnswer runs si to its end and returns what it printed and its exit
// code, for the commands whose refusals are the point (si prints the hub's
// error as JSON and exits 1).
func (si *hubSI) answer(args ...string) (stdout string, code int) {
	si.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hubPatience)
	defer cancel()
	out, err := si.command(ctx, args...).Output()
	if ctx.Err() != nil {
		si.t.Fatalf("si %s did not end within %v", strings.Join(args, " "), hubPatience)
	}
	return string(out), exitCode(err)
}

// exitCode is a command's exit code from the error Output gave.
func exitCode(err error) int {
	if ee, ok := err.(interface{ ExitCode() int }); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// Once si inst health says an instance is gone (404), si inst ls no longer
// lists it, nor does its sequence (the BDD suite's E2E-010 TC-008 waits
// for the first and then checks the second); the instance stays readable
// by its id.
func TestHubSIEndedInstanceUnlisted(t *testing.T) {
	t.Parallel()
	npm := hubNpmDir(t)
	s := hubServer(t)
	h := hubOf(s)
	si := newHubSI(t, npm, s.hub)

	var seq, inst struct {
		ID string `json:"_id"`
	}
	si.json(&seq, "seq", "send", si.file("stopper.tar.gz", hubNode(t, "stopper", hubStopHandler)))
	si.json(&inst, "seq", "start", seq.ID)
	h.running(inst.ID)
	var listed []struct{ ID, Status string }
	si.json(&listed, "inst", "ls")
	if len(listed) != 1 || listed[0].ID != inst.ID {
		t.Fatalf("si inst ls of a running instance: %+v", listed)
	}
	var stopped struct{ Code int }
	si.json(&stopped, "inst", "stop", inst.ID, "3000")

	for deadline := time.Now().Add(hubPatience); ; time.Sleep(20 * time.Millisecond) {
		out, code := si.answer("inst", "health", inst.ID)
		var health struct{ APIStatusCode string }
		if json.Unmarshal([]byte(out), &health) == nil && health.APIStatusCode != "" {
			if health.APIStatusCode != "404" || code != 1 {
				t.Fatalf("si inst health of the stopped instance: exit %d, %s", code, out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("si inst health never said the instance ended: exit %d, %s", code, out)
		}
	}
	si.json(&listed, "inst", "ls")
	if len(listed) != 0 {
		t.Errorf("si inst ls once health is 404: %+v", listed)
	}
	var got struct{ Instances []string }
	si.json(&got, "seq", "get", seq.ID)
	if len(got.Instances) != 0 {
		t.Errorf("si seq get once health is 404: %+v", got)
	}
	var ids []string
	h.json("GET", "/sequence/"+seq.ID+"/instances", "", http.StatusOK, &ids)
	if len(ids) != 0 {
		t.Errorf("GET /sequence/:id/instances once health is 404: %v", ids)
	}
	var info struct{ Status string }
	si.json(&info, "inst", "info", inst.ID)
	if info.Status != "completed" {
		t.Errorf("si inst info of the stopped instance: %+v", info)
	}
}

// A Python sequence that declares itself unhealthy as it starts is never
// shown healthy: si inst health right after si seq start waits for the
// runner's first report, as the original's /health does (BDD E2E-014
// TC-010). The sequence's check is set before its first await, and the
// runner's first report follows it.
func TestHubSIHealthWaitsForFirstReport(t *testing.T) {
	t.Parallel()
	npm := hubNpmDir(t)
	s := hubServer(t)
	si := newHubSI(t, npm, s.hub)
	const unhealthy = `
import asyncio

async def run(context, input):
    context.set_health_check(lambda: {'healthy': False})
    await asyncio.sleep(1000)
`
	var seq, inst struct {
		ID string `json:"_id"`
	}
	si.json(&seq, "seq", "send", si.file("unhealthy.tar.gz", hubPython(t, "unhealthy", unhealthy)))
	si.json(&inst, "seq", "start", seq.ID)
	var health struct {
		Healthy   *bool
		ProcessID int
	}
	si.json(&health, "inst", "health", inst.ID)
	if health.Healthy == nil || *health.Healthy || health.ProcessID == 0 {
		t.Errorf("si inst health right after the start: healthy %v (false wanted), pid %d", health.Healthy != nil && *health.Healthy, health.ProcessID)
	}
	si.run(nil, "inst", "kill", inst.ID)
}
