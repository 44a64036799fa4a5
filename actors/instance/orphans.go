package instance

import (
	"context"
	"encoding/json"
	"errors"
	"syscall"
	"time"

	"github.com/troupe-run/troupe/actors/instance/process"
	"github.com/troupe-run/troupe/actors/sequence"
	"github.com/troupe-run/troupe/system/store"
)

// Orphans: an instance's process outlives a hub that is killed without
// warning (kill -9, a crash) when it does not read its control pipe, whose
// end the runner takes for KILL: a busy loop, say. So every running
// instance's actor records it in the journal, under "hi/<id>", from the
// start of its process to its end (or to the kill of a hub that stops),
// through its durable.Log. A record still there when the service starts
// names a process left behind: its group is sent SIGKILL, provided a live
// member still carries the instance's marker (process.MarkerEnv=<id> in
// its environment, or the id among its arguments; for a runner started
// ahead, its own token, recorded with the pid), so a pid the system has
// since given to another program is never killed. The instance then
// reappears ended and errored, readable for the retention period, when its
// sequence still exists.
//
// The record is committed without waiting: once handed to the journal it
// survives the death of the hub's process (not of the machine, which takes
// the instance's process along). The records of a lost hub are read and
// cleared by the service as it starts, before any instance actor exists
// (as the topics read their list): an instance actor finds no record of its
// own to recover, since the slot that outlives a restart of the actor holds
// its process.

// runPrefix is the store prefix of the records of running instances.
const runPrefix = "hi/"

// orphanWait bounds how long start-up waits for a killed orphan to die.
const orphanWait = 5 * time.Second

func runKey(id string) []byte { return []byte(runPrefix + id) }

// runRecord is a running instance as the store keeps it.
type runRecord struct {
	ID        string          `json:"id"`
	Sequence  string          `json:"sequence"`
	PID       int             `json:"pid"`              // also its process group's id
	Marker    string          `json:"marker,omitempty"` // its process.MarkerEnv, when not ID (a warm runner's token)
	CreatedMs int64           `json:"created"`
	AppConfig json.RawMessage `json:"appConfig,omitempty"`
	Args      json.RawMessage `json:"args,omitempty"`
}

// remember records the instance's running process. It does not wait for
// the write.
func (a *instanceActor) remember(r runRecord) {
	value, err := json.Marshal(r)
	if err != nil {
		a.jl.Discard()
		a.svc.log.Error("encoding an instance's record", "instance", r.ID, "err", err)
		return
	}
	a.jl.Set(runKey(r.ID), value)
	a.jl.Then(a.logFailure("recording a running instance"))
}

// release removes the instance's record: its process has ended, or is
// killed with its group by a hub that stops.
func (a *instanceActor) release() {
	a.jl.Delete(runKey(a.s.id))
	a.jl.Then(a.logFailure("removing the record of an ended instance"))
}

// logFailure is the commit callback of a run record's write: the failure
// is logged here, and the Log restarts the actor (see instanceActor).
func (a *instanceActor) logFailure(what string) func(error) {
	log := a.svc.log.With("instance", a.s.id)
	return func(err error) {
		if err != nil {
			log.Error(what, "err", err)
		}
	}
}

// Recover is the instance's recovery from the journal (durable.State):
// nothing to read. A restarted actor finds its process in the slot; the
// run record the last incarnation wrote is in the journal (the Log waited
// for it) and is removed when the process ends.
func (a *instanceActor) Recover(store.Reader) error { return nil }

