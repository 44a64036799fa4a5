package synap

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/troupe-run/troupe/messages"
)

// commandCase is one command through POST /api/v1/command: its payload must
// become want, and the backend's reply must come back as out.
type commandCase struct {
	name    string
	command string
	payload string
	want    *messages.DataRequest
	reply   *messages.DataReply
	out     string
}

func runCommandCases(t *testing.T, cases []commandCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, insecure())
			rep := tc.reply
			if rep == nil {
				rep = &messages.DataReply{}
			}
			ts.ks.reply = replyWith(rep)
			body := fmt.Sprintf(`{"command":%q,"request_id":"req-1","payload":%s}`, tc.command, tc.payload)
			rec := postCommand(ts, body)
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
			}
			r := decodeReply(t, rec)
			if r.Type != "response" || r.Status != "success" || r.Success == nil || !*r.Success ||
				r.RequestID == nil || *r.RequestID != "req-1" {
				t.Fatalf("bad envelope: %s", rec.Body)
			}
			if string(r.Payload) != tc.out {
				t.Errorf("payload\n got %s\nwant %s", r.Payload, tc.out)
			}
			reqs := ts.ks.requests()
			if len(reqs) != 1 {
				t.Fatalf("backend got %d requests, want 1", len(reqs))
			}
			if !proto.Equal(reqs[0], tc.want) {
				t.Errorf("request\n got %v\nwant %v", prototext.Format(reqs[0]), prototext.Format(tc.want))
			}
		})
	}
}

// invalidCase is a payload the gateway must refuse without asking the
// backend.
type invalidCase struct {
	name     string
	command  string
	payload  string
	mentions string
}

func runInvalidCases(t *testing.T, cases []invalidCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, insecure())
			rec := postCommand(ts, fmt.Sprintf(`{"command":%q,"payload":%s}`, tc.command, tc.payload))
			wantError(t, rec, http.StatusUnprocessableEntity, messages.CodeInvalid, tc.mentions)
			if n := len(ts.ks.requests()) + len(ts.messagingRequests()); n != 0 {
				t.Errorf("backend got %d requests for an invalid payload", n)
			}
		})
	}
}

func TestEnvelopeErrors(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		status   int
		code     string
		mentions string
	}{
		{"empty body", "", 400, codeBadRequest, "empty"},
		{"malformed JSON", `{"command": "kv.get",`, 400, codeBadRequest, "malformed JSON"},
		{"trailing garbage", `{"command":"kv.get"} x`, 400, codeBadRequest, "malformed JSON"},
		{"not an object", `["kv.get"]`, 400, codeBadRequest, "JSON object"},
		{"no command", `{"payload":{"key":"a"}}`, 400, codeBadRequest, "command is required"},
		{"command not a string", `{"command":7}`, 400, codeBadRequest, "command must be a string"},
		{"request_id not a string", `{"command":"kv.get","request_id":5}`, 400, codeBadRequest, "request_id"},
		{"unknown command", `{"command":"kv.frobnicate","payload":{}}`, 400, codeUnknownCommand, `"kv.frobnicate"`},
		{"batch without commands", `{"type":"batch","request_id":"b"}`, 400, codeBadRequest, "commands"},
		{"commands not an array", `{"type":"batch","commands":{}}`, 400, codeBadRequest, "commands must be an array"},
		{"payload not an object", `{"command":"kv.get","payload":[1]}`, 422, messages.CodeInvalid, "payload must be a JSON object"},
		{"payload a string", `{"command":"kv.get","payload":"a"}`, 422, messages.CodeInvalid, "payload must be a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, insecure())
			wantError(t, postCommand(ts, tc.body), tc.status, tc.code, tc.mentions)
		})
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRequestID(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // "" means a generated UUID
	}{
		{"echoed", `{"command":"kv.get","request_id":"abc-123","payload":{"key":"a"}}`, "abc-123"},
		{"echoed with escapes", `{"command":"kv.get","request_id":"a\"b\u00e9","payload":{"key":"a"}}`, "a\"bé"},
		{"echoed on error", `{"command":"nope","request_id":"e-1"}`, "e-1"},
		{"echoed on invalid payload", `{"command":"kv.get","request_id":"e-2","payload":{}}`, "e-2"},
		{"generated when absent", `{"command":"kv.get","payload":{"key":"a"}}`, ""},
		{"generated when null", `{"command":"kv.get","request_id":null,"payload":{"key":"a"}}`, ""},
		{"echoed by a batch", `{"type":"batch","request_id":"b-1","commands":[]}`, "b-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, insecure())
			r := decodeReply(t, postCommand(ts, tc.body))
			if r.RequestID == nil {
				t.Fatalf("no request_id in the reply")
			}
			if tc.want == "" && !uuidV4.MatchString(*r.RequestID) {
				t.Errorf("request_id = %q, want a UUID", *r.RequestID)
			}
			if tc.want != "" && *r.RequestID != tc.want {
				t.Errorf("request_id = %q, want %q", *r.RequestID, tc.want)
			}
		})
	}
}

