package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// npmDir holds the npm client of the messaging tests: package.json, its
// lock file and client.mjs.
const npmDir = "npm"

// npmInstall installs the npm client's packages (the ws package) when
// node_modules is missing, as CI needs.
func npmInstall(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed for this test: %v", tool, err)
		}
	}
	if _, err := os.Stat(filepath.Join(npmDir, "node_modules", "ws", "package.json")); err == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = npmDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in integration/%s: %v\n%s", npmDir, err, out)
	}
}

// TestMessagingNPMClient: the `ws` npm package, a real WebSocket client,
// subscribes to a room (with replay), a pub/sub pattern and a queue; it
// gets the event, message and queue_message frames, and its ack works.
func TestMessagingNPMClient(t *testing.T) {
	t.Parallel()
	npmInstall(t)
	s := startServer(t, "--api-keys=npm-key")
	key := []string{"X-API-Key", "npm-key"}
	must := func(name string, payload any) json.RawMessage {
		t.Helper()
		status, r := s.command(name, payload, key...)
		if status != http.StatusOK || r.Status != "success" {
			t.Fatalf("%s %v: %d %+v", name, payload, status, r.Error)
		}
		return r.Payload
	}
	for i := range 2 { // history the client replays
		must("stream.publish", map[string]any{"room": "npm-room", "event_type": "before", "data": map[string]int{"i": i}})
	}
	must("queue.create", map[string]any{"queue": "npm-q"})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "client.mjs", s.wsURL(), "npm-room", "npm.*", "npm-q", "npm-key")
	cmd.Dir = npmDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	type line struct {
		Ready  []wsFrame `json:"ready"`
		Push   *wsFrame  `json:"push"`
		Acked  string    `json:"acked"`
		Reply  *wsFrame  `json:"reply"`
		Closed int       `json:"closed"`
		Error  string    `json:"error"`
		raw    string
	}
	lines := make(chan line, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l.Error = fmt.Sprintf("not JSON: %s", sc.Bytes())
			}
			l.raw = sc.Text()
			lines <- l
		}
	}()
	var seen []string
	nextLine := func(what string) line {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("waiting for %s: the client exited: %v\nstdout: %q\nstderr: %s", what, cmd.Wait(), seen, stderr.Bytes())
			}
			if l.Error != "" {
				t.Fatalf("waiting for %s: the client says %s\nstderr: %s", what, l.Error, stderr.Bytes())
			}
			seen = append(seen, l.raw)
			return l
		case <-time.After(msgPatience):
			t.Fatalf("waiting for %s: nothing from the client within %s\nstdout: %q\nstderr: %s", what, msgPatience, seen, stderr.Bytes())
		}
		return line{}
	}

	// The three replies (one line), and the replay, which comes after the
	// room's reply and so may come before the line of the three.
	var replayed []*wsFrame
	var ready *line
	for range 3 {
		l := nextLine("the subscriptions and the replay")
		switch {
		case l.Push != nil:
			replayed = append(replayed, l.Push)
		case l.Ready != nil && ready == nil:
			ready = &l
		default:
			t.Fatalf("unexpected: %s", l.raw)
		}
	}
	if ready == nil || len(ready.Ready) != 3 || len(replayed) != 2 {
		t.Fatalf("no line with the three replies: %q", seen)
	}
	for _, r := range ready.Ready {
		if r.Status != "success" || r.RequestID == "" {
			t.Fatalf("a subscription failed: %s", ready.raw)
		}
	}
	for i, e := range replayed {
		if e.Type != "event" || e.Room != "npm-room" || e.Offset != int64(i) || e.EventType != "before" ||
			string(e.Data) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("replayed event %d: %+v (data %s)", i, e, e.Data)
		}
	}

	// Live: an event, two messages (one the pattern does not match), a
	// queue message, then a message that marks the end.
	must("stream.publish", map[string]any{"room": "npm-room", "event_type": "live", "data": "now"})
	l := nextLine("the live event")
	if l.Push == nil || l.Push.Type != "event" || l.Push.Offset != 2 || l.Push.EventType != "live" || string(l.Push.Data) != `"now"` {
		t.Fatalf("live event: %s", l.raw)
	}
	must("pubsub.publish", map[string]any{"topic": "npm.a.b", "message": "not matched"})
	must("pubsub.publish", map[string]any{"topic": "npm.a", "message": map[string]string{"hello": "node"}, "metadata": map[string]string{"from": "go"}})
	l = nextLine("the pub/sub message")
	if l.Push == nil || l.Push.Type != "message" || l.Push.Topic != "npm.a" ||
		string(l.Push.Message) != `{"hello":"node"}` || string(l.Push.Metadata) != `{"from":"go"}` {
		t.Fatalf("pub/sub message: %s", l.raw)
	}
	var pub struct {
		MessageID string `json:"message_id"`
	}
	json.Unmarshal(must("queue.publish", map[string]any{"queue": "npm-q", "message": map[string]string{"job": "js"}, "priority": 8}), &pub)
	l = nextLine("the queue message")
	if l.Push == nil || l.Push.Type != "queue_message" || l.Push.Queue != "npm-q" || l.Push.MessageID != pub.MessageID ||
		string(l.Push.Message) != `{"job":"js"}` || l.Push.Priority != 8 || l.Push.RetryCount != 0 {
		t.Fatalf("queue message: %s", l.raw)
	}
	l = nextLine("the ack's reply")
	if l.Acked != pub.MessageID || l.Reply == nil || l.Reply.Status != "success" {
		t.Fatalf("ack: %s", l.raw)
	}
	must("pubsub.publish", map[string]any{"topic": "npm.end", "message": "end"})
	l = nextLine("the last message")
	if l.Push == nil || l.Push.Topic != "npm.end" {
		t.Fatalf("after npm.a.b, npm.a and the queue message, got %s, want the npm.end message", l.raw)
	}
	var st qstats
	json.Unmarshal(must("queue.stats", map[string]any{"queue": "npm-q"}), &st)
	if st.AckedTotal != 1 || st.InFlight != 0 || st.Depth != 0 {
		t.Fatalf("queue.stats after the client's ack: %+v", st)
	}

	// The client closes normally when its stdin ends.
	stdin.Close()
	l = nextLine("the close")
	if l.Closed != 1000 {
		t.Fatalf("close: %s", l.raw)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node client: %v\nstderr: %s", err, stderr.Bytes())
	}
	if _, more := <-lines; more {
		t.Fatalf("the client printed more: %q", seen)
	}
}
