package synap

import (
	"context"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/gateway/internal/wsconn"
	"github.com/troupe-run/troupe/messages"
)

// wsRunner runs the commands of one WebSocket session on its own goroutine,
// one at a time, in the order they came, so that a client that sends
// stream.subscribe then stream.publish sees them happen in that order, and
// so that the session actor never waits on a backend. A queue.consume,
// which may wait for a message, runs beside the commands after it.
//
// Replies go to the writer's queue with waiting (the client paces them),
// unlike pushes. The runner also keeps what the session subscribed to, and
// drops those subscriptions when the session ends.
type wsRunner struct {
	s    *Server
	conn *wsconn.Conn
	self *actor.PID      // the session actor: the subscriber
	ctx  context.Context // ends when the session stops
	// jobs are the frames, from the reader, who closes it when its
	// connection ends.
	jobs chan *wsFrame
	// slots holds one token per command read and not yet answered: the
	// reader stops at wsMaxPending of them.
	slots chan struct{}

	// Only the loop's goroutine touches these. A subscription is noted
	// before it is asked for: one that fails in transit may have happened.
	rooms    map[string]bool
	queues   map[string]bool
	topics   bool            // the session may hold patterns at the router
	watching bool            // the session may watch keys
	replay   []*jsonw.Writer // event frames due after the current command's reply

	// The deadline of the commands run in order: one context serves those
	// that start within a tenth of --request-timeout of its making, each
	// then getting between 0.9 and 1 of it. A context with a deadline
	// costs a timer; at a WebSocket's rates, one per command was a
	// twentieth of the server's time.
	dctx    context.Context
	dcancel context.CancelFunc
	dmade   time.Time
	// stale are the cancels of deadline contexts replaced while pipelined
	// commands ran on them: called once those are answered.
	stale []context.CancelFunc

	// The pipelined commands in flight (pipe.go), oldest first from head,
	// and the queue they went to.
	pending   []*pipeSlot
	head      int
	pipeQueue string
	work      chan *pipeSlot // to the workers (pipe.go), closed when the session ends
	workers   int
	free      []*pipeSlot // answered slots, for the next commands: at most wsMaxPending
}

// loop runs the jobs until the session closes the channel, then drops the
// session's subscriptions.
func (r *wsRunner) loop() {
	for {
		f, ok := r.next()
		if !ok {
			break
		}
		switch {
		case r.ctx.Err() != nil || r.conn.Closing():
			r.release()
		case f.detach:
			go r.runDetached(f)
		case r.pipelines(f):
			r.runPiped(f)
		default:
			r.drain()
			r.runJob(f)
		}
	}
	r.drain()
	close(r.work)
	r.unsubscribeAll()
	if r.dcancel != nil {
		r.dcancel()
	}
}

// deadline returns the context of the next in-order command (see dctx).
// The old one is cancelled when it is replaced, or, when pipelined commands
// may still run on it, once they are answered.
func (r *wsRunner) deadline() context.Context {
	now := time.Now()
	if r.dctx == nil || now.Sub(r.dmade) > r.s.cfg.RequestTimeout/10 {
		switch {
		case r.dcancel != nil && r.inFlight():
			r.stale = append(r.stale, r.dcancel)
		case r.dcancel != nil:
			r.dcancel()
		}
		r.dmade = now
		r.dctx, r.dcancel = context.WithDeadline(r.ctx, now.Add(r.s.cfg.RequestTimeout))
	}
	return r.dctx
}

// runJob runs a frame, writes its reply and the replay its subscriptions
// brought, and, for a subscribing frame, holds the session's pushes
// meanwhile.
func (r *wsRunner) runJob(f *wsFrame) {
	if f.holds {
		r.s.sessions.Send(r.self, holdStart{})
	}
	r.answer(f, r.execute(f, r, nil))
	for _, w := range r.replay {
		r.conn.Send(w)
	}
	r.replay = nil
	if f.holds {
		r.conn.Flush()
		r.s.sessions.Send(r.self, holdDone{})
	}
	r.release()
}

// answer writes the reply of f, as its endpoint answers it.
func (r *wsRunner) answer(f *wsFrame, out *jsonw.Writer) {
	switch {
	case f.welcome != nil:
		// A per-resource endpoint's own subscription: the client gets the
		// original's welcome frame, or an error frame and the close.
		w, ok := f.welcome(out.Bytes())
		jsonw.Put(out)
		r.conn.Send(w)
		if !ok {
			r.conn.Flush()
			r.conn.Close(websocket.StatusPolicyViolation, "the subscription was refused")
		}
	case f.quiet:
		// An ack or nack on a queue endpoint: the original answers only
		// a failure.
		if w := errorFrameOf(out.Bytes()); w != nil {
			r.conn.Send(w)
		}
		jsonw.Put(out)
	default:
		r.conn.Send(out)
	}
}

// runDetached runs a queue.consume on its own goroutine. It has no access
// to the session's subscriptions.
func (r *wsRunner) runDetached(f *wsFrame) {
	r.conn.Send(r.execute(f, nil, nil))
	r.release()
}

