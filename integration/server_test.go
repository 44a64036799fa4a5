// Package integration drives the built troupe binary over real connections:
// each test starts a server on free ports with its own data dir.
package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-run/troupe/system/systemtest"
)

// binary is the troupe executable built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "troupe-integration")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "troupe")
	build := exec.Command("go", "build", "-race", "-o", binary, "../cmd/troupe")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building troupe:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running troupe process.
type server struct {
	t       *testing.T
	cmd     *exec.Cmd
	dataDir string
	args    []string
	data    string // base URL of the data door
	views   string // base URL of the views door
	hub     string // base URL of the hub door, with /api/v1
	resp    string // host:port of the Redis-protocol door
	log     *syncBuffer
	exited  chan error
}

// startServer runs troupe with a fresh data dir (unless args set one) on
// free ports and waits until the data door answers /health.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	s := &server{t: t, dataDir: t.TempDir(), args: args}
	s.start()
	t.Cleanup(func() { s.kill() })
	return s
}

func (s *server) start() {
	t := s.t
	t.Helper()
	// The doors listen on port 0 and the server logs the address each got,
	// so no test races another process for a port (the server binds before
	// it starts, so what it tells sequences and a scheduler of its own
	// address is the bound one).
	args := append([]string{
		"--data-dir=" + s.dataDir,
		"--data-addr=127.0.0.1:0",
		"--ssp-addr=127.0.0.1:0",
		"--hub-addr=127.0.0.1:0",
		"--resp-addr=127.0.0.1:0",
		"--synap-rpc-addr=127.0.0.1:0",
		"--admin-addr=127.0.0.1:0",
		"--skip-control-addr=off", "--skip-streaming-addr=off",
		"--log-format=json", "--log-level=debug",
	}, s.args...)
	// A restart keeps the addresses of the run before, so that clients
	// (and reconnecting WebSockets) find the server where it was.
	var before map[string]string
	if s.log != nil {
		before = s.doorAddrs()
	}
	for door, addr := range before {
		switch {
		case strings.HasSuffix(door, "-control"):
			args = append(args, "--skip-control-addr="+addr)
		case strings.HasSuffix(door, "-streaming"):
			args = append(args, "--skip-streaming-addr="+addr)
		default:
			args = append(args, "--"+door+"-addr="+addr)
		}
	}
	s.log = &syncBuffer{}
	s.cmd = exec.Command(binary, args...)
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	s.cmd.Env = append(os.Environ(), "GORACE=halt_on_error=1")
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.exited = make(chan error, 1)
	go func() { s.exited <- s.cmd.Wait() }()
	var doors []string // the doors this start opens
	for _, door := range []string{"data", "ssp", "hub", "resp"} {
		if lastFlag(args, door+"-addr") != "off" {
			doors = append(doors, door)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		addrs := s.doorAddrs()
		// Each door this start opens has logged its address (counting
		// them would also count doors not in the list, such as admin).
		opened := addrs["data"] != ""
		for _, door := range doors {
			opened = opened && addrs[door] != ""
		}
		if opened {
			s.data = "http://" + addrs["data"]
			s.views = "http://" + addrs["ssp"]
			s.hub = "http://" + addrs["hub"] + "/api/v1"
			s.resp = addrs["resp"]
			resp, err := http.Get(s.data + "/health")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
		}
		select {
		case err := <-s.exited:
			t.Fatalf("troupe exited during start-up: %v\n%s", err, s.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("troupe did not become healthy within 60s:\n%s", s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// doorAddrs reads from the log the address each door listens on.
func (s *server) doorAddrs() map[string]string {
	addrs := map[string]string{}
	for _, line := range strings.Split(s.log.String(), "\n") {
		var entry struct{ Msg, Door, Addr string }
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "front door listening" {
			addrs[entry.Door] = entry.Addr
		}
	}
	return addrs
}

// doorAddr waits until the door whose name ends with suffix has logged its
// address (the reactive doors are named after their service).
func (s *server) doorAddr(suffix string) string {
	s.t.Helper()
	var addr string
	systemtest.Eventually(s.t, "the "+suffix+" door's address in the log", func() bool {
		for door, a := range s.doorAddrs() {
			if strings.HasSuffix(door, suffix) {
				addr = a
			}
		}
		return addr != ""
	})
	return addr
}

// lastFlag returns the value of the last --name=value in args (the one the
// server takes).
func lastFlag(args []string, name string) string {
	v := ""
	for _, a := range args {
		if after, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			v = after
		}
	}
	return v
}

// syncBuffer is the server's output: written by the process's copying
// goroutine while tests read it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// kill9 kills the process without warning.
func (s *server) kill9() {
	s.t.Helper()
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.exited <- nil // later kill() calls return at once
}

// stop sends SIGTERM and returns the exit error (nil for exit status 0).
func (s *server) stop() error {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		s.exited <- err
		return err
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		s.t.Fatalf("troupe did not stop within 60s of SIGTERM:\n%s", s.log)
		return nil
	}
}

func (s *server) kill() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		<-s.exited
	}
	if s.t.Failed() {
		s.t.Logf("server log:\n%s", tail(s.log.String(), 8000))
	}
	if strings.Contains(s.log.String(), "WARNING: DATA RACE") {
		s.t.Errorf("the server reported a data race:\n%s", s.log)
	}
}

// restart starts the server again on the same data dir.
func (s *server) restart() {
	s.t.Helper()
	s.start()
}

// freePort returns a loopback port for a peer that cannot listen on port 0
// and report (redis-server, the real Skip server): free a moment ago and
// never returned before in this test process, since the kernel may hand a
// port it just released to the next bind of port 0.
func freePort(t *testing.T) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		ln.Close()
		if !portsHanded[port] {
			portsHanded[port] = true
			return port
		}
	}
	t.Fatal("no loopback port left that this test process has not used")
	return ""
}

var (
	portsMu     sync.Mutex
	portsHanded = map[string]bool{}
)

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// reply is the data door's response envelope.
type reply struct {
	Type      string          `json:"type"`
	RequestID string          `json:"request_id"`
	Status    string          `json:"status"`
	Payload   json.RawMessage `json:"payload"`
	Error     *struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`
}

// command posts one command and decodes the envelope.
func (s *server) command(name string, payload any, headers ...string) (int, reply) {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"command": name, "payload": payload})
	status, raw := s.do("POST", "/api/v1/command", body, headers...)
	var r reply
	if err := json.Unmarshal(raw, &r); err != nil {
		s.t.Fatalf("%s: reply is not JSON (%d): %s", name, status, raw)
	}
	return status, r
}

// ok runs a command that must succeed and decodes its payload into out.
func (s *server) ok(name string, payload any, out any) {
	s.t.Helper()
	status, r := s.command(name, payload)
	if status != http.StatusOK || r.Status != "success" {
		s.t.Fatalf("%s %v: status %d %+v %v", name, payload, status, r, r.Error)
	}
	if out != nil {
		if err := json.Unmarshal(r.Payload, out); err != nil {
			s.t.Fatalf("%s: payload %s: %v", name, r.Payload, err)
		}
	}
}

// do sends a raw request to the data door.
func (s *server) do(method, path string, body []byte, headers ...string) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.data+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}