func TestBackendErrors(t *testing.T) {
	tests := []struct {
		name   string
		reply  *messages.DataReply
		err    error
		status int
		code   string
	}{
		{"wrong type", &messages.DataReply{ErrorCode: messages.CodeWrongType, ErrorMessage: "a holds a hash"}, nil, 400, messages.CodeWrongType},
		{"not an integer", &messages.DataReply{ErrorCode: messages.CodeNotInteger, ErrorMessage: "not an integer"}, nil, 400, messages.CodeNotInteger},
		{"overflow", &messages.DataReply{ErrorCode: messages.CodeOverflow}, nil, 400, messages.CodeOverflow},
		{"no such key", &messages.DataReply{ErrorCode: messages.CodeNoSuchKey}, nil, 404, messages.CodeNoSuchKey},
		{"invalid", &messages.DataReply{ErrorCode: messages.CodeInvalid}, nil, 422, messages.CodeInvalid},
		{"key busy", &messages.DataReply{ErrorCode: messages.CodeKeyReserved}, nil, 409, messages.CodeKeyReserved},
		{"memory limit", &messages.DataReply{ErrorCode: messages.CodeMemoryLimit, ErrorMessage: "over --max-memory"}, nil, 507, messages.CodeMemoryLimit},
		{"store error", &messages.DataReply{ErrorCode: messages.CodeStore, ErrorMessage: "disk full"}, nil, 500, messages.CodeStore},
		{"shard unavailable", &messages.DataReply{ErrorCode: messages.CodeUnavailable}, nil, 503, messages.CodeUnavailable},
		{"deadline", nil, fmt.Errorf("asking data/shard-1: %w", context.DeadlineExceeded), 503, messages.CodeTimeout},
		{"backend down", nil, errors.New("data/shard-1 is restarting"), 503, messages.CodeUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, insecure())
			ts.ks.reply = func(*messages.DataRequest) (*messages.DataReply, error) { return tc.reply, tc.err }
			rec := postCommand(ts, `{"command":"kv.incr","request_id":"x","payload":{"key":"a"}}`)
			wantError(t, rec, tc.status, tc.code)
			if tc.reply != nil && tc.reply.ErrorMessage != "" {
				if r := decodeReply(t, rec); r.Error.Message != tc.reply.ErrorMessage {
					t.Errorf("message = %q, want the shard's %q", r.Error.Message, tc.reply.ErrorMessage)
				}
			}
		})
	}
}

func TestRequestDeadline(t *testing.T) {
	ts := newTestServer(t, insecure())
	postCommand(ts, `{"command":"kv.get","payload":{"key":"a"}}`)
	ctx := ts.ks.ctxs[0]
	if _, ok := ctx.Deadline(); !ok {
		t.Fatal("the backend's context has no deadline")
	}
}

func TestBatch(t *testing.T) {
	ts := newTestServer(t, insecure())
	ks := &mapKeyspace{m: map[string][]byte{}}
	ts.ks.reply = func(req *messages.DataRequest) (*messages.DataReply, error) { return ks.Do(context.Background(), req) }

	rec := postCommand(ts, `{"type":"batch","request_id":"batch-001","commands":[
		{"command":"kv.set","payload":{"key":"user:1","value":"data1"}},
		{"command":"kv.get","payload":{"key":"user:1"}},
		{"command":"kv.incr","payload":{"key":"user:1"}},
		{"command":"kv.nope","payload":{}},
		{"payload":{}},
		{"command":"kv.set","payload":{"key":"user:1","value":"data2"}},
		{"command":"kv.del","payload":{"keys":["user:1"]}},
		{"command":"kv.get","payload":{"key":"user:1"}}
	]}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	r := decodeReply(t, rec)
	if r.Type != "batch_response" || r.RequestID == nil || *r.RequestID != "batch-001" {
		t.Fatalf("bad batch envelope: %s", rec.Body)
	}
	want := []string{
		`success {"key":"user:1","success":true,"previous":null}`,
		`success {"found":true,"value":"data1","ttl":null}`,
		`error NOT_AN_INTEGER`,
		`error UNKNOWN_COMMAND`,
		`error BAD_REQUEST`,
		`success {"key":"user:1","success":true,"previous":"data1"}`,
		`success {"deleted":1}`,
		`success {"found":false,"value":null,"ttl":null}`,
	}
	if len(r.Results) != len(want) {
		t.Fatalf("%d results, want %d: %s", len(r.Results), len(want), rec.Body)
	}
	for i, res := range r.Results {
		got := res.Status + " " + string(res.Payload)
		if res.Error != nil {
			got = res.Status + " " + res.Error.Code
		}
		if got != want[i] {
			t.Errorf("result %d = %s, want %s", i, got, want[i])
		}
		if res.Success == nil || *res.Success != (res.Status == "success") {
			t.Errorf("result %d: success does not match status: %+v", i, res)
		}
	}
}

func TestBatchLimit(t *testing.T) {
	cfg := insecure()
	cfg.MaxBatch = 2
	ts := newTestServer(t, cfg)
	cmd := `{"command":"kv.get","payload":{"key":"a"}}`
	rec := postCommand(ts, `{"type":"batch","request_id":"b","commands":[`+strings.Repeat(cmd+",", 2)+cmd+`]}`)
	wantError(t, rec, http.StatusUnprocessableEntity, messages.CodeInvalid, "3 commands", "limit is 2")
	if n := len(ts.ks.requests()); n != 0 {
		t.Errorf("an oversized batch ran %d commands", n)
	}
	rec = postCommand(ts, `{"type":"batch","request_id":"b","commands":[`+cmd+`,`+cmd+`]}`)
	if rec.Code != http.StatusOK || len(decodeReply(t, rec).Results) != 2 {
		t.Errorf("a batch at the limit: status %d, body %s", rec.Code, rec.Body)
	}
}
