package room

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/durable"
	"github.com/troupe-run/troupe/system/store"
)

// markerPrefix holds one empty record per room: its presence is what makes
// a room exist across restarts (its events may all have been trimmed).
const markerPrefix = "rn/"

// generationPrefix holds each room's last generation (see create).
const generationPrefix = "rg/"

// Options are the rooms' retention and limits.
type Options struct {
	Retention      Config
	MaxRooms       int
	MaxSubscribers int // per room
	MaxEvent       int // bytes of one event's data
}

// Service is the rooms domain: one actor per room, "rooms/<name>". A room
// is created by its first publish or subscription.
type Service struct {
	sys  *system.System
	opts Options

	names       *system.Names
	mu          sync.Mutex
	members     map[string]*members // each room's subscribers, kept across its actor's restarts
	subscribers atomic.Int64        // over every room
}

// members are a room's subscribers. They outlive the room actor's
// incarnations, so that a restarted room goes on delivering to them; only
// the room's actor touches them.
type members struct{ pids []*actor.PID }

func (s *Service) membersOf(room string) *members {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.members[room]
	if m == nil {
		m = &members{}
		s.members[room] = m
	}
	return m
}

// Start registers the rooms domain and learns which rooms exist.
func Start(sys *system.System, opts Options) (*Service, error) {
	names, err := system.LoadNames(sys.Store, markerPrefix)
	if err != nil {
		return nil, err
	}
	s := &Service{sys: sys, opts: opts, names: names, members: map[string]*members{}}
	err = sys.Registry.Domain("rooms", func(name string) actor.Producer {
		m := s.membersOf(name)
		return func() actor.Actor { return &roomActor{svc: s, name: name, m: m} }
	})
	return s, err
}

// Do runs one room command on the room's actor.
func (s *Service) Do(ctx context.Context, req *messages.RoomRequest) (*messages.RoomReply, error) {
	if err := system.CheckName("room", req.Room); err != nil {
		return fail(messages.CodeInvalid, "%v", err), nil
	}
	if s.opts.MaxEvent > 0 && len(req.Data) > s.opts.MaxEvent {
		return fail(messages.CodeInvalid, "event data of %d bytes: the limit is %d", len(req.Data), s.opts.MaxEvent), nil
	}
	exists, count := s.names.Has(req.Room)
	if !exists && s.sys.Placement != nil { // another member may have created it
		var err error
		if exists, count, err = s.names.Recheck(s.sys.Store, markerPrefix, req.Room); err != nil {
			return nil, err
		}
	}
	creates := req.Op == messages.RoomOp_ROOM_PUBLISH || req.Op == messages.RoomOp_ROOM_SUBSCRIBE ||
		req.Op == messages.RoomOp_ROOM_CREATE
	switch {
	case !exists && req.Op == messages.RoomOp_ROOM_DELETE:
		return &messages.RoomReply{}, nil
	case !exists && !creates:
		return fail(messages.CodeNotFound, "room %q does not exist", req.Room), nil
	case !exists && s.opts.MaxRooms > 0 && count >= s.opts.MaxRooms:
		return fail(messages.CodeLimit, "there are already %d rooms, the limit (--max-rooms)", count), nil
	}
	timeout := s.sys.Config.RequestTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	res, err := s.ask(ctx, req, timeout)
	if err != nil {
		return nil, err
	}
	reply := res.(*messages.RoomReply)
	if creates && reply.ErrorCode == "" && !exists {
		s.names.Add(req.Room)
	}
	if req.Op == messages.RoomOp_ROOM_DELETE && reply.ErrorCode == "" {
		s.names.Remove(req.Room)
	}
	return reply, nil
}

// ask runs req on the room's actor: through the registry on one node,
// through sys.Placement in cluster mode.
func (s *Service) ask(ctx context.Context, req *messages.RoomRequest, timeout time.Duration) (any, error) {
	if s.sys.Placement != nil {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return s.sys.Placement.Ask(ctx, "rooms/"+req.Room, req)
	}
	pid, err := s.sys.Registry.Get("rooms/" + req.Room)
	if err != nil {
		return nil, err
	}
	return s.sys.Request(pid, req, timeout)
}

// List returns the names of the rooms, sorted.
func (s *Service) List(context.Context) ([]string, error) {
	if s.sys.Placement != nil { // the rooms of every member, from the journal they share
		if err := s.names.Reload(s.sys.Store, markerPrefix); err != nil {
			return nil, err
		}
	}
	return s.names.Sorted(), nil
}

// Subscribers counts the live subscriptions over all rooms (admin.stats).
func (s *Service) Subscribers() int64 { return s.subscribers.Load() }

