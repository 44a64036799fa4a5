package synap

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/troupe-run/troupe/messages"
)

// msgCase is a messaging command, through POST /api/v1/command or, with a
// path, through a REST route: the backend must get want, and its reply
// must come back as out (the payload, or the REST body).
type msgCase struct {
	name    string
	command string
	payload string
	method  string // REST only
	path    string // REST only
	body    string // REST only
	want    proto.Message
	reply   proto.Message // nil: an empty reply
	out     string
}

func runMsgCases(t *testing.T, cases []msgCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, insecure())
			ts.answer(tc.reply)
			var got string
			if tc.path != "" {
				rec := serve(ts, tc.method, tc.path, tc.body)
				if rec.Code != http.StatusOK {
					t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
				}
				got = rec.Body.String()
			} else {
				rec := postCommand(ts, fmt.Sprintf(`{"command":%q,"request_id":"req-1","payload":%s}`, tc.command, tc.payload))
				if rec.Code != http.StatusOK {
					t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
				}
				r := decodeReply(t, rec)
				if r.Type != "response" || r.Status != "success" || r.RequestID == nil || *r.RequestID != "req-1" {
					t.Fatalf("bad envelope: %s", rec.Body)
				}
				got = string(r.Payload)
			}
			if got != tc.out {
				t.Errorf("reply\n got %s\nwant %s", got, tc.out)
			}
			reqs := ts.messagingRequests()
			if len(reqs) != 1 {
				t.Fatalf("backends got %d requests, want 1: %v", len(reqs), reqs)
			}
			if !proto.Equal(reqs[0], tc.want) {
				t.Errorf("request\n got %v\nwant %v", prototext.Format(reqs[0]), prototext.Format(tc.want))
			}
		})
	}
}

// answer makes the backend that rep is a reply of answer every request
// with it.
func (ts *testServer) answer(rep proto.Message) {
	switch rep := rep.(type) {
	case *messages.QueueReply:
		ts.queues.setReply(func(context.Context, *messages.QueueRequest) (*messages.QueueReply, error) { return rep, nil })
	case *messages.RoomReply:
		ts.rooms.setReply(func(context.Context, *messages.RoomRequest) (*messages.RoomReply, error) { return rep, nil })
	case *messages.PubSubReply:
		ts.pubsub.setReply(func(context.Context, *messages.PubSubRequest) (*messages.PubSubReply, error) { return rep, nil })
	}
}

// messagingRequests lists the requests the queues, rooms and router got.
func (ts *testServer) messagingRequests() []proto.Message {
	var out []proto.Message
	for _, r := range ts.queues.requests() {
		out = append(out, r)
	}
	for _, r := range ts.rooms.requests() {
		out = append(out, r)
	}
	for _, r := range ts.pubsub.requests() {
		out = append(out, r)
	}
	return out
}

func TestMessagingErrors(t *testing.T) {
	queueFails := func(code string) func(*testServer) {
		return func(ts *testServer) { ts.answer(&messages.QueueReply{ErrorCode: code, ErrorMessage: "because"}) }
	}
	tests := []struct {
		name    string
		setup   func(*testServer)
		command string
		payload string
		status  int
		code    string
		details map[string]any
	}{
		{"queue not found", queueFails(messages.CodeQueueNotFound), "queue.stats", `{"queue":"q"}`, 404, messages.CodeQueueNotFound, nil},
		{"message not found", queueFails(messages.CodeMessageNotFound), "queue.ack", `{"queue":"q","message_id":"m"}`, 404, messages.CodeMessageNotFound, nil},
		{"queue exists", queueFails(messages.CodeQueueExists), "queue.create", `{"queue":"q"}`, 409, messages.CodeQueueExists, nil},
		{"queue full", queueFails(messages.CodeQueueFull), "queue.publish", `{"queue":"q","message":1}`, 507, messages.CodeQueueFull, nil},
		{"too many queues", queueFails(messages.CodeLimit), "queue.create", `{"queue":"q"}`, 507, messages.CodeLimit, nil},
		{"bad queue name", queueFails(messages.CodeInvalid), "queue.create", `{"queue":"a b"}`, 422, messages.CodeInvalid, nil},
		{"store failure", queueFails(messages.CodeStore), "queue.publish", `{"queue":"q","message":1}`, 500, messages.CodeStore, nil},
		{"queue actor down", func(ts *testServer) {
			ts.queues.setReply(func(context.Context, *messages.QueueRequest) (*messages.QueueReply, error) {
				return nil, fmt.Errorf("asking queues/q: %w", context.DeadlineExceeded)
			})
		}, "queue.purge", `{"queue":"q"}`, 503, messages.CodeTimeout, nil},
		{"offset trimmed", func(ts *testServer) {
			ts.answer(&messages.RoomReply{ErrorCode: messages.CodeOffsetTrimmed, ErrorMessage: "gone", OldestOffset: 40, NewestOffset: 90})
		}, "stream.history", `{"room":"r","from_offset":3}`, 400, messages.CodeOffsetTrimmed, map[string]any{"oldest_offset": 40.0}},
		{"room not found", func(ts *testServer) {
			ts.answer(&messages.RoomReply{ErrorCode: messages.CodeNotFound})
		}, "stream.stats", `{"room":"r"}`, 404, messages.CodeNotFound, nil},
		{"invalid topic", func(ts *testServer) {
			ts.answer(&messages.PubSubReply{ErrorCode: messages.CodeInvalid, ErrorMessage: `topic "a..b": empty level`})
		}, "pubsub.publish", `{"topic":"a..b","message":1}`, 400, messages.CodeInvalid, nil},
		{"router down", func(ts *testServer) {
			ts.pubsub.setReply(func(context.Context, *messages.PubSubRequest) (*messages.PubSubReply, error) {
				return nil, errors.New("pubsub/router is restarting")
			})
		}, "pubsub.stats", `{}`, 503, messages.CodeUnavailable, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, insecure())
			tc.setup(ts)
			rec := postCommand(ts, fmt.Sprintf(`{"command":%q,"payload":%s}`, tc.command, tc.payload))
			wantError(t, rec, tc.status, tc.code)
			r := decodeReply(t, rec)
			for k, v := range tc.details {
				if r.Error.Details[k] != v {
					t.Errorf("details[%s] = %v, want %v; body %s", k, r.Error.Details[k], v, rec.Body)
				}
			}
		})
	}
}

func TestSubscriptionsNeedWebSocket(t *testing.T) {
	for _, body := range []string{
		`{"command":"stream.subscribe","payload":{"room":"r"}}`,
		`{"command":"stream.unsubscribe","payload":{"room":"r"}}`,
		`{"command":"pubsub.unsubscribe","payload":{}}`,
		`{"command":"queue.subscribe","payload":{"queue":"q"}}`,
		`{"command":"queue.unsubscribe","payload":{"queue":"q"}}`,
	} {
		ts := newTestServer(t, insecure())
		wantError(t, postCommand(ts, body), http.StatusBadRequest, codeBadRequest, wsPath)
		if n := len(ts.messagingRequests()); n != 0 {
			t.Errorf("%s reached a backend", body)
		}
	}
}
