package resp

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troupe-run/troupe/actors/kv"
	"github.com/troupe-run/troupe/actors/pubsub"
	"github.com/troupe-run/troupe/system/systemtest"
)

// door starts the door on the real shards and router of a fresh system
// (memory only), on a free loopback port, and returns its address.
//
// The door runs one event loop unless cfg.EventLoops says otherwise
// (negative: none).
func door(t testing.TB, cfg Config, args ...string) (*Server, string) {
	t.Helper()
	switch {
	case cfg.EventLoops == 0:
		cfg.EventLoops = 1
	case cfg.EventLoops < 0:
		cfg.EventLoops = 0
	}
	sys := systemtest.Boot(t, args...)
	ks, err := kv.Start(sys, kv.NewMemory(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.Close)
	ps, err := pubsub.Start(sys, pubsub.Options{MaxPatterns: 100, MaxMessage: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := sys.Sessions("resp")
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg, Backends{Keyspace: ks, PubSub: ps, Sessions: sessions,
		Pipes: func() Pipe { return ks.NewPipe() }}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, ln.Addr().String()
}

// client is a raw RESP connection: it sends commands and reads one reply
// at a time as its exact bytes.
type client struct {
	t  testing.TB
	nc net.Conn
	rd *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, rd: bufio.NewReader(nc)}
}

// encodeCommand is a command as redis-cli sends it.
func encodeCommand(args ...string) []byte {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	return []byte(b.String())
}

func (c *client) send(args ...string) {
	c.t.Helper()
	if _, err := c.nc.Write(encodeCommand(args...)); err != nil {
		c.t.Fatal(err)
	}
}

// do sends a command and returns its reply's bytes.
func (c *client) do(args ...string) string {
	c.t.Helper()
	c.send(args...)
	return c.reply()
}

// reply reads one whole reply (nested aggregates included).
func (c *client) reply() string {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	var b strings.Builder
	if err := readReply(c.rd, &b); err != nil {
		c.t.Fatalf("reading a reply: %v (so far %q)", err, b.String())
	}
	return b.String()
}

// readReply copies one RESP2/RESP3 reply from rd to out.
func readReply(rd *bufio.Reader, out *strings.Builder) error {
	line, err := rd.ReadString('\n')
	if err != nil {
		return err
	}
	out.WriteString(line)
	body := strings.TrimSuffix(line[1:], "\r\n")
	switch line[0] {
	case '$', '=', '!':
		n, _ := strconv.Atoi(body)
		if n < 0 {
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return err
		}
		out.Write(buf)
	case '*', '~', '>':
		n, _ := strconv.Atoi(body)
		for range max(n, 0) {
			if err := readReply(rd, out); err != nil {
				return err
			}
		}
	case '%':
		n, _ := strconv.Atoi(body)
		for range 2 * n {
			if err := readReply(rd, out); err != nil {
				return err
			}
		}
	}
	return nil
}
