package instance

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-run/troupe/actors/instance/process"
	"github.com/troupe-run/troupe/actors/sequence"
	"github.com/troupe-run/troupe/actors/topic"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/systemtest"
)

// hubRun is one run of the instances service on a data dir, as the hub
// starts it.
type hubRun struct {
	sys  *system.System
	seqs *sequence.Service
	svc  *Service
}

func startHub(t *testing.T, dir string, args ...string) *hubRun {
	t.Helper()
	sys := systemtest.Boot(t, append([]string{"--data-dir=" + dir}, args...)...)
	seqs, err := sequence.Start(sys, sequence.Options{Dir: filepath.Join(dir, "sequences")})
	if err != nil {
		t.Fatal(err)
	}
	topics, err := topic.Start(sys, topic.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := StartService(sys, seqs, topics, Options{RunnerDir: filepath.Join(dir, "runners"), KillGrace: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &hubRun{sys: sys, seqs: seqs, svc: svc}
}

// plant writes the run record of an instance as its actor does, for a
// process this test started.
func (h *hubRun) plant(t *testing.T, r runRecord) {
	t.Helper()
	value, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	b := h.sys.Store.NewBatch()
	b.Set(runKey(r.ID), value)
	done := make(chan error, 1)
	h.sys.Store.Commit(b, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// add stores a Node sequence whose index.js is src.
func (h *hubRun) add(t *testing.T, src string) *messages.SequenceRecord {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range map[string]string{
		"package.json": `{"name":"orphan-test","version":"1.0.0","main":"index.js"}`,
		"index.js":     src,
	} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		io.WriteString(tw, body)
	}
	tw.Close()
	zw.Close()
	rec, err := h.seqs.Add(context.Background(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// records lists the ids recorded as running, once every write is in.
func (h *hubRun) records(t *testing.T) []string {
	t.Helper()
	if err := h.sys.Store.Barrier(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	h.sys.Store.Scan([]byte(runPrefix), func(key, _ []byte) error {
		ids = append(ids, string(key[len(runPrefix):]))
		return nil
	})
	return ids
}

func (h *hubRun) until(t *testing.T, id, what string, ok func(*messages.InstanceInfo) bool) *messages.InstanceInfo {
	t.Helper()
	for deadline := time.Now().Add(guard); ; time.Sleep(10 * time.Millisecond) {
		// A request that meets an injected failure gets an error: ask again.
		i, err := h.svc.Do(context.Background(), id, &messages.InstanceInfoRequest{})
		if err == nil && ok(i) {
			return i
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s never %s: %+v %v", id, what, i, err)
		}
	}
}

const neverEnds = `module.exports = function () { return new Promise(() => {}); };`

const spins = `module.exports = function () { setTimeout(() => { for (;;) {} }, 0); return new Promise(() => {}); };`

func TestRunningInstancesAreRecordedUntilTheirEnd(t *testing.T) {
	t.Parallel()
	h := startHub(t, t.TempDir())
	seq := h.add(t, neverEnds)
	id, err := h.svc.Start(context.Background(), StartOptions{Sequence: seq.Id})
	if err != nil {
		t.Fatal(err)
	}
	info := h.until(t, id, "ran", func(i *messages.InstanceInfo) bool { return i.Status == StatusRunning })
	if got := h.records(t); len(got) != 1 || got[0] != id {
		t.Fatalf("records of running instances %v, want [%s]", got, id)
	}
	if !ownedBy(int(info.Pid), id) {
		t.Errorf("the runner %d does not carry the marker of %s", info.Pid, id)
	}
	if _, err := h.svc.Do(context.Background(), id, &messages.InstanceKill{}); err != nil {
		t.Fatal(err)
	}
	h.until(t, id, "ended", func(i *messages.InstanceInfo) bool { return i.Terminated })
	if got := h.records(t); len(got) != 0 {
		t.Errorf("records after the instance ended: %v", got)
	}
}

func TestAStoppingHubKillsAndForgetsItsInstances(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := startHub(t, dir)
	id, err := h.svc.Start(context.Background(), StartOptions{Sequence: h.add(t, spins).Id})
	if err != nil {
		t.Fatal(err)
	}
	pid := int(h.until(t, id, "ran", func(i *messages.InstanceInfo) bool { return i.Status == StatusRunning }).Pid)
	h.sys.Close()
	waitGroupGone(t, pid)

	next := startHub(t, dir)
	if got := next.records(t); len(got) != 0 {
		t.Errorf("records after a clean stop: %v", got)
	}
	if list := next.svc.List(); len(list) != 0 {
		t.Errorf("instances after a clean stop: %+v", list)
	}
}

func TestOrphansOfALostHubAreKilledAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := startHub(t, dir)
	seq := first.add(t, spins)

	// The process of an instance whose hub died: it spins and never reads
	// the end of its control pipe. This test holds it, so that the hub
	// that dies can be closed without killing it.
	orphan := sequence.NewID()
	p, err := process.Start(context.Background(), process.Spec{ID: orphan, Dir: seq.Dir, Package: sequence.PackageOf(seq),
		RunnerDir: filepath.Join(dir, "runners")})
	if err != nil {
		t.Fatal(err)
	}
	drainProcess(t, p) // its code runs
	t.Cleanup(func() { p.Kill() })
	first.plant(t, runRecord{ID: orphan, Sequence: seq.Id, PID: p.PID(), CreatedMs: time.Now().UnixMilli(),
		Args: []byte(`["a"]`)})

	// A recorded group whose pid another program has since taken.
	stranger := exec.Command("sleep", "300")
	stranger.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stranger.Process.Kill(); stranger.Wait() })
	reused := sequence.NewID()
	first.plant(t, runRecord{ID: reused, Sequence: seq.Id, PID: stranger.Process.Pid})

	// A recorded instance whose process is gone, of a sequence deleted since.
	gone := sequence.NewID()
	first.plant(t, runRecord{ID: gone, Sequence: sequence.NewID(), PID: 1 << 30})
	first.sys.Close()

	next := startHub(t, dir)
	// Start-up waited for the kill to land (a zombie is dead).
	if members, err := groupMembers(map[int]bool{p.PID(): true}); err != nil || len(members[p.PID()]) != 0 {
		t.Fatalf("the orphan's group %d still holds %v (%v) after the hub started", p.PID(), members, err)
	}
	select {
	case <-p.Done():
	case <-time.After(guard):
		t.Fatalf("the orphan %d was never reaped", p.PID())
	}
	if code, _ := p.Wait(); code != process.ExitKilled {
		t.Errorf("orphan exit code %d, want %d", code, process.ExitKilled)
	}
	if err := stranger.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("a program that took a recorded pid was signalled: %v", err)
	}
	if got := next.records(t); len(got) != 0 {
		t.Errorf("records left after start-up: %v", got)
	}

	i, err := next.svc.Do(context.Background(), orphan, &messages.InstanceInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if i.Status != StatusErrored || !i.Terminated || i.ExitCode != process.ExitKilled || !strings.Contains(i.Reason, "killed") ||
		i.SequenceId != seq.Id || string(i.Args) != `["a"]` {
		t.Errorf("the orphan's instance after start-up: %+v", i)
	}
	if i, err := next.svc.Do(context.Background(), reused, &messages.InstanceInfoRequest{}); err != nil || i.Status != StatusErrored || !strings.Contains(i.Reason, "lost") {
		t.Errorf("the instance whose pid was reused: %+v %v", i, err)
	}
	var nf *Error
	if _, err := next.svc.Do(context.Background(), gone, &messages.InstanceInfoRequest{}); !errors.As(err, &nf) || nf.Code != messages.CodeNotFound {
		t.Errorf("an instance of a deleted sequence was restored: %v", err)
	}
	// Readable like any ended instance: its streams end, its events too.
	r, err := next.svc.Open(context.Background(), orphan, Output)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n, err := r.Read(context.Background(), make([]byte, 8)); n != 0 || err != io.EOF {
		t.Errorf("output of a restored instance: %d %v", n, err)
	}
	st, err := next.svc.Events(context.Background(), orphan, "any")
	if err != nil {
		t.Fatal(err)
	}
	if _, open := <-st.C; open {
		t.Errorf("an event came from a restored instance")
	}
	st.Close()
	view, err := next.seqs.Get(context.Background(), seq.Id)
	if err != nil || len(view.Instances) != 2 {
		t.Errorf("instances of the sequence after start-up: %+v %v", view, err)
	}
	if _, err := next.svc.Do(context.Background(), orphan, &messages.InstanceKill{}); err == nil {
		t.Errorf("a restored instance could be killed")
	}
}
