package skip

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
)

// checkContentType refuses a body declared as something other than JSON.
// Skip's Express server parses only application/json bodies and silently
// takes anything else as {}; a client that sends no Content-Type at all
// still gets its body read as JSON, which is what it meant.
func checkContentType(r *http.Request) *apiError {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return errorf(http.StatusUnsupportedMediaType, "Content-Type %q: the body must be application/json", ct)
}

// jsonBody reads the body of r as one JSON value, compacted. An empty body
// is empty: the caller decides what it stands for.
func (d *Door) jsonBody(w http.ResponseWriter, r *http.Request, what string) (json.RawMessage, *apiError) {
	if ae := checkContentType(r); ae != nil {
		return nil, ae
	}
	body, ae := d.readBody(w, r)
	defer body.Release()
	if ae != nil {
		return nil, ae
	}
	raw := bytes.TrimSpace(body.Bytes())
	if len(raw) == 0 {
		return nil, nil
	}
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		return nil, errorf(http.StatusBadRequest, "the body is not JSON (%s expected): %v", what, err)
	}
	return out.Bytes(), nil
}

// params returns the resource parameters in body: an empty body is {}, as
// Skip's server takes it.
func params(body json.RawMessage) json.RawMessage {
	if len(body) == 0 {
		return json.RawMessage("{}")
	}
	return body
}

func (d *Door) servePatch(w http.ResponseWriter, r *http.Request) int {
	body, ae := d.jsonBody(w, r, "an array of [key, [values...]] entries")
	if ae != nil {
		return d.writeError(w, ae)
	}
	entries, ae := decodeEntries(body)
	if ae != nil {
		return d.writeError(w, ae)
	}
	ctx, cancel := d.requestContext(r)
	defer cancel()
	if err := d.svc.Patch(ctx, r.PathValue("collection"), entries); err != nil {
		return d.writeError(w, serviceError(err))
	}
	return text(w, http.StatusOK, "OK")
}

// decodeEntries decodes a PATCH body, [[key, [value, ...]], ...], naming the
// first entry that is not of that shape.
func decodeEntries(body json.RawMessage) ([]Entry, *apiError) {
	if len(body) == 0 {
		return nil, errorf(http.StatusBadRequest, "the body is empty: an array of [key, [values...]] entries expected")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, errorf(http.StatusBadRequest, "the body must be an array of [key, [values...]] entries, got %s", excerpt(body))
	}
	entries := make([]Entry, len(items))
	for i, item := range items {
		var pair []json.RawMessage
		if err := json.Unmarshal(item, &pair); err != nil || len(pair) != 2 {
			return nil, errorf(http.StatusBadRequest, "entry %d must be [key, [values...]], got %s", i, excerpt(item))
		}
		var values []json.RawMessage
		if pair[1][0] != '[' || json.Unmarshal(pair[1], &values) != nil {
			return nil, errorf(http.StatusBadRequest, "entry %d: the values of key %s must be an array, got %s", i, excerpt(pair[0]), excerpt(pair[1]))
		}
		entries[i] = Entry{Key: pair[0], Values: values}
	}
	return entries, nil
}

// excerpt quotes the start of a JSON text for an error message.
func excerpt(v []byte) string {
	const max = 80
	if len(v) > max {
		return string(v[:max]) + "..."
	}
	return string(v)
}

func (d *Door) serveSnapshot(w http.ResponseWriter, r *http.Request) int {
	body, ae := d.jsonBody(w, r, "the resource's parameters")
	if ae != nil {
		return d.writeError(w, ae)
	}
	ctx, cancel := d.readContext(r)
	defer cancel()
	entries, err := d.svc.Snapshot(ctx, r.PathValue("resource"), params(body))
	if err != nil {
		return d.writeError(w, serviceError(err))
	}
	out := jsonw.Get()
	defer jsonw.Put(out)
	writeEntries(out, entries)
	return out.Respond(w, http.StatusOK)
}

// writeEntries writes [[key, [values...]], ...].
func writeEntries(out *jsonw.Writer, entries []Entry) {
	out.Arr()
	for _, e := range entries {
		out.Arr()
		out.Raw(e.Key)
		out.Arr()
		for _, v := range e.Values {
			out.Raw(v)
		}
		out.EndArr()
		out.EndArr()
	}
	out.EndArr()
}

func (d *Door) serveLookup(w http.ResponseWriter, r *http.Request) int {
	body, ae := d.jsonBody(w, r, `{"key": ..., "params": ...}`)
	if ae != nil {
		return d.writeError(w, ae)
	}
	var req map[string]json.RawMessage
	if len(body) == 0 || json.Unmarshal(body, &req) != nil || req == nil {
		return d.writeError(w, errorf(http.StatusBadRequest, `the body must be an object {"key": ..., "params": ...}, got %s`, excerpt(body)))
	}
	key, ok := req["key"]
	if !ok {
		return d.writeError(w, errorf(http.StatusBadRequest, `the body has no "key" field`))
	}
	p, ok := req["params"]
	if !ok {
		return d.writeError(w, errorf(http.StatusBadRequest, `the body has no "params" field`))
	}
	ctx, cancel := d.readContext(r)
	defer cancel()
	values, err := d.svc.Lookup(ctx, r.PathValue("resource"), p, key)
	if err != nil {
		return d.writeError(w, serviceError(err))
	}
	out := jsonw.Get()
	defer jsonw.Put(out)
	out.Arr()
	for _, v := range values {
		out.Raw(v)
	}
	out.EndArr()
	return out.Respond(w, http.StatusOK)
}

func (d *Door) serveCreateStream(w http.ResponseWriter, r *http.Request) int {
	body, ae := d.jsonBody(w, r, "the resource's parameters")
	if ae != nil {
		return d.writeError(w, ae)
	}
	ctx, cancel := d.readContext(r)
	defer cancel()
	uuid, err := d.svc.CreateStream(ctx, r.PathValue("resource"), params(body))
	if err != nil {
		return d.writeError(w, serviceError(err))
	}
	if d.cfg.ResourcePrefix != "" {
		uuid = fmt.Sprintf("%s/%s", d.cfg.ResourcePrefix, uuid)
	}
	return text(w, http.StatusCreated, uuid)
}

func (d *Door) serveDeleteStream(w http.ResponseWriter, r *http.Request) int {
	ctx, cancel := d.requestContext(r)
	defer cancel()
	if err := d.svc.DeleteStream(ctx, r.PathValue("uuid")); err != nil {
		return d.writeError(w, serviceError(err))
	}
	return text(w, http.StatusOK, "OK")
}
