package synap

import (
	"context"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/gateway/internal/wsconn"
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
// command runs, the connection holds its pushes (up to WSBuffer of them)
// and queues them once the runner says the replies are written (holdDone).
type session struct {
	s      *Server
	conn   *wsconn.Conn
	run    *wsRunner
	cancel context.CancelFunc // ends the runner's context
	ended  bool               // stopping: frames are refused
	// original: a per-resource endpoint's session, whose pushes take the
	// original server's frames (wsorig.go).
	original bool
	watchSeq uint64 // key changes pushed, to name them
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
			a.run.release()
			return
		}
		if m.holds {
			a.conn.Hold()
		}
		a.run.jobs <- m // never waits: the reader's slots bound the jobs
	case holdDone:
		a.conn.Unhold()
	case *messages.RoomEvent:
		if a.original {
			a.conn.Push(originalEventFrame(m))
		} else {
			a.conn.Push(eventFrame(m))
		}
	case *messages.PubSubMessage:
		if a.original {
			a.conn.Push(originalMessageFrame(m))
		} else {
			a.conn.Push(messageFrame(m))
		}
	case *messages.QueueDelivery:
		if a.original {
			a.conn.Push(originalDeliveryFrame(m))
		} else {
			a.conn.Push(deliveryFrame(m))
		}
	case *messages.KeyChange:
		a.watchSeq++
		a.conn.Push(watchFrame(m, a.watchSeq))
	case *actor.Stopping:
		// The runner drops the session's subscriptions as it ends.
		a.ended = true
		a.cancel()
		close(a.run.jobs)
		a.conn.Close(websocket.StatusGoingAway, "the session ended")
	}
}

// eventFrame encodes a room's event: {"type": "event", "room", "event_id",
// "offset", "event_type", "event", "data", "timestamp"}.
func eventFrame(e *messages.RoomEvent) *jsonw.Writer {
	w := jsonw.Get()
	w.Literal(`{"type":"event","room":`)
	w.Str(e.Room)
	writeEventFields(w, e)
	w.EndObj()
	return w
}

// messageFrame encodes a pub/sub message: {"type": "message", "topic",
// "message", "metadata"}, metadata null when the publisher gave none.
func messageFrame(m *messages.PubSubMessage) *jsonw.Writer {
	w := jsonw.Get()
	w.Literal(`{"type":"message","topic":`)
	w.Str(m.Topic)
	w.Key("message")
	w.Raw(m.Message)
	w.Key("metadata")
	w.Raw(m.Metadata)
	w.EndObj()
	return w
}

// deliveryFrame encodes a message a queue pushes: {"type": "queue_message",
// "queue", "message_id", "message", "priority", "retry_count", "headers"}.
func deliveryFrame(d *messages.QueueDelivery) *jsonw.Writer {
	w := jsonw.Get()
	w.Literal(`{"type":"queue_message","queue":`)
	w.Str(d.Queue)
	writeQueueMessageFields(w, d.GetMessage())
	w.EndObj()
	return w
}
