package queue

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/systemtest"
)

func start(t *testing.T, args ...string) (*system.System, *Service) {
	t.Helper()
	sys := systemtest.Boot(t, args...)
	svc, err := Start(sys, Options{Defaults: DefaultConfig(), MaxQueues: 100, MaxWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return sys, svc
}

func do(t *testing.T, svc *Service, req *messages.QueueRequest) *messages.QueueReply {
	t.Helper()
	r, err := svc.Do(context.Background(), req)
	if err != nil {
		t.Fatalf("%v: %v", req.Op, err)
	}
	if r.ErrorCode != "" {
		t.Fatalf("%v: %s: %s", req.Op, r.ErrorCode, r.ErrorMessage)
	}
	return r
}

func svcPublish(t *testing.T, svc *Service, q, payload string, priority int32) string {
	t.Helper()
	return do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_PUBLISH, Queue: q, Create: true,
		Message: []byte(`"` + payload + `"`), Priority: priority}).MessageId
}

func svcConsume(t *testing.T, svc *Service, q string, timeout, ack time.Duration) *messages.QueueMessage {
	t.Helper()
	return do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_CONSUME, Queue: q, Consumer: "c",
		TimeoutMs: timeout.Milliseconds(), AckDeadlineMs: ack.Milliseconds()}).Message
}

func TestActorPriorityOrder(t *testing.T) {
	_, svc := start(t)
	for _, p := range []int32{1, 9, 5} {
		svcPublish(t, svc, "tasks", fmt.Sprint("p", p), p)
	}
	for _, want := range []string{`"p9"`, `"p5"`, `"p1"`} {
		if m := svcConsume(t, svc, "tasks", 0, 0); m == nil || string(m.Message) != want {
			t.Fatalf("consumed %v, want %s", m, want)
		}
	}
	if m := svcConsume(t, svc, "tasks", 0, 0); m != nil {
		t.Fatalf("empty queue gave %v", m)
	}
}

func TestConsumeWaitsForAPublish(t *testing.T) {
	_, svc := start(t)
	do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_CREATE, Queue: "jobs"})
	type result struct {
		r   *messages.QueueReply
		err error
	}
	got := make(chan result, 1)
	go func() {
		r, err := svc.Do(context.Background(), &messages.QueueRequest{Op: messages.QueueOp_QUEUE_CONSUME, Queue: "jobs",
			Consumer: "c", TimeoutMs: 30000})
		got <- result{r, err}
	}()
	// The consumer is parked in the actor; once stats counts it, publish.
	systemtest.Eventually(t, "the consumer to wait in the queue", func() bool {
		return do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_STATS, Queue: "jobs"}).Stats.Consumers > 0
	})
	id := svcPublish(t, svc, "jobs", "hello", 5)
	if res := <-got; res.err != nil || res.r.Message == nil || res.r.Message.MessageId != id {
		t.Fatalf("the waiting consumer got %v %v, want %s", res.r, res.err, id)
	}
}

func TestConsumeWaitEndsEmpty(t *testing.T) {
	_, svc := start(t)
	do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_CREATE, Queue: "idle"})
	if m := svcConsume(t, svc, "idle", 20*time.Millisecond, 0); m != nil {
		t.Fatalf("got %v from an empty queue", m)
	}
}

func TestMissedAckDeadlineRedeliversThenDeadLetters(t *testing.T) {
	_, svc := start(t)
	do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_CREATE, Queue: "q",
		Config: &messages.QueueConfig{MaxRetries: proto.Int32(1)}})
	id := svcPublish(t, svc, "q", "work", 5)
	m := svcConsume(t, svc, "q", 0, 10*time.Millisecond)
	if m.RetryCount != 0 {
		t.Fatalf("first delivery has retry_count %d", m.RetryCount)
	}
	// Not acked: after its deadline it comes back, counted.
	m = svcConsume(t, svc, "q", 10*time.Second, 10*time.Millisecond)
	if m == nil || m.MessageId != id || m.RetryCount != 1 {
		t.Fatalf("redelivery: %v, want %s with retry_count 1", m, id)
	}
	// Past max_retries it is in the dead-letter queue, and can come back.
	systemtest.Eventually(t, "the message in the dead-letter queue", func() bool {
		return do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_STATS, Queue: "q"}).Stats.DeadLettered == 1
	})
	dlq := do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_DLQ_LIST, Queue: "q"})
	if len(dlq.Messages) != 1 || dlq.Messages[0].MessageId != id {
		t.Fatalf("dlq: %v", dlq.Messages)
	}
	if n := do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_DLQ_REQUEUE, Queue: "q"}).Count; n != 1 {
		t.Fatalf("requeued %d", n)
	}
	if m := svcConsume(t, svc, "q", 0, time.Minute); m == nil || m.MessageId != id {
		t.Fatalf("after requeue: %v", m)
	}
}

