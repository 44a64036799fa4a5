package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runSkipClient runs skipnpm/client.mjs (SkipServiceBroker and the npm
// eventsource package, unchanged) against the doors and returns its steps.
func runSkipClient(t *testing.T, d *skipDoors) map[string]string {
	t.Helper()
	dir := skipNpmDir(t)
	port := func(u string) string { return u[strings.LastIndex(u, ":")+1:] }
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "client.mjs", "127.0.0.1", port(d.control), port(d.streaming))
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s: client.mjs: %v\n%s\n%s", d.name, err, out, stderr)
	}
	steps := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Step  string
			Value json.RawMessage
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("%s: client.mjs printed %q", d.name, sc.Text())
		}
		steps[line.Step] = string(line.Value)
	}
	return steps
}

// The real clients against Troupe; the same script against the real Skip
// server says the same, but where Troupe does better on purpose.
func TestSkipRealClients(t *testing.T) {
	file := skipService(t, "sum.mjs")
	_, troupe := startSkipTroupe(t, file)
	got := runSkipClient(t, troupe)
	ids := regexp.MustCompile(`"id":"[0-9A-Za-z_-]{20,32}/[0-9]+"`) // Skip's run ids: a base64url id (26 or 27 characters seen), then the event's number
	want := map[string]string{
		"getAll":    `[["a",[2,4]],["b",[6]]]`,
		"getArray":  `[2,4]`,
		"getUnique": `6`,
		"absent":    `[]`,
		"nonUnique": `"SkipNonUniqueValueError"`,
		"unknown":   `"404: Not Found"`, // Skip: 500
		"events": `[{"type":"init","id":"ID","data":[["a",[2,4]],["b",[6]]]},` +
			`{"type":"update","id":"ID","data":[["c",[10]]]},{"type":"update","id":"ID","data":[["a",[]]]}]`,
		"deleted": `true`,
	}
	for step, w := range want {
		g := got[step]
		if step == "events" {
			g = ids.ReplaceAllString(g, `"id":"ID"`)
		}
		if g != w {
			t.Errorf("troupe: %s: %s, want %s", step, g, w)
		}
	}
	if !regexp.MustCompile(`^"[0-9a-f-]{36}"$`).MatchString(got["uuid"]) {
		t.Errorf("troupe: uuid %s", got["uuid"])
	}

	real := runSkipClient(t, startSkipReal(t, file))
	for step := range want {
		if step == "unknown" {
			continue
		}
		r, g := real[step], got[step]
		if step == "events" {
			r, g = ids.ReplaceAllString(r, `"id":"ID"`), ids.ReplaceAllString(g, `"id":"ID"`)
		}
		if r != g {
			t.Errorf("%s: skip says %s, troupe %s", step, r, g)
		}
	}
}
