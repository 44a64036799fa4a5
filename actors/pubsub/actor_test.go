package pubsub

import (
	"context"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/systemtest"
)

type inbox struct{ got chan *messages.PubSubMessage }

func (i *inbox) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*messages.PubSubMessage); ok {
		i.got <- m
	}
}

func TestRouterDeliversByPattern(t *testing.T) {
	sys := systemtest.Boot(t)
	svc, err := Start(sys, Options{MaxPatterns: 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	do := func(req *messages.PubSubRequest) *messages.PubSubReply {
		t.Helper()
		r, err := svc.Do(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	spawn := func() (*actor.PID, *inbox) {
		in := &inbox{got: make(chan *messages.PubSubMessage, 10)}
		return sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return in })), in
	}
	alerts, alertsIn := spawn()
	system, systemIn := spawn()
	do(&messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_SUBSCRIBE, Subscriber: alerts, Patterns: []string{"alerts.*"}})
	do(&messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_SUBSCRIBE, Subscriber: system, Patterns: []string{"system.#", "alerts.#"}})

	for _, tc := range []struct {
		topic string
		want  int64
	}{{"alerts.cpu", 2}, {"alerts.a.b", 1}, {"system", 1}, {"other", 0}} {
		r := do(&messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_PUBLISH, Topic: tc.topic, Message: []byte(`1`)})
		if r.SubscribersNotified != tc.want {
			t.Errorf("%s notified %d, want %d", tc.topic, r.SubscribersNotified, tc.want)
		}
	}
	if m := <-alertsIn.got; m.Topic != "alerts.cpu" {
		t.Fatalf("alerts.* got %s", m.Topic)
	}
	for _, want := range []string{"alerts.cpu", "alerts.a.b", "system"} {
		if m := <-systemIn.got; m.Topic != want {
			t.Fatalf("system.#/alerts.# got %s, want %s", m.Topic, want)
		}
	}
	if r := do(&messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_PUBLISH, Topic: "bad..topic"}); r.ErrorCode != messages.CodeInvalid {
		t.Fatalf("empty level accepted: %+v", r)
	}
	if r := do(&messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_SUBSCRIBE, Subscriber: alerts, Patterns: []string{"a.#.b"}}); r.ErrorCode != messages.CodeInvalid {
		t.Fatalf("# not last accepted: %+v", r)
	}
	// A subscriber that stops loses its subscriptions.
	sys.Root.StopFuture(system).Wait()
	systemtest.Eventually(t, "a stopped subscriber to be forgotten", func() bool {
		r := do(&messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_PUBLISH, Topic: "system"})
		return r.SubscribersNotified == 0
	})
	if st := do(&messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_STATS}); st.TotalSubscribers != 1 || st.TotalTopics != 1 {
		t.Fatalf("stats: %+v", st)
	}
}
