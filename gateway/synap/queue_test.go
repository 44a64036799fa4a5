package synap

import (
	"context"
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/troupe-run/troupe/messages"
)

type qr = messages.QueueRequest
type qrep = messages.QueueReply

func TestQueueCommands(t *testing.T) {
	msg := &messages.QueueMessage{MessageId: "msg_1", Message: []byte(`{"type":"video"}`), Priority: 8, RetryCount: 1,
		Headers: map[string]string{"source": "web", "a": "1"}}
	runMsgCases(t, []msgCase{
		{name: "create with a config", command: "queue.create",
			payload: `{"queue":"tasks","config":{"max_depth":10,"ack_deadline":60,"max_retries":0,"dead_letter":false}}`,
			want: &qr{Op: messages.QueueOp_QUEUE_CREATE, Queue: "tasks", Config: &messages.QueueConfig{
				MaxDepth: proto.Int64(10), AckDeadlineMs: proto.Int64(60000), MaxRetries: proto.Int32(0), DeadLetter: proto.Bool(false)}},
			out: `{"success":true,"queue":"tasks"}`},
		{name: "create with defaults, named as the SDKs do", command: "queue.create", payload: `{"name":"tasks","config":{}}`,
			want: &qr{Op: messages.QueueOp_QUEUE_CREATE, Queue: "tasks", Config: &messages.QueueConfig{}},
			out:  `{"success":true,"queue":"tasks"}`},
		{name: "create with the SDKs' field names at the top level", command: "queue.create",
			payload: `{"name":"tasks","max_depth":5,"ack_deadline_secs":7,"default_max_retries":2}`,
			want: &qr{Op: messages.QueueOp_QUEUE_CREATE, Queue: "tasks", Config: &messages.QueueConfig{
				MaxDepth: proto.Int64(5), AckDeadlineMs: proto.Int64(7000), MaxRetries: proto.Int32(2)}},
			out: `{"success":true,"queue":"tasks"}`},
		{name: "delete", command: "queue.delete", payload: `{"queue":"tasks"}`,
			want: &qr{Op: messages.QueueOp_QUEUE_DELETE, Queue: "tasks"},
			out:  `{"success":true,"queue":"tasks","deleted":true}`},
		{name: "publish", command: "queue.publish",
			payload: `{"queue":"tasks","message":{"type": "video"},"priority":8,"headers":{"source":"web"}}`,
			want: &qr{Op: messages.QueueOp_QUEUE_PUBLISH, Queue: "tasks", Create: true, Message: []byte(`{"type":"video"}`),
				Priority: 8, Headers: map[string]string{"source": "web"}},
			reply: &qrep{MessageId: "msg_1", Position: 3}, out: `{"message_id":"msg_1","position":3}`},
		{name: "publish with the default priority and the SDKs' payload", command: "queue.publish",
			payload: `{"queue":"tasks","payload":[104,105],"max_retries":3}`,
			want:    &qr{Op: messages.QueueOp_QUEUE_PUBLISH, Queue: "tasks", Create: true, Message: []byte(`[104,105]`), Priority: 5},
			reply:   &qrep{MessageId: "msg_2"}, out: `{"message_id":"msg_2","position":0}`},
		{name: "publish a null message at priority 0", command: "queue.publish", payload: `{"queue":"q","message":null,"priority":0}`,
			want: &qr{Op: messages.QueueOp_QUEUE_PUBLISH, Queue: "q", Create: true, Message: []byte(`null`), Priority: 0},
			out:  `{"message_id":"","position":0}`},
		{name: "consume", command: "queue.consume", payload: `{"queue":"tasks","timeout":10,"ack_deadline":60}`,
			want:  &qr{Op: messages.QueueOp_QUEUE_CONSUME, Queue: "tasks", TimeoutMs: 10000, AckDeadlineMs: 60000},
			reply: &qrep{Message: msg},
			out:   `{"message_id":"msg_1","message":{"type":"video"},"priority":8,"retry_count":1,"headers":{"a":"1","source":"web"}}`},
		{name: "consume nothing, as a named consumer", command: "queue.consume", payload: `{"queue":"tasks","consumer_id":"w-1"}`,
			want: &qr{Op: messages.QueueOp_QUEUE_CONSUME, Queue: "tasks", Consumer: "w-1"},
			out:  `{"message":null}`},
		{name: "ack", command: "queue.ack", payload: `{"queue":"tasks","message_id":"msg_1"}`,
			want: &qr{Op: messages.QueueOp_QUEUE_ACK, Queue: "tasks", MessageId: "msg_1"},
			out:  `{"success":true}`},
		{name: "nack requeues by default", command: "queue.nack", payload: `{"queue":"tasks","message_id":"msg_1"}`,
			want:  &qr{Op: messages.QueueOp_QUEUE_NACK, Queue: "tasks", MessageId: "msg_1", Requeue: true},
			reply: &qrep{Action: "requeued"}, out: `{"success":true,"action":"requeued"}`},
		{name: "nack without requeue", command: "queue.nack", payload: `{"queue":"tasks","message_id":"msg_1","requeue":false}`,
			want:  &qr{Op: messages.QueueOp_QUEUE_NACK, Queue: "tasks", MessageId: "msg_1"},
			reply: &qrep{Action: "dead_lettered"}, out: `{"success":true,"action":"dead_lettered"}`},
		{name: "purge", command: "queue.purge", payload: `{"queue":"tasks"}`,
			want:  &qr{Op: messages.QueueOp_QUEUE_PURGE, Queue: "tasks"},
			reply: &qrep{Count: 4}, out: `{"success":true,"purged":4}`},
		{name: "stats", command: "queue.stats", payload: `{"queue":"tasks"}`,
			want: &qr{Op: messages.QueueOp_QUEUE_STATS, Queue: "tasks"},
			reply: &qrep{Stats: &messages.QueueStats{Depth: 150, Consumers: 5, PublishedTotal: 10000, ConsumedTotal: 9850,
				AckedTotal: 9700, NackedTotal: 3, OldestMessageAgeSecs: 45, InFlight: 150, DeadLettered: 2}},
			out: `{"queue":"tasks","depth":150,"consumers":5,"published_total":10000,"consumed_total":9850,"acked_total":9700,` +
				`"nacked_total":3,"oldest_message_age_secs":45,"in_flight":150,"dead_lettered":2,` +
				`"published":10000,"consumed":9850,"acked":9700,"nacked":3}`},
		{name: "dlq list", command: "queue.dlq.list", payload: `{"queue":"tasks","offset":2,"limit":1}`,
			want:  &qr{Op: messages.QueueOp_QUEUE_DLQ_LIST, Queue: "tasks", Offset: 2, Limit: 1},
			reply: &qrep{Messages: []*messages.QueueMessage{{MessageId: "m", Message: []byte(`1`), RetryCount: 4}}, Count: 3},
			out: `{"queue":"tasks","messages":[{"message_id":"m","message":1,"priority":0,"retry_count":4,"headers":{}}],` +
				`"total":3}`},
		{name: "dlq list with defaults", command: "queue.dlq.list", payload: `{"queue":"tasks"}`,
			want: &qr{Op: messages.QueueOp_QUEUE_DLQ_LIST, Queue: "tasks", Limit: 100},
			out:  `{"queue":"tasks","messages":[],"total":0}`},
		{name: "dlq requeue some", command: "queue.dlq.requeue", payload: `{"queue":"tasks","message_ids":["a","b"]}`,
			want:  &qr{Op: messages.QueueOp_QUEUE_DLQ_REQUEUE, Queue: "tasks", Ids: []string{"a", "b"}},
			reply: &qrep{Count: 2}, out: `{"success":true,"requeued":2}`},
		{name: "dlq purge", command: "queue.dlq.purge", payload: `{"queue":"tasks"}`,
			want:  &qr{Op: messages.QueueOp_QUEUE_DLQ_PURGE, Queue: "tasks"},
			reply: &qrep{Count: 1}, out: `{"success":true,"purged":1}`},

		{name: "REST create", method: "POST", path: "/queue/tasks", body: `{"max_depth":100,"ack_deadline_secs":30}`,
			want: &qr{Op: messages.QueueOp_QUEUE_CREATE, Queue: "tasks", Config: &messages.QueueConfig{
				MaxDepth: proto.Int64(100), AckDeadlineMs: proto.Int64(30000)}},
			out: `{"success":true,"queue":"tasks"}`},
		{name: "REST delete", method: "DELETE", path: "/queue/tasks",
			want: &qr{Op: messages.QueueOp_QUEUE_DELETE, Queue: "tasks"},
			out:  `{"success":true,"queue":"tasks","deleted":true}`},
		{name: "REST publish", method: "POST", path: "/queue/tasks/publish", body: `{"payload":[1,2],"priority":9}`,
			want:  &qr{Op: messages.QueueOp_QUEUE_PUBLISH, Queue: "tasks", Create: true, Message: []byte(`[1,2]`), Priority: 9},
			reply: &qrep{MessageId: "m", Position: 1}, out: `{"message_id":"m","position":1}`},
		{name: "REST consume", method: "GET", path: "/queue/tasks/consume/worker-1?ack_deadline=5",
			want:  &qr{Op: messages.QueueOp_QUEUE_CONSUME, Queue: "tasks", Consumer: "worker-1", AckDeadlineMs: 5000},
			reply: &qrep{Message: &messages.QueueMessage{MessageId: "m", Message: []byte(`"x"`), Priority: 5}},
			out:   `{"message_id":"m","message":"x","priority":5,"retry_count":0,"headers":{}}`},
		{name: "REST ack", method: "POST", path: "/queue/tasks/ack", body: `{"message_id":"m"}`,
			want: &qr{Op: messages.QueueOp_QUEUE_ACK, Queue: "tasks", MessageId: "m"}, out: `{"success":true}`},
		{name: "REST nack", method: "POST", path: "/queue/tasks/nack", body: `{"message_id":"m","requeue":true}`,
			want:  &qr{Op: messages.QueueOp_QUEUE_NACK, Queue: "tasks", MessageId: "m", Requeue: true},
			reply: &qrep{Action: "requeued"}, out: `{"success":true,"action":"requeued"}`},
		{name: "REST stats", method: "GET", path: "/queue/tasks/stats",
			want: &qr{Op: messages.QueueOp_QUEUE_STATS, Queue: "tasks"},
			out: `{"queue":"tasks","depth":0,"consumers":0,"published_total":0,"consumed_total":0,"acked_total":0,` +
				`"nacked_total":0,"oldest_message_age_secs":0,"in_flight":0,"dead_lettered":0,` +
				`"published":0,"consumed":0,"acked":0,"nacked":0}`},
		{name: "REST purge", method: "POST", path: "/queue/tasks/purge",
			want: &qr{Op: messages.QueueOp_QUEUE_PURGE, Queue: "tasks"}, out: `{"success":true,"purged":0}`},
		{name: "REST dlq list", method: "GET", path: "/queue/tasks/dlq?offset=1&limit=5",
			want: &qr{Op: messages.QueueOp_QUEUE_DLQ_LIST, Queue: "tasks", Offset: 1, Limit: 5},
			out:  `{"queue":"tasks","messages":[],"total":0}`},
		{name: "REST dlq requeue all", method: "POST", path: "/queue/tasks/dlq/requeue",
			want: &qr{Op: messages.QueueOp_QUEUE_DLQ_REQUEUE, Queue: "tasks"}, out: `{"success":true,"requeued":0}`},
		{name: "REST dlq purge", method: "POST", path: "/queue/tasks/dlq/purge",
			want: &qr{Op: messages.QueueOp_QUEUE_DLQ_PURGE, Queue: "tasks"}, out: `{"success":true,"purged":0}`},
	})
}

