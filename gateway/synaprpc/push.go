package synaprpc

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/gateway/synap"
	"github.com/troupe-run/troupe/messages"
)

// SUBSCRIBE topic [topic ...] makes the connection a subscriber, as the
// original's: it answers {subscriber_id, subscription_count}, and each
// message published to a matching topic is pushed to it as a frame with id
// 4294967295 carrying {topic, payload (the message's JSON text), id,
// timestamp}. The router bounds the patterns of one subscriber
// (--max-subscriptions); the pushes share the connection's output bound.

// KV.WATCH pattern [value|notify] makes the connection a watcher of the
// keys matching pattern (the kv.keys glob), as the original's: it answers
// {subscriber_id, channel: "__watch@0__:<pattern>", mode}, and each change
// to a matching string key is pushed as a SUBSCRIBE push on the key's
// channel "__watch@0__:<key>", its payload the JSON text of the change as
// the WebSocket's /kv/ws carries it ({key, event, version, value?,
// truncated?}; the keyspace's watchers, the same as that endpoint's).
// notify leaves the value out; it applies to the connection's pushes once
// every pattern it watches was watched so. KV.UNWATCH subscriber_id
// [pattern ...] drops the patterns (all without any) and answers how many
// are left. Delivery is best effort, as in the original.

// subscriber is a connection's actor the router and the keyspace deliver
// to.
type subscriber struct {
	c   *conn
	pid *actor.PID
	id  string
	// watched is the connection's watch patterns, true for those that
	// want the values (touched by the reader only); watching tells the
	// actor whether values go out.
	watched  map[string]bool
	watching *atomic.Bool
}

// subscriberActor turns each message or change into a push frame.
type subscriberActor struct {
	c      *conn
	fw     *frameWriter // the actor's own: it runs on the actor's goroutine
	values *atomic.Bool // the changes carry their values
}

func (a *subscriberActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *messages.PubSubMessage:
		a.c.enqueue(a.fw.reply(pushID, Map{
			{"topic", m.Topic},
			{"payload", string(m.Message)},
			{"id", m.MessageId},
			{"timestamp", m.TimestampMs / 1000},
		}, ""))
	case *messages.KeyChange:
		a.c.enqueue(a.fw.reply(pushID, Map{
			{"topic", synap.WatchChannel(m.Key)},
			{"payload", string(synap.WatchPayload(m, a.values.Load()))},
			{"id", "watch-" + strconv.FormatUint(m.Version, 10) + "-" + m.Key},
			{"timestamp", m.TimestampMs / 1000},
		}, ""))
	}
}

// subscriberOf starts the connection's subscriber actor on first use.
func (c *conn) subscriberOf() (*subscriber, string) {
	if c.sub == nil {
		values := &atomic.Bool{}
		pid, err := c.s.b.Sessions.Spawn(c.sessionName(), func() actor.Actor {
			return &subscriberActor{c: c, fw: newFrameWriter(), values: values}
		})
		if err != nil {
			return nil, "ERR cannot subscribe now: " + err.Error()
		}
		c.sub = &subscriber{c: c, pid: pid, id: c.sessionName(), watched: map[string]bool{}, watching: values}
	}
	return c.sub, ""
}

func (c *conn) watch(ctx context.Context, a argv) (any, string) {
	if c.s.b.Watch == nil {
		return nil, "ERR watching keys is not available on this server"
	}
	if len(a) < 1 || len(a) > 2 {
		return nil, "ERR wrong number of arguments for 'KV.WATCH'"
	}
	pattern, e := a.str(0)
	if e != "" {
		return nil, e
	}
	if pattern == "" {
		return nil, "ERR the pattern must not be empty"
	}
	mode := "value"
	if len(a) == 2 {
		if mode, e = a.str(1); e != "" {
			return nil, e
		}
		if mode != "value" && mode != "notify" {
			return nil, "ERR unknown watch mode '" + mode + "' (value|notify)"
		}
	}
	sb, e := c.subscriberOf()
	if e != "" {
		return nil, e
	}
	rep, err := c.s.b.Watch.Watch(ctx, sb.pid, []string{pattern})
	if e := failed(rep, err); e != "" {
		return nil, e
	}
	sb.watched[pattern] = mode == "value"
	sb.setValues()
	return Map{{"subscriber_id", sb.id}, {"channel", synap.WatchChannel(pattern)}, {"mode", mode}}, ""
}

func (c *conn) unwatch(ctx context.Context, a argv) (any, string) {
	if c.s.b.Watch == nil {
		return nil, "ERR watching keys is not available on this server"
	}
	id, e := a.str(0)
	if e != "" {
		return nil, e
	}
	if c.sub == nil || id != c.sub.id {
		return nil, "ERR unknown subscriber '" + id + "' (a watcher is the connection that watched)"
	}
	patterns, e := a.strs(1)
	if e != "" {
		return nil, e
	}
	rep, err := c.s.b.Watch.Unwatch(ctx, c.sub.pid, patterns)
	if e := failed(rep, err); e != "" {
		return nil, e
	}
	if len(patterns) == 0 {
		clear(c.sub.watched)
	}
	for _, p := range patterns {
		delete(c.sub.watched, p)
	}
	c.sub.setValues()
	return int64(len(c.sub.watched)), ""
}

// setValues sends the values with the changes unless every pattern
// watched is in notify mode.
func (sb *subscriber) setValues() {
	values := len(sb.watched) == 0
	for _, v := range sb.watched {
		values = values || v
	}
	sb.watching.Store(values)
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
	sb, e := c.subscriberOf()
	if e != "" {
		return nil, e
	}
	rep, err := c.s.b.PubSub.Do(ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_SUBSCRIBE,
		Subscriber: sb.pid, Patterns: topics})
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

// stop unsubscribes the connection from every topic and key and stops its
// actor.
func (sb *subscriber) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = sb.c.s.b.PubSub.Do(ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_UNSUBSCRIBE, Subscriber: sb.pid})
	if len(sb.watched) > 0 {
		_, _ = sb.c.s.b.Watch.Unwatch(ctx, sb.pid, nil)
	}
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
