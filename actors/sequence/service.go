package sequence

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// Error is a refused sequence command; its codes are messages.Code*.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string     { return e.Message }
func (e *Error) ErrorCode() string { return e.Code }

// Options configure the sequence store.
type Options struct {
	// Dir holds the unpacked packages, one folder per sequence. Empty: a
	// temporary folder, removed by Close (the store is memory-only then).
	Dir    string
	Limits Limits
	// MaxSequences bounds the sequences stored; past it an upload is
	// messages.CodeLimit. 0: no limit.
	MaxSequences int
	// KillWait bounds how long a delete with x-seq-kill-inst waits for the
	// sequence's instances to end; 20 s when zero.
	KillWait time.Duration
}

// Service is the sequence store: the actor "hub/sequences" keeps the list
// of sequences (durable in the store under "hs/<id>") and which instances
// each has; the packages themselves are folders under Options.Dir.
//
// Unpacking and removing folders happen in the caller's goroutine, never
// in the actor: a large package does not hold up the other requests.
type Service struct {
	sys  *system.System
	opts Options
	root string
	temp bool
	pid  *actor.PID

	// stored is how many sequences the store actor holds, which it keeps
	// up to date: Add refuses at once, before unpacking, when the store
	// is full (the actor's own check decides).
	stored atomic.Int64

	// live is which instances each sequence has. Only the store actor
	// touches it; it is here so that it outlives a restart of the actor
	// (instances are not in the store: their processes die with the hub).
	live map[string]*instances
}

// Start registers the "hub" domain with its store actor, which reads the
// stored sequences, and removes package folders no stored sequence owns
// (an upload or a delete cut short by a crash).
func Start(sys *system.System, opts Options) (*Service, error) {
	if opts.KillWait <= 0 {
		opts.KillWait = 20 * time.Second
	}
	s := &Service{sys: sys, opts: opts, root: opts.Dir, live: map[string]*instances{}}
	if s.root == "" {
		dir, err := os.MkdirTemp("", "troupe-sequences-")
		if err != nil {
			return nil, err
		}
		s.root, s.temp = dir, true
	} else if err := os.MkdirAll(s.root, 0o755); err != nil {
		return nil, err
	}
	err := sys.Registry.Domain("hub", func(name string) actor.Producer {
		return func() actor.Actor { return &storeActor{svc: s} }
	})
	if err == nil {
		s.pid, err = sys.Registry.Get("hub/sequences")
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, s.sweep()
}

// Close removes the temporary package folder of a memory-only store.
func (s *Service) Close() error {
	if s.temp {
		return os.RemoveAll(s.root)
	}
	return nil
}

// sweep removes the folders under the root that no sequence owns.
func (s *Service) sweep() error {
	views, err := s.List(context.Background())
	if err != nil {
		return err
	}
	owned := map[string]bool{}
	for _, v := range views {
		owned[filepath.Base(v.Sequence.Dir)] = true
	}
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !owned[e.Name()] {
			s.sys.Log.Info("removing a package folder no sequence owns", "dir", filepath.Join(s.root, e.Name()))
			os.RemoveAll(filepath.Join(s.root, e.Name()))
		}
	}
	return nil
}

// ask sends msg to the store actor and waits for its answer until ctx
// ends, or --request-timeout passes for a ctx without a deadline.
func (s *Service) ask(ctx context.Context, msg any) ([]*messages.SequenceView, error) {
	res, err := s.sys.Ask(ctx, s.pid, msg)
	if err != nil {
		return nil, err
	}
	return reply(res)
}

