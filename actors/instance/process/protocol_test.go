package process

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestMessageJSON(t *testing.T) {
	line, err := encode(CodeStop, stopRequest{Timeout: 7000, CanCallKeepalive: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(line), "[4001,{\"timeout\":7000,\"canCallKeepalive\":true}]\n"; got != want {
		t.Errorf("encode = %q, want %q", got, want)
	}
	var m Message
	if err := json.Unmarshal(line, &m); err != nil || m.Code != CodeStop {
		t.Fatalf("Unmarshal = %+v, %v", m, err)
	}
	var stop stopRequest
	if err := m.Decode(&stop); err != nil || stop.Timeout != 7000 || !stop.CanCallKeepalive {
		t.Errorf("Decode = %+v, %v", stop, err)
	}
	if b, err := json.Marshal(Message{Code: CodeKill}); err != nil || string(b) != "[4002,{}]" {
		t.Errorf("Marshal = %s, %v", b, err)
	}
	if string(monitoringReply) != string(mustEncode(t, CodeMonitoringReply, nil)) {
		t.Errorf("monitoringReply = %q", monitoringReply)
	}
	if err := json.Unmarshal([]byte(`[3010]`), &m); err != nil || m.Code != CodeAlive || m.Data != nil {
		t.Errorf("a message without data = %+v, %v", m, err)
	}
	if err := m.Decode(&KeepAlive{}); err == nil {
		t.Errorf("Decode of a message without data succeeded")
	}
	for _, bad := range []string{`{}`, `[]`, `["3000", {}]`, `[3000, {}, 1]`} {
		if err := json.Unmarshal([]byte(bad), &m); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
}

func mustEncode(t *testing.T, code Code, data any) []byte {
	t.Helper()
	b, err := encode(code, data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadLineSkipsLongLines(t *testing.T) {
	long := strings.Repeat("x", 100)
	r := bufio.NewReaderSize(strings.NewReader("a\r\n"+long+"\nb\nlast"), 16)
	var got []string
	for {
		line, err := readLine(r, 50)
		if errors.Is(err, errLineTooLong) {
			got = append(got, "<too long>")
			continue
		}
		got = append(got, string(line))
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"a", "<too long>", "b", "last"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", got, want)
	}
}

func TestPongLine(t *testing.T) {
	line, err := pongLine(nil, nil)
	if err != nil || string(line) != "[4000,{\"appConfig\":{},\"args\":[]}]\n" {
		t.Errorf("pongLine(nil, nil) = %q, %v", line, err)
	}
	if _, err := pongLine(json.RawMessage(`{"a":1}`), nil); err == nil {
		t.Errorf("args that are not an array were accepted")
	}
	if _, err := pongLine(nil, json.RawMessage(`[1]`)); err == nil {
		t.Errorf("an appConfig that is not an object was accepted")
	}
}

func TestInstallRunner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runners")
	var wg sync.WaitGroup
	paths := make([]string, 8)
	errs := make([]error, 8)
	for i := range paths {
		wg.Go(func() { paths[i], errs[i] = installRunner(dir, "runner.js", nodeRunner) })
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Fatalf("install %d = %q, %v; want %q", i, paths[i], errs[i], paths[0])
		}
	}
	got, err := os.ReadFile(paths[0])
	if err != nil || string(got) != string(nodeRunner) {
		t.Fatalf("installed runner differs: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("runner folder holds %d files, want 1 (no temporary leftovers)", len(entries))
	}
	other, err := installRunner(dir, "runner.js", []byte("// another version\n"))
	if err != nil || other == paths[0] {
		t.Errorf("another runner version got %q, %v; want a file of its own", other, err)
	}
}

// A runner started without the hub's pipes exits with ExitBadEnvironment.
func TestRunnersNeedTheirPipes(t *testing.T) {
	dir := t.TempDir()
	for _, r := range []struct {
		interp, name string
		script       []byte
	}{{"node", "runner.js", nodeRunner}, {"python3", "runner.py", pythonRunner}} {
		path, err := installRunner(dir, r.name, r.script)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(r.interp, path, filepath.Join(dir, "main"))
		err = cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != ExitBadEnvironment {
			t.Errorf("%s without pipes: %v, want exit code %d", r.name, err, ExitBadEnvironment)
		}
	}
}
