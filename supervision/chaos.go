package supervision

import (
	"fmt"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
)

// InjectedPanic is the value an actor panics with when a fault was injected.
type InjectedPanic struct{ Actor string }

func (p InjectedPanic) String() string { return "chaos: injected panic in " + p.Actor }

// Faults arms actors to fail on their next message. Its middleware sits on
// every supervised actor; with chaos disabled it only answers crashed
// requests, and a messages.InjectFault is ignored.
type Faults struct {
	enabled bool
	armed   sync.Map // actor id -> struct{}
}

// NewFaults returns the fault injector; enabled is the --chaos flag.
func NewFaults(enabled bool) *Faults { return &Faults{enabled: enabled} }

// Enabled reports whether faults can be injected.
func (f *Faults) Enabled() bool { return f.enabled }

// Middleware is a receiver middleware. It arms the actor on
// messages.InjectFault; it panics on the next user message after that; and
// whatever the cause of a panic, it answers the request being handled with a
// messages.Failure before the supervisor takes over, so the requester gets an
// error at once instead of waiting for its deadline.
func (f *Faults) Middleware(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
		switch env.Message.(type) {
		case *messages.InjectFault:
			if f.enabled {
				f.armed.Store(c.Self().Id, struct{}{})
			}
			return
		case actor.SystemMessage, actor.AutoReceiveMessage:
			next(c, env)
			return
		}
		if env.Sender != nil {
			defer func() {
				if r := recover(); r != nil {
					c.ActorSystem().Root.Send(env.Sender, &messages.Failure{Actor: c.Self().Id, Reason: fmt.Sprint(r)})
					panic(r)
				}
			}()
		}
		if f.enabled {
			if _, armed := f.armed.LoadAndDelete(c.Self().Id); armed {
				panic(InjectedPanic{Actor: c.Self().Id})
			}
		}
		next(c, env)
	}
}
