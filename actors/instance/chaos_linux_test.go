package instance

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-run/troupe/actors/instance/process"
	"github.com/troupe-run/troupe/messages"
)

// TestACrashLosingTheEndOfTheProcess: the instance's actor is armed to fail
// on its next message and the process is killed from outside at once, so
// the message lost to the failure is most often the news of the process's
// end. The restarted actor must still see the end: the instance ends, its
// record goes, nothing waits for news that will not come.
func TestACrashLosingTheEndOfTheProcess(t *testing.T) {
	t.Parallel()
	h := startHub(t, t.TempDir(), "--chaos")
	seq := h.add(t, neverEnds)
	for range 3 {
		id, err := h.svc.Start(context.Background(), StartOptions{Sequence: seq.Id})
		if err != nil {
			t.Fatal(err)
		}
		pid := int(h.until(t, id, "ran", func(i *messages.InstanceInfo) bool { return i.Status == StatusRunning }).Pid)
		if _, err := h.sys.InjectFault(actorName(id), "panic"); err != nil {
			t.Fatal(err)
		}
		syscall.Kill(-pid, syscall.SIGKILL)
		// Ask nothing before the process is reaped, which the hub's
		// waiter does just before it sends the news.
		for deadline := time.Now().Add(guard); ; time.Sleep(time.Millisecond) {
			if _, _, found := statOf(pid); !found {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("process %d never reaped", pid)
			}
		}
		i := h.until(t, id, "ended", func(i *messages.InstanceInfo) bool { return i.Terminated })
		if i.ExitCode != process.ExitKilled {
			t.Errorf("instance %s ended with %d, want %d: %+v", id, i.ExitCode, process.ExitKilled, i)
		}
		waitGroupGone(t, pid)
	}
	if got := h.records(t); len(got) != 0 {
		t.Errorf("records of ended instances: %v", got)
	}
	if list := h.svc.List(); len(list) != 3 {
		t.Errorf("instances: %d, want 3", len(list))
	}
}
