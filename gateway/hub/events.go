package hub

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/troupe-run/troupe/messages"
)

// eventJSON is an event as GET /event (without a name) answers it.
type eventJSON struct {
	EventName string          `json:"eventName"`
	Message   json.RawMessage `json:"message,omitempty"`
}

// eventBody is an event as POST /_event carries it.
type eventBody struct {
	EventName *string         `json:"eventName"`
	Message   json.RawMessage `json:"message"`
}

// readMessage reads a JSON object body, also in the original client's
// message form [code, {...}]; bad is the 400 message for anything else.
func (s *Server) readMessage(w http.ResponseWriter, r *http.Request, v any, bad string) bool {
	var raw json.RawMessage
	if !s.readJSON(w, r, &raw) {
		return false
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var pair []json.RawMessage
		if json.Unmarshal(raw, &pair) != nil || len(pair) != 2 {
			writeError(w, http.StatusBadRequest, bad)
			return false
		}
		raw = pair[1]
	}
	if len(raw) > 0 && json.Unmarshal(raw, v) != nil {
		writeError(w, http.StatusBadRequest, bad)
		return false
	}
	return true
}

// postEvent is POST /_event with {eventName, message}, or with the
// original client's [5001, {eventName, message}].
func (s *Server) postEvent(w http.ResponseWriter, r *http.Request) {
	var b eventBody
	if !s.readMessage(w, r, &b, "Invalid format: want {eventName, message} or [5001, {eventName, message}]") {
		return
	}
	if b.EventName == nil || *b.EventName == "" {
		writeError(w, http.StatusBadRequest, "Invalid format, eventName missing.")
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	ev := &messages.InstanceEvent{EventName: *b.EventName, Message: b.Message, Source: "api"}
	if _, err := s.instances.Do(ctx, r.PathValue("id"), ev); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"accepted": "OK"})
}

// getEvent answers GET /event/:name (the last value, or the first to come)
// and, with next, GET /once/:name (the next one): the event's message as
// JSON, 204 when it has none. Without a name they give the whole latest
// event of any name, {eventName, message}.
func (s *Server) getEvent(next bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := s.streamContext(r)
		defer cancel()
		name := r.PathValue("name")
		ev, err := s.instances.Event(ctx, r.PathValue("id"), &messages.InstanceEventWait{EventName: name, Next: next})
		if err != nil {
			fail(w, err)
			return
		}
		if name == "" {
			writeJSON(w, http.StatusOK, eventJSON{EventName: ev.EventName, Message: ev.Message})
			return
		}
		if len(ev.Message) == 0 || string(ev.Message) == "null" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeJSON(w, http.StatusOK, json.RawMessage(ev.Message))
	}
}

// getEvents is GET /events/:name: every event of that name from now on,
// one JSON line each (its message, {} for none).
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) {
	if !accepts(r, octetStream) {
		notAcceptable(w, octetStream)
		return
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	st, err := s.instances.Events(ctx, r.PathValue("id"), &messages.InstanceEventsOpen{EventName: r.PathValue("name")})
	if err != nil {
		fail(w, err)
		return
	}
	defer st.Close()
	flush := startStream(w, octetStream)
	for {
		ev, err := st.Next(ctx)
		if err != nil {
			return
		}
		line := ev.Message
		if len(line) == 0 || string(line) == "null" {
			line = []byte("{}")
		}
		if _, err := w.Write(append(bytes.Clone(line), '\n')); err != nil {
			return
		}
		flush()
	}
}
