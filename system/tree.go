package system

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Tree is the supervisor tree as the operator's dashboard shows it: each
// domain supervisor (and each front door's session supervisor) with its
// children.
type Tree struct {
	Domains []DomainNode `json:"domains"`
}

// DomainNode is one domain supervisor and its children, sorted by name.
type DomainNode struct {
	Name     string      `json:"name"`
	Stats    ActorStats  `json:"stats"`
	Children []ActorNode `json:"children"`
}

// ActorNode is one supervised actor: "queues/tasks" is named "tasks".
type ActorNode struct {
	Name  string     `json:"name"`
	Stats ActorStats `json:"stats"`
}

// ActorStats are what the supervisor tree knows of one actor.
type ActorStats struct {
	// Restarts counts the crashes its supervisor restarted it after (an
	// escalation counts too: the parent restarts it with its siblings).
	Restarts int64 `json:"restarts"`
	// Mailbox is the user messages waiting for it (posted, not yet handled).
	Mailbox int64 `json:"mailbox"`
	// LastCrash is the reason of its last crash, if it ever crashed.
	LastCrash *Crash `json:"last_crash,omitempty"`
}

// Crash is why and when an actor last failed.
type Crash struct {
	Reason    string    `json:"reason"`
	At        time.Time `json:"at"`
	Escalated bool      `json:"escalated"`
}

// actorStat is the live counterpart of ActorStats, updated by the actor's
// mailbox and its supervisor without a lock.
type actorStat struct {
	restarts atomic.Int64
	mailbox  atomic.Int64
	crash    atomic.Pointer[Crash]
}

func (a *actorStat) snapshot() ActorStats {
	s := ActorStats{Restarts: a.restarts.Load(), Mailbox: max(a.mailbox.Load(), 0)}
	s.LastCrash = a.crash.Load()
	return s
}

// actorTable holds the stats of every supervised actor by id ("queues/tasks",
// "gateway/data/ws-7"); an entry lives as long as its actor.
type actorTable struct {
	mu sync.RWMutex
	m  map[string]*actorStat
}

func newActorTable() *actorTable { return &actorTable{m: map[string]*actorStat{}} }

// get returns the entry of id, making it on first use.
func (t *actorTable) get(id string) *actorStat {
	t.mu.RLock()
	a, ok := t.m[id]
	t.mu.RUnlock()
	if ok {
		return a
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if a, ok = t.m[id]; !ok {
		a = &actorStat{}
		t.m[id] = a
	}
	return a
}

func (t *actorTable) drop(id string) {
	t.mu.Lock()
	delete(t.m, id)
	t.mu.Unlock()
}

// crashed records a supervisor's decision about a crashed actor.
func (t *actorTable) crashed(id string, reason any, escalated bool) {
	a := t.get(id)
	a.restarts.Add(1)
	a.crash.Store(&Crash{Reason: fmt.Sprint(reason), At: time.Now(), Escalated: escalated})
}

// byParent groups the entries by supervisor: "queues/tasks" is the child
// "tasks" of "queues", "gateway/data/ws-7" the child "ws-7" of
// "gateway/data". One pass, so a tree of many thousand actors stays cheap.
func (t *actorTable) byParent() map[string]map[string]*actorStat {
	out := map[string]map[string]*actorStat{}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for id, a := range t.m {
		i := strings.LastIndexByte(id, '/')
		if i < 0 {
			continue
		}
		parent := id[:i]
		if out[parent] == nil {
			out[parent] = map[string]*actorStat{}
		}
		out[parent][id[i+1:]] = a
	}
	return out
}

// mailboxCounter is a mailbox middleware keeping an actor's count of user
// messages posted and not yet handled. protoactor's own count is not
// exported.
type mailboxCounter struct{ a *actorStat }

func (c mailboxCounter) MailboxStarted() {}
func (c mailboxCounter) MailboxEmpty()   {}

func (c mailboxCounter) MessagePosted(msg any) {
	if userMessage(msg) {
		c.a.mailbox.Add(1)
	}
}

func (c mailboxCounter) MessageReceived(msg any) {
	if userMessage(msg) {
		c.a.mailbox.Add(-1)
	}
}

// countCrashed is a receiver middleware that takes back the count of a user
// message whose handler panics: the mailbox never reports it received.
func (c mailboxCounter) countCrashed(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
		if !posted(env.Message) {
			next(ctx, env)
			return
		}
		defer func() {
			if r := recover(); r != nil {
				c.a.mailbox.Add(-1)
				panic(r)
			}
		}()
		next(ctx, env)
	}
}

// userMessage tells a message of the user queue from the system messages
// the mailbox also reports.
func userMessage(msg any) bool {
	switch msg.(type) {
	case actor.SystemMessage, *actor.SuspendMailbox, *actor.ResumeMailbox:
		return false
	}
	return true
}

// posted reports whether a message the actor handles came through its user
// queue, rather than from its own lifecycle.
func posted(msg any) bool {
	switch msg.(type) {
	case actor.SystemMessage, *actor.Restarting, *actor.Stopping, *actor.Stopped:
		return false
	}
	return true
}

// watch returns the mailbox middleware (and crash compensation) that keep
// the mailbox count of the actor id, from zero: each incarnation of a
// spawned actor gets a new mailbox.
func (t *actorTable) watch(id string) mailboxCounter {
	a := t.get(id)
	a.mailbox.Store(0)
	return mailboxCounter{a}
}

// Tree returns the supervisor tree with each actor's stats.
func (s *System) Tree() Tree {
	r := s.Registry
	r.mu.RLock()
	domains := make([]string, 0, len(r.domains))
	for name := range r.domains {
		domains = append(domains, name)
	}
	r.mu.RUnlock()
	sort.Strings(domains)
	table := s.Metrics.actors
	groups := table.byParent()
	tree := Tree{Domains: make([]DomainNode, 0, len(domains))}
	for _, d := range domains {
		node := DomainNode{Name: d, Stats: table.get(d).snapshot()}
		children := groups[d]
		node.Children = make([]ActorNode, 0, len(children))
		for name, a := range children {
			node.Children = append(node.Children, ActorNode{Name: name, Stats: a.snapshot()})
		}
		sort.Slice(node.Children, func(i, j int) bool { return node.Children[i].Name < node.Children[j].Name })
		tree.Domains = append(tree.Domains, node)
	}
	return tree
}
