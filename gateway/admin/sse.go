package admin

import (
	"net/http"
	"sync/atomic"
	"time"
)

// client is one event-stream client: the update frames queued for it, at
// most Config.SSEBuffer. The sampler never waits for a client: when the
// queue is full it marks the client behind, and the client's next frame is
// a resync (the whole state with the charts' points) instead of the stale
// updates queued.
type client struct {
	frames chan []byte
	behind atomic.Bool
}

func newClient(buffer int) *client { return &client{frames: make(chan []byte, max(buffer, 1))} }

// offer queues an update frame, or marks the client behind.
func (c *client) offer(frame []byte) {
	select {
	case c.frames <- frame:
	default:
		c.behind.Store(true)
	}
}

// next returns the client's next frame: "state" with an update, or
// "resync" after dropping the updates queued when the client fell behind.
// ok is false once stop or done is closed.
func (c *client) next(resync func() ([]byte, error), stop, done <-chan struct{}) (event string, data []byte, ok bool) {
	select {
	case <-stop:
		return "", nil, false
	case <-done:
		return "", nil, false
	case frame := <-c.frames:
		if !c.behind.Swap(false) {
			return "state", frame, true
		}
		for len(c.frames) > 0 {
			<-c.frames
		}
		data, err := resync()
		return "resync", data, err == nil
	}
}

func (d *Door) subscribe() (*client, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.clients) >= max(d.cfg.SSEClients, 1) {
		return nil, false
	}
	c := newClient(d.cfg.SSEBuffer)
	d.clients[c] = struct{}{}
	return c, true
}

func (d *Door) unsubscribe(c *client) {
	d.mu.Lock()
	delete(d.clients, c)
	d.mu.Unlock()
}

// serveEvents answers GET /admin/api/events: a resync frame at once, then
// a state frame per sample, until the client goes or the door closes.
func (d *Door) serveEvents(w http.ResponseWriter, r *http.Request) {
	c, ok := d.subscribe()
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "too many dashboard event streams (--admin-sse-clients)")
		return
	}
	defer d.unsubscribe(c)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	write := func(event string, data []byte) bool {
		if d.cfg.WriteTimeout > 0 {
			rc.SetWriteDeadline(time.Now().Add(d.cfg.WriteTimeout))
		}
		buf := make([]byte, 0, len(data)+32)
		buf = append(buf, "event: "...)
		buf = append(buf, event...)
		buf = append(buf, "\ndata: "...)
		buf = append(buf, data...) // JSON has no raw newline
		buf = append(buf, "\n\n"...)
		if _, err := w.Write(buf); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	first, err := d.resync()
	if err != nil || !write("resync", first) {
		return
	}
	for {
		event, data, ok := c.next(d.resync, d.stop, r.Context().Done())
		if !ok || !write(event, data) {
			return
		}
	}
}
