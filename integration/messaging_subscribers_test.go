package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestMessagingSubscribersSurviveActorPanics: when the actor a WebSocket
// session is subscribed to (a room, a queue, the pub/sub router) panics
// and restarts, the subscriber either keeps getting what is published
// after the restart, or is disconnected so that it knows to subscribe
// again (rooms resume by offset). It must not be left connected and
// silently deaf.
func TestMessagingSubscribersSurviveActorPanics(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--chaos", "--restart-max=100")
	// publish runs a command until it is not refused by the injected panic
	// (503), and returns the payload.
	publish := func(name string, payload any) json.RawMessage {
		t.Helper()
		for attempt := 0; ; attempt++ {
			status, r := s.command(name, payload)
			if status == http.StatusServiceUnavailable && attempt < 5 {
				continue
			}
			if status != http.StatusOK {
				t.Fatalf("%s: %d %+v", name, status, r.Error)
			}
			return r.Payload
		}
	}
	panicActor := func(target string) {
		t.Helper()
		status, raw := s.do("POST", "/admin/chaos", []byte(fmt.Sprintf(`{"target":%q,"fault":"panic"}`, target)))
		if status != http.StatusOK {
			t.Fatalf("chaos %s: %d %s", target, status, raw)
		}
	}
	var waits []func(until time.Time)
	for _, tc := range []struct {
		name, target string
		subscribe    func(c *wsClient)
		publish      func(n int) json.RawMessage
		afterFirst   func(c *wsClient, f wsFrame)
		isSecond     func(f wsFrame) bool
	}{
		{
			name: "room", target: "rooms/panicky",
			subscribe: func(c *wsClient) { c.ok("stream.subscribe", map[string]any{"room": "panicky"}, nil) },
			publish: func(n int) json.RawMessage {
				return publish("stream.publish", map[string]any{"room": "panicky", "event_type": "e", "data": n})
			},
			isSecond: func(f wsFrame) bool { return f.Type == "event" && string(f.Data) == "2" },
		},
		{
			name: "queue", target: "queues/panicky",
			subscribe: func(c *wsClient) {
				s.ok("queue.create", map[string]any{"queue": "panicky"}, nil)
				c.ok("queue.subscribe", map[string]any{"queue": "panicky"}, nil)
			},
			publish: func(n int) json.RawMessage {
				return publish("queue.publish", map[string]any{"queue": "panicky", "message": n})
			},
			afterFirst: func(c *wsClient, f wsFrame) {
				c.ok("queue.ack", map[string]any{"queue": "panicky", "message_id": f.MessageID}, nil)
			},
			isSecond: func(f wsFrame) bool { return f.Type == "queue_message" && string(f.Message) == "2" },
		},
		{
			name: "pubsub", target: "pubsub/*",
			subscribe: func(c *wsClient) { c.ok("pubsub.subscribe", map[string]any{"topics": []string{"panicky.*"}}, nil) },
			publish: func(n int) json.RawMessage {
				return publish("pubsub.publish", map[string]any{"topic": "panicky.x", "message": n})
			},
			isSecond: func(f wsFrame) bool { return f.Type == "message" && string(f.Message) == "2" },
		},
	} {
		c := s.dialWS("", nil)
		tc.subscribe(c)
		tc.publish(1)
		first := c.next()
		if tc.afterFirst != nil {
			tc.afterFirst(c, first)
		}
		panicActor(tc.target)
		reply := tc.publish(2)
		waits = append(waits, func(until time.Time) {
			switch got, closed := c.awaitPush(tc.isSecond, until); {
			case got:
			case closed:
				t.Logf("%s: the subscriber was disconnected after %s restarted: it can subscribe again", tc.name, tc.target)
			default:
				t.Errorf("%s: after %s panicked and restarted, the publish answered %s, and in %s the subscriber got "+
					"nothing and was not disconnected: it will never hear from %s again", tc.name, tc.target, reply, msgPatience, tc.target)
			}
		})
	}
	// One deadline for the three: a failure costs one msgPatience, not three.
	until := time.Now().Add(msgPatience)
	for _, wait := range waits {
		wait(until)
	}
}
