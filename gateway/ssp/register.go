package ssp

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/messages"
)

// registerBody is the body of POST /view/register. Beside the spec's
// camelCase names it takes the aliases the original accepts (surreal_ql,
// client_id, last_active_at, resultFormat).
type registerBody struct {
	ID              string          `json:"id"`
	Surql           string          `json:"surql"`
	SurrealQL       string          `json:"surreal_ql"`
	ClientID        string          `json:"clientId"`
	ClientIDSnake   string          `json:"client_id"`
	TTL             string          `json:"ttl"`
	Params          json.RawMessage `json:"params"`
	LastActiveAt    string          `json:"lastActiveAt"`
	LastActiveSnake string          `json:"last_active_at"`
	Format          string          `json:"format"`
	ResultFormat    string          `json:"resultFormat"`
}

// formatIDs is the format whose results leave out the records.
const formatIDs = "ids"

// formatSp00ky keeps the original SSP's prefix match (actors/view).
const formatSp00ky = "sp00ky"

// decodeRegister decodes and validates a registration. id, surql, clientId
// and ttl are required, as in the original; lastActiveAt is optional, as
// the spec says (the original requires it), and defaults to now.
func decodeRegister(body []byte) (*messages.RegisterView, *apiError) {
	return decodeView(body, false)
}

// DecodeStoredView decodes a view that the scheduler mode's bootstrap
// re-registers from the scheduler's _00_query table (actors/lifecycle),
// with the rules of POST /view/register, except that an empty clientId is
// taken, as the original takes it there.
func DecodeStoredView(body []byte) (*messages.RegisterView, error) {
	req, ae := decodeView(body, true)
	if ae != nil {
		return nil, ae
	}
	return req, nil
}

func decodeView(body []byte, anyClient bool) (*messages.RegisterView, *apiError) {
	var b registerBody
	if ae := decodeObject("the body", body, &b); ae != nil {
		return nil, ae
	}
	req := &messages.RegisterView{
		Id:       b.ID,
		Surql:    or(b.Surql, b.SurrealQL),
		ClientId: or(b.ClientID, b.ClientIDSnake),
	}
	switch {
	case req.Id == "":
		return nil, badRequest("missing field 'id'")
	case req.Surql == "":
		return nil, badRequest("missing field 'surql'")
	case req.ClientId == "" && !anyClient:
		return nil, badRequest("missing field 'clientId'")
	case b.TTL == "":
		return nil, badRequest(`missing field 'ttl': a duration such as "30s" is required`)
	}
	ttl, err := parseTTL(b.TTL)
	if err != nil {
		return nil, badRequest("invalid 'ttl' %q: %v", b.TTL, err)
	}
	req.TtlMs = ttl.Milliseconds()
	if at := or(b.LastActiveAt, b.LastActiveSnake); at != "" {
		t, err := parseTime(at)
		if err != nil {
			return nil, badRequest("invalid 'lastActiveAt' %q: an RFC 3339 time such as 2024-01-01T00:00:00Z is required", at)
		}
		req.LastActiveMs = t.UnixMilli()
	}
	var ae *apiError
	if req.Params, ae = decodeParams(b.Params); ae != nil {
		return nil, ae
	}
	if req.Format, ae = decodeFormat(or(b.Format, b.ResultFormat)); ae != nil {
		return nil, ae
	}
	return req, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// decodeParams returns a view's params, a JSON object, or nil for none. The
// sp00ky clients send them as a string holding the object (their SurrealQL
// functions cast it with <string>): JSON, or the object as SurrealDB
// renders it ({ auth: { id: user:abc }, n: 1.5f }), which the views parse
// (and refuse with 400 when it is not an object).
func decodeParams(raw json.RawMessage) ([]byte, *apiError) {
	if isNull(raw) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, badRequest("'params' is not a valid JSON string: %v", err)
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, nil
		}
		raw = json.RawMessage(s)
		if !json.Valid(raw) {
			if s[0] != '{' {
				return nil, badRequest("'params' holds a string that is not an object: %q", s)
			}
			return raw, nil // SurrealQL's text
		}
	}
	if !isObject(raw) {
		return nil, badRequest("'params' must be a JSON object")
	}
	return raw, nil
}

