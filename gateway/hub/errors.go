package hub

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/troupe-run/troupe/messages"
)

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"the reply could not be encoded"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// writeError answers an error the way the original hub does: a JSON
// object whose "error" says what was wrong.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// statusOf maps the services' error codes to status codes.
var statusOf = map[string]int{
	messages.CodeNotFound:       http.StatusNotFound,
	messages.CodeInvalid:        http.StatusBadRequest,
	messages.CodeLimit:          http.StatusInsufficientStorage,
	messages.CodeUnavailable:    http.StatusServiceUnavailable,
	messages.CodeStore:          http.StatusInternalServerError,
	messages.CodePackageRefused: http.StatusUnprocessableEntity,
	messages.CodeSequenceInUse:  http.StatusConflict,
	messages.CodeInstanceExists: http.StatusConflict,
	messages.CodeNotRunning:     http.StatusBadRequest,
	messages.CodeInputElsewhere: http.StatusNotAcceptable,
	messages.CodeNoContentType:  http.StatusNotAcceptable,
	messages.CodeInputEnded:     http.StatusConflict,
	messages.CodeContentType:    http.StatusUnsupportedMediaType,
	messages.CodeTopicExists:    http.StatusBadRequest,
}

// codedError is a refusal of the hub's domains: its code is one of
// messages.Code*, its message is for the client.
type codedError interface {
	error
	ErrorCode() string
}

// fail answers err: a service's refusal (an error with a code of
// messages) with its status, anything else (an actor that did not answer)
// with 503.
func fail(w http.ResponseWriter, err error) {
	failWith(w, err, nil)
}

// failWith is fail whose refusal body also carries extra's fields.
func failWith(w http.ResponseWriter, err error, extra map[string]string) {
	var coded codedError
	switch {
	case errors.As(err, &coded):
		status, ok := statusOf[coded.ErrorCode()]
		if !ok {
			status = http.StatusInternalServerError
		}
		body := map[string]string{"error": coded.Error()}
		for k, v := range extra {
			body[k] = v
		}
		writeJSON(w, status, body)
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "the request timed out")
	case errors.Is(err, context.Canceled):
		// The client is gone; nobody reads an answer.
	default:
		writeError(w, http.StatusServiceUnavailable, err.Error())
	}
}

// accepts reports whether the Accept header lets the server answer one of
// the served types; a missing header accepts anything. Like the original:
// parameters are ignored, and a type with * matches by its prefix.
func accepts(r *http.Request, served ...string) bool {
	acc := r.Header.Get("Accept")
	if acc == "" {
		return true
	}
	for _, item := range strings.Split(acc, ",") {
		mt, _, _ := strings.Cut(item, ";")
		mt = strings.TrimSpace(mt)
		for _, t := range served {
			if mt == t {
				return true
			}
			if star := strings.IndexByte(mt, '*'); star >= 0 && strings.HasPrefix(t, mt[:star]) {
				return true
			}
		}
	}
	return false
}

// notAcceptable answers a request whose Accept header the route cannot
// satisfy.
func notAcceptable(w http.ResponseWriter, served ...string) {
	writeError(w, http.StatusNotAcceptable, "this route answers "+strings.Join(served, " or "))
}

// mediaType is a Content-Type without its parameters.
func mediaType(r *http.Request) string {
	mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// endStream reads x-end-stream: "true" or "false", else def.
func endStream(r *http.Request, def bool) bool {
	switch r.Header.Get("X-End-Stream") {
	case "true":
		return true
	case "false":
		return false
	}
	return def
}