// recoverOrphans kills the processes that instances left behind when the
// hub last ended without recording their end, and restores those instances
// as errored. It runs once, when the service starts, before any instance
// can start.
func (s *Service) recoverOrphans() error {
	var recs []runRecord
	err := s.sys.Store.Scan([]byte(runPrefix), func(key, value []byte) error {
		var r runRecord
		if err := json.Unmarshal(value, &r); err != nil || r.ID != string(key[len(runPrefix):]) {
			s.log.Warn("dropping an unreadable instance record", "key", string(key), "err", err)
			r = runRecord{ID: string(key[len(runPrefix):])}
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil || len(recs) == 0 {
		return err
	}
	groups := make(map[int]bool, len(recs))
	for _, r := range recs {
		if r.PID > 1 {
			groups[r.PID] = true
		}
	}
	members, err := groupMembers(groups)
	if err != nil {
		s.log.Warn("instances of the last run may have left processes behind: "+err.Error(), "instances", len(recs))
	}
	b := s.sys.Store.NewBatch()
	for _, r := range recs {
		b.Delete(runKey(r.ID))
		killed := false
		if r.PID > 1 && err == nil {
			killed = s.killOrphan(r, members[r.PID])
		}
		s.restore(r, killed)
	}
	done := make(chan error, 1)
	s.sys.Store.Commit(b, func(err error) { done <- err })
	return <-done
}

// killOrphan kills the group of a recorded instance if some live member of
// it is still that instance's, and waits a while for them to die. It
// reports whether it killed.
func (s *Service) killOrphan(r runRecord, members []int) bool {
	var ours, others []int
	for _, pid := range members {
		if ownedBy(pid, r.ID) || r.Marker != "" && ownedBy(pid, r.Marker) {
			ours = append(ours, pid)
		} else {
			others = append(others, pid)
		}
	}
	if len(ours) == 0 {
		if len(others) > 0 {
			s.log.Info("the process group of a lost instance now holds other programs: left alone",
				"instance", r.ID, "pgid", r.PID, "pids", others)
		}
		return false
	}
	log := s.log.With("instance", r.ID, "sequence", r.Sequence, "pgid", r.PID)
	log.Warn("killing the processes an instance left behind when the hub last stopped", "pids", ours)
	if len(others) == 0 {
		if err := syscall.Kill(-r.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			log.Error("killing an orphaned process group", "err", err)
		}
	} else {
		// Something else joined the group: kill only what is the instance's.
		for _, pid := range ours {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for deadline := time.Now().Add(orphanWait); ; time.Sleep(10 * time.Millisecond) {
		alive := 0
		for _, pid := range ours {
			if processAlive(pid) {
				alive++
			}
		}
		if alive == 0 {
			return true
		}
		if time.Now().After(deadline) {
			log.Error("orphaned processes still alive after SIGKILL", "alive", alive)
			return true
		}
	}
}

// restore brings back a lost instance as ended and errored, readable for
// the retention period like any ended instance.
func (s *Service) restore(r runRecord, killed bool) {
	if !sequence.ValidID(r.ID) || r.Sequence == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.sys.Config.RequestTimeout)
	defer cancel()
	rec, err := s.seqs.Reserve(ctx, r.Sequence, r.ID)
	if err != nil {
		s.log.Info("not restoring a lost instance", "instance", r.ID, "sequence", r.Sequence, "err", err)
		return
	}
	reason := "Instance lost: the hub stopped while it ran"
	if killed {
		reason = "Instance killed: the hub stopped while it ran, and its processes were killed when the hub started again"
	}
	now := time.Now()
	sl := &slot{id: r.ID, seq: rec, created: time.UnixMilli(r.CreatedMs), endedAt: now,
		opts:   StartOptions{Sequence: rec.Id, InstanceID: r.ID, AppConfig: r.AppConfig, Args: r.Args},
		status: StatusErrored, terminated: true, exitCode: process.ExitKilled, reason: reason,
		launched: true, restored: true, ev: newEvents(s.opts.EventNames)}
	for k := range sl.streams {
		sl.streams[k] = newSpool(1)
		sl.streams[k].end(false)
	}
	sl.ended.Store(true)
	sl.publish()
	s.mu.Lock()
	if s.slots[r.ID] != nil {
		s.mu.Unlock()
		s.seqs.Ended(rec.Id, r.ID)
		return
	}
	s.slots[r.ID] = sl
	s.mu.Unlock()
	s.seqs.Ended(rec.Id, r.ID)
	if _, err := s.sys.Registry.Get(actorName(r.ID)); err != nil {
		s.log.Warn("restoring a lost instance", "instance", r.ID, "err", err)
		s.drop(r.ID)
		s.seqs.Gone(rec.Id, r.ID)
		return
	}
	s.log.Info("restored a lost instance as errored", "instance", r.ID, "sequence", rec.Id, "killed", killed)
}
