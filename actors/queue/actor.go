package queue

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/durable"
	"github.com/troupe-run/troupe/system/store"
)

// prefetch is how many messages a pushed-to subscriber may hold unacked:
// enough to keep a WebSocket consumer busy, few enough that a dead one
// strands little until its ack deadline.
const prefetch = 16

// queueActor owns one queue. It exists before the queue does (a Spawn on
// first use); state is nil until queue.create or an implicit create.
type queueActor struct {
	svc   *Service
	name  string
	self  *actor.PID
	state *State
	log   durable.Log // the journal state writes through

	waiters []waiter    // consumers blocked in queue.consume, oldest first
	pushed  *pushed     // pushed-to consumers; they outlive this incarnation
	timer   *time.Timer // wakes the actor at the next deadline
	wakeAt  time.Time   // when timer fires
}

type waiter struct {
	sender      *actor.PID
	consumer    string
	ackDeadline time.Duration
	until       time.Time
}

// pushed are a queue's subscribers (queue.subscribe), served round robin.
// They outlive the queue actor's incarnations, so that a restarted queue
// goes on pushing to them; only the queue's actor touches them.
type pushed struct {
	subs []*subscriber
	next int // the subscriber served next
}

type subscriber struct {
	pid         *actor.PID
	consumer    string
	ackDeadline time.Duration
}

func (a *queueActor) prefix() []byte    { return []byte("q/" + a.name + "/") }
func (a *queueActor) configKey() []byte { return []byte("qc/" + a.name) }

func (a *queueActor) Receive(ctx actor.Context) {
	a.log.Receive(ctx, a.svc.sys, a)
	switch msg := ctx.Message().(type) {
	case *actor.Restarting, *actor.Stopping:
		a.stopTimer()
		a.failWaiters(messages.CodeUnavailable, "the queue is restarting")
	case *actor.Terminated:
		a.unsubscribe(msg.Who)
	case *messages.QueueRequest:
		a.handle(ctx, msg)
		a.dispatch()
		a.schedule()
	case *messages.Tick:
		a.tick()
		a.dispatch()
		a.schedule()
	case *system.Withdraw:
		// A consumer that went away no longer waits (AskOrWithdraw): the
		// next message goes to one that is there.
		a.waiters = slices.DeleteFunc(a.waiters, func(w waiter) bool { return w.sender == ctx.Sender() })
		a.svc.sys.AnswerWithdraw(ctx.Sender())
		a.schedule()
	}
}

// Recover loads the queue from the journal (durable.State): its config,
// then its messages.
func (a *queueActor) Recover(r store.Reader) error {
	a.self = a.log.Self()
	a.state = nil
	raw, found, err := r.Get(a.configKey())
	if err != nil || !found {
		return err
	}
	var pc messages.QueueConfig
	if err := proto.Unmarshal(raw, &pc); err != nil {
		return fmt.Errorf("queue %s: corrupt config: %w", a.name, err)
	}
	a.state = New(a.prefix(), configFrom(&pc, a.svc.defaults), &a.log)
	return r.Scan(a.prefix(), a.state.Restore)
}

