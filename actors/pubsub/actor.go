// Package pubsub is the topic router: one actor holding the wildcard trie of
// subscriptions (see package trie for the matching rules) that forwards
// each published message to every subscriber whose pattern matches.
// Messages are not stored: pub/sub is fire and forget, as in the spec.
package pubsub

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/actors/pubsub/trie"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// Options bound the router.
type Options struct {
	MaxPatterns int // subscriptions per subscriber
	MaxMessage  int // bytes of one message
}

// Service is the pubsub domain: its router is "pubsub/router".
type Service struct {
	sys    *system.System
	opts   Options
	router *actor.PID
	// routes outlive the router's incarnations, so that a restarted router
	// goes on delivering to its subscribers; only the router touches them.
	routes *routes

	topics, subscribers atomic.Int64 // for admin.stats, updated by the router
}

// Start spawns the router.
func Start(sys *system.System, opts Options) (*Service, error) {
	s := &Service{sys: sys, opts: opts, routes: &routes{subs: map[string]*subscription{}}}
	err := sys.Registry.Domain("pubsub", func(string) actor.Producer {
		return func() actor.Actor { return &router{svc: s, routes: s.routes} }
	})
	if err != nil {
		return nil, err
	}
	s.router, err = sys.Registry.Get("pubsub/router")
	return s, err
}

// Do runs one pub/sub command on the router.
func (s *Service) Do(ctx context.Context, req *messages.PubSubRequest) (*messages.PubSubReply, error) {
	if s.opts.MaxMessage > 0 && len(req.Message) > s.opts.MaxMessage {
		return fail(messages.CodeInvalid, "message of %d bytes: the limit is %d", len(req.Message), s.opts.MaxMessage), nil
	}
	timeout := s.sys.Config.RequestTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	res, err := s.sys.Request(s.router, req, timeout)
	if err != nil {
		return nil, err
	}
	reply := res.(*messages.PubSubReply)
	if s.sys.Placement != nil && req.Op == messages.PubSubOp_PUBSUB_PUBLISH && reply.ErrorCode == "" {
		// In a cluster each member's router delivers to the subscribers
		// on that member: the message goes to every other router once.
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		for _, r := range s.sys.Placement.Others(ctx, "pubsub/router", req) {
			if r, ok := r.(*messages.PubSubReply); ok {
				reply.SubscribersNotified += r.SubscribersNotified
			}
		}
	}
	return reply, nil
}

// Counts returns the patterns subscribed to and the subscribers.
func (s *Service) Counts() (topics, subscribers int64) { return s.topics.Load(), s.subscribers.Load() }

// router owns the trie. Subscribers are actors (WebSocket sessions),
// watched so that their subscriptions go when they stop.
type router struct {
	svc *Service
	*routes
}

type routes struct {
	trie      trie.Trie[string]        // pattern -> subscriber ids
	subs      map[string]*subscription // by subscriber id
	published int64
}

type subscription struct {
	pid      *actor.PID
	patterns []string
}

func (r *router) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Terminated:
		r.drop(msg.Who.Id, nil)
	case *messages.PubSubRequest:
		ctx.Respond(r.handle(ctx, msg))
		r.svc.topics.Store(int64(r.trie.Len()))
		r.svc.subscribers.Store(int64(len(r.subs)))
	}
}

