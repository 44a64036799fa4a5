package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// skipWait bounds every wait of the reactive tests; reaching it is a
// failure, never a timing assertion.
const skipWait = 30 * time.Second

// skipDoors is one Skip service's control and streaming doors, on Troupe
// or on the real Skip server.
type skipDoors struct {
	t         *testing.T
	name      string // "troupe" or "skip", for messages
	control   string // base URL
	streaming string // base URL
}

// skipService returns the path of a test service in testdata/skip.
func skipService(t *testing.T, file string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "skip", file))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startSkipTroupe runs troupe with the service file on free ports (the data
// door too, for /admin/chaos) and waits until its control door answers.
func startSkipTroupe(t *testing.T, file string, args ...string) (*server, *skipDoors) {
	t.Helper()
	s := startServer(t, append([]string{"--skip-service=" + file,
		"--skip-control-addr=127.0.0.1:0", "--skip-streaming-addr=127.0.0.1:0"}, args...)...)
	d := &skipDoors{t: t, name: "troupe", control: "http://" + s.doorAddr("-control"), streaming: "http://" + s.doorAddr("-streaming")}
	d.waitHealthy(func() error {
		select {
		case err := <-s.exited:
			s.exited <- err
			return fmt.Errorf("troupe exited: %v\n%s", err, s.log)
		default:
			return nil
		}
	})
	return s, d
}

// skipDoorsOf returns the doors of a restarted server: same ports, as
// given by its args.
func (d *skipDoors) waitHealthy(exited func() error) {
	d.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(d.control + "/v1/healthcheck")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if err := exited(); err != nil {
			d.t.Fatal(err)
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s: the control door did not answer within 60s", d.name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// skipNpmDir is integration/skipnpm with its packages installed. npm ci runs
// once, when node_modules is missing.
func skipNpmDir(t testing.TB) string { return skipNpm.path(t) }

var skipNpm = &npmFolder{name: "skipnpm", marker: "node_modules/@skipruntime/wasm/package.json"}

// skipNodeDir returns a temporary folder whose node_modules is skipnpm's,
// where node finds the @skipruntime packages of a script copied in.
func skipNodeDir(t *testing.T) string {
	t.Helper()
	npm := skipNpmDir(t)
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(npm, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	// The services are ES modules.
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"type":"module"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startSkipReal runs the real Skip server (node, wasm backend) with the
// service file on free ports and waits until its control door answers.
func startSkipReal(t *testing.T, file string) *skipDoors {
	t.Helper()
	dir := skipNodeDir(t)
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, filepath.Base(file))
	if err := os.WriteFile(script, src, 0o644); err != nil {
		t.Fatal(err)
	}
	control, streaming := freePort(t), freePort(t)
	var log bytes.Buffer
	cmd := exec.Command("node", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SKIP_CONTROL_PORT="+control, "SKIP_STREAMING_PORT="+streaming)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("the real Skip server's log:\n%s", tail(log.String(), 4000))
		}
	})
	d := &skipDoors{t: t, name: "skip", control: "http://127.0.0.1:" + control, streaming: "http://127.0.0.1:" + streaming}
	d.waitHealthy(func() error {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("the real Skip server exited: %v\n%s", err, log.String())
		default:
			return nil
		}
	})
	return d
}

// do sends a request to the control door; body is sent as JSON unless it
// is nil.
func (d *skipDoors) do(method, path string, body string, headers ...string) (int, string) {
	d.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, d.control+path, rd)
	if err != nil {
		d.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("%s: %s %s: %v", d.name, method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// patch writes entries and fails the test unless it is answered 200 OK.
func (d *skipDoors) patch(collection, entries string) {
	d.t.Helper()
	if st, body := d.do("PATCH", "/v1/inputs/"+collection, entries); st != 200 || body != "OK" {
		d.t.Fatalf("%s: PATCH %s %s: %d %s", d.name, collection, entries, st, body)
	}
}

// snapshot reads a resource and fails the test unless it answers 200.
func (d *skipDoors) snapshot(resource, params string) string {
	d.t.Helper()
	st, body := d.do("POST", "/v1/snapshot/"+resource, params)
	if st != 200 {
		d.t.Fatalf("%s: snapshot %s %s: %d %s", d.name, resource, params, st, body)
	}
	return body
}

// lookup reads one key of a resource.
func (d *skipDoors) lookup(resource, params, key string) string {
	d.t.Helper()
	st, body := d.do("POST", "/v1/snapshot/"+resource+"/lookup", `{"key":`+key+`,"params":`+params+`}`)
	if st != 200 {
		d.t.Fatalf("%s: lookup %s %s %s: %d %s", d.name, resource, params, key, st, body)
	}
	return body
}

// createStream returns a new stream's uuid.
func (d *skipDoors) createStream(resource, params string) string {
	d.t.Helper()
	st, body := d.do("POST", "/v1/streams/"+resource, params)
	if st != 201 {
		d.t.Fatalf("%s: stream of %s %s: %d %s", d.name, resource, params, st, body)
	}
	return body
}

// sseEvent is one event of a stream.
type sseEvent struct {
	Event, ID, Data string
}

// sseStream reads a stream's events on its own goroutine.
type sseStream struct {
	t      *testing.T
	status int
	header http.Header
	events chan sseEvent
	done   chan struct{} // closed when the stream ends
	cancel func()
}

// subscribe GETs the stream of uuid with the Accept header given (none
// when empty).
func (d *skipDoors) subscribe(uuid, accept string) *sseStream {
	d.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", d.streaming+"/v1/streams/"+uuid, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		d.t.Fatalf("%s: GET stream %s: %v", d.name, uuid, err)
	}
	s := &sseStream{t: d.t, status: resp.StatusCode, header: resp.Header, events: make(chan sseEvent, 100000),
		done: make(chan struct{}), cancel: cancel}
	d.t.Cleanup(s.close)
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			io.Copy(io.Discard, resp.Body)
			return
		}
		rd := bufio.NewReader(resp.Body)
		var ev sseEvent
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if ev.Event != "" || ev.Data != "" {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event:"):
				ev.Event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "id:"):
				ev.ID = strings.TrimSpace(strings.TrimPrefix(line, "id:"))
			case strings.HasPrefix(line, "data:"):
				ev.Data = strings.TrimSpace(strings.TrimPrefix(line, "data:"))
			}
		}
	}()
	return s
}

