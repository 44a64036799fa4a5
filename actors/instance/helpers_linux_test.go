package instance

import (
	"io"
	"testing"
	"time"

	"github.com/troupe-run/troupe/actors/instance/process"
	"github.com/troupe-run/troupe/system/systemtest"
)

// guard bounds every wait of these tests, so that a broken hub fails a
// test instead of hanging it.
const guard = systemtest.Patience

// waitGroupGone waits until no live process is left in group pgid.
func waitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	systemtest.Eventually(t, "the process group to be gone", func() bool {
		members, err := groupMembers(map[int]bool{pgid: true})
		return err == nil && len(members[pgid]) == 0
	})
}

// drainProcess reads a process started by a test as the hub would: its
// streams to their ends and its messages until they close. It returns
// once the runner sent PANG (its code runs). The readers end with the
// process.
func drainProcess(t *testing.T, p *process.Process) {
	t.Helper()
	for _, rc := range []io.ReadCloser{p.Output(), p.Stdout(), p.Stderr(), p.Log()} {
		go func() {
			io.Copy(io.Discard, rc)
			rc.Close()
		}()
	}
	timeout := time.After(guard)
	for {
		select {
		case m, ok := <-p.Messages():
			if !ok {
				t.Fatal("the process ended before PANG")
			}
			if m.Code == process.CodePang {
				go func() {
					for range p.Messages() {
					}
				}()
				return
			}
		case <-timeout:
			t.Fatal("no PANG")
		}
	}
}
