package process

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-run/troupe/actors/sequence"
)

// guard bounds every wait of these tests, so that a broken runner fails a
// test instead of hanging it. It is not a timing assertion: nothing here
// needs more than a fraction of it.
const guard = 40 * time.Second

// run is a started sequence with everything it writes collected.
type run struct {
	t                            *testing.T
	p                            *Process
	output, stdout, stderr, logs *capture
	msgs                         *inbox
}

// started writes files as a package and starts it. main is the package's
// main; spec may set Args, AppConfig and the like.
func started(t *testing.T, engine sequence.Engine, main string, files map[string]string, spec Spec) *run {
	t.Helper()
	return startedIn(context.Background(), t, engine, main, files, spec)
}

// startedIn is started with the process's life bound to ctx.
func startedIn(ctx context.Context, t *testing.T, engine sequence.Engine, main string, files map[string]string, spec Spec) *run {
	t.Helper()
	return startedBy(ctx, t, Start, engine, main, files, spec)
}

// startedBy is startedIn with start in place of Start (a Warm's).
func startedBy(ctx context.Context, t *testing.T, start func(context.Context, Spec) (*Process, error),
	engine sequence.Engine, main string, files map[string]string, spec Spec) *run {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec.Dir = dir
	spec.Package = &sequence.Package{Name: t.Name(), Main: main, Entry: main, Engine: engine}
	spec.RunnerDir = filepath.Join(t.TempDir(), "runners")
	if spec.ID == "" {
		spec.ID = "test-instance"
	}
	p, err := start(ctx, spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	r := &run{t: t, p: p,
		output: collect(p.Output()), stdout: collect(p.Stdout()),
		stderr: collect(p.Stderr()), logs: collect(p.Log()),
		msgs: receive(p.Messages()),
	}
	t.Cleanup(func() {
		p.Kill()
		p.Wait()
		for _, c := range []*capture{r.output, r.stdout, r.stderr, r.logs} {
			<-c.done
		}
	})
	return r
}

func node(t *testing.T, index string, spec Spec) *run {
	t.Helper()
	return started(t, sequence.Node, "index.js", map[string]string{"index.js": index}, spec)
}

func python(t *testing.T, main string, spec Spec) *run {
	t.Helper()
	return started(t, sequence.Python, "main.py", map[string]string{"main.py": main}, spec)
}

// exit waits for the process and returns its exit code.
func (r *run) exit() int {
	r.t.Helper()
	select {
	case <-r.p.Done():
	case <-time.After(guard):
		r.t.Fatalf("process still running; log:\n%s", r.logs.String())
	}
	code, err := r.p.Wait()
	if err != nil {
		r.t.Fatalf("Wait: %v", err)
	}
	return code
}

// expectExit checks the exit code, showing what the runner said if wrong.
func (r *run) expectExit(want int) {
	r.t.Helper()
	if got := r.exit(); got != want {
		r.t.Fatalf("exit code %d, want %d\nstderr: %s\nlog:\n%s", got, want, r.stderr.wait(r.t), r.logs.wait(r.t))
	}
}

func (r *run) input(contentType, data string) {
	r.t.Helper()
	if err := r.p.SetInputContentType(contentType); err != nil {
		r.t.Fatal(err)
	}
	if _, err := io.WriteString(r.p.Input(), data); err != nil {
		r.t.Fatal(err)
	}
	if err := r.p.Input().Close(); err != nil {
		r.t.Fatal(err)
	}
}

func (r *run) send(code Code, data any) {
	r.t.Helper()
	if err := r.p.Send(code, data); err != nil {
		r.t.Fatalf("Send(%d): %v", code, err)
	}
}

func event(name, message string) Event {
	return Event{EventName: name, Message: json.RawMessage(message)}
}

// capture reads one pipe to its end.
type capture struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on each write
	done    chan struct{}
}

func collect(rc io.ReadCloser) *capture {
	c := &capture{changed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer rc.Close()
		io.Copy(c, rc)
	}()
	return c
}

func (c *capture) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(b)
	close(c.changed)
	c.changed = make(chan struct{})
	return len(b), nil
}

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// wait returns everything once the pipe has ended.
func (c *capture) wait(t *testing.T) string {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(guard):
		t.Fatalf("pipe did not end; so far: %q", c.String())
	}
	return c.String()
}

// waitFor returns once the pipe has carried s.
func (c *capture) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(guard)
	for {
		c.mu.Lock()
		found, changed := strings.Contains(c.buf.String(), s), c.changed
		c.mu.Unlock()
		if found {
			return
		}
		select {
		case <-changed:
		case <-c.done:
			if !strings.Contains(c.String(), s) {
				t.Fatalf("pipe ended without %q: %q", s, c.String())
			}
			return
		case <-deadline:
			t.Fatalf("no %q in %q", s, c.String())
		}
	}
}

// inbox keeps every message the runner sent.
type inbox struct {
	mu      sync.Mutex
	all     []Message
	changed chan struct{}
	closed  bool
}

func receive(ch <-chan Message) *inbox {
	in := &inbox{changed: make(chan struct{})}
	go func() {
		for m := range ch {
			in.mu.Lock()
			in.all = append(in.all, m)
			close(in.changed)
			in.changed = make(chan struct{})
			in.mu.Unlock()
		}
		in.mu.Lock()
		in.closed = true
		close(in.changed)
		in.mu.Unlock()
	}()
	return in
}

// await returns the first message with code that match accepts (nil
// accepts any).
func (in *inbox) await(t *testing.T, code Code, match func(Message) bool) Message {
	t.Helper()
	deadline := time.After(guard)
	for {
		in.mu.Lock()
		for _, m := range in.all {
			if m.Code == code && (match == nil || match(m)) {
				in.mu.Unlock()
				return m
			}
		}
		closed, changed := in.closed, in.changed
		in.mu.Unlock()
		if closed {
			t.Fatalf("messages ended without a %d; got %v", code, in.codes())
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no message %d; got %v", code, in.codes())
		}
	}
}

func (in *inbox) codes() []Code {
	in.mu.Lock()
	defer in.mu.Unlock()
	var codes []Code
	for _, m := range in.all {
		codes = append(codes, m.Code)
	}
	return codes
}

func (in *inbox) has(code Code) bool {
	for _, c := range in.codes() {
		if c == code {
			return true
		}
	}
	return false
}

// named matches EVENT messages by event name.
func named(name string) func(Message) bool {
	return func(m Message) bool {
		var e Event
		return m.Decode(&e) == nil && e.EventName == name
	}
}
