package resp

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Event loops. A connection served by a goroutine of its own costs, per
// unpipelined command, a read that finds nothing and a park on Go's
// poller after the reply, then a wake-up of the goroutine through the
// scheduler when the next command comes: about as much CPU as the command
// itself. A connection in a loop costs one read and one write per command:
// the loop waits for many connections at once (an epoll set of its own),
// reads what each sent and answers it in place, the shards running on the
// loop's goroutine when idle (system.CallerRuns).
//
// A loop only runs the commands that cannot wait on another client: the
// single-key commands of the pipe (GET, SET, INCR, LPUSH ...; see asyncs)
// and a few connection commands. Any other command, a reply the socket
// does not take at once, or a command larger than what was read, hands
// the connection over to a goroutine of its own for good (handover), with
// what it read and the replies not yet written, as if it had been served
// so from the start: blocking pops, transactions, pub/sub and write
// deadlines work as there.
//
// The loop's epoll set is itself waited for through Go's poller (its file
// descriptor is readable when a connection in it is), so a loop with
// nothing to do parks as a goroutine, not as a thread in a system call.

// loopInline are the commands besides the pipe's that a loop answers.
var loopInline = map[string]bool{"ping": true, "echo": true, "select": true}

type loop struct {
	s   *Server
	f   *os.File // the epoll set, waited for through Go's poller
	fd  int      // f's descriptor (f.Fd would make f blocking)
	raw syscall.RawConn

	mu     sync.Mutex
	conns  map[int32]*conn // by file descriptor
	closed bool
}

// newLoops starts n loops owned by s (Close stops them); nil when the
// system refuses (the connections then get goroutines of their own).
func newLoops(s *Server, n int) []*loop {
	var ls []*loop
	for range n {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			break
		}
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fd)
			break
		}
		l := &loop{s: s, f: os.NewFile(uintptr(fd), "resp-epoll"), fd: fd, conns: map[int32]*conn{}}
		if l.raw, err = l.f.SyscallConn(); err != nil {
			l.f.Close()
			break
		}
		ls = append(ls, l)
		s.wg.Add(1)
		go l.run()
	}
	return ls
}

// add moves c (just accepted, not yet served) into the loop: its socket
// is now a descriptor of the loop's own, and nc is closed. False when it
// cannot be (c is then served by a goroutine as usual).
func (l *loop) add(c *conn) bool {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	if rc.Control(func(s uintptr) { fd, _ = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }) != nil || fd < 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		unix.Close(fd)
		return false
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	if err := unix.EpollCtl(l.fd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return false
	}
	c.fd = fd
	c.rd.src = fdReader(fd)
	c.nc.Close() // the socket stays open through fd
	l.conns[int32(fd)] = c
	return true
}

// stop ends the loop: it closes its connections and ends.
func (l *loop) stop() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.f.Close() // wakes the loop's wait, after the wait it is in returns
}

func (l *loop) run() {
	defer l.s.wg.Done()
	events := make([]unix.EpollEvent, 256)
	ready := make([]*conn, 0, len(events))
	for {
		var n int
		err := l.raw.Read(func(fd uintptr) bool {
			// Raw: it does not wait (see rawIO).
			r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&events[0])),
				uintptr(len(events)), 0, 0, 0)
			n = int(r)
			return e == 0 && n > 0
		})
		if err != nil {
			break
		}
		l.mu.Lock()
		for _, ev := range events[:n] {
			if c := l.conns[ev.Fd]; c != nil {
				ready = append(ready, c)
			}
		}
		l.mu.Unlock()
		for i, c := range ready {
			l.serve(c)
			ready[i] = nil
		}
		ready = ready[:0]
	}
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for _, c := range conns {
		l.release(c)
	}
}

