package synap

import (
	"context"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/gateway/internal/wsconn"
	"github.com/troupe-run/troupe/messages"
)

// session is the actor of one WebSocket connection: the rooms, queues and
// topics its runner subscribed it to send it their pushes, which it queues
// for the writer. It never waits: a client that lets its queue fill is
// closed with status 1008, and the publisher goes on. The reader hands the
// frames straight to the runner; passing them through the actor as well
// cost each a mailbox hop and a goroutine's wake-up.
//
// Order: the replies of a subscribing command, and the replay that follows
// them, are written before any push that comes after it. Before such a
// command runs, its runner tells the session to hold its pushes (holdStart),
// and it does so before it asks for the subscription, so that the hold is in
// the mailbox ahead of any push the subscription brings. The connection
// holds the pushes (up to WSBuffer of them) and queues them once the runner
// says the replies are written (holdDone).
type session struct {
	s      *Server
	conn   *wsconn.Conn
	run    *wsRunner
	cancel context.CancelFunc // ends the runner's context
	// original: a per-resource endpoint's session, whose pushes take the
	// original server's frames (wsorig.go).
	original bool
	watchSeq uint64 // key changes pushed, to name them
}

// holdStart tells the session that a subscribing command is about to run;
// holdDone, that its replies are written.
type (
	holdStart struct{}
	holdDone  struct{}
)

func (a *session) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.run.self = ctx.Self()
		go a.run.loop()
	case holdStart:
		a.conn.Hold()
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
		// The runner drops the session's subscriptions as it ends, once
		// the reader, whose connection this closes, closes its jobs.
		a.cancel()
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
