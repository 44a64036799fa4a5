package process

import "os"

// The runner's file descriptors, in order (see the package comment).
const (
	fdStdin = iota
	fdStdout
	fdStderr
	fdControl
	fdMonitoring
	fdInput
	fdOutput
	fdLog
	fdCount
)

// childReads marks the descriptors the runner reads; it writes the others.
var childReads = [fdCount]bool{fdStdin: true, fdControl: true, fdInput: true}

// openPipes makes one pipe per descriptor: child holds the ends the runner
// gets, parent the hub's. The hub's ends are non-blocking, so a Close
// from another goroutine wakes a Read or Write blocked on them.
func openPipes() (child, parent [fdCount]*os.File, err error) {
	for i := range fdCount {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(child[:])
			closeAll(parent[:])
			return child, parent, err
		}
		if childReads[i] {
			child[i], parent[i] = r, w
		} else {
			child[i], parent[i] = w, r
		}
		if i == fdInput || i == fdOutput {
			growPipe(r)
		}
	}
	return child, parent, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}