// serve reads what c sent and answers it.
func (l *loop) serve(c *conn) {
	err := c.rd.fill()
	switch {
	case errors.Is(err, unix.EAGAIN):
		return
	case errors.Is(err, errTooBig):
		l.handover(c) // which refuses it as a goroutine does
		return
	case err != nil:
		l.end(c)
		return
	}
	for {
		at := c.rd.r
		args, err := c.rd.next()
		if err != nil || args == nil {
			c.drain()
		}
		if err != nil {
			var pe *errProtocol
			if errors.As(err, &pe) {
				c.w.err("ERR " + pe.Error())
			}
			l.flush(c)
			l.end(c)
			return
		}
		if args == nil {
			clear(c.kept)
			c.kept = c.kept[:0]
			switch l.flush(c) {
			case flushBlocked:
				l.handover(c)
			case flushFailed:
				l.end(c)
			}
			return
		}
		if !c.loopable(args) {
			c.rd.r = at // the goroutine reads it again
			l.handover(c)
			return
		}
		c.s.stats.commands.Add(1)
		c.dispatch(args)
		if len(c.w.b) > flushAt {
			// Replies past flushAt are written before the rest runs; a
			// client that does not take them gets a goroutine that waits
			// for it, under a deadline.
			c.drain()
			switch l.flush(c) {
			case flushBlocked:
				l.handover(c)
				return
			case flushFailed:
				l.end(c)
				return
			}
		}
	}
}

// loopable reports whether a loop may run the command: one that never
// waits on another client.
func (c *conn) loopable(args [][]byte) bool {
	var buf [24]byte
	name := lower(args[0], buf[:])
	cs := commands[string(name)]
	if cs == nil || !c.authed || c.multi || c.sub != nil || c.txn != 0 {
		return false
	}
	return cs.async != nil || loopInline[string(name)]
}

const (
	flushDone = iota
	flushBlocked
	flushFailed
)

// flush writes c's replies without waiting: what the socket does not take
// stays in c.w.b (flushBlocked).
func (l *loop) flush(c *conn) int {
	if c.shutting.Load() {
		return flushFailed // closed by the server: nothing more goes out
	}
	if len(c.w.b) == 0 {
		return flushDone
	}
	c.s.stats.netOut.Add(int64(len(c.w.b)))
	n, err := rawIO(unix.SYS_WRITE, c.fd, c.w.b)
	switch {
	case n == len(c.w.b):
		c.w.b = c.w.b[:0]
		return flushDone
	case err == nil || errors.Is(err, unix.EAGAIN):
		c.w.b = c.w.b[:copy(c.w.b, c.w.b[n:])]
		return flushBlocked
	}
	return flushFailed
}

// remove takes c out of the loop; false when the loop has ended (and so
// closes c itself).
func (l *loop) remove(c *conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	_ = unix.EpollCtl(l.fd, unix.EPOLL_CTL_DEL, c.fd, nil)
	delete(l.conns, int32(c.fd))
	return true
}

// end closes c, as its goroutine would on leaving serve (once the loop
// has ended, its last step does).
func (l *loop) end(c *conn) {
	if l.remove(c) {
		l.release(c)
	}
}

// release closes c, out of the loop.
func (l *loop) release(c *conn) {
	c.close()
	unix.Close(c.fd)
	c.fd = -1
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
	c.s.wg.Done()
}

// handover gives c a goroutine of its own, from where the loop left it:
// what it read and not yet ran, the replies not yet written.
func (l *loop) handover(c *conn) {
	if !l.remove(c) {
		return
	}
	f := os.NewFile(uintptr(c.fd), "resp-conn")
	nc, err := net.FileConn(f) // a descriptor of Go's poller
	f.Close()
	c.fd = -1
	s := c.s
	s.mu.Lock()
	if err != nil || s.closed {
		s.mu.Unlock()
		if nc != nil {
			nc.Close()
		}
		c.cancel()
		c.close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.wg.Done()
		return
	}
	c.nc = nc
	c.rd.src = nc
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.run()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// fdReader reads a loop's connection without waiting (unix.EAGAIN when
// nothing came).
type fdReader int

func (fd fdReader) Read(b []byte) (int, error) {
	n, err := rawIO(unix.SYS_READ, int(fd), b)
	if err == nil && n == 0 {
		err = io.EOF
	}
	return n, err
}

// rawIO reads or writes (op) a non-blocking descriptor without telling
// the scheduler: such a call never waits, and the bookkeeping around a
// system call the scheduler is told of (and the monitor thread looking for
// processors stuck in one, waking every 20 µs while it finds system calls
// under way) cost about a tenth of the server's CPU in perf.
func rawIO(op uintptr, fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	r, _, e := unix.RawSyscall(op, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
