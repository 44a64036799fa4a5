//go:build unix && !linux

package process

import "os"

// reap waits for proc to exit, reaps it, then calls exited. Without
// waitid's WNOWAIT the pid is free again when exited signals the process
// group: a window of microseconds in which another program would have to
// take that pid and make it a group of its own.
func reap(proc *os.Process, exited func()) (*os.ProcessState, error) {
	state, err := proc.Wait()
	exited()
	return state, err
}