// roomActor owns one room: its log and its subscribers.
type roomActor struct {
	svc     *Service
	name    string
	self    *actor.PID
	state   *State
	log     durable.Log // the journal state writes through
	m       *members
	timer   *time.Timer
	lastGen int64 // the generation this actor last created the room with
}

func (a *roomActor) prefix() []byte { return []byte("r/" + a.name + "/") }

func (a *roomActor) Receive(ctx actor.Context) {
	a.log.Receive(ctx, a.svc.sys, a)
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.schedule()
	case *actor.Restarting:
		if a.timer != nil {
			a.timer.Stop()
		}
	case *actor.Stopping:
		if a.timer != nil {
			a.timer.Stop()
		}
		a.svc.subscribers.Add(-int64(len(a.m.pids)))
		a.m.pids = nil
	case *actor.Terminated:
		a.unsubscribe(msg.Who)
	case *messages.RoomRequest:
		a.handle(ctx, msg)
	case *messages.Tick:
		a.state.Trim(time.Now())
		a.log.Reply(nil, nil, storeFailed)
		a.schedule()
	}
}

// Recover loads the room from the journal (durable.State).
func (a *roomActor) Recover(r store.Reader) error {
	a.self = a.log.Self()
	a.state = New(a.prefix(), a.svc.opts.Retention, &a.log)
	return r.Scan(a.prefix(), a.state.Restore)
}

func (a *roomActor) handle(ctx actor.Context, req *messages.RoomRequest) {
	now := time.Now()
	sender := ctx.Sender()
	a.state.Trim(now)
	switch req.Op {
	case messages.RoomOp_ROOM_PUBLISH:
		a.ensureCreated(now)
		ev := a.wire(a.state.Publish(now, req.EventType, req.Data))
		// Subscribers get the event once it is durable; the commit pipeline
		// keeps events in offset order.
		subs, root := slices.Clone(a.m.pids), a.svc.sys.Root
		a.log.Then(func(err error) {
			var reply any = &messages.RoomReply{Event: ev, SubscribersNotified: int64(len(subs))}
			if err != nil {
				reply = storeFailed(err)
			} else {
				for _, sub := range subs {
					root.Send(sub, ev)
				}
			}
			if sender != nil {
				root.Send(sender, reply)
			}
		})
		a.schedule()
	case messages.RoomOp_ROOM_HISTORY:
		events, err := a.state.History(req.FromOffset, int(req.Limit))
		if err != nil {
			a.reply(sender, a.offsetError(err))
			return
		}
		a.reply(sender, &messages.RoomReply{Events: a.wireAll(events),
			OldestOffset: a.state.Oldest(), NewestOffset: a.state.Newest()})
	case messages.RoomOp_ROOM_STATS:
		st := a.state.Stats()
		meta, _ := a.state.Meta()
		a.reply(sender, &messages.RoomReply{Stats: &messages.RoomStats{
			Room: a.name, EventCount: int64(st.Events), OldestOffset: st.OldestOffset, NewestOffset: st.NewestOffset,
			Subscribers: int64(len(a.m.pids)), PublishedTotal: st.Published,
			FirstTimestampMs: millis(st.FirstTimestamp), LastTimestampMs: millis(st.LastTimestamp),
			CreatedAtMs: millis(meta.CreatedAt), Generation: meta.Generation,
		}, OldestOffset: st.OldestOffset, NewestOffset: st.NewestOffset})
	case messages.RoomOp_ROOM_CREATE:
		if _, exists := a.state.Meta(); exists {
			if req.Replay {
				a.reply(sender, fail(messages.CodeQueueExists, "room %q exists", a.name))
			} else {
				a.reply(sender, &messages.RoomReply{})
			}
			return
		}
		if req.Limit < 0 || req.Limit > 1<<31 {
			a.reply(sender, fail(messages.CodeInvalid, "max_events must be from 0 to %d, not %d", 1<<31, req.Limit))
			return
		}
		a.create(now, int(req.Limit))
		a.reply(sender, &messages.RoomReply{Ok: true})
	case messages.RoomOp_ROOM_DELETE:
		_, existed := a.state.Meta()
		existed = existed || a.state.Stats().Published > 0
		a.state.Clear(a.svc.opts.Retention)
		a.log.Delete([]byte(markerPrefix + a.name))
		// The subscribers of the room that was get nothing more from it.
		a.svc.subscribers.Add(-int64(len(a.m.pids)))
		for _, pid := range a.m.pids {
			ctx.Unwatch(pid)
		}
		a.m.pids = nil
		a.reply(sender, &messages.RoomReply{Ok: existed})
	case messages.RoomOp_ROOM_SUBSCRIBE:
		a.subscribe(ctx, sender, req)
	case messages.RoomOp_ROOM_UNSUBSCRIBE:
		if req.Subscriber != nil {
			a.unsubscribe(req.Subscriber)
			ctx.Unwatch(req.Subscriber)
		}
		a.reply(sender, &messages.RoomReply{})
	default:
		a.reply(sender, fail(messages.CodeInvalid, "unknown room operation %v", req.Op))
	}
}

