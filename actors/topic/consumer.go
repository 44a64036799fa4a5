package topic

import (
	"context"
	"errors"
)

// Why a consumer's stream ended.
var (
	// ErrTooSlow is kept for callers that tell ends apart; a lossless topic
	// never drops a consumer for being slow (its producers wait instead).
	ErrTooSlow = errors.New("topic consumer dropped: it did not keep up")
	ErrDeleted = errors.New("topic deleted")
	ErrClosed  = errors.New("topic consumer closed")
	ErrRestart = errors.New("topic restarted after a failure")
)

// A Consumer reads a topic's journal from its own offset: every chunk, in
// order, from where it started (the offset it named, the one its
// consumer id had acknowledged, or the first chunk no consumer had been
// given). It is a local value, bound to the node holding the reader's
// connection or process.
type Consumer struct {
	svc   *Service
	topic string
	j     *journal
	id    string // "" for an anonymous consumer

	maxIDs int   // the consumer ids the topic remembers at most
	start  int64 // where it started
	pos    int64 // the next offset it reads; guarded by j.mu
}

// Chunk is one chunk of a topic with its offset.
type Chunk struct {
	Offset int64
	Data   []byte
}

// Start is the offset the consumer started at.
func (c *Consumer) Start() int64 { return c.start }

// Next returns the next chunk, waiting for one. When the topic was deleted
// it returns ErrDeleted. The chunk's bytes must not be changed.
func (c *Consumer) Next(ctx context.Context) ([]byte, error) {
	ch, err := c.NextChunk(ctx)
	return ch.Data, err
}

// NextChunk is Next with the chunk's offset. A consumer whose next offset
// was dropped from the journal (by age) goes on from the first chunk
// still there: the offset tells.
func (c *Consumer) NextChunk(ctx context.Context) (Chunk, error) {
	j := c.j
	j.mu.Lock()
	pos := c.pos
	j.mu.Unlock()
	off, b, err := j.read(ctx, pos)
	if err != nil {
		return Chunk{}, err
	}
	j.mu.Lock()
	c.pos = off + 1
	starved := j.starved
	j.mu.Unlock()
	if starved {
		// A producer waits for room that this read may have made.
		c.svc.poke(c.topic)
	}
	return Chunk{Offset: off, Data: b}, nil
}

// Ack records that the chunks before next reached the consumer's reader.
// A consumer with an id resumes there when it comes back; the position is
// stored when the consumer closes.
func (c *Consumer) Ack(next int64) {
	if c.id == "" {
		return
	}
	c.j.mu.Lock()
	defer c.j.mu.Unlock()
	acked, known := c.j.acks[c.id]
	if !known && len(c.j.acks) >= c.maxIDs {
		return // other new ids took the last places since this one joined
	}
	if next > acked {
		c.j.acks[c.id] = next
	}
}

// Close leaves the topic; a consumer with an id stores its acknowledged
// position.
func (c *Consumer) Close() {
	c.j.mu.Lock()
	delete(c.j.readers, c)
	next, named := c.j.acks[c.id]
	starved := c.j.starved
	c.j.mu.Unlock()
	if c.id != "" && named {
		c.svc.storeAck(c.topic, c.id, next)
	}
	if starved {
		c.svc.poke(c.topic)
	}
}
