package synap

import (
	"testing"

	"github.com/troupe-run/troupe/messages"
)

type pr = messages.PubSubRequest

func TestPubSubCommands(t *testing.T) {
	runMsgCases(t, []msgCase{
		{name: "publish", command: "pubsub.publish",
			payload: `{"topic":"notifications.email.user","message":{"to": "alice"},"metadata":{"source":"web"}}`,
			want: &pr{Op: messages.PubSubOp_PUBSUB_PUBLISH, Topic: "notifications.email.user", Message: []byte(`{"to":"alice"}`),
				Metadata: []byte(`{"source":"web"}`)},
			reply: &messages.PubSubReply{SubscribersNotified: 3, MessageId: "m1"},
			out:   `{"subscribers_notified":3,"subscribers_matched":3,"topic":"notifications.email.user","message_id":"m1"}`},
		{name: "publish a payload, as the SDKs send it", command: "pubsub.publish", payload: `{"topic":"a","payload":[1]}`,
			want: &pr{Op: messages.PubSubOp_PUBSUB_PUBLISH, Topic: "a", Message: []byte(`[1]`)},
			out:  `{"subscribers_notified":0,"subscribers_matched":0,"topic":"a","message_id":"mid"}`},
		{name: "publish data", command: "pubsub.publish", payload: `{"topic":"a","data":"x","metadata":null}`,
			want: &pr{Op: messages.PubSubOp_PUBSUB_PUBLISH, Topic: "a", Message: []byte(`"x"`)},
			out:  `{"subscribers_notified":0,"subscribers_matched":0,"topic":"a","message_id":"mid"}`},
		{name: "topics", command: "pubsub.topics", payload: `{"pattern":"events.*"}`,
			want:  &pr{Op: messages.PubSubOp_PUBSUB_TOPICS, Pattern: "events.*"},
			reply: &messages.PubSubReply{Topics: []string{"events.a", "events.b"}, TotalTopics: 2},
			out:   `{"topics":["events.a","events.b"],"count":2}`},
		{name: "stats", command: "pubsub.stats", payload: `{}`,
			want: &pr{Op: messages.PubSubOp_PUBSUB_STATS},
			reply: &messages.PubSubReply{TotalTopics: 200, TotalSubscribers: 1000, Subscriptions: 1500,
				MessagesPublished: 7},
			out: `{"total_topics":200,"total_subscribers":1000,"total_subscriptions":1500,"messages_published":7}`},

		{name: "REST publish a payload", method: "POST", path: "/pubsub/notifications.email.user/publish",
			body: `{"payload":{"subject":"Welcome!"},"metadata":{"priority":"high"}}`,
			want: &pr{Op: messages.PubSubOp_PUBSUB_PUBLISH, Topic: "notifications.email.user",
				Message: []byte(`{"subject":"Welcome!"}`), Metadata: []byte(`{"priority":"high"}`)},
			reply: &messages.PubSubReply{SubscribersNotified: 3, MessageId: "m1"},
			out:   `{"subscribers_notified":3,"subscribers_matched":3,"topic":"notifications.email.user","message_id":"m1"}`},
		{name: "REST publish data", method: "POST", path: "/pubsub/t/publish", body: `{"data":{"to":"alice"}}`,
			want: &pr{Op: messages.PubSubOp_PUBSUB_PUBLISH, Topic: "t", Message: []byte(`{"to":"alice"}`)},
			out:  `{"subscribers_notified":0,"subscribers_matched":0,"topic":"t","message_id":"mid"}`},
		{name: "REST topics", method: "GET", path: "/pubsub/topics?pattern=a.%23",
			want: &pr{Op: messages.PubSubOp_PUBSUB_TOPICS, Pattern: "a.#"},
			out:  `{"topics":[],"count":0}`},
		{name: "REST stats", method: "GET", path: "/pubsub/stats",
			want: &pr{Op: messages.PubSubOp_PUBSUB_STATS},
			out:  `{"total_topics":0,"total_subscribers":0,"total_subscriptions":0,"messages_published":0}`},
	})
}

func TestPubSubInvalid(t *testing.T) {
	runInvalidCases(t, []invalidCase{
		{"no topic", "pubsub.publish", `{"message":1}`, "topic is required"},
		{"no message", "pubsub.publish", `{"topic":"a"}`, "message is required"},
		{"metadata not an object", "pubsub.publish", `{"topic":"a","message":1,"metadata":[1]}`, "metadata must be an object"},
		{"topics not an array", "pubsub.subscribe", `{"topics":"a.*"}`, "topics must be an array of strings"},
		{"no topics", "pubsub.subscribe", `{"topics":[]}`, "topics is required"},
	})
}
