package synaprpc

import (
	"context"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
)

// SUBSCRIBE topic [topic ...] makes the connection a subscriber, as the
// original's: it answers {subscriber_id, subscription_count}, and each
// message published to a matching topic is pushed to it as a frame with id
// 4294967295 carrying {topic, payload (the message's JSON text), id,
// timestamp}. The router bounds the patterns of one subscriber
// (--max-subscriptions); the pushes share the connection's output bound.

// subscriber is a connection's actor the router delivers to.
type subscriber struct {
	c   *conn
	pid *actor.PID
	id  string
}

// subscriberActor turns each message into a push frame.
type subscriberActor struct {
	c  *conn
	fw *frameWriter // the actor's own: it runs on the actor's goroutine
}

func (a *subscriberActor) Receive(ctx actor.Context) {
	m, ok := ctx.Message().(*messages.PubSubMessage)
	if !ok {
		return
	}
	a.c.enqueue(a.fw.reply(pushID, Map{
		{"topic", m.Topic},
		{"payload", string(m.Message)},
		{"id", m.MessageId},
		{"timestamp", m.TimestampMs / 1000},
	}, ""))
}

func (c *conn) subscribe(ctx context.Context, a argv) (any, string) {
	if len(a) == 0 {
		return nil, "ERR SUBSCRIBE requires at least one topic"
	}
	topics := make([]string, 0, len(a))
	for i := range a {
		t, err := a.str(i)
		if err != "" {
			return nil, err
		}
		topics = append(topics, t)
	}
	if c.sub == nil {
		pid, err := c.s.b.Sessions.Spawn(c.sessionName(), func() actor.Actor {
			return &subscriberActor{c: c, fw: newFrameWriter()}
		})
		if err != nil {
			return nil, "ERR cannot subscribe now: " + err.Error()
		}
		c.sub = &subscriber{c: c, pid: pid, id: c.sessionName()}
	}
	rep, err := c.s.b.PubSub.Do(ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_SUBSCRIBE,
		Subscriber: c.sub.pid, Patterns: topics})
	if e := failed(rep, err); e != "" {
		return nil, e
	}
	return Map{{"subscriber_id", c.sub.id}, {"subscription_count", int64(rep.GetSubscriptions())}}, ""
}

// UNSUBSCRIBE subscriber_id [topic ...] drops this connection's topics
// (all without any) and answers how many patterns are left.
func (c *conn) unsubscribe(ctx context.Context, a argv) (any, string) {
	id, e := a.str(0)
	if e != "" {
		return nil, e
	}
	if c.sub == nil || id != c.sub.id {
		return nil, "ERR unknown subscriber '" + id + "' (a subscriber is the connection that subscribed)"
	}
	var topics []string
	for i := 1; i < len(a); i++ {
		t, e := a.str(i)
		if e != "" {
			return nil, e
		}
		topics = append(topics, t)
	}
	rep, err := c.s.b.PubSub.Do(ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_UNSUBSCRIBE,
		Subscriber: c.sub.pid, Patterns: topics})
	if e := failed(rep, err); e != "" {
		return nil, e
	}
	return int64(rep.GetSubscriptions()), ""
}

// stop unsubscribes the connection from every topic and stops its actor.
func (sb *subscriber) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = sb.c.s.b.PubSub.Do(ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_UNSUBSCRIBE, Subscriber: sb.pid})
	sb.c.s.b.Sessions.Stop(sb.pid)
}

// failed is the error text of a backend call that failed, "" when it did
// not.
func failed(rep interface {
	GetErrorCode() string
	GetErrorMessage() string
}, err error) string {
	switch {
	case err != nil:
		return "ERR " + err.Error()
	case rep.GetErrorCode() != "":
		return errPrefix(rep.GetErrorCode()) + rep.GetErrorMessage()
	}
	return ""
}

// errPrefix is the Redis-style prefix of an error of the given code, which
// the SDKs classify errors by.
func errPrefix(code string) string {
	if code == messages.CodeWrongType || strings.EqualFold(code, "WRONG_TYPE") {
		return "WRONGTYPE "
	}
	return "ERR "
}
