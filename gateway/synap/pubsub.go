package synap

import (
	"bytes"
	"context"
	"net/http"

	"github.com/troupe-run/troupe/messages"
)

var pubsubCommands = []commandSpec{
	{"pubsub.publish", pubsubPublish},
	{"pubsub.topics", pubsubTopics},
	{"pubsub.stats", pubsubStats},
	{"pubsub.subscribe", pubsubSubscribe},
	{"pubsub.unsubscribe", pubsubUnsubscribe},
	{"pubsub.poll", pubsubPoll},
}

// doPubSub sends req to the topic router and turns a failure into an
// apiError. The router rejects an invalid topic or pattern as
// INVALID_ARGUMENT; that is 400 here, as the issue has it, rather than the
// 422 of other invalid arguments: the topic is the request's address.
func (c *call) doPubSub(ctx context.Context, req *messages.PubSubRequest) (*messages.PubSubReply, error) {
	rep, err := c.s.pubsub.Do(ctx, req)
	if ae := failure(rep, err); ae != nil {
		if rep.GetErrorCode() == messages.CodeInvalid {
			ae.status = http.StatusBadRequest
		}
		return nil, ae
	}
	return rep, nil
}

// pubsub.publish {topic, message, metadata?} -> {subscribers_notified,
// subscribers_matched, topic}. The message may come as payload or data, as
// Synap's REST route and SDKs send it; subscribers_matched is the count
// under the name Synap's SDKs read.
func pubsubPublish(c *call) error {
	a, err := c.margs()
	if err != nil {
		return err
	}
	if a.Topic == "" {
		return invalid("topic is required")
	}
	req := &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_PUBLISH, Topic: a.Topic}
	if req.Message, err = a.messageArg("message", a.Message, a.Payload, a.Data); err != nil {
		return err
	}
	if !absent(a.Metadata) {
		if md := bytes.TrimLeft(a.Metadata, " \t\r\n"); md[0] != '{' {
			return invalid("metadata must be an object")
		}
		req.Metadata = compact(a.Metadata)
	}
	rep, err := c.doPubSub(c.ctx, req)
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("subscribers_notified")
	w.Int(rep.SubscribersNotified)
	w.Key("subscribers_matched")
	w.Int(rep.SubscribersNotified)
	w.Key("topic")
	w.Str(a.Topic)
	w.Key("message_id")
	w.Str(rep.MessageId)
	w.EndObj()
	return nil
}

// pubsub.topics {pattern?} -> {topics, count}: the patterns subscribed to,
// those matching pattern when one is given.
func pubsubTopics(c *call) error {
	a, err := c.margs()
	if err != nil {
		return err
	}
	rep, err := c.doPubSub(c.ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_TOPICS, Pattern: a.Pattern})
	if err != nil {
		return err
	}
	c.out.Obj()
	c.out.Key("topics")
	c.out.Strs(rep.Topics)
	c.out.Key("count")
	c.out.Int(int64(len(rep.Topics)))
	c.out.EndObj()
	return nil
}

// pubsub.stats {} -> {total_topics, total_subscribers, total_subscriptions,
// messages_published}
func pubsubStats(c *call) error {
	rep, err := c.doPubSub(c.ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_STATS})
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("total_topics")
	w.Int(rep.TotalTopics)
	w.Key("total_subscribers")
	w.Int(rep.TotalSubscribers)
	w.Key("total_subscriptions")
	w.Int(rep.Subscriptions)
	w.Key("messages_published")
	w.Int(rep.MessagesPublished)
	w.EndObj()
	return nil
}

// topicsArg reads the patterns of pubsub.subscribe and pubsub.unsubscribe:
// topics, an array, or a single topic.
func (a *msgArgs) topicsArg(required bool) ([]string, error) {
	var topics []string
	if !absent(a.Topics) {
		var err error
		if topics, err = stringList("topics", a.Topics); err != nil {
			return nil, err
		}
	}
	if a.Topic != "" {
		topics = append(topics, a.Topic)
	}
	if required && len(topics) == 0 {
		return nil, invalid("topics is required: an array of topic patterns")
	}
	return topics, nil
}

// pubsub.subscribe {topics} -> {success, subscriber_id, topics,
// subscription_count}; then every message published to a matching topic as
// a message frame. WebSocket only.
func pubsubSubscribe(c *call) error {
	a, err := c.margs()
	if err != nil {
		return err
	}
	topics, err := a.topicsArg(true)
	if err != nil {
		return err
	}
	var id string
	var rep *messages.PubSubReply
	if c.sess == nil {
		// Over HTTP: an inbox read with pubsub.poll (inbox.go).
		id, rep, err = c.subscribeInbox(topics)
	} else {
		id = c.sess.self.Id
		rep, err = c.sess.subscribeTopics(c, topics)
	}
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("success")
	w.Bool(true)
	w.Key("subscriber_id")
	w.Str(id)
	w.Key("topics")
	w.Strs(rep.Topics)
	w.Key("subscription_count")
	w.Int(rep.Subscriptions)
	w.EndObj()
	return nil
}

// pubsub.unsubscribe {topics?} -> {success, subscription_count}: drops the
// patterns named, or all of them. WebSocket only.
func pubsubUnsubscribe(c *call) error {
	a, err := c.margs()
	if err != nil {
		return err
	}
	topics, err := a.topicsArg(false)
	if err != nil {
		return err
	}
	if a.SubscriberID != "" && (c.sess == nil || a.SubscriberID != c.sess.self.Id) {
		return c.unsubscribeInbox(a.SubscriberID, topics)
	}
	if err := c.needSession(); err != nil {
		return err
	}
	rep, err := c.sess.unsubscribeTopics(c, topics)
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("success")
	w.Bool(true)
	w.Key("subscription_count")
	w.Int(rep.Subscriptions)
	w.EndObj()
	return nil
}
