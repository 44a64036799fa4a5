package instance

import (
	"fmt"

	"github.com/troupe-run/troupe/actors/instance/process"
)

// Instance statuses once the process has ended.
const (
	StatusCompleted = "completed"
	StatusErrored   = "errored"
)

// outcome is how an ended instance reports itself: its final status and
// the reason shown in terminated.reason.
type outcome struct {
	Status string
	Reason string
}

// outcomeOf reads an exit code; main is the package's main, named in the
// reason of process.ExitBadMain. Killed and stopped instances completed: they did
// what they were told.
func outcomeOf(code int, main string) outcome {
	switch code {
	case process.ExitCompleted:
		return outcome{StatusCompleted, "Instance completed"}
	case process.ExitKilled:
		return outcome{StatusCompleted, "Instance killed"}
	case process.ExitStopped:
		return outcome{StatusCompleted, "Instance stopped"}
	case process.ExitBadEnvironment:
		return outcome{StatusErrored, "Runner started with a bad environment"}
	case process.ExitBadMain:
		return outcome{StatusErrored, fmt.Sprintf("Sequence entrypoint path %s is invalid. Check `main` field in Sequence package.json", main)}
	case process.ExitFailedOnStart:
		return outcome{StatusErrored, "Sequence failed on start"}
	case process.ExitFailedRunning:
		return outcome{StatusErrored, "Sequence failed while running"}
	}
	return outcome{StatusErrored, fmt.Sprintf("Runner failed with exit code %d", code)}
}
