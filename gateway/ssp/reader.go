package ssp

import (
	"context"
	"strconv"
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/gateway/internal/wsconn"
)

// wsReader reads a connection's frames and runs them on the views, one at
// a time, in order. It hands each answer to the session actor, which queues
// it between the deltas. It keeps the views the session asked for, to drop
// them when the connection ends.
type wsReader struct {
	s    *Server
	conn *wsconn.Conn
	pid  *actor.PID // the session actor: the subscriber
	// subscribed holds every view asked for and not unsubscribed.
	subscribed map[string]struct{}
}

// clientFrame is a frame from the client.
type clientFrame struct {
	Type   string   `json:"type"`
	Action string   `json:"action"`
	IDs    []string `json:"ids"`
}

// loop reads frames until the connection ends.
func (rd *wsReader) loop() {
	for {
		data, err := rd.conn.Read()
		if err != nil {
			return
		}
		rd.run(data)
	}
}

// run answers one frame.
func (rd *wsReader) run(data []byte) {
	var f clientFrame
	if ae := decodeObject("the frame", data, &f); ae != nil {
		rd.answer(errorFrame(ae.msg), nil, false)
		return
	}
	raw := or(f.Type, f.Action)
	typ := strings.ToLower(raw)
	switch typ {
	case "subscribe", "unsubscribe":
		ids, msg := validIDs(f.IDs)
		switch {
		case msg != "":
			rd.answer(errorFrame(typ+": "+msg), nil, false)
		case typ == "subscribe":
			rd.subscribe(ids)
		default:
			rd.unsubscribe(ids)
		}
	case "ping":
		rd.answer(typeFrame("pong"), nil, false)
	case "":
		rd.answer(errorFrame("missing field 'type': subscribe, unsubscribe or ping"), nil, false)
	default:
		rd.answer(errorFrame("unknown type "+strconv.Quote(raw)+": use subscribe, unsubscribe or ping"), nil, false)
	}
}

// validIDs returns the ids of a frame without duplicates, or what is wrong
// with them.
func validIDs(ids []string) ([]string, string) {
	if len(ids) == 0 {
		return nil, "'ids' must list at least one view id"
	}
	seen := make(map[string]struct{}, len(ids))
	out := ids[:0]
	for _, id := range ids {
		if id == "" {
			return nil, "'ids' holds an empty id"
		}
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out, ""
}

// subscribe subscribes the session to the views ids. The session holds the
// deltas that come meanwhile, and those of the views ids until each one's
// initial result, so that the client sees the answer, then each initial
// result, then the changes.
//
// A view already subscribed to is asked again: it may have been
// unregistered meanwhile (it is then reported unknown), and if it is there it
// sends its current result again.
func (rd *wsReader) subscribe(ids []string) {
	fresh := ids
	for _, id := range ids {
		rd.subscribed[id] = struct{}{}
	}
	rd.s.sessions.Send(rd.pid, subscribing{ids: fresh})
	ctx, cancel := context.WithTimeout(context.Background(), rd.s.cfg.RequestTimeout)
	rep, err := rd.s.views.Subscribe(ctx, fresh, rd.pid)
	cancel()
	var msg string
	switch {
	case err != nil:
		msg = backendError(err).msg
	case rep.GetErrorCode() != "":
		msg = replyError(rep.ErrorCode, rep.ErrorMessage).msg
	default:
		unknown := rep.GetUnknown()
		for _, id := range unknown {
			delete(rd.subscribed, id)
		}
		rd.answer(subscribedFrame(ids, unknown), unknown, true)
		return
	}
	// Failed: undo what may have happened in transit, so that the client
	// may retry.
	rd.answer(errorFrame("subscribe: "+msg), fresh, true)
	for _, id := range fresh {
		delete(rd.subscribed, id)
	}
	rd.s.views.Unsubscribe(fresh, rd.pid)
}

// unsubscribe stops the deltas of the views ids. The session drops those
// still on their way from the moment it queues the answer.
func (rd *wsReader) unsubscribe(ids []string) {
	rd.answer(idsFrame("unsubscribed", ids), ids, false)
	for _, id := range ids {
		delete(rd.subscribed, id)
	}
	rd.s.views.Unsubscribe(ids, rd.pid)
}

// unsubscribeAll drops the session's subscriptions, once the connection
// has ended.
func (rd *wsReader) unsubscribeAll() {
	if len(rd.subscribed) == 0 {
		return
	}
	ids := make([]string, 0, len(rd.subscribed))
	for id := range rd.subscribed {
		ids = append(ids, id)
	}
	rd.s.views.Unsubscribe(ids, rd.pid)
}

// answer hands the session a frame to queue.
func (rd *wsReader) answer(frame *jsonw.Writer, drop []string, endsHold bool) {
	rd.s.sessions.Send(rd.pid, answered{frame: frame, drop: drop, endsHold: endsHold})
}
