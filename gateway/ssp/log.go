package ssp

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// logBody is the body of POST /log.
type logBody struct {
	Message *string         `json:"message"`
	Level   string          `json:"level"`
	Data    json.RawMessage `json:"data"`
}

// logLevels maps the levels a client may name to the server's; slog has
// no trace, so trace is debug. Any other level, or none, is info, as in the
// original.
var logLevels = map[string]slog.Level{
	"error": slog.LevelError,
	"warn":  slog.LevelWarn,
	"info":  slog.LevelInfo,
	"debug": slog.LevelDebug,
	"trace": slog.LevelDebug,
}

// serveLog serves POST /log: the client's message goes to the server's log
// at its level, marked remote=true, with the members of its data as the
// attributes of a "data" group (data that is not an object is one
// attribute, "data").
func (s *Server) serveLog(w http.ResponseWriter, r *http.Request) int {
	body, ae := s.readBody(w, r)
	defer body.Release()
	if ae != nil {
		return s.writeError(w, ae)
	}
	var b logBody
	if ae := decodeObject("the body", body.Bytes(), &b); ae != nil {
		return s.writeError(w, ae)
	}
	if b.Message == nil {
		return s.writeError(w, badRequest("missing field 'message'"))
	}
	attrs := []slog.Attr{slog.Bool("remote", true)}
	if !isNull(b.Data) {
		attrs = append(attrs, dataAttr(b.Data))
	}
	s.log.LogAttrs(r.Context(), logLevels[strings.ToLower(b.Level)], *b.Message, attrs...)
	w.WriteHeader(http.StatusOK)
	return http.StatusOK
}

// dataAttr turns a log's data into an attribute: a group of the members of
// an object, in key order, or the value itself. Numbers keep their digits.
func dataAttr(raw json.RawMessage) slog.Attr {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	dec.Decode(&v) // raw is one valid JSON value: encoding/json checked it
	obj, ok := v.(map[string]any)
	if !ok {
		return slog.Any("data", v)
	}
	members := make([]any, 0, len(obj))
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		members = append(members, slog.Any(k, obj[k]))
	}
	return slog.Group("data", members...)
}
