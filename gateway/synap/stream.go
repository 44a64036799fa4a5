package synap

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/messages"
)

// Synap's SDKs also send stream.consume (history read by offset) and
// stream.list; stream.create and stream.delete have no counterpart here:
// a room exists from its first publish or subscribe.
var streamCommands = []commandSpec{
	{"stream.publish", streamPublish},
	{"stream.history", streamHistory},
	{"stream.consume", streamHistory},
	{"stream.rooms", streamRooms},
	{"stream.list", streamRooms},
	{"stream.stats", streamStats},
	{"stream.subscribe", streamSubscribe},
	{"stream.unsubscribe", streamUnsubscribe},
	{"stream.create", streamCreate(true)},
	{"stream.get_or_create", streamCreate(false)},
	{"stream.delete", streamDelete},
}

// doRoom sends req to the room's actor and turns a failure into an
// apiError; a read below the oldest kept offset names that offset in the
// error's details.
func (c *call) doRoom(ctx context.Context, req *messages.RoomRequest) (*messages.RoomReply, error) {
	rep, err := c.s.rooms.Do(ctx, req)
	if ae := failure(rep, err); ae != nil {
		if rep.GetErrorCode() == messages.CodeOffsetTrimmed {
			ae.details = []detail{{"oldest_offset", rep.OldestOffset}}
		}
		return nil, ae
	}
	return rep, nil
}

// roomArgs decodes the payload of a room command and returns it with the
// room's name, which every room command but stream.rooms requires.
func (c *call) roomArgs() (*msgArgs, string, error) {
	a, err := c.margs()
	if err != nil {
		return nil, "", err
	}
	if a.Room == "" {
		return nil, "", invalid("room is required")
	}
	return a, a.Room, nil
}

// stream.publish {room, event_type, data} -> {event_id, offset,
// subscribers_notified, room}. Synap's SDKs name the event type "event".
func streamPublish(c *call) error {
	a, room, err := c.roomArgs()
	if err != nil {
		return err
	}
	req := &messages.RoomRequest{Op: messages.RoomOp_ROOM_PUBLISH, Room: room, EventType: a.EventType}
	if req.EventType == "" {
		req.EventType = a.Event
	}
	if req.EventType == "" {
		return invalid("event_type is required")
	}
	if req.Data, err = a.messageArg("data", a.Data); err != nil {
		return err
	}
	rep, err := c.doRoom(c.ctx, req)
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("event_id")
	w.Str(rep.GetEvent().GetEventId())
	w.Key("offset")
	w.Int(rep.GetEvent().GetOffset())
	w.Key("subscribers_notified")
	w.Int(rep.SubscribersNotified)
	w.Key("room")
	w.Str(room)
	w.EndObj()
	return nil
}

// stream.history {room, from_offset?, limit?} -> {events, oldest_offset,
// newest_offset, next_offset}; next_offset, the offset to read from next, is
// what Synap's SDKs read.
func streamHistory(c *call) error {
	a, room, err := c.roomArgs()
	if err != nil {
		return err
	}
	from, limit, err := a.pageArgs("from_offset", a.FromOffset)
	if err != nil {
		return err
	}
	rep, err := c.doRoom(c.ctx, &messages.RoomRequest{Op: messages.RoomOp_ROOM_HISTORY, Room: room,
		FromOffset: from, Limit: limit})
	if err != nil {
		return err
	}
	next := from
	if n := len(rep.Events); n > 0 {
		next = rep.Events[n-1].Offset + 1
	}
	w := c.out
	w.Obj()
	w.Key("events")
	w.Arr()
	for _, e := range rep.Events {
		w.Obj()
		writeEventFields(w, e)
		w.EndObj()
	}
	w.EndArr()
	w.Key("oldest_offset")
	w.Int(rep.OldestOffset)
	w.Key("newest_offset")
	w.Int(rep.NewestOffset)
	w.Key("next_offset")
	w.Int(next)
	w.EndObj()
	return nil
}

// writeEventFields writes the members of an event, in history and in event
// frames alike. "event" repeats event_type under the name Synap's clients
// read; timestamp is in seconds, as Synap has it.
func writeEventFields(w *jsonw.Writer, e *messages.RoomEvent) {
	w.Key("event_id")
	w.Str(e.EventId)
	w.Key("offset")
	w.Int(e.Offset)
	w.Key("event_type")
	w.Str(e.EventType)
	w.Key("event")
	w.Str(e.EventType)
	w.Key("data")
	w.Raw(e.Data)
	w.Key("timestamp")
	w.Int(e.TimestampMs / 1000)
}

// stream.rooms {} -> {rooms, count}
func streamRooms(c *call) error {
	names, err := c.s.rooms.List(c.ctx)
	if err != nil {
		return asAPIError(err)
	}
	slices.Sort(names)
	c.out.Obj()
	c.out.Key("rooms")
	c.out.Strs(names)
	c.out.Key("count")
	c.out.Int(int64(len(names)))
	c.out.EndObj()
	return nil
}

