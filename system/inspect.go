package system

import (
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
)

// ErrNoActor is returned by Inspect for a name no live actor has.
var ErrNoActor = errors.New("no such actor")

// inspect asks an actor to run a read of its state on its own goroutine,
// between two of its messages: the dashboard's figures (a queue's depth by
// priority, say) come from state only the actor may touch.
type inspect struct{ read func(actor.Actor) any }

type inspected struct{ v any }

// inspectMiddleware answers an inspect without the actor's Receive seeing
// it, so that no actor needs a case for it.
func inspectMiddleware(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
		m, ok := env.Message.(*inspect)
		if !ok {
			next(ctx, env)
			return
		}
		if m.read != nil && env.Sender != nil {
			ctx.ActorSystem().Root.Send(env.Sender, &inspected{m.read(ctx.Actor())})
		}
	}
}

// Inspect runs read on the named actor ("queues/tasks") between its
// messages, with the actor's behaviour as argument, and returns its result.
// read must only read, and must not keep what it is given.
func (s *System) Inspect(name string, read func(actor.Actor) any) (any, error) {
	pid, ok := s.Registry.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoActor, name)
	}
	res, err := s.Request(pid, &inspect{read}, s.Config.RequestTimeout)
	if err != nil {
		return nil, err
	}
	r, ok := res.(*inspected)
	if !ok {
		return nil, fmt.Errorf("inspect %s: unexpected reply %T", name, res)
	}
	return r.v, nil
}

// Crash arms the named actor (or domain) to panic, as InjectFault does, and
// sends it a message to fail on, so that it crashes now rather than when it
// is next used; its supervisor then does what its policy says.
func (s *System) Crash(name string) error {
	pid, ok := s.Registry.Lookup(name)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoActor, name)
	}
	if _, err := s.InjectFault(name, "panic"); err != nil {
		return err
	}
	s.Root.Send(pid, &inspect{}) // answered by no one: it only wakes the actor
	return nil
}
