package topic

import (
	"context"
	"errors"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// ErrNotProducing is a publish by a producer whose turn is over.
var ErrNotProducing = errors.New("not the topic's current producer")

// A Producer publishes to a topic. A topic serves its producers one at a
// time, in the order they came: Wait returns once it is this one's turn.
// It is a local value: the bytes it carries come from a connection or a
// process on this node.
type Producer struct {
	svc   *Service
	topic string
	pid   *actor.PID
	turn  chan struct{} // closed by the topic actor when this producer may publish

	mu   sync.Mutex
	err  error
	dead chan struct{} // closed when the topic has let this producer go
}

func newProducer(svc *Service, topic string, pid *actor.PID) *Producer {
	return &Producer{svc: svc, topic: topic, pid: pid, turn: make(chan struct{}), dead: make(chan struct{})}
}

// fail ends the producer's turn from the topic's side.
func (p *Producer) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
		close(p.dead)
	}
}

func (p *Producer) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Wait waits for this producer's turn.
func (p *Producer) Wait(ctx context.Context) error {
	select {
	case <-p.turn:
		return nil
	case <-p.dead:
		return p.failure()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Publish hands one chunk to the topic, which keeps it (the caller may
// reuse b). It returns once the topic has taken the chunk: at once while
// the topic has consumers, and, while it has none, once its backlog has
// room, so a producer with no one to read is held back.
func (p *Producer) Publish(ctx context.Context, b []byte) error {
	done := make(chan error, 1)
	p.svc.sys.Root.Send(p.pid, &publish{p: p, data: append([]byte(nil), b...), done: done})
	select {
	case err := <-done:
		return err
	case <-p.dead:
		return p.failure()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close ends this producer's turn (or its wait for one); the next waiting
// producer is served.
func (p *Producer) Close() {
	p.svc.sys.Root.Send(p.pid, &closeProducer{p})
}
