package skip

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/gateway/internal/recovery"
)

// A stream client is served by two parties, and has an actor:
//   - the service's resource actor pushes updates into its Sink and never
//     waits: Push counts the events not yet written and refuses one past
//     SSEBuffer, and hands the event's SSE frame (encoded once for all
//     the streams of an update) straight to the writer, unless the bytes
//     waiting would pass SSEBufferBytes (either way the client is too
//     slow, and is closed). Handing it over directly, rather than through
//     the session actor's mailbox, saves a hop per event and stream: with
//     100 streams, a tenth of the PATCH-to-SSE latency;
//   - the writer, the request's handler goroutine, the one that writes to
//     the connection, each write under WriteTimeout, and the heartbeats;
//   - the session actor is the client's place in the door's supervision
//     tree: stopping it (the door drains, its supervisor stops) ends the
//     stream.
//
// The connection lives until the client goes away, a write fails or times
// out, the client falls behind, the service ends the stream (DELETE), or
// the door drains.
type client struct {
	d      *Door
	frames chan []byte // bounded by SSEBuffer through pending
	// pending counts the updates pushed and not yet written.
	pending atomic.Int64
	// queued counts the bytes of the frames handed to the writer and not
	// yet written.
	queued atomic.Int64
	pid    *actor.PID
	once   sync.Once
	ended  chan struct{} // closed by end
	slow   atomic.Bool   // ended for falling behind: nothing more is written
	// rc is the response's controller: dropping a slow client moves the
	// write deadline to now, which ends a write blocked on it.
	rc *http.ResponseController
}

// end ends the stream; the writer writes what was queued before (unless
// the client is too slow) and returns.
func (c *client) end() { c.once.Do(func() { close(c.ended) }) }

// Push implements Sink. The service calls Push and Closed from one actor,
// in order, so the frames queue in the order of its updates.
func (c *client) Push(u Update) bool {
	if c.slow.Load() {
		return false
	}
	if c.pending.Add(1) > int64(c.d.cfg.SSEBuffer) {
		c.dropSlow()
		return false
	}
	c.queue(frame(u))
	return true
}

// Closed implements Sink: the frames pushed before are queued already.
func (c *client) Closed(error) { c.end() }

func (c *client) dropSlow() {
	if !c.slow.Swap(true) {
		c.d.metrics.SubscriberDropped(door)
		c.d.log.Warn("reactive service: stream client too slow, closing it", "buffer", c.d.cfg.SSEBuffer,
			"buffer_bytes", c.d.cfg.SSEBufferBytes)
		c.end()
		c.rc.SetWriteDeadline(time.Now())
	}
}

// session is the actor of one stream client.
type session struct{ c *client }

func (s *session) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*actor.Stopping); ok {
		// Stopped by the writer, the stream is over already; stopped by
		// its supervisor, it ends here, which ends the writer.
		s.c.end()
	}
}

// queue hands f to the writer, or drops the client when the bytes waiting
// would pass SSEBufferBytes (a frame larger than that is taken when
// nothing else waits). pending bounds the channel: it never blocks.
func (c *client) queue(f []byte) {
	n := int64(len(f))
	if q := c.queued.Load(); q > 0 && q+n > c.d.cfg.SSEBufferBytes {
		c.dropSlow()
		return
	}
	c.queued.Add(n)
	c.frames <- f
}

// frame encodes u as an SSE event: "event: init|update", "id:
// <runId>/<tick>", "data: [[key, [values...]], ...]". A shared update is
// encoded once; its frame is only read from then on.
func frame(u Update) []byte {
	if f := u.framed; f != nil {
		f.once.Do(func() { f.b = encode(u) })
		return f.b
	}
	return encode(u)
}

func encode(u Update) []byte {
	out := jsonw.Get()
	defer jsonw.Put(out)
	writeEntries(out, u.Entries)
	data := out.Bytes()
	b := make([]byte, 0, len(data)+len(u.RunID)+48)
	if u.Init {
		b = append(b, "event: init\nid: "...)
	} else {
		b = append(b, "event: update\nid: "...)
	}
	b = append(b, u.RunID...)
	b = append(b, '/')
	b = strconv.AppendUint(b, u.Tick, 10)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

var errSlow = errors.New("the client is too slow")

// heartbeat is the empty update newer Skip servers send every 30 s.
var heartbeat = []byte("event: update\ndata: []\n\n")

// acceptsEventStream reports whether an Accept header allows
// text/event-stream; no header at all does, as with Skip's server.
func acceptsEventStream(accept []string) bool {
	if len(accept) == 0 {
		return true
	}
	for _, h := range accept {
		for _, rng := range strings.Split(h, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(rng))
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			switch mt {
			case "text/event-stream", "text/*", "*/*":
				return true
			}
		}
	}
	return false
}

