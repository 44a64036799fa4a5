package process

import (
	"os"
	"syscall"
)

// bulkPipeSize is the kernel buffer of the input and output pipes: larger
// than the default 64 KiB, so that a stream crosses with fewer wake-ups of
// the runner and the hub's pumps.
const bulkPipeSize = 1 << 20

// growPipe asks the kernel for a bulkPipeSize buffer; a refusal (a limit in
// /proc/sys/fs/pipe-max-size) leaves the default, which works as well.
func growPipe(f *os.File) {
	const fSetPipeSz = 1031 // F_SETPIPE_SZ
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSz, bulkPipeSize)
	})
}
