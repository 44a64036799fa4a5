package instance

import (
	"errors"
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/troupe-run/troupe/messages"
)

// errInputEnded is a write to an input that was ended (x-end-stream) or
// whose process has exited.
var errInputEnded = errorf(messages.CodeInputEnded, "the instance's input has ended")

// Port is one stream into an instance: its input or its stdin. Writers are
// served one at a time, each with its whole request body, so that two
// requests do not interleave. Writing goes straight into the pipe: a
// sequence that reads slowly slows the writer down.
//
// It is a local value, bound to the node that runs the process.
type Port struct {
	mu    sync.Mutex
	w     io.WriteCloser
	ended bool
}

func newPort(w io.WriteCloser) *Port { return &Port{w: w} }

// Copy writes everything r yields, then ends the stream if end is set. It
// returns the bytes written.
func (p *Port) Copy(r io.Reader, end bool) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return 0, errInputEnded
	}
	n, err := io.Copy(p.w, r)
	if errors.Is(err, os.ErrClosed) || errors.Is(err, syscall.EPIPE) {
		p.ended = true
		return n, errInputEnded
	}
	if err != nil {
		return n, err
	}
	if end {
		p.ended = true
		return n, p.w.Close()
	}
	return n, nil
}
