package synap

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
)

// pubsub.subscribe over HTTP registers a subscriber, as the original does,
// and answers its subscriber_id: an inbox actor that the topic router sends
// the matching messages to. The client reads them with pubsub.poll
// {subscriber_id} (over HTTP or the WebSocket), and drops the subscriber
// with pubsub.unsubscribe {subscriber_id}. (The original registers the id
// and delivers only over its WebSocket; polling is Troupe's way to read it
// over HTTP.)
//
// Bounds: an inbox keeps the newest --ws-buffer messages, and at most
// --ws-buffer-bytes of them, dropping the oldest past either (counted in
// the poll's "dropped"); one not polled for inboxIdle goes away; there are
// at most --max-sessions inboxes.

const inboxIdle = 5 * time.Minute

// inbox is one HTTP subscriber's buffer. The actor appends under mu; polls
// take under mu.
type inbox struct {
	mu       sync.Mutex
	msgs     []*messages.PubSubMessage
	bytes    int
	dropped  int64
	polled   time.Time
	maxCount int
	maxBytes int
	pid      *actor.PID
}

// inboxes are the HTTP subscribers, by subscriber id.
type inboxes struct {
	mu  sync.Mutex
	all map[string]*inbox
}

func (ib *inboxes) get(id string) *inbox {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	return ib.all[id]
}

func (ib *inboxes) remove(id string) {
	ib.mu.Lock()
	delete(ib.all, id)
	ib.mu.Unlock()
}

// inboxActor receives the router's messages for one inbox.
type inboxActor struct {
	s   *Server
	id  string
	box *inbox
}

func (a *inboxActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		ctx.SetReceiveTimeout(inboxIdle)
	case *messages.PubSubMessage:
		b := a.box
		b.mu.Lock()
		b.msgs = append(b.msgs, m)
		b.bytes += len(m.Message) + len(m.Metadata) + len(m.Topic)
		for len(b.msgs) > b.maxCount || (b.bytes > b.maxBytes && len(b.msgs) > 1) {
			old := b.msgs[0]
			b.msgs[0] = nil
			b.msgs = b.msgs[1:]
			b.bytes -= len(old.Message) + len(old.Metadata) + len(old.Topic)
			b.dropped++
		}
		idle := time.Since(b.polled) > inboxIdle
		b.mu.Unlock()
		if idle {
			a.stop(ctx)
		}
	case *actor.ReceiveTimeout:
		a.box.mu.Lock()
		idle := time.Since(a.box.polled) > inboxIdle
		a.box.mu.Unlock()
		if idle {
			a.stop(ctx)
		}
	case *actor.Stopping:
		a.s.inboxes.remove(a.id)
	}
}

// stop ends an idle inbox; the router watches it and drops its patterns.
func (a *inboxActor) stop(ctx actor.Context) {
	a.s.inboxes.remove(a.id)
	ctx.Stop(ctx.Self())
}

// subscribeInbox registers an HTTP subscriber to patterns.
func (c *call) subscribeInbox(patterns []string) (string, *messages.PubSubReply, error) {
	s := c.s
	s.inboxes.mu.Lock()
	if s.inboxes.all == nil {
		s.inboxes.all = map[string]*inbox{}
	}
	if len(s.inboxes.all) >= s.cfg.MaxSessions {
		s.inboxes.mu.Unlock()
		return "", nil, errorf(http.StatusServiceUnavailable, messages.CodeLimit,
			"%d HTTP subscribers are registered, the limit (--max-sessions)", s.cfg.MaxSessions)
	}
	id := "sub-" + strconv.FormatUint(s.wsSeq.Add(1), 10)
	box := &inbox{polled: time.Now(), maxCount: s.cfg.WSBuffer, maxBytes: int(s.cfg.WSBufferBytes)}
	s.inboxes.all[id] = box
	s.inboxes.mu.Unlock()
	pid, err := s.sessions.Spawn("pubsub-"+id, func() actor.Actor { return &inboxActor{s: s, id: id, box: box} })
	if err != nil {
		s.inboxes.remove(id)
		return "", nil, err
	}
	box.pid = pid
	rep, err := c.doPubSub(c.ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_SUBSCRIBE, Subscriber: pid, Patterns: patterns})
	if err != nil {
		s.inboxes.remove(id)
		s.sessions.Stop(pid)
		return "", nil, err
	}
	return id, rep, nil
}

// inboxOf finds a registered HTTP subscriber.
func (c *call) inboxOf(id string) (*inbox, error) {
	if id == "" {
		return nil, invalid("subscriber_id is required")
	}
	box := c.s.inboxes.get(id)
	if box == nil {
		return nil, errorf(http.StatusNotFound, messages.CodeNotFound, "no subscriber %q (an inbox not polled for %v goes away)", id, inboxIdle)
	}
	return box, nil
}

// pubsub.poll {subscriber_id, max?} -> {subscriber_id, messages: [{topic,
// message, metadata}], dropped}: takes up to max (default all) of the
// messages waiting, oldest first; dropped counts those the inbox's bounds
// dropped since the last poll.
func pubsubPoll(c *call) error {
	a, err := c.margs()
	if err != nil {
		return err
	}
	box, err := c.inboxOf(a.SubscriberID)
	if err != nil {
		return err
	}
	limit, err := intArg("max", a.Max, 0)
	if err != nil {
		return err
	}
	box.mu.Lock()
	n := len(box.msgs)
	if limit > 0 && int(limit) < n {
		n = int(limit)
	}
	msgs := box.msgs[:n:n]
	box.msgs = box.msgs[n:]
	for _, m := range msgs {
		box.bytes -= len(m.Message) + len(m.Metadata) + len(m.Topic)
	}
	dropped := box.dropped
	box.dropped = 0
	box.polled = time.Now()
	box.mu.Unlock()
	w := c.out
	w.Obj()
	w.Key("subscriber_id")
	w.Str(a.SubscriberID)
	w.Key("messages")
	w.Arr()
	for _, m := range msgs {
		w.Obj()
		w.Key("topic")
		w.Str(m.Topic)
		w.Key("message")
		w.Raw(m.Message)
		w.Key("metadata")
		w.Raw(m.Metadata)
		w.EndObj()
	}
	w.EndArr()
	w.Key("dropped")
	w.Int(dropped)
	w.EndObj()
	return nil
}

// unsubscribeInbox drops patterns of an HTTP subscriber, or, with none
// named, the subscriber itself.
func (c *call) unsubscribeInbox(id string, patterns []string) error {
	box, err := c.inboxOf(id)
	if err != nil {
		return err
	}
	var left int64
	if len(patterns) == 0 {
		c.s.inboxes.remove(id)
		c.s.sessions.Stop(box.pid)
	} else {
		rep, err := c.doPubSub(c.ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_UNSUBSCRIBE, Subscriber: box.pid, Patterns: patterns})
		if err != nil {
			return err
		}
		left = rep.Subscriptions
	}
	w := c.out
	w.Obj()
	w.Key("success")
	w.Bool(true)
	w.Key("subscription_count")
	w.Int(left)
	w.EndObj()
	return nil
}
