package topic

import (
	"fmt"
	"slices"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
)

// Local messages: they carry the Go values of a producer or a consumer,
// which stay on this node with the connection or process they serve.
type (
	openProducer  struct{ p *Producer }
	closeProducer struct{ p *Producer }
	publish       struct {
		p    *Producer
		data []byte
		done chan error // buffered: the actor never waits on it
	}
	subscribe   struct{ c *Consumer }
	unsubscribe struct{ c *Consumer }
)

// topicActor owns one topic: its content type, its consumers, and the
// line of producers. It exists before the topic does (a Spawn on first
// use); contentType is "" until TopicCreate.
//
// Topics live in memory: a topic is a stream, and what it carried is
// gone once delivered. A restarted topic actor keeps the topic (its type
// is in the service's index) but ends its consumers' and producers'
// streams, which a restart cannot give back.
type topicActor struct {
	svc         *Service
	name        string
	contentType string

	consumers []*Consumer
	producers []*Producer // producers[0] is served; the others wait their turn

	// While the topic has no consumer, chunks wait in the backlog for the
	// first one, up to the consumer buffer's size; past that the producer
	// waits (parked) until a consumer comes.
	backlog     [][]byte
	backlogSize int
	parked      *publish
}

func (a *topicActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.contentType = a.svc.typeOf(a.name)
	case *actor.Restarting:
		a.endAll(ErrRestart)
	case *actor.Stopping:
		a.endAll(ErrDeleted)
	case *messages.TopicCreate:
		ctx.Respond(a.create(msg))
	case *messages.TopicInfoRequest:
		ctx.Respond(a.info())
	case *messages.TopicDelete:
		if a.contentType == "" {
			ctx.Respond(&messages.TopicReply{ErrorCode: messages.CodeNotFound, ErrorMessage: fmt.Sprintf("Topic %s not found", a.name)})
			return
		}
		a.endAll(ErrDeleted)
		a.contentType = ""
		a.svc.forgetType(a.name)
		ctx.Respond(&messages.TopicReply{Name: a.name})
	case *openProducer:
		a.producers = append(a.producers, msg.p)
		if len(a.producers) == 1 {
			close(msg.p.turn)
		}
	case *closeProducer:
		a.dropProducer(msg.p)
	case *publish:
		a.publish(msg)
	case *subscribe:
		a.subscribe(msg.c)
	case *unsubscribe:
		a.consumers = slices.DeleteFunc(a.consumers, func(c *Consumer) bool { return c == msg.c })
	}
}

func (a *topicActor) create(msg *messages.TopicCreate) *messages.TopicReply {
	switch {
	case a.contentType == "":
		a.contentType = msg.ContentType
		if !a.svc.setType(a.name, msg.ContentType) {
			a.contentType = ""
			return &messages.TopicReply{ErrorCode: messages.CodeLimit,
				ErrorMessage: fmt.Sprintf("there are already %d topics, the limit", a.svc.opts.MaxTopics)}
		}
	case msg.Exclusive:
		return &messages.TopicReply{ErrorCode: CodeExists, ErrorMessage: "Topic with given id already exist"}
	case a.contentType != msg.ContentType:
		return &messages.TopicReply{ErrorCode: CodeContentType,
			ErrorMessage: fmt.Sprintf("Acceptable Content-Type for %s is %s", a.name, a.contentType)}
	}
	return a.info()
}

func (a *topicActor) info() *messages.TopicReply {
	if a.contentType == "" {
		return &messages.TopicReply{ErrorCode: messages.CodeNotFound, ErrorMessage: fmt.Sprintf("Topic %s not found", a.name)}
	}
	return &messages.TopicReply{Name: a.name, ContentType: a.contentType,
		Consumers: int32(len(a.consumers)), Producers: int32(len(a.producers))}
}

func (a *topicActor) publish(m *publish) {
	if len(a.producers) == 0 || a.producers[0] != m.p {
		m.done <- ErrNotProducing
		return
	}
	if len(a.consumers) == 0 {
		if a.backlogSize > 0 && a.backlogSize+len(m.data) > a.svc.opts.ConsumerBuffer {
			a.parked = m
			return
		}
		a.backlog = append(a.backlog, m.data)
		a.backlogSize += len(m.data)
		m.done <- nil
		return
	}
	a.deliver(m.data)
	m.done <- nil
}

// deliver offers a chunk to every consumer, dropping those that are full.
func (a *topicActor) deliver(b []byte) {
	a.consumers = slices.DeleteFunc(a.consumers, func(c *Consumer) bool {
		if c.offer(b) {
			return false
		}
		c.end(ErrTooSlow)
		a.svc.sys.Log.Warn("topic consumer dropped: its buffer is full", "topic", a.name,
			"buffer_bytes", a.svc.opts.ConsumerBuffer)
		a.svc.sys.Metrics.SubscriberDropped("hub")
		return true
	})
}

func (a *topicActor) subscribe(c *Consumer) {
	a.consumers = append(a.consumers, c)
	if len(a.consumers) > 1 {
		return
	}
	// The first consumer takes the backlog, then the parked chunk, even
	// past its buffer's size (by one chunk at most): it has not had a
	// chance to read yet.
	for _, b := range a.backlog {
		c.take(b)
	}
	a.backlog, a.backlogSize = nil, 0
	if m := a.parked; m != nil {
		a.parked = nil
		c.take(m.data)
		m.done <- nil
	}
}

func (a *topicActor) dropProducer(p *Producer) {
	i := slices.Index(a.producers, p)
	if i < 0 {
		return
	}
	a.producers = slices.Delete(a.producers, i, i+1)
	p.fail(ErrNotProducing)
	if a.parked != nil && a.parked.p == p {
		a.parked = nil
	}
	if i == 0 && len(a.producers) > 0 {
		close(a.producers[0].turn)
	}
}

// endAll ends every stream of the topic: consumers get err after what they
// hold, producers (served or waiting) are let go.
func (a *topicActor) endAll(err error) {
	for _, c := range a.consumers {
		c.end(err)
	}
	for _, p := range a.producers {
		p.fail(err)
	}
	a.consumers, a.producers = nil, nil
	a.backlog, a.backlogSize, a.parked = nil, 0, nil
}