func TestQueueList(t *testing.T) {
	ts := newTestServer(t, insecure())
	ts.queues.names = []string{"b", "a"}
	if got, want := serve(ts, "GET", "/queue/list", "").Body.String(), `{"queues":["a","b"]}`; got != want {
		t.Errorf("GET /queue/list = %s, want %s", got, want)
	}
	r := decodeReply(t, postCommand(ts, `{"command":"queue.list"}`))
	if got, want := string(r.Payload), `{"queues":["a","b"]}`; got != want {
		t.Errorf("queue.list = %s, want %s", got, want)
	}
}

func TestQueueInvalid(t *testing.T) {
	runInvalidCases(t, []invalidCase{
		{"no queue", "queue.publish", `{"message":1}`, "queue is required"},
		{"no message", "queue.publish", `{"queue":"q"}`, "message is required"},
		{"priority too high", "queue.publish", `{"queue":"q","message":1,"priority":10}`, "priority must be from 0 to 9, not 10"},
		{"negative priority", "queue.publish", `{"queue":"q","message":1,"priority":-1}`, "priority"},
		{"priority not a number", "queue.publish", `{"queue":"q","message":1,"priority":"high"}`, "priority must be an integer"},
		{"headers not strings", "queue.publish", `{"queue":"q","message":1,"headers":{"a":1}}`, "headers must be an object of strings"},
		{"queue not a string", "queue.stats", `{"queue":7}`, "queue must be a string"},
		{"max_depth zero", "queue.create", `{"queue":"q","config":{"max_depth":0}}`, "max_depth must be at least 1"},
		{"ack_deadline negative", "queue.create", `{"queue":"q","config":{"ack_deadline":-5}}`, "ack_deadline must be at least 1"},
		{"max_retries negative", "queue.create", `{"queue":"q","config":{"max_retries":-1}}`, "max_retries must be between"},
		{"dead_letter not a boolean", "queue.create", `{"queue":"q","config":{"dead_letter":"yes"}}`, "dead_letter must be a boolean"},
		{"config not an object", "queue.create", `{"queue":"q","config":5}`, "config must be an object"},
		{"timeout not a number", "queue.consume", `{"queue":"q","timeout":"soon"}`, "timeout must be an integer"},
		{"negative timeout", "queue.consume", `{"queue":"q","timeout":-1}`, "timeout must be a number of seconds"},
		{"ack without message_id", "queue.ack", `{"queue":"q"}`, "message_id is required"},
		{"nack without message_id", "queue.nack", `{"queue":"q","requeue":true}`, "message_id is required"},
		{"requeue not a boolean", "queue.nack", `{"queue":"q","message_id":"m","requeue":"no"}`, "requeue must be a boolean"},
		{"dlq limit too big", "queue.dlq.list", `{"queue":"q","limit":10001}`, "limit must be at most 10000"},
		{"dlq negative offset", "queue.dlq.list", `{"queue":"q","offset":-1}`, "offset must not be negative"},
		{"dlq empty id", "queue.dlq.requeue", `{"queue":"q","message_ids":["a",""]}`, "message_ids[1]"},
		{"dlq ids not strings", "queue.dlq.requeue", `{"queue":"q","message_ids":[1]}`, "message_ids must be an array of strings"},
	})
}

