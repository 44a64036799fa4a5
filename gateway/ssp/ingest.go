package ssp

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/troupe-run/troupe/messages"
)

// ingestBody is the body of POST /ingest.
type ingestBody struct {
	Table  string          `json:"table"`
	Op     string          `json:"op"`
	ID     string          `json:"id"`
	Record json.RawMessage `json:"record"`
	// JobAssignee is set by the scheduler on live events: the SSP that
	// runs the job a CREATE into a job table makes.
	JobAssignee string `json:"job_assignee"`
}

// decodeIngest decodes and validates an ingest. The op is case-insensitive,
// as in the original (its scheduler sends "create" as well as "CREATE").
// CREATE and UPDATE need the record, a JSON object; a DELETE may leave it
// out or send null, and what it sends is passed on.
func decodeIngest(body []byte) (*messages.IngestRequest, *apiError) {
	var b ingestBody
	if ae := decodeObject("the body", body, &b); ae != nil {
		return nil, ae
	}
	switch {
	case b.Table == "":
		return nil, badRequest("missing field 'table'")
	case b.Op == "":
		return nil, badRequest("missing field 'op': CREATE, UPDATE or DELETE")
	case b.ID == "":
		return nil, badRequest("missing field 'id'")
	}
	op := strings.ToUpper(b.Op)
	switch op {
	case "CREATE", "UPDATE":
		if isNull(b.Record) {
			return nil, badRequest("missing field 'record': %s needs the record, a JSON object", op)
		}
	case "DELETE":
		if isNull(b.Record) {
			b.Record = nil
		}
	default:
		return nil, badRequest("invalid op %q: use CREATE, UPDATE or DELETE", b.Op)
	}
	if b.Record != nil && !isObject(b.Record) {
		return nil, badRequest("'record' must be a JSON object")
	}
	return &messages.IngestRequest{Table: b.Table, Op: op, Id: b.ID, Record: b.Record, JobAssignee: b.JobAssignee}, nil
}

// serveIngest serves POST /ingest: 200, with an empty body, once the views
// have applied the change in memory.
func (s *Server) serveIngest(w http.ResponseWriter, r *http.Request) int {
	if ae := s.notReady(); ae != nil {
		return s.writeError(w, ae)
	}
	body, ae := s.readBody(w, r)
	defer body.Release()
	if ae != nil {
		return s.writeError(w, ae)
	}
	req, ae := decodeIngest(body.Bytes())
	if ae != nil {
		return s.writeError(w, ae)
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	rep, err := s.views.Ingest(ctx, req)
	if err == nil && rep.GetErrorCode() != "" {
		err = replyError(rep.ErrorCode, rep.ErrorMessage)
	}
	return s.answer(w, err)
}