// acquire takes a slot for a command, waiting while wsMaxPending are in
// flight; false when the connection closes meanwhile.
func (r *wsRunner) acquire() bool {
	select {
	case r.slots <- struct{}{}:
		return true
	case <-r.conn.Done():
		return false
	}
}

// release gives back a command's slot once it is answered.
func (r *wsRunner) release() { <-r.slots }

// execute runs a frame and returns its reply: in order as the session's
// (sess), pipelined (pipe), or beside them (neither). A panic is answered
// 500 and logged, as over HTTP: one bad command must not end the process.
func (r *wsRunner) execute(f *wsFrame, sess *wsRunner, pipe *pipeSlot) (out *jsonw.Writer) {
	out = jsonw.Get()
	start := time.Now()
	name, status := "panic", http.StatusInternalServerError
	defer func() {
		if v := recover(); v != nil {
			r.s.log.Error("data service: panic serving a WebSocket command", "command", f.env.Command,
				"panic", v, "stack", string(debug.Stack()))
			writeErrorEnvelope(out, "response", f.id,
				errorf(http.StatusInternalServerError, codeInternal, "internal error; the server log has the details"))
		}
		r.s.metrics.ObserveRequest(door, name, status, time.Since(start))
	}()
	if f.err != nil {
		writeErrorEnvelope(out, "response", f.id, f.err)
		name, status = f.errLabel, f.err.status
		return out
	}
	var ctx context.Context
	switch {
	case pipe != nil:
		ctx = pipe.ctx
	case sess != nil:
		ctx = r.deadline()
	default:
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(r.ctx, r.s.cfg.RequestTimeout)
		defer cancel()
	}
	c := call{ctx: ctx, base: r.ctx, s: r.s, out: out, sess: sess, pipe: pipe}
	name, status = r.s.execute(&c, &f.env, f.id)
	return out
}

// needSession refuses a subscription command outside a WebSocket session.
func (c *call) needSession() error {
	if c.sess == nil {
		return errorf(http.StatusBadRequest, codeBadRequest,
			"subscriptions work only over the WebSocket API (GET %s)", wsPath)
	}
	return nil
}

// subscribeRoom subscribes the session to a room; the replay's events are
// written after the command's reply.
func (r *wsRunner) subscribeRoom(c *call, req *messages.RoomRequest) (*messages.RoomReply, error) {
	r.rooms[req.Room] = true
	rep, err := c.doRoom(c.ctx, req)
	if err != nil {
		return nil, err
	}
	for _, e := range rep.Events {
		r.replay = append(r.replay, eventFrame(e))
	}
	return rep, nil
}

func (r *wsRunner) unsubscribeRoom(c *call, room string) error {
	_, err := c.doRoom(c.ctx, &messages.RoomRequest{Op: messages.RoomOp_ROOM_UNSUBSCRIBE, Room: room, Subscriber: r.self})
	if err == nil {
		delete(r.rooms, room)
	}
	return err
}

func (r *wsRunner) subscribeTopics(c *call, patterns []string) (*messages.PubSubReply, error) {
	r.topics = true
	return c.doPubSub(c.ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_SUBSCRIBE, Subscriber: r.self, Patterns: patterns})
}

func (r *wsRunner) unsubscribeTopics(c *call, patterns []string) (*messages.PubSubReply, error) {
	rep, err := c.doPubSub(c.ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_UNSUBSCRIBE, Subscriber: r.self, Patterns: patterns})
	if err == nil && rep.Subscriptions == 0 {
		r.topics = false
	}
	return rep, err
}

func (r *wsRunner) subscribeQueue(c *call, req *messages.QueueRequest) error {
	r.queues[req.Queue] = true
	_, err := c.doQueue(c.ctx, req)
	return err
}

func (r *wsRunner) unsubscribeQueue(c *call, queue string) error {
	_, err := c.doQueue(c.ctx, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_UNSUBSCRIBE, Queue: queue, Subscriber: r.self})
	if err == nil {
		delete(r.queues, queue)
	}
	return err
}

// unsubscribeAll drops every subscription of the ended session. Nobody
// waits for the answers, which are ignored: the actors also watch their
// subscribers, and forget those that stop.
func (r *wsRunner) unsubscribeAll() {
	ctx, cancel := context.WithTimeout(context.Background(), r.s.cfg.RequestTimeout)
	defer cancel()
	for room := range r.rooms {
		r.s.rooms.Do(ctx, &messages.RoomRequest{Op: messages.RoomOp_ROOM_UNSUBSCRIBE, Room: room, Subscriber: r.self})
	}
	for queue := range r.queues {
		r.s.queues.Do(ctx, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_UNSUBSCRIBE, Queue: queue, Subscriber: r.self})
	}
	if r.topics {
		r.s.pubsub.Do(ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_UNSUBSCRIBE, Subscriber: r.self})
	}
	if r.watching {
		r.s.watch.Unwatch(ctx, r.self, nil)
	}
}
