package resp

import (
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/actors/pubsub/trie"
	"github.com/troupe-run/troupe/messages"
)

// Pub/sub is shared with the data door through its topic router. A
// channel that is a valid dot-separated topic ("orders", "alerts.cpu") is
// that topic: SUBSCRIBE holds it as an exact pattern at the router, and a
// PUBLISH on either door reaches the subscribers of both. A glob pattern
// of PSUBSCRIBE is held at the router as the widest topic pattern that
// covers it (the literal levels before its first wildcard, then "#";
// "news.*" -> "news.#", "h?llo" -> "#"), and the door keeps the messages
// the glob itself matches. A channel the router cannot carry (a space, an
// empty level, a '*' or '#' in its name) stays inside this door.

func init() {
	register(
		&cmdSpec{name: "subscribe", arity: -2, flags: fPubSub | fNoScript, run: cmdSubscribe(false)},
		&cmdSpec{name: "psubscribe", arity: -2, flags: fPubSub | fNoScript, run: cmdSubscribe(true)},
		&cmdSpec{name: "unsubscribe", arity: -1, flags: fPubSub | fNoScript, run: cmdUnsubscribe(false)},
		&cmdSpec{name: "punsubscribe", arity: -1, flags: fPubSub | fNoScript, run: cmdUnsubscribe(true)},
		&cmdSpec{name: "publish", arity: 3, flags: fPubSub | fFast, run: cmdPublish},
		&cmdSpec{name: "pubsub", arity: -2, run: cmdPubSubInfo},
	)
}

func (c *conn) subscribed() bool { return len(c.channels)+len(c.patterns) > 0 }

// setResp3 tells the session actor the protocol its pushes are written in.
func (c *conn) setResp3(v bool) {
	if c.sub != nil {
		c.sub.mu.Lock()
		c.sub.resp3 = v
		c.sub.mu.Unlock()
	}
}

// routerPattern is the router pattern that carries a channel (exact) or a
// glob (widest cover); ok false when the router cannot carry it.
func routerPattern(name string, glob bool) (string, bool) {
	if !glob || !strings.ContainsAny(name, "*?[\\") {
		if trie.ValidateTopic(name) != nil {
			return "", false
		}
		return name, true
	}
	lit := name[:strings.IndexAny(name, "*?[\\")]
	i := strings.LastIndexByte(lit, '.')
	if i < 0 {
		return "#", true
	}
	p := lit[:i] + ".#"
	if trie.ValidatePattern(p) != nil {
		return "#", true
	}
	return p, true
}

// start makes the connection a subscriber: its writer and session actor.
func (c *conn) startSubscriber() bool {
	if c.sub != nil {
		return true
	}
	sb := &subscriber{c: c, wake: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{}),
		resp3: c.w.resp3}
	pid, err := c.s.b.Sessions.Spawn("resp-"+strconv.FormatInt(c.id, 10), func() actor.Actor { return &session{sb: sb} })
	if err != nil {
		c.w.err("ERR cannot subscribe now: " + err.Error())
		return false
	}
	sb.pid = pid
	c.sub = sb
	c.channels, c.patterns = map[string]bool{}, map[string]bool{}
	c.s.stats.subscribers.Add(1)
	go sb.write()
	return true
}

// session is the actor the router delivers to; it turns each message into
// the connection's push frames.
type session struct{ sb *subscriber }

func (s *session) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*messages.PubSubMessage); ok {
		s.sb.deliver(m.Topic, decode(m.Message), true)
	}
}

// deliver queues the frames of one message: "message" when the channel
// is subscribed, "pmessage" for each glob matching it. fromRouter tells a
// router message (whose pattern subscriptions are the router's) from a
// door-local one.
func (sb *subscriber) deliver(channel string, payload []byte, fromRouter bool) {
	c := sb.c
	sb.mu.Lock()
	w := writer{resp3: sb.resp3}
	sb.mu.Unlock()
	subs := c.s.subsOf(c)
	if subs.channels[channel] {
		w.push(3)
		w.bulkString("message")
		w.bulkString(channel)
		w.bulk(payload)
	}
	for _, p := range subs.patterns {
		if globMatch(p, channel, false) {
			w.push(4)
			w.bulkString("pmessage")
			w.bulkString(p)
			w.bulkString(channel)
			w.bulk(payload)
		}
	}
	if len(w.b) > 0 {
		c.s.stats.pubsubMessages.Add(1)
		sb.enqueue(w.b)
	}
}

