// Package view is the views service: the engine actor ("views/$engine")
// owns the ingested tables and the incremental views (package ivm), applies
// each ingest to the views it can change, and sends each view's delta to
// that view's actor ("views/<id>"), which keeps the view's result and
// delivers it to the view's subscribers.
//
// The engine computes and the view actors deliver: an ingest then costs the
// incremental step of the views it touches, not a round trip per view, and
// a view actor that crashes is rebuilt from the engine without losing or
// repeating a delta (deltas are numbered).
package view

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// engineName is the engine's name in the views domain; view ids may not
// start with "$", so no view can take it.
const engineName = "$engine"

// Options bound the views service.
type Options struct {
	MaxViews    int           // registered views
	MaxRecord   int           // bytes of one ingested record
	TTLInterval time.Duration // how often expired views are removed
	SubsPerView int           // subscribers of one view
	// KeepHashes keeps each table's content hash up to date as rows
	// change (scheduler mode, where the scheduler compares them); without
	// it /info computes them when asked.
	KeepHashes bool
}

// Service is the views domain.
type Service struct {
	sys    *system.System
	opts   Options
	engine *actor.PID
	ready  atomic.Bool

	// out is what the engine keeps of each view actor across its own
	// restarts; only the engine touches it (one incarnation at a time).
	out map[string]*delivery

	mu    sync.Mutex
	cells map[string]*cell // what a view actor keeps across its restarts
}

// Start registers the views domain and starts the engine, which rebuilds
// the tables and views from the store; Ready reports when it is done.
func Start(sys *system.System, opts Options) (*Service, error) {
	s := &Service{sys: sys, opts: opts, out: map[string]*delivery{}, cells: map[string]*cell{}}
	err := sys.Registry.Domain("views", func(name string) actor.Producer {
		if name == engineName {
			return func() actor.Actor { return &engine{svc: s} }
		}
		c := s.cell(name)
		return func() actor.Actor { return &viewActor{svc: s, id: name, cell: c} }
	}, system.CallerRuns(func(name string) bool { return name == engineName }))
	if err != nil {
		return nil, err
	}
	s.engine, err = sys.Registry.Get("views/" + engineName)
	return s, err
}

// cell returns the cell of view id, creating it.
func (s *Service) cell(id string) *cell {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cells[id]
	if c == nil {
		c = &cell{}
		s.cells[id] = c
	}
	return c
}

// delivery returns what the engine keeps of view id's actor, creating it.
func (s *Service) delivery(id string) *delivery {
	d := s.out[id]
	if d == nil {
		d = &delivery{}
		s.out[id] = d
	}
	return d
}

func (s *Service) dropDelivery(id string) { delete(s.out, id) }

func (s *Service) dropCell(id string) {
	s.mu.Lock()
	delete(s.cells, id)
	s.mu.Unlock()
}

// Ready reports whether the engine has rebuilt the tables and views.
func (s *Service) Ready() bool { return s.ready.Load() }

func (s *Service) ask(ctx context.Context, pid *actor.PID, msg any) (any, error) {
	timeout := s.sys.Config.RequestTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	return s.sys.Request(pid, msg, timeout)
}

// Ingest applies one record change.
func (s *Service) Ingest(ctx context.Context, req *messages.IngestRequest) (*messages.IngestReply, error) {
	if s.opts.MaxRecord > 0 && len(req.Record) > s.opts.MaxRecord {
		return &messages.IngestReply{ErrorCode: messages.CodeInvalid,
			ErrorMessage: fmt.Sprintf("record of %d bytes: the limit is %d", len(req.Record), s.opts.MaxRecord)}, nil
	}
	res, err := s.ask(ctx, s.engine, req)
	if err != nil {
		return nil, err
	}
	return res.(*messages.IngestReply), nil
}

// Register registers (or refreshes, or replaces) a view.
func (s *Service) Register(ctx context.Context, req *messages.RegisterView) (*messages.ViewResult, error) {
	if err := validID(req.Id); err != nil {
		return &messages.ViewResult{ErrorCode: messages.CodeInvalid, ErrorMessage: err.Error()}, nil
	}
	res, err := s.ask(ctx, s.engine, req)
	if err != nil {
		return nil, err
	}
	return res.(*messages.ViewResult), nil
}

// Unregister removes a view.
func (s *Service) Unregister(ctx context.Context, id string) (*messages.ViewResult, error) {
	res, err := s.ask(ctx, s.engine, &messages.UnregisterView{Id: id})
	if err != nil {
		return nil, err
	}
	return res.(*messages.ViewResult), nil
}

// Reset drops every table and view.
func (s *Service) Reset(ctx context.Context) error {
	_, err := s.ask(ctx, s.engine, &messages.ResetViews{})
	return err
}

