// Package system boots Troupe's actor system: the supervisor tree of
// DESIGN.md, the registry of named actors, the durable store, configuration
// and metrics.
package system

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/supervision"
	"github.com/troupe-run/troupe/system/store"
)

// journalConnectTimeout bounds the connection to a PostgreSQL journal at
// start-up.
const journalConnectTimeout = 30 * time.Second

// Version is the server's version, reported by every front door.
const Version = "0.1.0"

// System is one running Troupe: its actors and what they share.
type System struct {
	Config   Config
	Log      *slog.Logger
	Actors   *actor.ActorSystem
	Root     *actor.RootContext
	Store    store.Journal
	Metrics  *Metrics
	Faults   *supervision.Faults
	Registry *Registry
	Started  time.Time
	// Placement is set in cluster mode (system/cluster); nil on one node.
	Placement Placement

	fatal     chan error
	inboxes   chan *inbox // idle, for Request
	closeOnce sync.Once
	closeErr  error
}

// Boot opens the store and starts the actor system. Domains are added by
// their packages through Registry.Domain.
func Boot(cfg Config, log *slog.Logger) (*System, error) {
	policy, err := store.ParsePolicy(cfg.Fsync)
	if err != nil {
		return nil, err
	}
	s := &System{
		Config:  cfg,
		Log:     log,
		Metrics: newMetrics(),
		Faults:  supervision.NewFaults(cfg.Chaos),
		Started: time.Now(),
		fatal:   make(chan error, 1),
		inboxes: make(chan *inbox, idleInboxes),
	}
	if cfg.Journal != "" {
		// Past this a start-up gives up on the database rather than hang.
		ctx, cancel := context.WithTimeout(context.Background(), journalConnectTimeout)
		s.Store, err = store.OpenPostgres(ctx, store.PostgresOptions{
			URL:           cfg.Journal,
			Logger:        log.With("component", "journal"),
			ObserveCommit: s.Metrics.ObserveCommit,
			ObserveSync:   s.Metrics.ObserveSync,
			Timeout:       cfg.JournalTimeout,
		})
		cancel()
	} else {
		s.Store, err = store.Open(store.Options{
			Dir:           s.Path("store"),
			Policy:        policy,
			SyncInterval:  cfg.FsyncInterval,
			Logger:        log.With("component", "store"),
			ObserveCommit: s.Metrics.ObserveCommit,
			ObserveSync:   s.Metrics.ObserveSync,
		})
	}
	if err != nil {
		return nil, err
	}
	s.Actors = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return log.With("component", "actor")
	}))
	s.Root = s.Actors.Root
	s.Registry = newRegistry(s)
	return s, nil
}

// Path is the folder name under the data dir, or "" when memory only.
func (s *System) Path(name string) string {
	if s.Config.DataDir == "" {
		return ""
	}
	return filepath.Join(s.Config.DataDir, name)
}

// Fatal is told when a domain supervisor spent its own restart budget: the
// process cannot heal itself and should exit so that its service manager
// restarts it.
func (s *System) Fatal() <-chan error { return s.fatal }

// Fail ends the process with err, as a domain failing too often does (the
// first such error wins). The cluster calls it when etcd dropped this
// member.
func (s *System) Fail(err error) {
	select {
	case s.fatal <- err:
	default:
	}
}

// childPolicy supervises the actors of a domain.
func (s *System) childPolicy() actor.SupervisorStrategy {
	return &supervision.Policy{
		MaxRestarts: s.Config.RestartMax,
		Window:      s.Config.RestartWindow,
		Backoff:     supervision.Backoff{Initial: s.Config.RestartBackoff, Max: s.Config.RestartBackoffMax},
		Log:         s.Log.With("component", "supervisor"),
		Observe:     s.Metrics.observeRestart,
	}
}

// domainPolicy supervises the domain supervisors. A domain that escalates is
// restarted (with all its children, which rebuild from the store) a few
// times; past that the whole process gives up.
func (s *System) domainPolicy() actor.SupervisorStrategy {
	return &rootPolicy{Policy: supervision.Policy{
		MaxRestarts: 3,
		Window:      time.Minute,
		Backoff:     supervision.Backoff{Initial: 100 * time.Millisecond, Max: time.Second},
		Log:         s.Log.With("component", "supervisor"),
		Observe:     s.Metrics.observeRestart,
	}, fail: s.Fail}
}

type rootPolicy struct {
	supervision.Policy
	fail func(error)
}

func (p *rootPolicy) HandleFailure(system *actor.ActorSystem, sup actor.Supervisor, child *actor.PID,
	rs *actor.RestartStatistics, reason any, message any) {
	if rs.NumberOfFailures(p.Window) >= p.MaxRestarts {
		p.fail(fmt.Errorf("domain %s failed %d times within %s: %v", child.Id, p.MaxRestarts+1, p.Window, reason))
		sup.StopChildren(child)
		return
	}
	p.Policy.HandleFailure(system, sup, child, rs, reason, message)
}

// InjectFault arms every actor matching the pattern to fail on its next
// message; it returns the names it armed.
func (s *System) InjectFault(pattern, fault string) ([]string, error) {
	if !s.Faults.Enabled() {
		return nil, errors.New("fault injection is off (start with --chaos)")
	}
	if fault != "panic" {
		return nil, fmt.Errorf("unknown fault %q: want panic", fault)
	}
	names, err := s.Registry.Match(pattern)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if pid, ok := s.Registry.Lookup(name); ok {
			s.Root.Send(pid, &messages.InjectFault{Fault: fault})
		}
	}
	return names, nil
}

// Close stops every domain (each actor finishes the messages in its
// mailbox) and then closes the store, which writes and syncs what is left.
func (s *System) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *System) close() error {
	if s.Placement != nil {
		s.Placement.Leave()
	}
	s.Registry.mu.RLock()
	domains := make([]*actor.PID, 0, len(s.Registry.domains))
	for _, pid := range s.Registry.domains {
		domains = append(domains, pid)
	}
	s.Registry.mu.RUnlock()
	for _, pid := range domains {
		if err := s.Root.PoisonFuture(pid).Wait(); err != nil {
			s.Log.Warn("domain did not stop in time", "domain", pid.Id, "err", err)
		}
	}
	s.Actors.Shutdown()
	return s.Store.Close()
}
