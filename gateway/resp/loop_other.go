//go:build !linux

package resp

// loop is Linux's epoll loop (loop_linux.go); elsewhere every connection
// has a goroutine of its own.
type loop struct{}

func newLoops(*Server, int) []*loop { return nil }

func (*loop) add(*conn) bool { return false }

func (*loop) stop() {}
