package integration

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// An idle stream gets an empty update every --skip-heartbeat.
func TestSkipHeartbeat(t *testing.T) {
	_, d := startSkipTroupe(t, skipService(t, "sum.mjs"), "--skip-heartbeat=50ms")
	s := d.subscribe(d.createStream("sum", `{}`), "text/event-stream")
	if ev := s.next(); ev.Event != "init" {
		t.Fatalf("first event %+v", ev)
	}
	for range 2 {
		select {
		case ev := <-s.events:
			if ev != (sseEvent{Event: "update", Data: "[]"}) {
				t.Fatalf("a heartbeat was %+v", ev)
			}
		case <-time.After(skipWait):
			t.Fatal("no heartbeat")
		}
	}
}

// A stream client that reads nothing is closed once --skip-sse-buffer
// events wait for it, and counted; the service and other streams go on.
func TestSkipSlowStreamClientClosed(t *testing.T) {
	s, d := startSkipTroupe(t, skipService(t, "stats.mjs"), "--skip-sse-buffer=4", "--skip-heartbeat=0")
	uuid := d.createStream("merged", `{}`) // its values are the inputs' own
	conn, err := net.Dial("tcp", strings.TrimPrefix(d.streaming, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/streams/%s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n", uuid)
	healthy := d.subscribe(d.createStream("stats", `{"kind":"count"}`), "")
	healthy.next()

	// Big values fill the socket's buffers; then the events pile up.
	big := strings.Repeat("x", 256<<10)
	dropped := func() bool {
		_, metrics := s.do("GET", "/metrics", nil)
		return strings.Contains(string(metrics), `troupe_subscribers_dropped_total{door="skip"} 1`)
	}
	deadline := time.Now().Add(skipWait)
	for i := 0; !dropped(); i++ {
		if time.Now().After(deadline) {
			t.Fatal("the client that reads nothing was never dropped")
		}
		d.patch("bonus", fmt.Sprintf(`[["big%d",["%s%d"]]]`, i%8, big, i))
	}
	// Its connection ends: reading it through returns.
	conn.SetReadDeadline(time.Now().Add(skipWait))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Errorf("the slow client's connection: %v", err)
	}
	// The other stream is still served.
	d.patch("scores", `[["p1",[1]]]`)
	if ev := healthy.next(); ev.Data != `[["all",[1]]]` {
		t.Errorf("the other stream after the drop: %+v", ev)
	}
}
