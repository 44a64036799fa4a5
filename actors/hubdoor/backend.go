// Package hubdoor is the hub door's backend: it carries the door's
// messages (messages/hub.proto) to the sequence store, the instances and
// the topics, and hands the door their streams as the door's ports. It is
// the only place that knows both sides, so that the door depends on
// messages alone and the domains know nothing of HTTP.
package hubdoor

import (
	"context"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/troupe-run/troupe/actors/instance"
	"github.com/troupe-run/troupe/actors/sequence"
	"github.com/troupe-run/troupe/actors/topic"
	"github.com/troupe-run/troupe/gateway/hub"
	"github.com/troupe-run/troupe/messages"
)

// New returns the door's backend over the hub's domains.
func New(seqs *sequence.Service, insts *instance.Service, tops *topic.Service) hub.Backend {
	return hub.Backend{Sequences: sequences{seqs}, Instances: instances{insts}, Topics: topics{tops}}
}

type sequences struct{ s *sequence.Service }

func (b sequences) Add(ctx context.Context, pkg io.Reader) (*messages.SequenceRecord, error) {
	return b.s.Add(ctx, pkg)
}

func (b sequences) Replace(ctx context.Context, id string, pkg io.Reader) (*messages.SequenceRecord, error) {
	return b.s.Replace(ctx, id, pkg)
}

func (b sequences) Get(ctx context.Context, cmd *messages.SequenceGet) (*messages.SequenceView, error) {
	return b.s.Get(ctx, cmd.Id)
}

func (b sequences) List(ctx context.Context) ([]*messages.SequenceView, error) {
	return b.s.List(ctx)
}

func (b sequences) Delete(ctx context.Context, cmd *messages.SequenceDelete) error {
	return b.s.Delete(ctx, cmd.Id, cmd.KillInstances)
}

type instances struct{ s *instance.Service }

func (b instances) Start(ctx context.Context, cmd *messages.InstanceStart) (string, error) {
	return b.s.Start(ctx, instance.StartOptions{Sequence: cmd.Sequence, InstanceID: cmd.InstanceId,
		AppConfig: cmd.AppConfig, Args: cmd.Args, InputTopic: cmd.InputTopic, OutputTopic: cmd.OutputTopic})
}

func (b instances) Do(ctx context.Context, id string, cmd proto.Message) (*messages.InstanceInfo, error) {
	return b.s.Do(ctx, id, cmd)
}

func (b instances) List() []*messages.InstanceInfo { return b.s.List() }

func (b instances) Event(ctx context.Context, id string, cmd *messages.InstanceEventWait) (*messages.InstanceEvent, error) {
	ev, err := b.s.Event(ctx, id, cmd.EventName, cmd.Next)
	if err != nil {
		return nil, err
	}
	return &messages.InstanceEvent{EventName: ev.EventName, Message: ev.Message}, nil
}

func (b instances) Events(ctx context.Context, id string, cmd *messages.InstanceEventsOpen) (hub.EventStream, error) {
	st, err := b.s.Events(ctx, id, cmd.EventName)
	if err != nil {
		return nil, err
	}
	return eventStream{st}, nil
}

func (b instances) Open(ctx context.Context, id string, cmd *messages.InstanceStreamOpen) (hub.Reader, error) {
	kind, ok := streams[cmd.Stream]
	if !ok {
		return nil, &instance.Error{Code: messages.CodeInvalid, Message: fmt.Sprintf("no stream %v", cmd.Stream)}
	}
	return b.s.Open(ctx, id, kind)
}

// streams are the instance's streams by their names in messages.
var streams = map[messages.InstanceStream]instance.Stream{
	messages.InstanceStream_INSTANCE_STREAM_OUTPUT: instance.Output,
	messages.InstanceStream_INSTANCE_STREAM_STDOUT: instance.Stdout,
	messages.InstanceStream_INSTANCE_STREAM_STDERR: instance.Stderr,
	messages.InstanceStream_INSTANCE_STREAM_LOG:    instance.Log,
}

func (b instances) Input(ctx context.Context, id string, cmd *messages.InstanceInputOpen) (hub.Port, error) {
	if cmd.Stdin {
		return b.s.Stdin(ctx, id)
	}
	return b.s.Input(ctx, id, cmd.ContentType)
}

func (b instances) Monitoring(ctx context.Context, id string) (hub.Lines, error) {
	m, err := b.s.Monitoring(ctx, id)
	if err != nil {
		return nil, err
	}
	return monitorLines{m}, nil
}

// eventStream is an instance's event stream as the door's port.
type eventStream struct{ s *instance.EventStream }

func (e eventStream) Next(ctx context.Context) (*messages.InstanceEvent, error) {
	select {
	case ev, ok := <-e.s.C:
		if !ok {
			return nil, io.EOF
		}
		return &messages.InstanceEvent{EventName: ev.EventName, Message: ev.Message}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e eventStream) Close() { e.s.Close() }

// monitorLines is an instance's health reports as the door's port.
type monitorLines struct{ m *instance.MonitorStream }

func (l monitorLines) Next(ctx context.Context) ([]byte, error) {
	select {
	case line, ok := <-l.m.C:
		if !ok {
			return nil, io.EOF
		}
		return line, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l monitorLines) Close() { l.m.Close() }

type topics struct{ s *topic.Service }

func (b topics) Create(ctx context.Context, name string, cmd *messages.TopicCreate) (*messages.TopicReply, error) {
	return b.s.Create(ctx, name, cmd.ContentType, cmd.Exclusive)
}

func (b topics) Delete(ctx context.Context, name string) error { return b.s.Delete(ctx, name) }

func (b topics) List() []*messages.TopicReply {
	list := b.s.List()
	out := make([]*messages.TopicReply, 0, len(list))
	for _, t := range list {
		out = append(out, &messages.TopicReply{Name: t.Name, ContentType: t.ContentType})
	}
	return out
}

func (b topics) Produce(ctx context.Context, name string, cmd *messages.TopicProduce) (hub.Producer, error) {
	return b.s.Produce(ctx, name, cmd.ContentType)
}

func (b topics) Consume(ctx context.Context, name string, cmd *messages.TopicConsume) (hub.Consumer, error) {
	from := topic.From{Offset: -1, ConsumerID: cmd.ConsumerId}
	if cmd.HasOffset {
		from.Offset = cmd.FromOffset
	}
	c, ct, err := b.s.ConsumeFrom(ctx, name, cmd.ContentType, from)
	if err != nil {
		return nil, err
	}
	return consumer{c, ct}, nil
}

// consumer is a topic's consumer as the door's port.
type consumer struct {
	c  *topic.Consumer
	ct string
}

func (c consumer) ContentType() string { return c.ct }
func (c consumer) Start() int64        { return c.c.Start() }
func (c consumer) Ack(next int64)      { c.c.Ack(next) }
func (c consumer) Close()              { c.c.Close() }

func (c consumer) Next(ctx context.Context) (int64, []byte, error) {
	ch, err := c.c.NextChunk(ctx)
	return ch.Offset, ch.Data, err
}
