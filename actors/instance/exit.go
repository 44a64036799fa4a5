package instance

import "fmt"

// Exit codes of a runner, as the original hub gives them. The runners exit
// with these; 137 and 138 also follow from SIGKILL and the stop protocol.
const (
	ExitCompleted      = 0
	ExitBadEnvironment = 20  // the runner was started without its pipes or entry
	ExitBadMain        = 21  // main names no file
	ExitFailedOnStart  = 22  // loading the code failed, or it exports no function
	ExitFailedRunning  = 23  // the sequence threw or its output failed
	ExitKilled         = 137 // 128 + SIGKILL
	ExitStopped        = 138
)

// Instance statuses once the process has ended.
const (
	StatusCompleted = "completed"
	StatusErrored   = "errored"
)

// Outcome is how an ended instance reports itself: its final status and
// the reason shown in terminated.reason.
type Outcome struct {
	Status string
	Reason string
}

// OutcomeOf reads an exit code; main is the package's main, named in the
// reason of ExitBadMain. Killed and stopped instances completed: they did
// what they were told.
func OutcomeOf(code int, main string) Outcome {
	switch code {
	case ExitCompleted:
		return Outcome{StatusCompleted, "Instance completed"}
	case ExitKilled:
		return Outcome{StatusCompleted, "Instance killed"}
	case ExitStopped:
		return Outcome{StatusCompleted, "Instance stopped"}
	case ExitBadEnvironment:
		return Outcome{StatusErrored, "Runner started with a bad environment"}
	case ExitBadMain:
		return Outcome{StatusErrored, fmt.Sprintf("Sequence entrypoint path %s is invalid. Check `main` field in Sequence package.json", main)}
	case ExitFailedOnStart:
		return Outcome{StatusErrored, "Sequence failed on start"}
	case ExitFailedRunning:
		return Outcome{StatusErrored, "Sequence failed while running"}
	}
	return Outcome{StatusErrored, fmt.Sprintf("Runner failed with exit code %d", code)}
}
