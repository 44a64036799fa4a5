package instance

import (
	"context"
	"errors"
	"io"
	"sync"
)

// errAborted ends the writer of a spool whose instance is gone.
var errAborted = errors.New("instance stream closed")

// spool holds one stream an instance writes (output, stdout, stderr, log)
// between the pipe and its readers, in a buffer bounded in bytes.
//
// Every byte goes once to each reader attached when it comes; bytes that
// come while no reader is attached wait for the next one. A reader that
// attaches gets what no reader has been given yet. The buffer only drops
// bytes every attached reader has, so when it is full the pipe's pump
// waits, the pipe fills and the sequence's writes block: a slow (or
// absent) reader slows the sequence down, and memory stays bounded.
type spool struct {
	limit int

	mu        sync.Mutex
	buf       []byte // the bytes from offset base on
	base      int64
	delivered int64 // the end of what some reader has been given
	readers   map[*spoolReader]struct{}
	ended     bool          // the writer is done: readers get EOF after buf
	changed   chan struct{} // closed and replaced on every change
}

func newSpool(limit int) *spool {
	return &spool{limit: limit, readers: map[*spoolReader]struct{}{}, changed: make(chan struct{})}
}

// notify wakes every waiter; mu must be held.
func (s *spool) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// trim drops the bytes no one will read again; mu must be held.
func (s *spool) trim() {
	cut := s.delivered
	for r := range s.readers {
		cut = min(cut, r.off)
	}
	if n := int(cut - s.base); n > 0 {
		s.buf = append(s.buf[:0], s.buf[n:]...)
		s.base = cut
	}
}

// write appends p, waiting for room as long as it takes.
func (s *spool) write(p []byte) error {
	for len(p) > 0 {
		s.mu.Lock()
		if s.ended {
			s.mu.Unlock()
			return errAborted
		}
		s.trim()
		room := s.limit - len(s.buf)
		if room <= 0 {
			wait := s.changed
			s.mu.Unlock()
			<-wait
			continue
		}
		n := min(room, len(p))
		s.buf = append(s.buf, p[:n]...)
		p = p[n:]
		s.notify()
		s.mu.Unlock()
	}
	return nil
}

// end marks the end of the stream: readers get EOF after what is held.
// Abort also drops what is held.
func (s *spool) end(drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if drop {
		s.base += int64(len(s.buf))
		s.buf = nil
		for r := range s.readers {
			r.off = s.base
		}
		s.delivered = s.base
	}
	if !s.ended || drop {
		s.ended = true
		s.notify()
	}
}

// attach returns a new reader, starting at the first byte not yet given to
// any reader.
func (s *spool) attach() *spoolReader {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &spoolReader{s: s, off: s.delivered}
	s.readers[r] = struct{}{}
	return r
}

// pump copies a pipe into the spool until the pipe ends or the spool is
// aborted, then closes the pipe.
func (s *spool) pump(pipe io.ReadCloser) {
	defer pipe.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := pipe.Read(buf)
		if n > 0 && s.write(buf[:n]) != nil {
			return
		}
		if err != nil {
			s.end(false)
			return
		}
	}
}

// spoolReader is one reader of a spool.
type spoolReader struct {
	s   *spool
	off int64
}

// Read copies the next bytes into p, waiting for some. It returns io.EOF
// at the end of the stream.
func (r *spoolReader) Read(ctx context.Context, p []byte) (int, error) {
	s := r.s
	for {
		s.mu.Lock()
		if _, ok := s.readers[r]; !ok {
			s.mu.Unlock()
			return 0, io.ErrClosedPipe
		}
		if avail := s.base + int64(len(s.buf)) - r.off; avail > 0 {
			n := copy(p, s.buf[r.off-s.base:])
			r.off += int64(n)
			if r.off > s.delivered {
				s.delivered = r.off
			}
			s.notify() // room for the writer, maybe
			s.mu.Unlock()
			return n, nil
		}
		ended, wait := s.ended, s.changed
		s.mu.Unlock()
		if ended {
			return 0, io.EOF
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Close detaches the reader: the bytes only it lacked may go.
func (r *spoolReader) Close() {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.readers, r)
	s.notify()
}
