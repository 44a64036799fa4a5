package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/system"
)

// actorName is the lifecycle actor's name in its domain.
const actorName = "ssp"

// Options configure the lifecycle.
type Options struct {
	SchedulerURL string            // SPKY_SCHEDULER_URL
	SSPID        string            // SPKY_SSP_ID (see SSPID)
	URL          string            // the url registered (see AdvertiseURL)
	Version      string            // sent at registration and in heartbeats
	Env          map[string]string // sent at registration (the original sends its SPKY_* settings)

	HeartbeatInterval time.Duration // HEARTBEAT_INTERVAL_MS
	PageSize          int           // SPKY_SSP_BOOTSTRAP_PAGE_SIZE
	// CallTimeout bounds a registration or a heartbeat (10 s).
	CallTimeout time.Duration
	// StepTimeout bounds each step of a bootstrap: a proxy query, a page
	// handed to the engine, the commit.
	StepTimeout time.Duration
	// MaxResponse bounds the body of an answer of the scheduler, in bytes.
	MaxResponse int64
	Policy      Policy
	// Decode reads a view of _00_query as the views door reads a
	// registration.
	Decode DecodeView
}

// Service runs the lifecycle actor and tells the views door where it is.
type Service struct {
	sys    *system.System
	opts   Options
	engine Engine
	client *Client
	log    *slog.Logger

	state  atomic.Pointer[status]
	incarn atomic.Uint64 // incarnations of the actor, for its tokens
	epochs atomic.Uint64 // bootstraps begun

	sampler *procSampler
	counts  *counts
	ctx     context.Context // ends at Close; every goroutine's context derives from it
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the goroutines of every incarnation
	mu      sync.Mutex     // orders wg.Add before Close's wg.Wait
	closed  bool
	pid     *actor.PID
}

type status struct {
	state  State
	reason string
}

// Start starts the lifecycle domain and its actor, which registers at
// once.
func Start(sys *system.System, engine Engine, opts Options) (*Service, error) {
	switch {
	case opts.SchedulerURL == "":
		return nil, errors.New("no scheduler URL")
	case opts.PageSize < 1:
		return nil, fmt.Errorf("bootstrap page size %d: want at least 1", opts.PageSize)
	case opts.HeartbeatInterval <= 0 || opts.CallTimeout <= 0 || opts.StepTimeout <= 0:
		return nil, errors.New("the heartbeat interval and the timeouts must be positive")
	case opts.Decode == nil:
		return nil, errors.New("no view decoder")
	}
	if opts.MaxResponse <= 0 {
		opts.MaxResponse = 64 << 20
	}
	s := &Service{sys: sys, opts: opts, engine: engine, client: NewClient(opts.SchedulerURL, opts.MaxResponse),
		log: sys.Log.With("actor", "lifecycle/"+actorName), sampler: newProcSampler(), counts: newCounts()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.publish(Registering, "")
	if err := sys.Metrics.Registry().Register(&collector{svc: s}); err != nil {
		return nil, fmt.Errorf("lifecycle metrics: %w", err)
	}
	err := sys.Registry.Domain("lifecycle", func(string) actor.Producer {
		return func() actor.Actor { return &lifecycleActor{svc: s} }
	})
	if err != nil {
		return nil, err
	}
	if s.pid, err = sys.Registry.Get("lifecycle/" + actorName); err != nil {
		return nil, err
	}
	return s, nil
}

// State returns where the lifecycle is: registering, bootstrapping, ready
// or failed.
func (s *Service) State() string { return string(s.state.Load().state) }

// Reason says why the lifecycle failed.
func (s *Service) Reason() string { return s.state.Load().reason }

func (s *Service) publish(st State, reason string) {
	if cur := s.state.Load(); cur != nil && cur.state == st && cur.reason == reason {
		return
	}
	s.state.Store(&status{state: st, reason: reason})
}

// Close stops every goroutine of the lifecycle and waits for them; call
// it when the actor system has stopped (or is stopping).
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// goroutine runs f on a goroutine the service waits for at Close; after
// Close it does not run f.
func (s *Service) goroutine(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}
