package hub

import (
	"context"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/troupe-run/troupe/messages"
)

// The door's backend: the hub's domains as the door sees them. Commands
// are the messages of messages/hub.proto; a refusal is an error with a
// code of messages (ErrorCode() string), which the door maps to its
// status (statusOf); any other error means the command could not be
// carried out (503). The bytes an instance or a topic carries pass through
// ports the door owns (Reader, Port, EventStream, Lines, Producer,
// Consumer) that a command opens: the door never sees an actor or a
// channel of the domains. The implementation lives outside the door
// (actors/hubdoor), so that the door depends on messages only.

// Backend is what the door serves from.
type Backend struct {
	Sequences Sequences
	Instances Instances
	Topics    Topics
}

// Sequences is the sequence store.
type Sequences interface {
	// Add stores the package pkg yields (a gzipped tar) as a new sequence.
	Add(ctx context.Context, pkg io.Reader) (*messages.SequenceRecord, error)
	// Replace puts the package pkg yields in place of a sequence's,
	// keeping its id.
	Replace(ctx context.Context, id string, pkg io.Reader) (*messages.SequenceRecord, error)
	Get(ctx context.Context, cmd *messages.SequenceGet) (*messages.SequenceView, error)
	List(ctx context.Context) ([]*messages.SequenceView, error)
	Delete(ctx context.Context, cmd *messages.SequenceDelete) error
}

// Instances are the instances, one actor each owning one OS process.
type Instances interface {
	// Start starts an instance and returns its id; it does not wait for
	// the process.
	Start(ctx context.Context, cmd *messages.InstanceStart) (string, error)
	// Do executes a command on an instance: InstanceInfoRequest,
	// InstanceStop, InstanceKill, InstanceEvent or InstanceMonitoringRate;
	// the answer describes the instance after it.
	Do(ctx context.Context, id string, cmd proto.Message) (*messages.InstanceInfo, error)
	// List describes every instance not yet forgotten, oldest first.
	List() []*messages.InstanceInfo
	// Event answers with the event cmd names, waiting for it if need be.
	Event(ctx context.Context, id string, cmd *messages.InstanceEventWait) (*messages.InstanceEvent, error)
	// Events opens a stream of the events of one name, from now on.
	Events(ctx context.Context, id string, cmd *messages.InstanceEventsOpen) (EventStream, error)
	// Open attaches a reader to one of the instance's output streams.
	Open(ctx context.Context, id string, cmd *messages.InstanceStreamOpen) (Reader, error)
	// Input opens the port of the instance's input or stdin.
	Input(ctx context.Context, id string, cmd *messages.InstanceInputOpen) (Port, error)
	// Monitoring opens a stream of the instance's health reports.
	Monitoring(ctx context.Context, id string) (Lines, error)
}

// Topics are the topics, one journaled log each.
type Topics interface {
	// Create makes a topic exist (TopicCreate says how strictly).
	Create(ctx context.Context, name string, cmd *messages.TopicCreate) (*messages.TopicReply, error)
	Delete(ctx context.Context, name string) error
	// List describes the topics (name and content type), by name.
	List() []*messages.TopicReply
	// Produce opens a producer of the topic.
	Produce(ctx context.Context, name string, cmd *messages.TopicProduce) (Producer, error)
	// Consume opens a consumer of the topic.
	Consume(ctx context.Context, name string, cmd *messages.TopicConsume) (Consumer, error)
}

// Reader is one of an instance's output streams.
type Reader interface {
	// Read waits for the next bytes; io.EOF ends the stream.
	Read(ctx context.Context, p []byte) (int, error)
	Close()
}

// Port is one stream into an instance, its input or its stdin; writers
// are served one at a time, each with its whole body.
type Port interface {
	// Copy writes what r yields, then ends the stream if end is set.
	Copy(r io.Reader, end bool) (int64, error)
}

// EventStream is every event of one name from when it was opened.
type EventStream interface {
	// Next waits for the next event; io.EOF when the stream ended (the
	// instance is gone, or the reader fell behind and was dropped).
	Next(ctx context.Context) (*messages.InstanceEvent, error)
	Close()
}

// Lines is a stream of JSON lines.
type Lines interface {
	// Next waits for the next line; io.EOF when the stream ended.
	Next(ctx context.Context) ([]byte, error)
	Close()
}

// Producer publishes to a topic; chunks of several producers interleave
// whole.
type Producer interface {
	// Write publishes what b holds, up to its last whole line for a line
	// type (the rest waits for its end).
	Write(ctx context.Context, b []byte) error
	// Flush publishes what is left and waits until it is journaled.
	Flush(ctx context.Context) error
	Close()
}

// Consumer reads a topic's chunks in order.
type Consumer interface {
	// ContentType is the topic's.
	ContentType() string
	// Start is the offset of the first chunk it reads.
	Start() int64
	// Next waits for the next chunk and says its offset.
	Next(ctx context.Context) (offset int64, data []byte, err error)
	// Ack says the chunks before next were delivered (the consumer id's
	// resumption point).
	Ack(next int64)
	Close()
}
