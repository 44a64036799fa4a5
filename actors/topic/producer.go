package topic

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
)

// ErrNotProducing is a publish by a producer that was closed.
var ErrNotProducing = errors.New("topic producer closed")

// A Producer publishes to a topic. Several producers publish at once and
// their chunks interleave whole: for the line-based content types
// (ndjson, text) Write cuts what it is given at line ends and keeps a
// partial line until its end comes, so two producers' lines never mix.
// It is a local value: the bytes it carries come from a connection or a
// process on this node.
type Producer struct {
	svc   *Service
	topic string
	pid   *actor.PID
	lines bool // the content type is line-based
	// ndjson: a source that ends without a line end gets one, as the
	// original's topics give it, so its last value does not run into the
	// next producer's first.
	ndjson bool
	// midLine: the last bytes published ended inside a line (a partial
	// line longer than max went as it was).
	midLine bool
	max     int    // a partial line longer than this goes as it is
	part    []byte // the partial line Write holds
	done    chan error
}

func newProducer(svc *Service, topic, contentType string, pid *actor.PID) *Producer {
	return &Producer{svc: svc, topic: topic, pid: pid, max: svc.opts.ConsumerBuffer,
		lines:  strings.HasSuffix(contentType, "x-ndjson") || contentType == "text/plain",
		ndjson: strings.HasSuffix(contentType, "x-ndjson"),
		done:   make(chan error, 1)}
}

// Publish hands one chunk to the topic as it is (the caller may reuse b).
// It returns once the chunk is in the topic's journal and as durable as
// the store's fsync policy makes it; while the journal is full of chunks
// a live consumer has not read, it waits.
func (p *Producer) Publish(ctx context.Context, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	p.svc.sys.Root.Send(p.pid, &publish{data: bytes.Clone(b), done: p.done})
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		// The chunk may still be published; its answer is dropped with
		// this producer, which must not be used again.
		return ctx.Err()
	}
}

// Write publishes what it is given in whole chunks: up to the last line
// end for line-based topics (the rest waits for its end, or for Flush),
// all of it for octet streams.
func (p *Producer) Write(ctx context.Context, b []byte) error {
	if !p.lines {
		return p.Publish(ctx, b)
	}
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		p.part = append(p.part, b...)
		if len(p.part) > p.max {
			p.midLine = true
			return p.publishPart(ctx)
		}
		return nil
	}
	whole := b[:end+1]
	if len(p.part) > 0 {
		whole = append(p.part, whole...)
		p.part = p.part[:0]
	}
	if err := p.Publish(ctx, whole); err != nil {
		return err
	}
	p.midLine = false
	p.part = append(p.part, b[end+1:]...)
	return nil
}

// Flush ends what the source gave: it publishes the partial line Write
// holds, with a line end for an ndjson topic.
func (p *Producer) Flush(ctx context.Context) error {
	if p.ndjson && (len(p.part) > 0 || p.midLine) {
		p.part = append(p.part, '\n')
		p.midLine = false
	}
	return p.publishPart(ctx)
}

// publishPart publishes the partial line Write holds as it is.
func (p *Producer) publishPart(ctx context.Context) error {
	if len(p.part) == 0 {
		return nil
	}
	err := p.Publish(ctx, p.part)
	p.part = p.part[:0]
	return err
}

// Close ends this producer. A partial line not flushed is dropped.
func (p *Producer) Close() {
	p.svc.sys.Root.Send(p.pid, &closeProducer{})
}
