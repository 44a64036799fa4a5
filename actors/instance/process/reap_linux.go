package process

import (
	"os"
	"syscall"
	"unsafe"
)

// reap waits for proc to exit and calls exited before reaping it: until
// then the dead process keeps its pid, so its process group id cannot
// name anyone else's group when exited signals it.
func reap(proc *os.Process, exited func()) (*os.ProcessState, error) {
	const pPID = 1     // P_PID of waitid(2)
	var info [128]byte // siginfo_t, unread: only the wait matters
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(proc.Pid),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		if errno != syscall.EINTR {
			break
		}
	}
	exited()
	return proc.Wait()
}
