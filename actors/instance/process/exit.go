package process

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

// MarkerEnv is set, to the instance's id, in the environment of every
// instance's process.
const MarkerEnv = "TROUPE_INSTANCE"
