package system

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
)

// ErrUnknownDomain is returned for a name whose first part is no domain.
var ErrUnknownDomain = errors.New("unknown actor domain")

// Registry resolves actor names such as "data/shard-3" or "queues/tasks" to
// PIDs. The first part of a name is a domain, whose supervisor creates the
// child on first use and restarts it when it crashes.
type Registry struct {
	sys     *System
	mu      sync.RWMutex
	domains map[string]*actor.PID
	names   map[string]*actor.PID // every child ever spawned and not forgotten
}

func newRegistry(sys *System) *Registry {
	return &Registry{sys: sys, domains: map[string]*actor.PID{}, names: map[string]*actor.PID{}}
}

// Domain starts the supervisor of a domain. props gives the behaviour of the
// child with the given name (the part after "domain/"). Children get the
// restart policy, metrics and fault injection of the system.
func (r *Registry) Domain(domain string, props func(name string) actor.Producer, opts ...DomainOption) error {
	s := r.sys
	var o domainOptions
	for _, opt := range opts {
		opt(&o)
	}
	childProps := func(name string) *actor.Props {
		mailbox := s.Metrics.actors.watch(domain + "/" + name)
		options := []actor.PropsOption{actor.WithReceiverMiddleware(s.Metrics.countMessages(domain), mailbox.countCrashed, s.Faults.Middleware, inspectMiddleware)}
		if o.callerRuns != nil && o.callerRuns(name) {
			options = append(options, newCallerRuns(s.Config.CallerRunsBatch, mailbox)...)
		} else {
			options = append(options, actor.WithMailbox(actor.Unbounded(mailbox)))
		}
		return actor.PropsFromProducer(props(name), options...)
	}
	supProps := actor.PropsFromProducer(func() actor.Actor {
		return &domainSupervisor{reg: r, domain: domain, props: childProps, children: map[string]*actor.PID{}}
	},
		actor.WithSupervisor(s.childPolicy()),
		actor.WithGuardian(s.domainPolicy()),
		actor.WithReceiverMiddleware(s.Faults.Middleware),
	)
	pid, err := s.Root.SpawnNamed(supProps, domain)
	if err != nil {
		return fmt.Errorf("start domain %s: %w", domain, err)
	}
	r.mu.Lock()
	r.domains[domain] = pid
	r.mu.Unlock()
	return nil
}

// Get returns the PID of the named actor, creating it if needed.
func (r *Registry) Get(name string) (*actor.PID, error) {
	r.mu.RLock()
	pid, ok := r.names[name]
	r.mu.RUnlock()
	if ok {
		return pid, nil
	}
	domain, child, _ := strings.Cut(name, "/")
	r.mu.RLock()
	sup, ok := r.domains[domain]
	r.mu.RUnlock()
	if !ok || child == "" {
		return nil, fmt.Errorf("%w: %q", ErrUnknownDomain, name)
	}
	res, err := r.sys.Request(sup, &messages.Spawn{Name: child}, r.sys.Config.RequestTimeout)
	if err != nil {
		return nil, fmt.Errorf("spawn %s: %w", name, err)
	}
	return res.(*actor.PID), nil
}

// Forget stops the named actor for good (a deleted queue, say).
func (r *Registry) Forget(name string) error {
	domain, child, _ := strings.Cut(name, "/")
	r.mu.RLock()
	sup, ok := r.domains[domain]
	r.mu.RUnlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownDomain, name)
	}
	_, err := r.sys.Request(sup, &messages.Forget{Name: child}, r.sys.Config.RequestTimeout)
	return err
}

// Match returns the names of live actors matching a glob pattern ("data/*").
func (r *Registry) Match(pattern string) ([]string, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("bad pattern %q: %w", pattern, err)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for name := range r.names {
		if ok, _ := path.Match(pattern, name); ok {
			out = append(out, name)
		}
	}
	for name := range r.domains {
		if ok, _ := path.Match(pattern, name); ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Lookup returns the PID of a live actor (or domain) without creating it.
func (r *Registry) Lookup(name string) (*actor.PID, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if pid, ok := r.names[name]; ok {
		return pid, true
	}
	pid, ok := r.domains[name]
	return pid, ok
}

// childrenOf lists the names registered under a domain.
func (r *Registry) childrenOf(domain string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for name := range r.names {
		if d, child, _ := strings.Cut(name, "/"); d == domain {
			out = append(out, child)
		}
	}
	sort.Strings(out)
	return out
}

func (r *Registry) put(name string, pid *actor.PID) {
	r.mu.Lock()
	r.names[name] = pid
	r.mu.Unlock()
}

func (r *Registry) remove(name string) {
	r.mu.Lock()
	delete(r.names, name)
	r.mu.Unlock()
	r.sys.Metrics.actors.drop(name)
}

// domainSupervisor creates its domain's children on demand and supervises
// them (its props carry the restart policy). If it is itself restarted, it
// brings back every child the registry knows, under the same names, so PIDs
// held elsewhere stay valid.
type domainSupervisor struct {
	reg      *Registry
	domain   string
	props    func(name string) *actor.Props
	children map[string]*actor.PID
}

func (d *domainSupervisor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		for _, name := range d.reg.childrenOf(d.domain) {
			if _, err := d.spawn(ctx, name); err != nil {
				ctx.Logger().Error("respawn failed", "actor", d.domain+"/"+name, "err", err)
			}
		}
	case *messages.Spawn:
		pid, err := d.spawn(ctx, msg.Name)
		if err != nil {
			ctx.Respond(&messages.Failure{Actor: d.domain + "/" + msg.Name, Reason: err.Error()})
			return
		}
		ctx.Respond(pid)
	case *messages.Forget:
		if pid, ok := d.children[msg.Name]; ok {
			delete(d.children, msg.Name)
			d.reg.remove(d.domain + "/" + msg.Name)
			// Wait for the child to finish its mailbox, so a later Spawn of
			// the same name does not meet the old incarnation.
			if err := ctx.StopFuture(pid).Wait(); err != nil {
				ctx.Logger().Warn("stop timed out", "actor", pid.Id, "err", err)
			}
		}
		ctx.Respond(&messages.Forget{Name: msg.Name})
	}
}

func (d *domainSupervisor) spawn(ctx actor.Context, name string) (*actor.PID, error) {
	if pid, ok := d.children[name]; ok {
		return pid, nil
	}
	if strings.ContainsAny(name, "/") || name == "" {
		return nil, fmt.Errorf("bad actor name %q", name)
	}
	pid, err := ctx.SpawnNamed(d.props(name), name)
	if err != nil {
		return nil, err
	}
	d.children[name] = pid
	d.reg.put(d.domain+"/"+name, pid)
	return pid, nil
}
