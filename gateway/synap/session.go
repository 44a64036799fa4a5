package synap

import (
	"context"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"

	"github.com/troupe-run/troupe/messages"
)

// session is the actor of one WebSocket connection. It hands the frames the
// reader decodes, in order, to its command runner; and the rooms, queues and
// topics the runner subscribed it to send it their pushes, which it queues
// for the writer. It never waits: a client that lets its queue fill is
// closed with status 1008, and the publisher goes on.
//
// Order: the replies of a subscribing command, and the replay that follows
// them, are written before any push that comes after it. While such a
// command runs, the session holds its pushes (up to WSBuffer of them) and
// queues them once the runner says the replies are written (holdDone).
type session struct {
	s      *Server
	conn   *wsConn
	run    *wsRunner
	cancel context.CancelFunc // ends the runner's context
	holds  int                // subscribing commands whose replies are not all written
	held   []*jsonw           // the pushes that wait for them
	slow   bool               // closed for falling behind: pushes are dropped
	ended  bool               // stopping: frames are refused
}

// holdDone tells the session that a subscribing command's replies are
// written.
type holdDone struct{}

func (a *session) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.run.self = ctx.Self()
		go a.run.loop()
	case *wsFrame:
		if a.ended {
			a.conn.release()
			return
		}
		if m.holds {
			a.holds++
		}
		a.run.jobs <- m // never waits: the reader's slots bound the jobs
	case holdDone:
		a.holds--
		if a.holds == 0 {
			held := a.held
			a.held = nil
			for _, w := range held {
				a.push(w)
			}
		}
	case *messages.RoomEvent:
		a.push(eventFrame(m))
	case *messages.PubSubMessage:
		a.push(messageFrame(m))
	case *messages.QueueDelivery:
		a.push(deliveryFrame(m))
	case *actor.Stopping:
		// The runner drops the session's subscriptions as it ends.
		a.ended = true
		a.cancel()
		close(a.run.jobs)
		a.conn.close(websocket.StatusGoingAway, "the session ended")
	}
}

// push queues a frame for the client, or holds it while a subscribing
// command runs.
func (a *session) push(w *jsonw) {
	switch {
	case a.slow:
		putJSONW(w)
	case a.holds > 0:
		if len(a.held) >= a.s.cfg.WSBuffer {
			a.tooSlow()
			return
		}
		a.held = append(a.held, w)
	case !a.conn.offer(w):
		a.tooSlow()
	}
}

// tooSlow closes the connection of a client that does not keep up.
func (a *session) tooSlow() {
	a.slow = true
	a.held = nil
	a.s.metrics.SubscriberDropped(door)
	a.conn.close(websocket.StatusPolicyViolation,
		fmt.Sprintf("subscriber too slow: %d messages buffered", a.s.cfg.WSBuffer))
}

// eventFrame encodes a room's event: {"type": "event", "room", "event_id",
// "offset", "event_type", "event", "data", "timestamp"}.
func eventFrame(e *messages.RoomEvent) *jsonw {
	w := getJSONW()
	w.b = append(w.b, `{"type":"event","room":`...)
	w.str(e.Room)
	writeEventFields(w, e)
	w.endObj()
	return w
}

// messageFrame encodes a pub/sub message: {"type": "message", "topic",
// "message", "metadata"}, metadata null when the publisher gave none.
func messageFrame(m *messages.PubSubMessage) *jsonw {
	w := getJSONW()
	w.b = append(w.b, `{"type":"message","topic":`...)
	w.str(m.Topic)
	w.key("message")
	w.raw(m.Message)
	w.key("metadata")
	w.raw(m.Metadata)
	w.endObj()
	return w
}

// deliveryFrame encodes a message a queue pushes: {"type": "queue_message",
// "queue", "message_id", "message", "priority", "retry_count", "headers"}.
func deliveryFrame(d *messages.QueueDelivery) *jsonw {
	w := getJSONW()
	w.b = append(w.b, `{"type":"queue_message","queue":`...)
	w.str(d.Queue)
	writeQueueMessageFields(w, d.GetMessage())
	w.endObj()
	return w
}
