// Package doortest holds what the front doors' tests share: a fake of the
// system's metrics, a log any goroutine may write, and a WebSocket client's
// reads and writes that fail the test rather than hang it.
package doortest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Wait bounds every wait of the tests; it is no timing assertion: a test
// that reaches it has failed for another reason.
const Wait = 10 * time.Second

// Observation is one request Metrics recorded.
type Observation struct {
	Door, Command string
	Status        int
}

// Metrics records what a door reports, as the system's metrics would
// count it.
type Metrics struct {
	mu      sync.Mutex
	obs     []Observation
	dropped int
}

func (m *Metrics) ObserveRequest(door, command string, status int, _ time.Duration) {
	m.mu.Lock()
	m.obs = append(m.obs, Observation{door, command, status})
	m.mu.Unlock()
}

func (m *Metrics) SubscriberDropped(door string) {
	m.mu.Lock()
	m.dropped++
	m.mu.Unlock()
}

// Last returns the last request recorded (zero: none).
func (m *Metrics) Last() Observation {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.obs) == 0 {
		return Observation{}
	}
	return m.obs[len(m.obs)-1]
}

// Dropped returns how many subscribers were dropped for falling behind.
func (m *Metrics) Dropped() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dropped
}

// LogBuffer is a log destination safe for a server's goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Send writes a text frame.
func Send(t testing.TB, c *websocket.Conn, frame string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		t.Fatalf("writing %s: %v", frame, err)
	}
}

// Recv reads the next frame.
func Recv(t testing.TB, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	return string(b)
}

// CloseStatus reads until the connection ends and returns how it was
// closed; a connection that ends without a close frame fails the test.
func CloseStatus(t testing.TB, c *websocket.Conn) websocket.CloseError {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("the connection ended without a close frame: %v", err)
		}
		return ce
	}
}