func (s *sseStream) close() { s.cancel(); <-s.done }

// next returns the next event that is not a heartbeat, failing the test
// past skipWait.
func (s *sseStream) next() sseEvent {
	s.t.Helper()
	timer := time.NewTimer(skipWait)
	defer timer.Stop()
	for {
		select {
		case ev := <-s.events:
			if ev.ID == "" && ev.Data == "[]" {
				continue // heartbeat
			}
			return ev
		case <-s.done:
			select {
			case ev := <-s.events:
				return ev
			default:
			}
			s.t.Fatal("the stream ended")
		case <-timer.C:
			s.t.Fatal("no event within the wait")
		}
	}
}

// ended waits for the stream to end, failing past skipWait.
func (s *sseStream) ended() {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(skipWait):
		s.t.Fatal("the stream did not end")
	}
}

// skipEntries is a collection as [[key, [values...]], ...], decoded.
type skipEntries []struct {
	Key    any
	Values []any
}

func (e *skipEntries) UnmarshalJSON(b []byte) error {
	var raw [][2]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*e = make(skipEntries, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r[0], &(*e)[i].Key); err != nil {
			return err
		}
		if err := json.Unmarshal(r[1], &(*e)[i].Values); err != nil {
			return err
		}
	}
	return nil
}

// canon is the canonical text of a JSON value (object keys sorted), which
// makes equal values equal strings; booleans are taken as Skip's 1 and 0
// when skipBools is set, the real server's known departure.
func canon(v any, skipBools bool) string {
	switch x := v.(type) {
	case bool:
		if skipBools {
			if x {
				return "1"
			}
			return "0"
		}
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = canon(e, skipBools)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			kb, _ := json.Marshal(k)
			parts[i] = string(kb) + ":" + canon(x[k], skipBools)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// folded is a collection as key -> sorted canonical values (a multiset),
// keys with no values left out.
type folded map[string][]string

func (f folded) apply(body string, skipBools bool) error {
	var es skipEntries
	if err := json.Unmarshal([]byte(body), &es); err != nil {
		return fmt.Errorf("%w: %s", err, body)
	}
	for _, e := range es {
		k := canon(e.Key, skipBools)
		if len(e.Values) == 0 {
			delete(f, k)
			continue
		}
		vs := make([]string, len(e.Values))
		for i, v := range e.Values {
			vs[i] = canon(v, skipBools)
		}
		sort.Strings(vs)
		f[k] = vs
	}
	return nil
}

func (f folded) String() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%v ", k, f[k])
	}
	return b.String()
}

// foldSnapshot folds a snapshot's body.
func foldSnapshot(t *testing.T, body string, skipBools bool) folded {
	t.Helper()
	f := folded{}
	if err := f.apply(body, skipBools); err != nil {
		t.Fatal(err)
	}
	return f
}

// get GETs a full URL.
func (d *skipDoors) get(url string) (int, string) {
	d.t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		d.t.Fatalf("%s: GET %s: %v", d.name, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