func (d *Door) register(c *client) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.clients) >= d.cfg.MaxSessions {
		return false
	}
	d.clients[c] = struct{}{}
	return true
}

func (d *Door) unregister(c *client) {
	d.mu.Lock()
	delete(d.clients, c)
	d.mu.Unlock()
}

// serveStream is GET /v1/streams/{uuid}: the SSE stream of a resource
// instance.
func (d *Door) serveStream(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	label, status := "panic", http.StatusInternalServerError
	observed := false
	observe := func() {
		if !observed {
			observed = true
			d.metrics.ObserveRequest(door, label, status, time.Since(start))
		}
	}
	defer observe()
	defer recovery.Recover(d.log, "reactive service", r, func() {
		if !observed {
			d.writeError(w, errorf(http.StatusInternalServerError, "internal error; the server log has the details"))
		}
	})
	label = "streams.subscribe"
	fail := func(ae *apiError) { status = d.writeError(w, ae) }

	if !acceptsEventStream(r.Header.Values("Accept")) {
		fail(errorf(http.StatusNotAcceptable, "this is a text/event-stream endpoint, and the Accept header does not allow it"))
		return
	}
	rc := http.NewResponseController(w)
	c := &client{d: d, frames: make(chan []byte, d.cfg.SSEBuffer+1), ended: make(chan struct{}), rc: rc}
	if !d.register(c) {
		fail(errorf(http.StatusServiceUnavailable, "too many open streams (the limit is %d)", d.cfg.MaxSessions))
		return
	}
	defer d.unregister(c)
	pid, err := d.sessions.Spawn("sse-"+strconv.FormatUint(d.seq.Add(1), 10), func() actor.Actor { return &session{c: c} })
	if err != nil {
		fail(errorf(http.StatusServiceUnavailable, "cannot start the stream's session: %v", err))
		return
	}
	c.pid = pid
	defer d.sessions.Stop(pid)
	ctx, cancelCall := d.requestContext(r)
	cancel, err := d.svc.Subscribe(ctx, r.PathValue("uuid"), c)
	cancelCall()
	if err != nil {
		fail(serviceError(err))
		return
	}
	defer cancel()
	// A dropped client gets nothing more: net/http's last flush of the
	// response must not wait a write deadline that put or flush set anew.
	defer func() {
		if c.slow.Load() {
			rc.SetWriteDeadline(time.Now())
		}
	}()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no") // nginx would hold the events back
	// arm gives the writes up to the next flush their deadline.
	arm := func() error {
		if err := rc.SetWriteDeadline(time.Now().Add(d.cfg.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		// Checked after the deadline is set: a drop that set its own
		// deadline before is seen here, one after cuts the writes short.
		if c.slow.Load() {
			return errSlow
		}
		return nil
	}
	// put writes b, with a deadline of its own, without flushing it;
	// flush sends what was put, under the last put's deadline (one
	// deadline per event: setting one costs as much as a small write).
	put := func(b []byte) error {
		if err := arm(); err != nil {
			return err
		}
		_, err := w.Write(b)
		return err
	}
	flush := func() error {
		// As in arm: a drop before the deadline must not be outlived.
		if c.slow.Load() {
			return errSlow
		}
		return rc.Flush()
	}
	write := func(b []byte) error {
		if err := put(b); err != nil {
			return err
		}
		return flush()
	}
	w.WriteHeader(http.StatusOK)
	status = http.StatusOK
	if err := arm(); err != nil {
		return
	}
	if err := flush(); err != nil {
		return
	}
	observe()

	var tick <-chan time.Time
	if d.cfg.Heartbeat > 0 {
		t := time.NewTicker(d.cfg.Heartbeat)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case f := <-c.frames:
			// The events queued meanwhile go out with this one, in one
			// flush: a busy stream costs a write per burst, not per event.
			for more := true; more; {
				if err := put(f); err != nil {
					return
				}
				c.pending.Add(-1)
				c.queued.Add(-int64(len(f)))
				select {
				case f = <-c.frames:
				default:
					more = false
				}
			}
			if err := flush(); err != nil {
				return
			}
		case <-tick:
			if err := write(heartbeat); err != nil {
				return
			}
		case <-c.ended:
			// The service ended the stream: what it sent before is queued.
			for !c.slow.Load() {
				select {
				case f := <-c.frames:
					if write(f) != nil {
						return
					}
				default:
					return
				}
			}
			return
		case <-d.drained:
			return
		case <-r.Context().Done():
			return
		}
	}
}