// subsView is a copy of a connection's subscriptions for the session
// actor, which must not read the connection's own maps.
type subsView struct {
	channels map[string]bool
	patterns []string
}

// The server keeps, per connection, the subscriptions its session reads,
// and the door-local channels and patterns.
type localHub struct {
	mu    sync.Mutex
	subs  map[string]map[*conn]struct{} // channel -> connections (every RESP subscription)
	pats  map[string]map[*conn]struct{} // glob -> connections
	views map[*conn]*subsView
}

func (s *Server) subsOf(c *conn) *subsView {
	s.local.mu.Lock()
	defer s.local.mu.Unlock()
	if v := s.local.views[c]; v != nil {
		return v
	}
	return &subsView{}
}

// note records c's subscriptions after a change (copy on write).
func (h *localHub) note(c *conn) {
	v := &subsView{channels: make(map[string]bool, len(c.channels))}
	for ch := range c.channels {
		v.channels[ch] = true
	}
	for p := range c.patterns {
		v.patterns = append(v.patterns, p)
	}
	sort.Strings(v.patterns)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.views == nil {
		h.views = map[*conn]*subsView{}
		h.pats = map[string]map[*conn]struct{}{}
	}
	h.views[c] = v
	for ch, set := range h.subs {
		if !c.channels[ch] {
			delete(set, c)
			if len(set) == 0 {
				delete(h.subs, ch)
			}
		}
	}
	for ch := range c.channels {
		if h.subs[ch] == nil {
			h.subs[ch] = map[*conn]struct{}{}
		}
		h.subs[ch][c] = struct{}{}
	}
	for p, set := range h.pats {
		if !c.patterns[p] {
			delete(set, c)
			if len(set) == 0 {
				delete(h.pats, p)
			}
		}
	}
	for p := range c.patterns {
		if h.pats[p] == nil {
			h.pats[p] = map[*conn]struct{}{}
		}
		h.pats[p][c] = struct{}{}
	}
}

func (h *localHub) drop(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.views, c)
	for ch, set := range h.subs {
		delete(set, c)
		if len(set) == 0 {
			delete(h.subs, ch)
		}
	}
	for p, set := range h.pats {
		delete(set, c)
		if len(set) == 0 {
			delete(h.pats, p)
		}
	}
}

func (h *localHub) channelCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *localHub) patternCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.pats)
}

// publishLocal delivers a message the router cannot carry to this door's
// subscribers; it returns how many received it.
func (h *localHub) publishLocal(channel string, payload []byte) int {
	h.mu.Lock()
	targets := map[*conn]struct{}{}
	n := 0
	for c := range h.subs[channel] {
		targets[c] = struct{}{}
		n++
	}
	for p, set := range h.pats {
		if globMatch(p, channel, false) {
			for c := range set {
				targets[c] = struct{}{}
				n++
			}
		}
	}
	h.mu.Unlock()
	for c := range targets {
		if c.sub != nil {
			c.sub.deliver(channel, payload, false)
		}
	}
	return n
}

func cmdSubscribe(glob bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		if !c.startSubscriber() {
			return
		}
		kind := "subscribe"
		set := c.channels
		if glob {
			kind, set = "psubscribe", c.patterns
		}
		var route []string
		for _, n := range a[1:] {
			name := string(n)
			if max := c.s.cfg.MaxPatterns; max > 0 && !set[name] && len(c.channels)+len(c.patterns) >= max {
				c.w.err("ERR a connection may hold " + strconv.Itoa(max) + " channels and patterns (--max-subscriptions)")
				break
			}
			if !set[name] {
				set[name] = true
				if p, ok := routerPattern(name, glob); ok {
					route = append(route, p)
				}
			}
			c.w.push(3)
			c.w.bulkString(kind)
			c.w.bulkString(name)
			c.w.int(int64(len(c.channels) + len(c.patterns)))
		}
		c.s.local.note(c)
		if len(route) > 0 {
			rep, err := c.s.b.PubSub.Do(c.ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_SUBSCRIBE,
				Subscriber: c.sub.pid, Patterns: route})
			if err != nil || rep.ErrorCode != "" {
				msg := rep.GetErrorMessage()
				if err != nil {
					msg = err.Error()
				}
				c.s.log.Warn("resp subscription refused by the router", "client", c.addr, "err", msg)
			}
		}
	}
}