func TestRestartKeepsUnackedDropsAcked(t *testing.T) {
	dir := t.TempDir()
	sys, svc := start(t, "--data-dir="+dir, "--fsync=always")
	a := svcPublish(t, svc, "q", "a", 5)
	b := svcPublish(t, svc, "q", "b", 5)
	c := svcPublish(t, svc, "q", "c", 5)
	if m := svcConsume(t, svc, "q", 0, time.Minute); m.MessageId != a {
		t.Fatal("order")
	}
	do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_ACK, Queue: "q", MessageId: a})
	if m := svcConsume(t, svc, "q", 0, time.Minute); m.MessageId != b { // in flight at the restart
		t.Fatal("order")
	}
	sys.Close()

	_, svc = start(t, "--data-dir="+dir)
	var got []string
	for m := svcConsume(t, svc, "q", 0, time.Minute); m != nil; m = svcConsume(t, svc, "q", 0, time.Minute) {
		got = append(got, m.MessageId)
	}
	if len(got) != 2 || got[0] != b || got[1] != c {
		t.Fatalf("after restart consumed %v, want the in-flight %s then %s (and never the acked %s)", got, b, c, a)
	}
	if names, _ := svc.List(context.Background()); len(names) != 1 || names[0] != "q" {
		t.Fatalf("queues after restart: %v", names)
	}
}

// collector is a subscriber that hands its deliveries to the test.
type collector struct{ got chan *messages.QueueDelivery }

func (c *collector) Receive(ctx actor.Context) {
	if d, ok := ctx.Message().(*messages.QueueDelivery); ok {
		c.got <- d
	}
}

func TestSubscriberGetsPushesUpToPrefetch(t *testing.T) {
	sys, svc := start(t)
	col := &collector{got: make(chan *messages.QueueDelivery, 100)}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return col }))
	do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_CREATE, Queue: "push"})
	do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_SUBSCRIBE, Queue: "push", Subscriber: pid, AckDeadlineMs: 60_000})
	for i := 0; i < prefetch+5; i++ {
		svcPublish(t, svc, "push", fmt.Sprint(i), 5)
	}
	var first *messages.QueueDelivery
	for i := 0; i < prefetch; i++ {
		d := <-col.got
		if d.Message.Message[1] == '0' && first == nil {
			first = d
		}
	}
	st := do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_STATS, Queue: "push"}).Stats
	if st.InFlight != prefetch || st.Depth != 5 {
		t.Fatalf("in flight %d, ready %d: want the subscriber to hold exactly %d", st.InFlight, st.Depth, prefetch)
	}
	// An ack makes room for one more push.
	do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_ACK, Queue: "push", MessageId: first.Message.MessageId})
	d := <-col.got
	if d.Queue != "push" {
		t.Fatalf("push after ack: %v", d)
	}
	// Unsubscribed, it gets no more pushes: an ack frees room that nobody takes.
	do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_UNSUBSCRIBE, Queue: "push", Subscriber: pid})
	svcPublish(t, svc, "push", "late", 9)
	do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_ACK, Queue: "push", MessageId: d.Message.MessageId})
	st = do(t, svc, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_STATS, Queue: "push"}).Stats
	if st.InFlight != prefetch-1 || st.Depth != 5 {
		t.Fatalf("after unsubscribing: in flight %d, ready %d; want %d and 5 (nothing pushed)", st.InFlight, st.Depth, prefetch-1)
	}
}

func TestPanicUnderLoadLosesNothing(t *testing.T) {
	sys, svc := start(t, "--data-dir="+t.TempDir(), "--chaos", "--restart-max=1000")
	published := map[string]bool{}
	for i := 0; i < 300; i++ {
		if i%25 == 0 {
			sys.InjectFault("queues/*", "panic")
		}
		r, err := svc.Do(context.Background(), &messages.QueueRequest{Op: messages.QueueOp_QUEUE_PUBLISH,
			Queue: "hot", Create: true, Message: []byte(fmt.Sprint(i))})
		if err == nil && r.ErrorCode == "" {
			published[r.MessageId] = true
		}
	}
	sys.InjectFault("queues/*", "panic")
	svc.Do(context.Background(), &messages.QueueRequest{Op: messages.QueueOp_QUEUE_STATS, Queue: "hot"}) // meets the panic
	seen := map[string]bool{}
	for {
		m := svcConsume(t, svc, "hot", 0, time.Minute)
		if m == nil {
			break
		}
		seen[m.MessageId] = true
	}
	for id := range published {
		if !seen[id] {
			t.Fatalf("acknowledged publish %s lost to a panic (%d published, %d consumed)", id, len(published), len(seen))
		}
	}
	if len(published) < 250 {
		t.Fatalf("only %d of 300 publishes acknowledged", len(published))
	}
}