func (a *queueActor) handle(ctx actor.Context, req *messages.QueueRequest) {
	now := time.Now()
	sender := ctx.Sender()
	if a.state == nil && req.Op != messages.QueueOp_QUEUE_CREATE && !(req.Op == messages.QueueOp_QUEUE_PUBLISH && req.Create) {
		a.reply(sender, fail(messages.CodeQueueNotFound, "queue %q does not exist", a.name))
		return
	}
	switch req.Op {
	case messages.QueueOp_QUEUE_CREATE:
		if a.state != nil {
			a.reply(sender, fail(messages.CodeQueueExists, "queue %q already exists", a.name))
			return
		}
		cfg := configFrom(req.Config, a.svc.defaults)
		if err := cfg.Validate(); err != nil {
			a.reply(sender, fail(messages.CodeInvalid, "queue %q: %v", a.name, err))
			return
		}
		a.create(cfg)
		a.reply(sender, &messages.QueueReply{Ok: true})
	case messages.QueueOp_QUEUE_PUBLISH:
		if a.state == nil {
			a.create(a.svc.defaults)
		}
		id, pos, err := a.state.Publish(now, req.Message, int(req.Priority), req.Headers)
		switch {
		case errors.Is(err, ErrQueueFull):
			a.reply(sender, fail(messages.CodeQueueFull, "queue %q is full (max_depth %d)", a.name, a.state.cfg.MaxDepth))
		case err != nil:
			a.reply(sender, fail(messages.CodeInvalid, "%v", err))
		default:
			a.reply(sender, &messages.QueueReply{Ok: true, MessageId: id, Position: int64(pos)})
		}
	case messages.QueueOp_QUEUE_CONSUME:
		consumer := req.Consumer
		if consumer == "" {
			consumer = "anonymous"
		}
		ack := time.Duration(req.AckDeadlineMs) * time.Millisecond
		if m, ok := a.state.Consume(now, consumer, ack); ok {
			a.reply(sender, &messages.QueueReply{Ok: true, Message: a.wire(m)})
			return
		}
		if req.TimeoutMs <= 0 {
			a.reply(sender, &messages.QueueReply{Ok: true})
			return
		}
		a.waiters = append(a.waiters, waiter{sender: sender, consumer: consumer, ackDeadline: ack,
			until: now.Add(time.Duration(req.TimeoutMs) * time.Millisecond)})
	case messages.QueueOp_QUEUE_ACK:
		if err := a.state.Ack(req.MessageId); err != nil {
			a.reply(sender, fail(messages.CodeMessageNotFound, "queue %q: %v", a.name, err))
			return
		}
		a.reply(sender, &messages.QueueReply{Ok: true})
	case messages.QueueOp_QUEUE_NACK:
		action, err := a.state.Nack(req.MessageId, req.Requeue)
		if err != nil {
			a.reply(sender, fail(messages.CodeMessageNotFound, "queue %q: %v", a.name, err))
			return
		}
		a.reply(sender, &messages.QueueReply{Ok: true, Action: string(action)})
	case messages.QueueOp_QUEUE_PURGE:
		a.reply(sender, &messages.QueueReply{Ok: true, Count: int64(a.state.Purge())})
	case messages.QueueOp_QUEUE_STATS:
		a.reply(sender, &messages.QueueReply{Ok: true, Stats: a.stats(now)})
	case messages.QueueOp_QUEUE_DLQ_LIST:
		limit := int(req.Limit)
		if limit <= 0 {
			limit = 100
		}
		out := &messages.QueueReply{Ok: true, Count: int64(a.state.Stats(now).DeadLettered)}
		for _, m := range a.state.DLQList(int(req.Offset), limit) {
			out.Messages = append(out.Messages, a.wire(m))
		}
		a.reply(sender, out)
	case messages.QueueOp_QUEUE_DLQ_REQUEUE:
		var n int
		if len(req.Ids) == 0 {
			n = a.state.DLQRequeueAll()
		} else {
			n = a.state.DLQRequeue(req.Ids)
		}
		a.reply(sender, &messages.QueueReply{Ok: true, Count: int64(n)})
	case messages.QueueOp_QUEUE_DLQ_PURGE:
		a.reply(sender, &messages.QueueReply{Ok: true, Count: int64(a.state.DLQPurge())})
	case messages.QueueOp_QUEUE_DELETE:
		a.log.DeleteRange(a.prefix(), store.PrefixEnd(a.prefix()))
		a.log.Delete(a.configKey())
		a.state = nil
		a.failWaiters(messages.CodeQueueNotFound, "the queue was deleted")
		a.pushed.subs, a.pushed.next = nil, 0
		a.reply(sender, &messages.QueueReply{Ok: true})
	case messages.QueueOp_QUEUE_SUBSCRIBE:
		if req.Subscriber == nil {
			a.reply(sender, fail(messages.CodeInvalid, "queue.subscribe needs a subscriber"))
			return
		}
		if a.find(req.Subscriber) < 0 {
			a.pushed.subs = append(a.pushed.subs, &subscriber{pid: req.Subscriber, consumer: "subscriber:" + req.Subscriber.Id,
				ackDeadline: time.Duration(req.AckDeadlineMs) * time.Millisecond})
			ctx.Watch(req.Subscriber)
		}
		a.reply(sender, &messages.QueueReply{Ok: true})
	case messages.QueueOp_QUEUE_UNSUBSCRIBE:
		if req.Subscriber != nil {
			a.unsubscribe(req.Subscriber)
			ctx.Unwatch(req.Subscriber)
		}
		a.reply(sender, &messages.QueueReply{Ok: true})
	default:
		a.reply(sender, fail(messages.CodeInvalid, "unknown queue operation %v", req.Op))
	}
}

