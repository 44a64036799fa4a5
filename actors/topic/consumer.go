package topic

import (
	"context"
	"errors"
	"sync"
)

// Why a consumer's stream ended.
var (
	ErrTooSlow = errors.New("topic consumer dropped: it did not keep up and its buffer is full")
	ErrDeleted = errors.New("topic deleted")
	ErrClosed  = errors.New("topic consumer closed")
	ErrRestart = errors.New("topic restarted after a failure")
)

// A Consumer receives every chunk published to its topic from the moment
// it joined. Its buffer is bounded in bytes: the topic actor drops a
// consumer whose buffer would overflow instead of waiting for it, so one
// slow reader never stalls the producer or the other consumers.
//
// It is a local value, bound to the node holding the reader's connection;
// the topic actor offers chunks to it directly.
type Consumer struct {
	svc   *Service
	topic string
	limit int

	mu     sync.Mutex
	chunks [][]byte
	size   int
	extra  int           // bytes of the backlog handed over, not yet read: not held against limit
	err    error         // set when the stream has ended
	wake   chan struct{} // signalled when chunks or err change
}

func newConsumer(svc *Service, topic string, limit int) *Consumer {
	return &Consumer{svc: svc, topic: topic, limit: limit, wake: make(chan struct{}, 1)}
}

// offer queues a chunk; it reports false, queueing nothing, when the chunk
// does not fit. An empty buffer takes any chunk, so a chunk larger than
// the limit is not a reason to drop a reader that keeps up.
func (c *Consumer) offer(b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return true
	}
	if own := c.size - c.extra; own > 0 && own+len(b) > c.limit {
		return false
	}
	c.chunks = append(c.chunks, b)
	c.size += len(b)
	c.signal()
	return true
}

// take queues a chunk of a topic's backlog, handed over to its first
// consumer: it is not held against the consumer's buffer (a consumer that
// joins a full backlog must have room for what comes next), and it is
// bounded by the backlog's own bound.
func (c *Consumer) take(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.chunks = append(c.chunks, b)
		c.size += len(b)
		c.extra += len(b)
		c.signal()
	}
}

// end closes the stream with err once the queued chunks are read.
func (c *Consumer) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		c.signal()
	}
}

func (c *Consumer) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Next returns the next chunk, waiting for one. When the stream has ended
// it returns the reason (ErrTooSlow, ErrDeleted ...), after the chunks
// queued before. Chunks are the consumer's to keep.
func (c *Consumer) Next(ctx context.Context) ([]byte, error) {
	for {
		c.mu.Lock()
		if len(c.chunks) > 0 {
			b := c.chunks[0]
			c.chunks[0] = nil
			c.chunks = c.chunks[1:]
			c.size -= len(b)
			c.extra -= min(c.extra, len(b))
			c.mu.Unlock()
			return b, nil
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-c.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close leaves the topic.
func (c *Consumer) Close() {
	c.end(ErrClosed)
	if pid, ok := c.svc.sys.Registry.Lookup(actorName(c.topic)); ok {
		c.svc.sys.Root.Send(pid, &unsubscribe{c})
	}
}