// subscribe answers with the replay (events from from_offset on) and adds
// the subscriber, which from now on gets every event published after the
// last one replayed: no gap, no duplicate, because the actor does both in
// one step. A negative from_offset means live events only.
func (a *roomActor) subscribe(ctx actor.Context, sender *actor.PID, req *messages.RoomRequest) {
	if req.Subscriber == nil {
		a.reply(sender, fail(messages.CodeInvalid, "stream.subscribe needs a subscriber"))
		return
	}
	var replay []Event
	if req.FromOffset >= 0 {
		var err error
		if replay, err = a.state.Since(req.FromOffset); err != nil {
			a.reply(sender, a.offsetError(err))
			return
		}
	}
	if !slices.ContainsFunc(a.m.pids, req.Subscriber.Equal) {
		if max := a.svc.opts.MaxSubscribers; max > 0 && len(a.m.pids) >= max {
			a.reply(sender, fail(messages.CodeLimit, "room %q has %d subscribers, the limit", a.name, len(a.m.pids)))
			return
		}
		a.m.pids = append(a.m.pids, req.Subscriber)
		a.svc.subscribers.Add(1)
		ctx.Watch(req.Subscriber)
	}
	a.ensureCreated(time.Now())
	a.reply(sender, &messages.RoomReply{Events: a.wireAll(replay),
		OldestOffset: a.state.Oldest(), NewestOffset: a.state.Newest()})
}

func (a *roomActor) unsubscribe(pid *actor.PID) {
	if i := slices.IndexFunc(a.m.pids, pid.Equal); i >= 0 {
		a.m.pids = slices.Delete(a.m.pids, i, i+1)
		a.svc.subscribers.Add(-1)
	}
}

func (a *roomActor) reply(sender *actor.PID, r *messages.RoomReply) {
	a.log.Reply(sender, r, storeFailed)
}

// schedule arms the timer that trims events by age.
func (a *roomActor) schedule() {
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	if at, ok := a.state.NextExpiry(); ok {
		self, root := a.self, a.svc.sys.Root
		a.timer = time.AfterFunc(time.Until(at), func() { root.Send(self, &messages.Tick{}) })
	}
}

func (a *roomActor) offsetError(err error) *messages.RoomReply {
	var oe *OffsetError
	if errors.As(err, &oe) {
		r := fail(messages.CodeOffsetTrimmed, "room %q: %v", a.name, err)
		r.OldestOffset, r.NewestOffset = oe.Oldest, a.state.Newest()
		return r
	}
	return fail(messages.CodeInvalid, "room %q: %v", a.name, err)
}

func (a *roomActor) wire(e Event) *messages.RoomEvent {
	return &messages.RoomEvent{Room: a.name, EventId: e.ID, Offset: e.Offset, EventType: e.EventType,
		Data: e.Data, TimestampMs: e.Timestamp.UnixMilli()}
}

func (a *roomActor) wireAll(events []Event) []*messages.RoomEvent {
	out := make([]*messages.RoomEvent, len(events))
	for i, e := range events {
		out[i] = a.wire(e)
	}
	return out
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fail(code, format string, args ...any) *messages.RoomReply {
	return &messages.RoomReply{ErrorCode: code, ErrorMessage: fmt.Sprintf(format, args...)}
}

func storeFailed(err error) any {
	return fail(messages.CodeStore, "write not stored: %v", err)
}

// generationKey holds the last generation a room was created with; it
// outlives the room, so that a room created again gets a new one.
func (a *roomActor) generationKey() []byte { return []byte(generationPrefix + a.name) }

// ensureCreated creates the room on its first publish or subscribe.
func (a *roomActor) ensureCreated(now time.Time) {
	if _, ok := a.state.Meta(); !ok {
		a.create(now, 0)
	}
}

// create records the room's creation with a generation never used before:
// the wall clock in milliseconds, past the last one (as the original
// numbers them, so a reader can tell a room created again from the old).
func (a *roomActor) create(now time.Time, maxEvents int) {
	gen := max(now.UnixMilli(), a.lastGen+1)
	if raw, found, err := a.log.Get(a.generationKey()); err == nil && found {
		if last, n := binary.Varint(raw); n > 0 && last >= gen {
			gen = last + 1
		}
	}
	a.lastGen = gen
	a.state.Create(now, gen, maxEvents)
	a.log.Set(a.generationKey(), binary.AppendVarint(nil, gen))
	a.log.Set([]byte(markerPrefix+a.name), nil)
}