// stream.stats {room} -> the room's figures, under the names of Synap's
// RoomStats (name, message_count, min_offset, max_offset,
// subscriber_count, total_published) beside room and the times of its
// first and last kept events (unix milliseconds).
func streamStats(c *call) error {
	_, room, err := c.roomArgs()
	if err != nil {
		return err
	}
	rep, err := c.doRoom(c.ctx, &messages.RoomRequest{Op: messages.RoomOp_ROOM_STATS, Room: room})
	if err != nil {
		return err
	}
	st := rep.GetStats()
	w := c.out
	w.Obj()
	w.Key("room")
	w.Str(room)
	w.Key("name")
	w.Str(room)
	writeFigures(w, []figure{
		{"message_count", st.GetEventCount()},
		{"min_offset", st.GetOldestOffset()},
		{"max_offset", st.GetNewestOffset()},
		{"subscriber_count", st.GetSubscribers()},
		{"total_published", st.GetPublishedTotal()},
		{"first_timestamp_ms", st.GetFirstTimestampMs()},
		{"last_timestamp_ms", st.GetLastTimestampMs()},
		{"created_at", st.GetCreatedAtMs()},
		{"generation", st.GetGeneration()},
	})
	w.EndObj()
	return nil
}

// stream.subscribe {room, from_offset?, replay?} -> {success, room,
// replayed, oldest_offset, newest_offset}; then the events from from_offset
// on (from the oldest kept one with replay and no from_offset; only new ones
// with neither) as event frames, with no gap and no duplicate. WebSocket
// only.
func streamSubscribe(c *call) error {
	a, room, err := c.roomArgs()
	if err != nil {
		return err
	}
	if err := c.needSession(); err != nil {
		return err
	}
	req := &messages.RoomRequest{Op: messages.RoomOp_ROOM_SUBSCRIBE, Room: room, Subscriber: c.sess.self, FromOffset: -1}
	switch {
	case !absent(a.FromOffset):
		if req.FromOffset, err = intArg("from_offset", a.FromOffset, 0); err != nil {
			return err
		}
		if req.FromOffset < 0 {
			return invalid("from_offset must not be negative, not %d", req.FromOffset)
		}
	case a.Replay:
		req.FromOffset = 0
	}
	req.Replay = req.FromOffset >= 0
	rep, err := c.sess.subscribeRoom(c, req)
	var ae *apiError
	if absent(a.FromOffset) && a.Replay && errors.As(err, &ae) && ae.code == messages.CodeOffsetTrimmed {
		// Retention has passed offset 0: replay from the oldest kept event.
		req = proto.CloneOf(req)
		req.FromOffset = ae.details[0].n
		rep, err = c.sess.subscribeRoom(c, req)
	}
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("success")
	w.Bool(true)
	w.Key("room")
	w.Str(room)
	w.Key("replayed")
	w.Int(int64(len(rep.Events)))
	w.Key("oldest_offset")
	w.Int(rep.OldestOffset)
	w.Key("newest_offset")
	w.Int(rep.NewestOffset)
	w.EndObj()
	return nil
}

// stream.unsubscribe {room} -> {success, room}. WebSocket only.
func streamUnsubscribe(c *call) error {
	_, room, err := c.roomArgs()
	if err != nil {
		return err
	}
	if err := c.needSession(); err != nil {
		return err
	}
	if err := c.sess.unsubscribeRoom(c, room); err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("success")
	w.Bool(true)
	w.Key("room")
	w.Str(room)
	w.EndObj()
	return nil
}

// stream.create {room, max_events?} -> {success, room}: creates the room
// (an error when it exists); stream.get_or_create -> {success, room,
// created}. max_events is the room's own retention count (0 or absent: the
// server's --room-max-events). Creating a room that was deleted gives it a
// new generation (stream.stats).
func streamCreate(exclusive bool) command {
	return func(c *call) error {
		a, room, err := c.roomArgs()
		if err != nil {
			return err
		}
		maxEvents, err := intArg("max_events", a.MaxEvents, 0)
		if err != nil {
			return err
		}
		if maxEvents < 0 {
			return invalid("max_events must not be negative")
		}
		rep, err := c.doRoom(c.ctx, &messages.RoomRequest{Op: messages.RoomOp_ROOM_CREATE, Room: room,
			Limit: maxEvents, Replay: exclusive})
		if err != nil {
			return err
		}
		w := c.out
		w.Obj()
		w.Key("success")
		w.Bool(true)
		w.Key("room")
		w.Str(room)
		if !exclusive {
			w.Key("created")
			w.Bool(rep.Ok)
		}
		w.EndObj()
		return nil
	}
}

// stream.delete {room} -> {room, deleted: true|false}: removes the room, its
// events and its subscriptions. The original answers {success, deleted:
// room}, and an error for a room that does not exist.
func streamDelete(c *call) error {
	_, room, err := c.roomArgs()
	if err != nil {
		return err
	}
	rep, err := c.doRoom(c.ctx, &messages.RoomRequest{Op: messages.RoomOp_ROOM_DELETE, Room: room})
	if err != nil {
		return err
	}
	w := c.out
	if c.original() {
		if !rep.Ok {
			return errorf(http.StatusNotFound, messages.CodeNotFound, "room %q does not exist", room)
		}
		w.Obj()
		w.Key("success")
		w.Bool(true)
		w.Key("deleted")
		w.Str(room)
		w.EndObj()
		return nil
	}
	w.Obj()
	w.Key("room")
	w.Str(room)
	w.Key("deleted")
	w.Bool(rep.Ok)
	w.EndObj()
	return nil
}