func (r *router) handle(ctx actor.Context, req *messages.PubSubRequest) *messages.PubSubReply {
	switch req.Op {
	case messages.PubSubOp_PUBSUB_PUBLISH:
		if err := trie.ValidateTopic(req.Topic); err != nil {
			return fail(messages.CodeInvalid, "%v", err)
		}
		r.published++
		ids := r.trie.Match(req.Topic)
		msg := &messages.PubSubMessage{Topic: req.Topic, Message: req.Message, Metadata: req.Metadata,
			MessageId: messageID(), TimestampMs: time.Now().UnixMilli()}
		for _, id := range ids {
			ctx.Send(r.subs[id].pid, msg)
		}
		return &messages.PubSubReply{SubscribersNotified: int64(len(ids)), MessageId: msg.MessageId}
	case messages.PubSubOp_PUBSUB_SUBSCRIBE:
		if req.Subscriber == nil {
			return fail(messages.CodeInvalid, "pubsub.subscribe needs a subscriber")
		}
		if len(req.Patterns) == 0 {
			return fail(messages.CodeInvalid, "pubsub.subscribe needs at least one topic pattern")
		}
		for _, p := range req.Patterns {
			if err := trie.ValidatePattern(p); err != nil {
				return fail(messages.CodeInvalid, "%v", err)
			}
		}
		sub := r.subs[req.Subscriber.Id]
		if sub == nil {
			sub = &subscription{pid: req.Subscriber}
			r.subs[req.Subscriber.Id] = sub
			ctx.Watch(req.Subscriber)
		}
		for _, p := range req.Patterns {
			if slices.Contains(sub.patterns, p) {
				continue
			}
			if max := r.svc.opts.MaxPatterns; max > 0 && len(sub.patterns) >= max {
				return fail(messages.CodeLimit, "a subscriber may hold %d patterns", max)
			}
			r.trie.Subscribe(p, req.Subscriber.Id) // validated above
			sub.patterns = append(sub.patterns, p)
		}
		return &messages.PubSubReply{Subscriptions: int64(len(sub.patterns)), Topics: sub.patterns}
	case messages.PubSubOp_PUBSUB_UNSUBSCRIBE:
		if req.Subscriber == nil {
			return fail(messages.CodeInvalid, "pubsub.unsubscribe needs a subscriber")
		}
		left := r.drop(req.Subscriber.Id, req.Patterns)
		if left == 0 {
			ctx.Unwatch(req.Subscriber)
		}
		return &messages.PubSubReply{Subscriptions: int64(left)}
	case messages.PubSubOp_PUBSUB_TOPICS:
		if req.Pattern != "" {
			if err := trie.ValidatePattern(req.Pattern); err != nil {
				return fail(messages.CodeInvalid, "%v", err)
			}
		}
		var topics []string
		for _, p := range r.trie.Patterns() {
			if req.Pattern == "" || p == req.Pattern || trie.Matches(req.Pattern, p) {
				topics = append(topics, p)
			}
		}
		return &messages.PubSubReply{Topics: topics, TotalTopics: int64(len(topics))}
	case messages.PubSubOp_PUBSUB_STATS:
		return &messages.PubSubReply{TotalTopics: int64(r.trie.Len()), TotalSubscribers: int64(len(r.subs)),
			MessagesPublished: r.published, Subscriptions: int64(r.trie.Subscriptions())}
	}
	return fail(messages.CodeInvalid, "unknown pubsub operation %v", req.Op)
}

// drop removes a subscriber's patterns (all when none are named) and
// returns how many it still holds.
func (r *router) drop(id string, patterns []string) int {
	sub := r.subs[id]
	if sub == nil {
		return 0
	}
	if len(patterns) == 0 {
		patterns = sub.patterns
	}
	for _, p := range slices.Clone(patterns) {
		if r.trie.Unsubscribe(p, id) {
			sub.patterns = slices.DeleteFunc(sub.patterns, func(q string) bool { return q == p })
		}
	}
	if len(sub.patterns) == 0 {
		delete(r.subs, id)
	}
	return len(sub.patterns)
}

func fail(code, format string, args ...any) *messages.PubSubReply {
	return &messages.PubSubReply{ErrorCode: code, ErrorMessage: fmt.Sprintf(format, args...)}
}

// messageID returns a fresh id for a published message, a random UUID as
// the original server gives: pub/sub keeps nothing, so nothing else could
// number messages across restarts.
func messageID() string {
	u := make([]byte, 16)
	rand.Read(u)
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