// create makes the queue exist with cfg, durably.
func (a *queueActor) create(cfg Config) {
	pc := &messages.QueueConfig{MaxDepth: proto.Int64(int64(cfg.MaxDepth)), AckDeadlineMs: proto.Int64(cfg.AckDeadline.Milliseconds()),
		MaxRetries: proto.Int32(int32(cfg.MaxRetries)), DeadLetter: proto.Bool(cfg.DeadLetter)}
	raw, _ := proto.Marshal(pc)
	a.log.Set(a.configKey(), raw)
	a.state = New(a.prefix(), cfg, &a.log)
}

// reply sends r once this command's writes are durable.
func (a *queueActor) reply(sender *actor.PID, r *messages.QueueReply) {
	a.log.Reply(sender, r, storeFailed)
}

// dispatch hands ready messages to waiting consumers first, then to
// subscribers with room under their prefetch, round robin.
func (a *queueActor) dispatch() {
	if a.state == nil {
		return
	}
	now := time.Now()
	for len(a.waiters) > 0 {
		w := a.waiters[0]
		m, ok := a.state.Consume(now, w.consumer, w.ackDeadline)
		if !ok {
			return
		}
		a.waiters = a.waiters[1:]
		a.reply(w.sender, &messages.QueueReply{Ok: true, Message: a.wire(m)})
	}
	for served := 0; len(a.pushed.subs) > 0 && served < len(a.pushed.subs); {
		s := a.pushed.subs[a.pushed.next%len(a.pushed.subs)]
		a.pushed.next++
		if a.state.InFlightOf(s.consumer) >= prefetch {
			served++
			continue
		}
		m, ok := a.state.Consume(now, s.consumer, s.ackDeadline)
		if !ok {
			return
		}
		served = 0
		a.log.Reply(s.pid, &messages.QueueDelivery{Queue: a.name, Message: a.wire(m)}, storeFailed)
	}
}

// tick redelivers messages past their ack deadline and ends the waits
// that timed out (they get message: null).
func (a *queueActor) tick() {
	now := time.Now()
	if a.state != nil {
		if x := a.state.Tick(now); x != (Expired{}) {
			a.svc.sys.Log.Debug("ack deadlines passed", "actor", a.self.Id, "requeued", x.Requeued,
				"dead_lettered", x.DeadLettered, "discarded", x.Discarded)
		}
		a.log.Reply(nil, nil, storeFailed)
	}
	a.waiters = slices.DeleteFunc(a.waiters, func(w waiter) bool {
		if now.Before(w.until) {
			return false
		}
		a.svc.sys.Root.Send(w.sender, &messages.QueueReply{Ok: true})
		return true
	})
}

