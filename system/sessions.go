package system

import (
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
)

// Sessions spawns the actors of client connections (WebSocket, SSE) under
// a front door's supervisor, "gateway/<door>". A session owns its
// connection, which a restart could not give back: a crashed session is
// stopped (its connection closes), never restarted.
type Sessions struct {
	sys *System
	sup *actor.PID
}

// Sessions starts the session supervisor of a front door.
func (s *System) Sessions(door string) (*Sessions, error) {
	stop := actor.NewOneForOneStrategy(0, 0, func(reason any) actor.Directive {
		s.Log.Warn("session crashed, closing its connection", "door", door, "panic", fmt.Sprint(reason))
		return actor.StopDirective
	})
	props := actor.PropsFromFunc(superviseSessions, actor.WithSupervisor(stop))
	pid, err := s.Root.SpawnNamed(props, "gateway/"+door)
	if err != nil {
		return nil, fmt.Errorf("start the %s door's sessions: %w", door, err)
	}
	s.Registry.mu.Lock()
	s.Registry.domains["gateway/"+door] = pid
	s.Registry.mu.Unlock()
	return &Sessions{sys: s, sup: pid}, nil
}

// spawnSession asks a session supervisor for a child. It carries a Go
// function, so unlike the messages package it never leaves the process:
// a session is bound to its connection's node anyway.
type spawnSession struct {
	name  string
	props *actor.Props
}

type spawned struct {
	pid *actor.PID
	err error
}

func superviseSessions(ctx actor.Context) {
	if m, ok := ctx.Message().(*spawnSession); ok {
		pid, err := ctx.SpawnNamed(m.props, m.name)
		ctx.Respond(&spawned{pid, err})
	}
}

// Spawn starts a session actor named name (unique per door).
func (s *Sessions) Spawn(name string, producer actor.Producer) (*actor.PID, error) {
	id := s.sup.Id + "/" + name
	table := s.sys.Metrics.actors
	mailbox := table.watch(id)
	props := actor.PropsFromProducer(producer, actor.WithReceiverMiddleware(
		s.sys.Metrics.countMessages("gateway"), mailbox.countCrashed, s.sys.Faults.Middleware, forgetOnStop(table, id)),
		actor.WithMailbox(actor.Unbounded(mailbox)))
	res, err := s.sys.Request(s.sup, &spawnSession{name: name, props: props}, s.sys.Config.RequestTimeout)
	if err == nil {
		err = res.(*spawned).err
	}
	if err != nil {
		if !errors.Is(err, actor.ErrNameExists) { // the entry is the live session's
			table.drop(id)
		}
		return nil, err
	}
	return res.(*spawned).pid, nil
}

// forgetOnStop drops a session's entry of the supervisor tree when it stops:
// sessions come and go with their connections.
func forgetOnStop(table *actorTable, id string) actor.ReceiverMiddleware {
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
			next(ctx, env)
			if _, ok := env.Message.(*actor.Stopped); ok {
				table.drop(id)
			}
		}
	}
}

// Stop stops a session actor after the messages already in its mailbox.
func (s *Sessions) Stop(pid *actor.PID) { s.sys.Root.Poison(pid) }

// Send hands a message to a session actor.
func (s *Sessions) Send(pid *actor.PID, msg any) { s.sys.Root.Send(pid, msg) }
