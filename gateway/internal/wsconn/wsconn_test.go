package wsconn

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/troupe-run/troupe/gateway/internal/doortest"
	"github.com/troupe-run/troupe/gateway/internal/jsonw"
)

// server serves a Registry: each connection is handed to session on the
// handler's goroutine, then read until it ends, its frames going to got.
type server struct {
	reg     *Registry
	url     string
	conns   chan *Conn    // each connection accepted
	got     chan string   // the frames read
	ended   chan struct{} // a reader has returned
	dropped atomic.Int32
}

func newServer(t *testing.T, opts Options) *server {
	s := &server{conns: make(chan *Conn, 8), got: make(chan string, 64), ended: make(chan struct{}, 8)}
	opts.Dropped = func() { s.dropped.Add(1) }
	s.reg = NewRegistry(opts)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.reg.Accept(w, r)
		if errors.Is(err, ErrFull) {
			http.Error(w, "full", http.StatusServiceUnavailable)
			return
		}
		if err != nil {
			return
		}
		defer s.reg.Release(c)
		s.conns <- c
		for {
			data, err := c.Read()
			if err != nil {
				break
			}
			s.got <- string(data)
		}
		c.Close(websocket.StatusNormalClosure, "")
		s.ended <- struct{}{}
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(s.reg.Drain)
	s.url = "ws" + strings.TrimPrefix(hs.URL, "http")
	return s
}

func defaults() Options {
	return Options{Max: 10, Buffer: 8, ReadLimit: 1 << 10, PingInterval: time.Minute}
}

// dial connects a client and returns it with the server's side.
func (s *server) dial(t *testing.T) (*websocket.Conn, *Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), doortest.Wait)
	defer cancel()
	cl, _, err := websocket.Dial(ctx, s.url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	cl.SetReadLimit(-1)
	t.Cleanup(func() { cl.CloseNow() })
	select {
	case c := <-s.conns:
		return cl, c
	case <-time.After(doortest.Wait):
		t.Fatal("no connection accepted")
		return nil, nil
	}
}

func text(s string) *jsonw.Writer {
	w := jsonw.Get()
	w.Str(s)
	return w
}

// expect reads the next frames and checks them, exactly.
func expect(t *testing.T, cl *websocket.Conn, frames ...string) {
	t.Helper()
	for _, want := range frames {
		if got := doortest.Recv(t, cl); got != `"`+want+`"` {
			t.Fatalf("read %s; want %q", got, want)
		}
	}
}

// closeStatus reads until the connection ends and returns how it was
// closed, or the error when it ended without a close frame.
func closeStatus(t *testing.T, cl *websocket.Conn) (websocket.CloseError, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), doortest.Wait)
	defer cancel()
	for {
		if _, _, err := cl.Read(ctx); err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return ce, nil
			}
			return ce, err
		}
	}
}

func TestFramesInOrder(t *testing.T) {
	s := newServer(t, defaults())
	cl, c := s.dial(t)
	c.Push(text("p1"))
	if !c.Send(text("r1")) {
		t.Fatal("Send refused on an open connection")
	}
	c.Post(text("p2"))
	c.Flush()
	expect(t, cl, "p1", "r1", "p2")

	doortest.Send(t, cl, "hello")
	if got := <-s.got; got != "hello" {
		t.Errorf("read %q", got)
	}
}

// TestHoldOrdersReplyBeforePushes: pushes that come while a subscription
// is made are written after its reply, which Post queues ahead of them.
func TestHoldOrdersReplyBeforePushes(t *testing.T) {
	s := newServer(t, defaults())
	cl, c := s.dial(t)
	c.Hold()
	c.Push(text("push 1"))
	c.Hold()
	c.Push(text("push 2"))
	c.Post(text("reply"))
	c.Unhold()
	c.Push(text("push 3"))
	c.Unhold()
	c.Push(text("push 4"))
	expect(t, cl, "reply", "push 1", "push 2", "push 3", "push 4")
}

// TestSlowClientClosed: a client that reads nothing is closed with 1008
// once its queue is full, counted once, and later pushes are dropped.
func TestSlowClientClosed(t *testing.T) {
	opts := defaults()
	opts.Buffer = 4
	s := newServer(t, opts)
	cl, c := s.dial(t)
	big := strings.Repeat("x", 64<<10)
	// 64 KiB a frame: 4096 of them are 256 MiB, far past any socket buffer.
	for n := 0; s.dropped.Load() == 0 && n < 4096; n++ {
		c.Push(text(big))
	}
	if s.dropped.Load() != 1 {
		t.Fatalf("the slow client was not dropped")
	}
	c.Push(text(big))
	if s.dropped.Load() != 1 {
		t.Errorf("dropped %d times", s.dropped.Load())
	}
	ce, err := closeStatus(t, cl)
	if err != nil || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "subscriber too slow: 4 messages buffered" {
		t.Errorf("closed with %v, %v", ce, err)
	}
}

