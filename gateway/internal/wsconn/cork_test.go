package wsconn

import (
	"net"
	"testing"
	"time"
)

// countingConn counts the writes that reach the socket.
type countingConn struct {
	net.Conn
	writes [][]byte
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, append([]byte(nil), p...))
	return len(p), nil
}
func (c *countingConn) SetWriteDeadline(time.Time) error { return nil }

func TestCorkGathersWrites(t *testing.T) {
	raw := &countingConn{}
	c := &corkConn{Conn: raw}
	c.Write([]byte("a")) // uncorked: straight through
	c.cork()
	c.Write([]byte("b"))
	c.Write([]byte("c"))
	if len(raw.writes) != 1 {
		t.Fatalf("corked writes reached the socket: %q", raw.writes)
	}
	if err := c.uncork(time.Second); err != nil {
		t.Fatal(err)
	}
	if len(raw.writes) != 2 || string(raw.writes[1]) != "bc" {
		t.Fatalf("uncork wrote %q, want one write of \"bc\"", raw.writes)
	}
	if err := c.uncork(time.Second); err != nil || len(raw.writes) != 2 {
		t.Fatalf("an empty uncork wrote: %q %v", raw.writes, err)
	}
}