// decodeFormat maps the format of a registration to the views': "ids"
// leaves out the records; the original's formats (flat, tree, streaming;
// the clients send flat) all mean the records here, as does none; "sp00ky"
// means the records, with the original's reading of = 'text*' as a prefix
// match (elsewhere the * is a character, as in SurrealDB).
func decodeFormat(f string) (string, *apiError) {
	switch strings.ToLower(f) {
	case formatIDs:
		return formatIDs, nil
	case formatSp00ky:
		return formatSp00ky, nil
	case "", "flat", "tree", "streaming":
		return "", nil
	}
	return "", badRequest(`unsupported format %q: use "ids" for ids and versions only, "sp00ky" for the original's prefix match, or leave it out for the records`, f)
}

// parseTime parses an RFC 3339 time, also in the d'...' form SurrealQL
// prints datetimes in.
func parseTime(s string) (time.Time, error) {
	if len(s) > 3 && s[0] == 'd' && (s[1] == '\'' || s[1] == '"') && s[len(s)-1] == s[1] {
		s = s[2 : len(s)-1]
	}
	return time.Parse(time.RFC3339Nano, s)
}

// serveRegister serves POST /view/register: 200 with the view's current
// result, {"id", "hash", "generation", "records": [{"id", "version",
// "record"}]}, "record" left out with format "ids".
func (s *Server) serveRegister(w http.ResponseWriter, r *http.Request) int {
	if ae := s.notReady(); ae != nil {
		return s.writeError(w, ae)
	}
	body, ae := s.readBody(w, r)
	defer body.Release()
	if ae != nil {
		return s.writeError(w, ae)
	}
	req, ae := decodeRegister(body.Bytes())
	if ae != nil {
		return s.writeError(w, ae)
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	res, err := s.views.Register(ctx, req)
	switch {
	case err != nil:
		return s.writeError(w, backendError(err))
	case res.GetErrorCode() != "":
		return s.writeError(w, replyError(res.ErrorCode, res.ErrorMessage))
	}
	out := jsonw.Get()
	defer jsonw.Put(out)
	out.Obj()
	out.Key("id")
	out.Str(res.Id)
	out.Key("hash")
	out.Str(res.Hash)
	out.Key("generation")
	out.Uint(res.Generation)
	out.Key("records")
	writeRecords(out, res.Records)
	out.EndObj()
	return out.Respond(w, http.StatusOK)
}

// writeRecords writes a list of view records: {"id", "version", "record"},
// "record" left out when the views sent none (format "ids", removals).
func writeRecords(out *jsonw.Writer, recs []*messages.ViewRecord) {
	out.Arr()
	for _, rec := range recs {
		out.Obj()
		out.Key("id")
		out.Str(rec.Id)
		out.Key("version")
		out.Int(rec.Version)
		if len(rec.Record) > 0 {
			out.Key("record")
			out.Raw(rec.Record)
		}
		out.EndObj()
	}
	out.EndArr()
}

// unregisterBody is the body of POST /view/unregister.
type unregisterBody struct {
	ID string `json:"id"`
}

// serveUnregister serves POST /view/unregister: 200 with an empty body,
// also for a view that is not there (the original's answer: a client
// unregisters views the TTL sweep may have removed already).
func (s *Server) serveUnregister(w http.ResponseWriter, r *http.Request) int {
	if ae := s.notReady(); ae != nil {
		return s.writeError(w, ae)
	}
	body, ae := s.readBody(w, r)
	defer body.Release()
	if ae != nil {
		return s.writeError(w, ae)
	}
	var b unregisterBody
	if ae := decodeObject("the body", body.Bytes(), &b); ae != nil {
		return s.writeError(w, ae)
	}
	if b.ID == "" {
		return s.writeError(w, badRequest("missing field 'id'"))
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	res, err := s.views.Unregister(ctx, b.ID)
	if err == nil {
		if code := res.GetErrorCode(); code != "" && code != messages.CodeNotFound {
			err = replyError(code, res.ErrorMessage)
		}
	}
	return s.answer(w, err)
}

// serveReset serves POST /reset: every view and table is dropped. The body,
// if any (clients send {}), is not read.
func (s *Server) serveReset(w http.ResponseWriter, r *http.Request) int {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	return s.answer(w, s.views.Reset(ctx))
}