func cmdUnsubscribe(glob bool) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		kind := "unsubscribe"
		set := c.channels
		if glob {
			kind, set = "punsubscribe", c.patterns
		}
		names := strs(a[1:])
		if len(names) == 0 {
			for n := range set {
				names = append(names, n)
			}
			sort.Strings(names)
		}
		if len(names) == 0 {
			c.w.push(3)
			c.w.bulkString(kind)
			c.w.null()
			c.w.int(int64(len(c.channels) + len(c.patterns)))
			return
		}
		for _, n := range names {
			delete(set, n)
			c.w.push(3)
			c.w.bulkString(kind)
			c.w.bulkString(n)
			c.w.int(int64(len(c.channels) + len(c.patterns)))
		}
		if c.sub != nil {
			c.s.local.note(c)
			c.reroute()
		}
	}
}

// reroute makes the router's patterns for this connection those its
// subscriptions need now.
func (c *conn) reroute() {
	need := map[string]bool{}
	for ch := range c.channels {
		if p, ok := routerPattern(ch, false); ok {
			need[p] = true
		}
	}
	for g := range c.patterns {
		if p, ok := routerPattern(g, true); ok {
			need[p] = true
		}
	}
	_, _ = c.s.b.PubSub.Do(c.ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_UNSUBSCRIBE, Subscriber: c.sub.pid})
	if len(need) > 0 {
		ps := make([]string, 0, len(need))
		for p := range need {
			ps = append(ps, p)
		}
		_, _ = c.s.b.PubSub.Do(c.ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_SUBSCRIBE, Subscriber: c.sub.pid, Patterns: ps})
	}
}

// unsubscribeAll drops every subscription (RESET, close).
func (c *conn) unsubscribeAll() {
	if c.sub == nil {
		return
	}
	had := c.subscribed()
	c.channels, c.patterns = map[string]bool{}, map[string]bool{}
	c.s.local.note(c)
	if had {
		_, _ = c.s.b.PubSub.Do(c.cleanup(), &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_UNSUBSCRIBE, Subscriber: c.sub.pid})
	}
}

func cmdPublish(c *conn, a [][]byte) {
	channel := string(a[1])
	if _, ok := routerPattern(channel, false); !ok {
		c.w.int(int64(c.s.local.publishLocal(channel, a[2])))
		return
	}
	rep, err := c.s.b.PubSub.Do(c.ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_PUBLISH, Topic: channel, Message: encode(a[2])})
	if err != nil {
		c.w.err("ERR " + err.Error())
		return
	}
	if rep.ErrorCode != "" {
		c.w.err("ERR " + rep.ErrorMessage)
		return
	}
	c.w.int(rep.SubscribersNotified)
}

func cmdPubSubInfo(c *conn, a [][]byte) {
	h := &c.s.local
	switch strings.ToLower(string(a[1])) {
	case "channels":
		if len(a) > 3 {
			c.w.err(wrongArity("pubsub|channels"))
			return
		}
		set := map[string]bool{}
		h.mu.Lock()
		for ch := range h.subs {
			set[ch] = true
		}
		h.mu.Unlock()
		// The data door's subscribers of exact topics are channels too.
		if rep, err := c.s.b.PubSub.Do(c.ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_TOPICS}); err == nil && rep.ErrorCode == "" {
			for _, t := range rep.Topics {
				if trie.ValidateTopic(t) == nil {
					set[t] = true
				}
			}
		}
		var out []string
		for ch := range set {
			if len(a) < 3 || globMatch(string(a[2]), ch, false) {
				out = append(out, ch)
			}
		}
		sort.Strings(out)
		c.w.strings(out)
	case "numsub":
		c.w.array(2 * (len(a) - 2)) // an array in RESP3 too, as Redis 7.0 answers
		h.mu.Lock()
		counts := make([]int, len(a)-2)
		for i, ch := range a[2:] {
			counts[i] = len(h.subs[string(ch)])
		}
		h.mu.Unlock()
		for i, ch := range a[2:] {
			c.w.bulk(ch)
			c.w.int(int64(counts[i]))
		}
	case "numpat":
		c.w.int(int64(h.patternCount()))
	default:
		c.w.err("ERR unknown subcommand '" + string(a[1]) + "'. Try PUBSUB HELP.")
	}
}