// TestHeldPushesBounded: pushes held past Buffer close the client too.
func TestHeldPushesBounded(t *testing.T) {
	opts := defaults()
	opts.Buffer = 2
	s := newServer(t, opts)
	cl, c := s.dial(t)
	c.Hold()
	for range 3 {
		c.Push(text("held"))
	}
	c.Unhold()
	if s.dropped.Load() != 1 {
		t.Errorf("dropped %d times, want once", s.dropped.Load())
	}
	ce, err := closeStatus(t, cl)
	if err != nil || ce.Code != websocket.StatusPolicyViolation {
		t.Errorf("closed with %v, %v", ce, err)
	}
	if !c.Closing() {
		t.Error("a connection closed for falling behind is not closing")
	}
}

func TestMax(t *testing.T) {
	opts := defaults()
	opts.Max = 1
	s := newServer(t, opts)
	cl, _ := s.dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), doortest.Wait)
	defer cancel()
	if _, resp, err := websocket.Dial(ctx, s.url, nil); resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a connection past the limit: %v, %v", resp, err)
	}
	cl.Close(websocket.StatusNormalClosure, "")
	<-s.ended
	if n := s.reg.Len(); n != 0 {
		t.Fatalf("%d connections after the only one ended", n)
	}
	s.dial(t)
}

func TestDrain(t *testing.T) {
	s := newServer(t, defaults())
	cl, _ := s.dial(t)
	s.reg.Drain()
	if ce, err := closeStatus(t, cl); err != nil || ce.Code != websocket.StatusGoingAway || ce.Reason != "the server is shutting down" {
		t.Errorf("draining closed with %v, %v", ce, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), doortest.Wait)
	defer cancel()
	late, _, err := websocket.Dial(ctx, s.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer late.CloseNow()
	if ce, err := closeStatus(t, late); err != nil || ce.Code != websocket.StatusGoingAway {
		t.Errorf("a connection after the drain closed with %v, %v", ce, err)
	}
}

func TestReadLimit(t *testing.T) {
	opts := defaults()
	opts.ReadLimit = 64
	s := newServer(t, opts)
	cl, _ := s.dial(t)
	cl.Write(context.Background(), websocket.MessageText, []byte(strings.Repeat("x", 65)))
	if ce, err := closeStatus(t, cl); err != nil || ce.Code != websocket.StatusMessageTooBig {
		t.Errorf("an oversized frame closed the connection with %v, %v", ce, err)
	}
}

// TestDeadPeer: a client that answers no ping (it reads nothing) is let
// go, with a close frame when the door gives a reason, else at once.
func TestDeadPeer(t *testing.T) {
	for _, reason := range []string{"no pong within two ping intervals", ""} {
		t.Run(reason, func(t *testing.T) {
			opts := defaults()
			opts.PingInterval = 20 * time.Millisecond
			opts.DeadPeerReason = reason
			s := newServer(t, opts)
			cl, c := s.dial(t)
			select {
			case <-c.Done():
			case <-time.After(doortest.Wait):
				t.Fatal("the dead peer was kept")
			}
			ce, err := closeStatus(t, cl)
			switch {
			case reason != "" && (err != nil || ce.Code != websocket.StatusGoingAway || ce.Reason != reason):
				t.Errorf("closed with %v, %v; want 1001 %q", ce, err, reason)
			case reason == "" && err == nil:
				t.Errorf("closed with %v; want no close frame", ce)
			}
		})
	}
}

// TestSlowClientBytesBound: a client that reads nothing is closed with
// 1008 once the bytes queued for it pass BufferBytes, long before its
// message bound; a frame larger than the bound is taken when nothing else
// waits. With a write deadline too, whichever of the writer (timed out)
// and the session (queue full) finds the client too slow first, or both,
// it is counted once.
func TestSlowClientBytesBound(t *testing.T) {
	for _, timeout := range []time.Duration{0, 20 * time.Millisecond} {
		opts := defaults()
		opts.Buffer = 100_000
		opts.BufferBytes = 1 << 20
		opts.WriteTimeout = timeout
		s := newServer(t, opts)
		cl, c := s.dial(t)

		huge := strings.Repeat("h", 2<<20)
		c.Push(text(huge))
		if got := doortest.Recv(t, cl); len(got) != len(huge)+2 {
			t.Fatalf("read a frame of %d bytes, want %d", len(got), len(huge)+2)
		}
		if s.dropped.Load() != 0 || c.Closing() {
			t.Fatal("a frame over the bound, alone, closed the connection")
		}

		big := strings.Repeat("x", 64<<10)
		// 64 KiB a frame: 4096 of them are 256 MiB, far past the socket's
		// buffers and the 1 MiB bound, and within the message bound.
		n := 0
		for ; !c.Closing() && n < 4096; n++ {
			c.Push(text(big))
		}
		if !c.Closing() {
			t.Fatalf("%d frames of 64 KiB pushed and the slow client was not dropped", n)
		}
		if q := c.queued.Load(); q > opts.BufferBytes {
			t.Errorf("%d bytes queued, past the bound of %d", q, opts.BufferBytes)
		}
		c.Push(text(big))
		ce, err := closeStatus(t, cl)
		if timeout == 0 && (err != nil || ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "1048576 bytes")) {
			t.Errorf("closed with %v, %v; want 1008 naming the bytes bound", ce, err)
		}
		// A write cut by its deadline leaves half a frame: the client may
		// see the connection end without a close frame.
		if got := s.dropped.Load(); got != 1 {
			t.Errorf("write timeout %v: dropped %d times, want once", timeout, got)
		}
	}
}