// TestQueueConsumeWait checks that a consume that waits gets a deadline past
// its wait, while other commands keep the request timeout.
func TestQueueConsumeWait(t *testing.T) {
	cfg := insecure()
	cfg.RequestTimeout = time.Second
	ts := newTestServer(t, cfg)
	var left []time.Duration
	ts.queues.setReply(func(ctx context.Context, _ *messages.QueueRequest) (*messages.QueueReply, error) {
		d, _ := ctx.Deadline()
		left = append(left, time.Until(d))
		return &messages.QueueReply{}, nil
	})
	postCommand(ts, `{"command":"queue.consume","payload":{"queue":"q","timeout":30}}`)
	postCommand(ts, `{"command":"queue.consume","payload":{"queue":"q"}}`)
	if len(left) != 2 || left[0] <= 30*time.Second || left[1] > time.Second {
		t.Errorf("time left to the backend: %v; want past 30 s for a 30 s wait, at most 1 s without", left)
	}
}

func TestQueueRESTErrors(t *testing.T) {
	ts := newTestServer(t, insecure())
	ts.answer(&messages.QueueReply{ErrorCode: messages.CodeQueueNotFound, ErrorMessage: `queue "nope" does not exist`})
	wantError(t, serve(ts, "GET", "/queue/nope/stats", ""), http.StatusNotFound, messages.CodeQueueNotFound, `"nope"`)
	wantError(t, serve(ts, "GET", "/queue/q/consume/w?timeout=x", ""), http.StatusUnprocessableEntity, messages.CodeInvalid, "timeout")
}
