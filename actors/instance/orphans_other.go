//go:build unix && !linux

package instance

import "errors"

// errNoProc says the system cannot tell which processes are an instance's.
var errNoProc = errors.New("cannot inspect processes on this system")

// Without /proc the hub cannot tell whether a process is still an
// instance's: it kills no orphan rather than risk another program.

func groupMembers(map[int]bool) (map[int][]int, error) { return nil, errNoProc }

func processAlive(int) bool { return false }

func ownedBy(int, string) bool { return false }