// schedule arms the timer for the next ack deadline or end of a wait.
func (a *queueActor) schedule() {
	var at time.Time
	if a.state != nil {
		at, _ = a.state.NextDeadline()
	}
	for _, w := range a.waiters {
		if at.IsZero() || w.until.Before(at) {
			at = w.until
		}
	}
	if at.Equal(a.wakeAt) {
		return
	}
	a.stopTimer()
	if at.IsZero() {
		return
	}
	a.wakeAt = at
	self, root := a.self, a.svc.sys.Root
	a.timer = time.AfterFunc(time.Until(at), func() { root.Send(self, &messages.Tick{}) })
}

func (a *queueActor) stopTimer() {
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	a.wakeAt = time.Time{}
}

func (a *queueActor) failWaiters(code, why string) {
	for _, w := range a.waiters {
		a.svc.sys.Root.Send(w.sender, fail(code, "queue %q: %s", a.name, why))
	}
	a.waiters = nil
}

func (a *queueActor) find(pid *actor.PID) int {
	return slices.IndexFunc(a.pushed.subs, func(s *subscriber) bool { return s.pid.Equal(pid) })
}

// unsubscribe forgets a subscriber; what it holds in flight comes back at
// its ack deadline.
func (a *queueActor) unsubscribe(pid *actor.PID) {
	if i := a.find(pid); i >= 0 {
		a.pushed.subs = slices.Delete(a.pushed.subs, i, i+1)
	}
}

func (a *queueActor) stats(now time.Time) *messages.QueueStats {
	st := a.state.Stats(now)
	// Consumers: those holding messages, plus those waiting or subscribed
	// and holding none.
	consumers := st.Consumers
	for _, w := range a.waiters {
		if a.state.InFlightOf(w.consumer) == 0 {
			consumers++
		}
	}
	for _, s := range a.pushed.subs {
		if a.state.InFlightOf(s.consumer) == 0 {
			consumers++
		}
	}
	return &messages.QueueStats{
		Queue:                a.name,
		Depth:                int64(st.Depth),
		Consumers:            int64(consumers),
		PublishedTotal:       int64(st.PublishedTotal),
		ConsumedTotal:        int64(st.ConsumedTotal),
		AckedTotal:           int64(st.AckedTotal),
		NackedTotal:          int64(st.NackedTotal),
		OldestMessageAgeSecs: st.OldestMessageAgeSecs,
		InFlight:             int64(st.InFlight),
		DeadLettered:         int64(st.DeadLettered),
	}
}

func (a *queueActor) wire(m Message) *messages.QueueMessage {
	return &messages.QueueMessage{
		MessageId:     m.ID,
		Message:       m.Payload,
		Priority:      int32(m.Priority),
		RetryCount:    int32(m.RetryCount),
		Headers:       m.Headers,
		PublishedAtMs: m.PublishedAt.UnixMilli(),
		Queue:         a.name,
		MaxRetries:    int32(a.state.cfg.MaxRetries),
	}
}

func fail(code, format string, args ...any) *messages.QueueReply {
	return &messages.QueueReply{ErrorCode: code, ErrorMessage: fmt.Sprintf(format, args...)}
}

func storeFailed(err error) any {
	return fail(messages.CodeStore, "write not stored: %v", err)
}

// configFrom fills a queue's config from a request, defaults where unset.
func configFrom(pc *messages.QueueConfig, defaults Config) Config {
	cfg := defaults
	if pc == nil {
		return cfg
	}
	if pc.MaxDepth != nil {
		cfg.MaxDepth = int(*pc.MaxDepth)
	}
	if pc.AckDeadlineMs != nil {
		cfg.AckDeadline = time.Duration(*pc.AckDeadlineMs) * time.Millisecond
	}
	if pc.MaxRetries != nil {
		cfg.MaxRetries = int(*pc.MaxRetries)
	}
	if pc.DeadLetter != nil {
		cfg.DeadLetter = *pc.DeadLetter
	}
	return cfg
}
