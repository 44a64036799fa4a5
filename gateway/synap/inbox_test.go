package synap

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/troupe-run/troupe/messages"
)

// TestHTTPSubscriber: pubsub.subscribe over HTTP registers an inbox at the
// router; what the router sends it is read with pubsub.poll, bounded by
// --ws-buffer (the oldest dropped and counted); unsubscribe ends it.
func TestHTTPSubscriber(t *testing.T) {
	cfg := insecure()
	cfg.WSBuffer = 2
	ts := newTestServer(t, cfg)
	ts.pubsub.setReply(func(_ context.Context, req *messages.PubSubRequest) (*messages.PubSubReply, error) {
		return &messages.PubSubReply{Topics: req.Patterns, Subscriptions: int64(len(req.Patterns))}, nil
	})
	var sub struct {
		SubscriberID string   `json:"subscriber_id"`
		Topics       []string `json:"topics"`
	}
	r := decodeReply(t, postCommand(ts, `{"command":"pubsub.subscribe","payload":{"topics":["a.*"]}}`))
	if err := json.Unmarshal(r.Payload, &sub); err != nil || sub.SubscriberID == "" {
		t.Fatalf("subscribe: %s", r.Payload)
	}
	reqs := ts.pubsub.requests()
	if len(reqs) != 1 || reqs[0].Subscriber == nil || reqs[0].Patterns[0] != "a.*" {
		t.Fatalf("router got %v", reqs)
	}
	pid := reqs[0].Subscriber
	for i := range 3 {
		ts.sessions.Send(pid, &messages.PubSubMessage{Topic: "a.b", Message: []byte{'0' + byte(i)}})
	}
	type polled struct {
		Messages []struct {
			Topic   string          `json:"topic"`
			Message json.RawMessage `json:"message"`
		} `json:"messages"`
		Dropped int `json:"dropped"`
	}
	var got polled
	deadline := time.Now().Add(30 * time.Second)
	for {
		var p polled
		r := decodeReply(t, postCommand(ts, `{"command":"pubsub.poll","payload":{"subscriber_id":"`+sub.SubscriberID+`"}}`))
		json.Unmarshal(r.Payload, &p)
		got.Messages = append(got.Messages, p.Messages...)
		got.Dropped += p.Dropped
		if len(got.Messages)+got.Dropped >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(got.Messages) == 0 || string(got.Messages[len(got.Messages)-1].Message) != "2" || len(got.Messages)+got.Dropped != 3 {
		t.Fatalf("polled %+v", got)
	}
	rec := postCommand(ts, `{"command":"pubsub.unsubscribe","payload":{"subscriber_id":"`+sub.SubscriberID+`"}}`)
	if rec.Code != 200 {
		t.Fatalf("unsubscribe: %d %s", rec.Code, rec.Body)
	}
	wantError(t, postCommand(ts, `{"command":"pubsub.poll","payload":{"subscriber_id":"`+sub.SubscriberID+`"}}`), 404, messages.CodeNotFound, "no subscriber")
}
