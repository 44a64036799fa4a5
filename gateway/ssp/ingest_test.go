package ssp

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/troupe-run/troupe/gateway/internal/doortest"
	"github.com/troupe-run/troupe/messages"
)

func TestIngest(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *messages.IngestRequest
	}{
		{"spec example", `{"table":"users","op":"CREATE","id":"user:alice","record":{"name":"Alice","email":"alice@example.com"}}`,
			&messages.IngestRequest{Table: "users", Op: "CREATE", Id: "user:alice", Record: []byte(`{"name":"Alice","email":"alice@example.com"}`)}},
		{"lower-case op", `{"table":"user","op":"update","id":"user:1","record":{"_00_rv":2}}`,
			&messages.IngestRequest{Table: "user", Op: "UPDATE", Id: "user:1", Record: []byte(`{"_00_rv":2}`)}},
		{"mixed-case op", `{"table":"user","op":"Delete","id":"user:1","record":{"id":"user:1"}}`,
			&messages.IngestRequest{Table: "user", Op: "DELETE", Id: "user:1", Record: []byte(`{"id":"user:1"}`)}},
		{"delete without record", `{"table":"user","op":"DELETE","id":"user:1"}`,
			&messages.IngestRequest{Table: "user", Op: "DELETE", Id: "user:1"}},
		{"delete with null record", `{"table":"user","op":"DELETE","id":"user:1","record":null}`,
			&messages.IngestRequest{Table: "user", Op: "DELETE", Id: "user:1"}},
		{"the CLI's extra hash field", `{"table":"t","op":"CREATE","id":"t:1","record":{},"hash":""}`,
			&messages.IngestRequest{Table: "t", Op: "CREATE", Id: "t:1", Record: []byte(`{}`)}},
		{"the scheduler's job_assignee", `{"table":"job","op":"CREATE","id":"job:1","record":{"status":"pending"},"job_assignee":"ssp-a"}`,
			&messages.IngestRequest{Table: "job", Op: "CREATE", Id: "job:1", Record: []byte(`{"status":"pending"}`), JobAssignee: "ssp-a"}},
		{"a null job_assignee", `{"table":"job","op":"CREATE","id":"job:1","record":{},"job_assignee":null}`,
			&messages.IngestRequest{Table: "job", Op: "CREATE", Id: "job:1", Record: []byte(`{}`)}},
		{"spaces kept inside the record", "{ \"table\" : \"t\", \"op\" : \"CREATE\", \"id\" : \"t:1\", \"record\" : { \"a\" : 1 } }",
			&messages.IngestRequest{Table: "t", Op: "CREATE", Id: "t:1", Record: []byte(`{ "a" : 1 }`)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, withSecret())
			want(t, ts.call("POST", "/ingest", tc.body), 200, "")
			calls := ts.views.callList()
			if len(calls) != 1 || !proto.Equal(calls[0].arg.(*messages.IngestRequest), tc.want) {
				t.Errorf("the views got %v, want %v", calls, tc.want)
			}
			if obs := ts.metrics.Last(); obs != (doortest.Observation{Door: "views", Command: "ingest", Status: 200}) {
				t.Errorf("metrics observed %+v", obs)
			}
		})
	}
}

func TestIngestErrors(t *testing.T) {
	const good = `{"table":"t","op":"CREATE","id":"t:1","record":{}}`
	tests := []struct {
		name   string
		body   string
		setup  func(*fakeViews)
		status int
		resp   string
	}{
		{"empty body", ``, nil, 400, plain("the body is empty: a JSON object is required")},
		{"not JSON", `not valid json`, nil, 400, plain("the body is not valid JSON: invalid character 'o' in literal null (expecting 'u')")},
		{"truncated", `{"table":"t"`, nil, 400, plain("the body is not valid JSON: unexpected end of JSON input")},
		{"trailing data", good + `x`, nil, 400, plain("the body is not valid JSON: invalid character 'x' after top-level value")},
		{"array", `[1]`, nil, 400, plain("the body must be a JSON object, not array")},
		{"missing table", `{"op":"CREATE","id":"t:1","record":{}}`, nil, 400, plain("missing field 'table'")},
		{"missing op", `{"table":"t","id":"t:1","record":{}}`, nil, 400, plain("missing field 'op': CREATE, UPDATE or DELETE")},
		{"missing id", `{"table":"t","op":"CREATE","record":{}}`, nil, 400, plain("missing field 'id'")},
		{"bad op", `{"table":"t","op":"MERGE","id":"t:1","record":{}}`, nil, 400, plain(`invalid op "MERGE": use CREATE, UPDATE or DELETE`)},
		{"table not a string", `{"table":5,"op":"CREATE","id":"t:1","record":{}}`, nil, 400, plain("'table' must be a string, not number")},
		{"create without record", `{"table":"t","op":"CREATE","id":"t:1"}`, nil, 400,
			plain("missing field 'record': CREATE needs the record, a JSON object")},
		{"update with null record", `{"table":"t","op":"update","id":"t:1","record":null}`, nil, 400,
			plain("missing field 'record': UPDATE needs the record, a JSON object")},
		{"record an array", `{"table":"t","op":"CREATE","id":"t:1","record":[1]}`, nil, 400, plain("'record' must be a JSON object")},
		{"record a string", `{"table":"t","op":"DELETE","id":"t:1","record":"x"}`, nil, 400, plain("'record' must be a JSON object")},
		{"not ready", good, func(f *fakeViews) { f.ready.Store(false) }, 503, notReadyBody},
		{"views refuse", good, func(f *fakeViews) {
			f.ingest = &messages.IngestReply{ErrorCode: messages.CodeInvalid, ErrorMessage: "record of 9 bytes: the limit is 8"}
		}, 400, plain("record of 9 bytes: the limit is 8")},
		{"views time out", good, func(f *fakeViews) { f.err = context.DeadlineExceeded }, 503,
			`{"code":"TIMEOUT","message":"the request timed out"}`},
		{"views down", good, func(f *fakeViews) { f.err = errors.New("engine stopped") }, 503,
			`{"code":"SERVICE_UNAVAILABLE","message":"the views service cannot answer: engine stopped"}`},
		{"store failure", good, func(f *fakeViews) {
			f.ingest = &messages.IngestReply{ErrorCode: messages.CodeStore, ErrorMessage: "disk full"}
		}, 500, plain("disk full")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, withSecret())
			if tc.setup != nil {
				tc.setup(ts.views)
			}
			want(t, ts.call("POST", "/ingest", tc.body), tc.status, tc.resp)
			if tc.status == 400 && tc.setup == nil && len(ts.views.callList()) != 0 {
				t.Error("a bad body reached the views")
			}
		})
	}
}
