package synap

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/troupe-run/troupe/messages"
)

// originalServer is a test server answering in the original's shapes.
func originalServer(t *testing.T) *testServer {
	cfg := insecure()
	cfg.Original = true
	return newTestServer(t, cfg)
}

// TestOriginalEnvelope: the same command answers in each mode's envelope,
// and a failure is HTTP 200 with the error as text in original mode only.
func TestOriginalEnvelope(t *testing.T) {
	for _, tc := range []struct {
		name     string
		original bool
		reply    *messages.DataReply
		status   int
		body     string
	}{
		{"spec get", false, &messages.DataReply{Found: true, Value: []byte(`"v"`), TtlMs: -1}, 200,
			`{"type":"response","request_id":"r1","status":"success","success":true,"payload":{"found":true,"value":"v","ttl":null}}`},
		{"original get of a string", true, &messages.DataReply{Found: true, Value: []byte(`"v"`), TtlMs: -1}, 200,
			`{"success":true,"request_id":"r1","payload":"v","error":null}`},
		{"original get of an object: its JSON text", true, &messages.DataReply{Found: true, Value: []byte(`{"a":1}`)}, 200,
			`{"success":true,"request_id":"r1","payload":"{\"a\":1}","error":null}`},
		{"original get of a missing key", true, &messages.DataReply{TtlMs: -2}, 200,
			`{"success":true,"request_id":"r1","payload":null,"error":null}`},
		{"spec wrong type", false, &messages.DataReply{ErrorCode: messages.CodeWrongType, ErrorMessage: "k holds a hash"}, 400,
			`{"type":"response","request_id":"r1","status":"error","success":false,"error":{"code":"WRONG_TYPE","message":"k holds a hash","details":{}}}`},
		{"original wrong type", true, &messages.DataReply{ErrorCode: messages.CodeWrongType, ErrorMessage: "k holds a hash"}, 200,
			`{"success":false,"request_id":"r1","payload":null,"error":"k holds a hash"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := insecure()
			cfg.Original = tc.original
			ts := newTestServer(t, cfg)
			ts.ks.reply = replyWith(tc.reply)
			rec := postCommand(ts, `{"command":"kv.get","request_id":"r1","payload":{"key":"k"}}`)
			if rec.Code != tc.status || rec.Body.String() != tc.body {
				t.Errorf("got %d %s\nwant %d %s", rec.Code, rec.Body, tc.status, tc.body)
			}
		})
	}
}

// TestOriginalRefusals: an unknown command and invalid data are failed
// replies, not HTTP errors, in original mode; a malformed body keeps its
// status but takes the original's shape.
func TestOriginalRefusals(t *testing.T) {
	ts := originalServer(t)
	rec := postCommand(ts, `{"command":"kv.nope","request_id":"r2","payload":{}}`)
	if want := `{"success":false,"request_id":"r2","payload":null,"error":"unknown command \"kv.nope\""}`; rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("unknown command: %d %s", rec.Code, rec.Body)
	}
	rec = postCommand(ts, `{"command":"kv.set","request_id":"r3","payload":{"key":"a"}}`)
	if want := `{"success":false,"request_id":"r3","payload":null,"error":"value is required"}`; rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("invalid data: %d %s", rec.Code, rec.Body)
	}
	rec = postCommand(ts, `{"command":`)
	if rec.Code != http.StatusBadRequest || !strings.HasPrefix(rec.Body.String(), `{"success":false,`) ||
		!strings.Contains(rec.Body.String(), `"error":"malformed JSON`) {
		t.Errorf("malformed body: %d %s", rec.Code, rec.Body)
	}
}

// TestOriginalBatch: each result of a batch takes the original's shape.
func TestOriginalBatch(t *testing.T) {
	ts := originalServer(t)
	ts.ks.reply = replyWith(&messages.DataReply{Found: true, Value: []byte(`7`)})
	rec := postCommand(ts, `{"type":"batch","request_id":"b","commands":[{"command":"kv.get","payload":{"key":"a"}},{"command":"kv.zzz"}]}`)
	want := `{"type":"batch_response","request_id":"b","results":[{"success":true,"payload":"7","error":null},` +
		`{"success":false,"payload":null,"error":"unknown command \"kv.zzz\""}]}`
	if rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("got %d %s\nwant %s", rec.Code, rec.Body, want)
	}
}

// TestModeIndependentShapes: the shapes both modes share, where the request
// tells which one the client wants.
func TestModeIndependentShapes(t *testing.T) {
	for _, original := range []bool{false, true} {
		cfg := insecure()
		cfg.Original = original
		ts := newTestServer(t, cfg)
		payloadOf := func(body string) string {
			t.Helper()
			rec := postCommand(ts, body)
			r := decodeReply(t, rec)
			if rec.Code != 200 || r.Success == nil || !*r.Success {
				t.Fatalf("original=%v %s: %d %s", original, body, rec.Code, rec.Body)
			}
			return string(r.Payload)
		}
		if got := payloadOf(`{"command":"kv.mget","payload":{"keys":[]}}`); got != `{"values":[]}` {
			t.Errorf("original=%v: mget [] = %s", original, got)
		}
		ts.ks.reply = replyWith(&messages.DataReply{Integer: 0})
		if got := payloadOf(`{"command":"kv.del","payload":{"key":"a"}}`); got != `{"deleted":false}` {
			t.Errorf("original=%v: del one key = %s", original, got)
		}
		ts.queues.setReply(func(context.Context, *messages.QueueRequest) (*messages.QueueReply, error) {
			return &messages.QueueReply{Message: &messages.QueueMessage{MessageId: "m1", Message: []byte(`[104,105]`),
				Priority: 7, RetryCount: 1, MaxRetries: 3, Headers: map[string]string{"h": "v"}}}, nil
		})
		want := `{"message":{"id":"m1","payload":[104,105],"priority":7,"retry_count":1,"max_retries":3,"headers":{"h":"v"}}}`
		if got := payloadOf(`{"command":"queue.consume","payload":{"queue":"q","consumer_id":"c1"}}`); got != want {
			t.Errorf("original=%v: consume with consumer_id = %s", original, got)
		}
		ts.queues.setReply(func(context.Context, *messages.QueueRequest) (*messages.QueueReply, error) {
			return &messages.QueueReply{}, nil
		})
		if got := payloadOf(`{"command":"queue.consume","payload":{"queue":"q","consumer_id":"c1"}}`); got != `{"message":null}` {
			t.Errorf("original=%v: empty consume = %s", original, got)
		}
	}
}

// TestKeysGlob: kv.keys pages through the scan and keeps the keys matching
// its pattern.
func TestKeysGlob(t *testing.T) {
	ts := newTestServer(t, insecure())
	all := []string{"a1", "a2", "ab", "b1", "user:[1]"}
	ts.ks.reply = func(req *messages.DataRequest) (*messages.DataReply, error) {
		var page []string
		for _, k := range all {
			if k > req.Cursor && len(k) >= len(req.Prefix) && k[:len(req.Prefix)] == req.Prefix && len(page) < 2 {
				page = append(page, k)
			}
		}
		return &messages.DataReply{Keys: page, HasMore: len(page) == 2}, nil
	}
	for pattern, want := range map[string]string{
		`*`:         `{"keys":["a1","a2","ab","b1","user:[1]"],"count":5}`,
		`a?`:        `{"keys":["a1","a2","ab"],"count":3}`,
		`a[0-9]`:    `{"keys":["a1","a2"],"count":2}`,
		`a[^0-9]`:   `{"keys":["ab"],"count":1}`,
		`user:\\[*`: `{"keys":["user:[1]"],"count":1}`,
		`zz*`:       `{"keys":[],"count":0}`,
	} {
		rec := postCommand(ts, `{"command":"kv.keys","payload":{"pattern":"`+pattern+`"}}`)
		if r := decodeReply(t, rec); string(r.Payload) != want {
			t.Errorf("keys %s = %s, want %s", pattern, r.Payload, want)
		}
	}
}