// Info describes the tables and views.
func (s *Service) Info(ctx context.Context) (*messages.ViewsInfoReply, error) {
	res, err := s.ask(ctx, s.engine, &messages.ViewsInfo{})
	if err != nil {
		return nil, err
	}
	return res.(*messages.ViewsInfoReply), nil
}

// Debug describes one view.
func (s *Service) Debug(ctx context.Context, id string) (*messages.DebugViewReply, error) {
	res, err := s.ask(ctx, s.engine, &messages.DebugView{Id: id})
	if err != nil {
		return nil, err
	}
	return res.(*messages.DebugViewReply), nil
}

// Deps maps each table to the views that read it.
func (s *Service) Deps(ctx context.Context) (*messages.DebugDepsReply, error) {
	res, err := s.ask(ctx, s.engine, &messages.DebugDeps{})
	if err != nil {
		return nil, err
	}
	return res.(*messages.DebugDepsReply), nil
}

// Subscribe makes each known view push its result, then its deltas, to
// subscriber.
func (s *Service) Subscribe(ctx context.Context, ids []string, subscriber *actor.PID) (*messages.SubscribeReply, error) {
	res, err := s.ask(ctx, s.engine, &messages.SubscribeViews{Ids: ids, Subscriber: subscriber})
	if err != nil {
		return nil, err
	}
	return res.(*messages.SubscribeReply), nil
}

// Unsubscribe stops the pushes of the views (all when ids is empty).
func (s *Service) Unsubscribe(ids []string, subscriber *actor.PID) {
	s.sys.Root.Send(s.engine, &messages.UnsubscribeViews{Ids: ids, Subscriber: subscriber})
}

// BootstrapBegin starts staging a bootstrap of the given epoch, dropping
// any other one staged.
func (s *Service) BootstrapBegin(ctx context.Context, epoch uint64) error {
	_, err := s.bootstrap(ctx, &messages.BootstrapBegin{Epoch: epoch})
	return err
}

// BootstrapRows stages rows of a table.
func (s *Service) BootstrapRows(ctx context.Context, epoch uint64, table string, rows []*messages.BootstrapRow) error {
	_, err := s.bootstrap(ctx, &messages.BootstrapRows{Epoch: epoch, Table: table, Rows: rows})
	return err
}

// BootstrapPage stages a page of a table as the proxy answered it, a JSON
// array of records; the reply has the page's length and its last id.
func (s *Service) BootstrapPage(ctx context.Context, epoch uint64, table string, page []byte) (*messages.BootstrapReply, error) {
	return s.bootstrap(ctx, &messages.BootstrapRows{Epoch: epoch, Table: table, Page: page})
}

// BootstrapCommit makes the staged tables live and views the registered
// views. The reply names the views left out.
func (s *Service) BootstrapCommit(ctx context.Context, epoch uint64, views []*messages.RegisterView) (*messages.BootstrapReply, error) {
	return s.bootstrap(ctx, &messages.BootstrapCommit{Epoch: epoch, Views: views})
}

// bootstrap sends a bootstrap message with the caller's deadline (a
// commit of a large snapshot may take longer than --request-timeout).
func (s *Service) bootstrap(ctx context.Context, msg any) (*messages.BootstrapReply, error) {
	timeout := s.sys.Config.RequestTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	res, err := s.sys.Request(s.engine, msg, timeout)
	if err != nil {
		return nil, err
	}
	switch r := res.(type) {
	case *messages.BootstrapReply:
		if r.ErrorCode != "" {
			return r, fmt.Errorf("%s: %s", r.ErrorCode, r.ErrorMessage)
		}
		return r, nil
	case *messages.IngestReply: // a failed store write answers so
		return nil, fmt.Errorf("%s: %s", r.ErrorCode, r.ErrorMessage)
	}
	return nil, fmt.Errorf("unexpected reply %T", res)
}

// TableHashes returns the content hash of every table with rows.
func (s *Service) TableHashes(ctx context.Context) (map[string]string, error) {
	res, err := s.ask(ctx, s.engine, &messages.TableHashes{})
	if err != nil {
		return nil, err
	}
	r, ok := res.(*messages.TableHashesReply)
	if !ok {
		return nil, fmt.Errorf("unexpected reply %T", res)
	}
	return r.Hashes, nil
}

// ViewCount returns the number of registered views.
func (s *Service) ViewCount(ctx context.Context) (int64, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.Views, nil
}

// validID accepts what can name an actor: no "/", not starting with "$".
func validID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("id is required")
	case len(id) > 512:
		return fmt.Errorf("id is %d bytes long; the limit is 512", len(id))
	case strings.Contains(id, "/"):
		return fmt.Errorf("id %q: a view id may not contain '/'", id)
	case strings.HasPrefix(id, "$"):
		return fmt.Errorf("id %q: a view id may not start with '$'", id)
	}
	return nil
}