// settled is the context of a command that changes what the package
// folders must match (a record stored, a reservation counted): once sent
// it is carried out and its answer awaited even when the client has gone,
// within --request-timeout, so that the caller knows what the store holds.
func settled(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

func reply(res any) ([]*messages.SequenceView, error) {
	r := res.(*messages.SequenceReply)
	if r.ErrorCode != "" {
		return nil, &Error{r.ErrorCode, r.ErrorMessage}
	}
	return r.Sequences, nil
}

// Add unpacks a package read from body and stores it as a new sequence.
// A refused package is a *PackageError.
func (s *Service) Add(ctx context.Context, body io.Reader) (*messages.SequenceRecord, error) {
	if s.full(int(s.stored.Load())) {
		return nil, s.fullError()
	}
	id := NewID()
	dir := filepath.Join(s.root, id)
	p, err := Unpack(body, dir, s.opts.Limits)
	if err != nil {
		return nil, err
	}
	rec := &messages.SequenceRecord{Id: id, Name: p.Name, Version: p.Version, Main: p.Main, Entry: p.Entry,
		Engine: string(p.Engine), Manifest: p.Raw, Dir: dir, CreatedMs: time.Now().UnixMilli()}
	if _, err := s.ask(settled(ctx), &messages.SequenceAdd{Sequence: rec}); err != nil {
		// A refused record leaves a folder nobody owns; one whose answer
		// did not come may be stored: its folder stays (the next start
		// sweeps it if not).
		if _, refused := err.(*Error); refused {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	s.sys.Log.Info("sequence added", "sequence", id, "name", p.Name, "engine", p.Engine)
	return rec, nil
}

// full reports whether a new sequence would go past MaxSequences, with n
// sequences stored.
func (s *Service) full(n int) bool { return s.opts.MaxSequences > 0 && n >= s.opts.MaxSequences }

func (s *Service) fullError() *Error {
	return &Error{messages.CodeLimit, fmt.Sprintf("there are already %d sequences, the limit (--hub-max-sequences)", s.opts.MaxSequences)}
}

// Get returns one sequence with its instances.
func (s *Service) Get(ctx context.Context, id string) (*messages.SequenceView, error) {
	views, err := s.ask(ctx, &messages.SequenceGet{Id: id})
	if err != nil {
		return nil, err
	}
	return views[0], nil
}

// List returns every sequence, oldest first.
func (s *Service) List(ctx context.Context) ([]*messages.SequenceView, error) {
	return s.ask(ctx, &messages.SequenceList{})
}

// Delete removes a sequence and its package. With instances running it is
// messages.CodeSequenceInUse, unless kill: then they are killed and Delete waits for their
// end.
func (s *Service) Delete(ctx context.Context, id string, kill bool) error {
	del := &messages.SequenceDelete{Id: id, KillInstances: kill}
	var views []*messages.SequenceView
	var err error
	if !kill {
		views, err = s.ask(ctx, del)
	} else {
		views, err = s.deleteKilling(ctx, del)
	}
	if views == nil {
		return err
	}
	// The record is gone; a crash before this leaves a folder that the
	// next start sweeps.
	if dir := views[0].Sequence.Dir; strings.HasPrefix(dir, s.root+string(filepath.Separator)) {
		if err := os.RemoveAll(dir); err != nil {
			s.sys.Log.Warn("removing a deleted sequence's package", "sequence", id, "err", err)
		}
	}
	s.sys.Log.Info("sequence deleted", "sequence", id)
	return err
}

// deleteKilling is a delete that kills the sequence's instances: the
// store answers once they have ended (within KillWait). A caller that
// goes away first withdraws it (the instances stay killed, the sequence
// stays); when the answer was on its way, the sequence is gone and views
// says so along with the error.
func (s *Service) deleteKilling(ctx context.Context, del *messages.SequenceDelete) ([]*messages.SequenceView, error) {
	wait := s.sys.Config.RequestTimeout + s.opts.KillWait
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > wait {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	res, err := s.sys.AskOrWithdraw(ctx, s.pid, del)
	if res == nil {
		return nil, err
	}
	views, rerr := reply(res)
	if rerr != nil {
		return nil, rerr
	}
	return views, err
}

// Reserve resolves a sequence, by id or else by name, for a new instance
// and counts the instance as running until Ended.
func (s *Service) Reserve(ctx context.Context, id, instanceID string) (*messages.SequenceRecord, error) {
	views, err := s.ask(settled(ctx), &messages.SequenceReserve{Id: id, InstanceId: instanceID})
	if err != nil {
		return nil, err
	}
	return views[0].Sequence, nil
}

// Ended tells the store an instance's process has ended.
func (s *Service) Ended(sequenceID, instanceID string) {
	s.sys.Root.Send(s.pid, &messages.SequenceInstanceEnded{SequenceId: sequenceID, InstanceId: instanceID})
}

// Gone tells the store an instance is forgotten.
func (s *Service) Gone(sequenceID, instanceID string) {
	s.sys.Root.Send(s.pid, &messages.SequenceInstanceGone{SequenceId: sequenceID, InstanceId: instanceID})
}

// PackageOf turns a stored record back into what instance.Start needs.
func PackageOf(rec *messages.SequenceRecord) *Package {
	return &Package{Name: rec.Name, Version: rec.Version, Main: rec.Main, Entry: rec.Entry,
		Engine: Engine(rec.Engine), Raw: rec.Manifest}
}

func notFound(id string) *messages.SequenceReply {
	return &messages.SequenceReply{ErrorCode: messages.CodeNotFound, ErrorMessage: fmt.Sprintf("Sequence %s not found", id)}
}

// Replace puts a new package in place of sequence id's, keeping its id
// (PUT /sequence/:id). With instances running it is
// messages.CodeSequenceInUse, as a delete
// is. The new package is unpacked beside the old one first, so a refused
// package leaves the sequence as it was.
func (s *Service) Replace(ctx context.Context, id string, body io.Reader) (*messages.SequenceRecord, error) {
	view, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(view.Running) > 0 {
		return nil, &Error{messages.CodeSequenceInUse, "Can't replace sequence in use."}
	}
	old := view.Sequence
	dir := filepath.Join(s.root, id)
	staged := filepath.Join(s.root, id+".new-"+NewID())
	p, err := Unpack(body, staged, s.opts.Limits)
	if err != nil {
		return nil, err
	}
	// The swap: a crash in between leaves folders the next start sweeps
	// (only the folder named by the id is the sequence's).
	retired := filepath.Join(s.root, id+".old-"+NewID())
	if err := os.Rename(dir, retired); err != nil {
		os.RemoveAll(staged)
		return nil, err
	}
	if err := os.Rename(staged, dir); err != nil {
		os.Rename(retired, dir)
		os.RemoveAll(staged)
		return nil, err
	}
	rec := &messages.SequenceRecord{Id: id, Name: p.Name, Version: p.Version, Main: p.Main, Entry: p.Entry,
		Engine: string(p.Engine), Manifest: p.Raw, Dir: dir, CreatedMs: old.CreatedMs}
	if _, err := s.ask(settled(ctx), &messages.SequenceAdd{Sequence: rec}); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(retired); err != nil {
		s.sys.Log.Warn("removing a replaced sequence's package", "sequence", id, "err", err)
	}
	s.sys.Log.Info("sequence replaced", "sequence", id, "name", p.Name, "engine", p.Engine)
	return rec, nil
}
