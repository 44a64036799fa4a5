package sequence

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/durable"
	"github.com/troupe-run/troupe/system/store"
)

// recordPrefix holds one SequenceRecord per sequence.
const recordPrefix = "hs/"

func recordKey(id string) []byte { return []byte(recordPrefix + id) }

// instances is what the store knows of one sequence's instances.
type instances struct {
	all     []string        // not yet forgotten, oldest first
	running map[string]bool // whose process has not ended
}

// storeActor owns the list of sequences.
type storeActor struct {
	svc     *Service
	log     durable.Log
	self    *actor.PID
	seqs    map[string]*messages.SequenceRecord
	pending map[string]*pendingDelete // deletes waiting for instances to end
	timer   *time.Timer
}

// pendingDelete is a delete that killed the sequence's instances and
// answers once they have ended, or at its deadline.
type pendingDelete struct {
	sender   *actor.PID
	deadline time.Time
}

func (a *storeActor) Receive(ctx actor.Context) {
	a.log.Receive(ctx, a.svc.sys, a)
	switch msg := ctx.Message().(type) {
	case *actor.Restarting, *actor.Stopping:
		if a.timer != nil {
			a.timer.Stop()
		}
		for id, p := range a.pending {
			a.svc.sys.Root.Send(p.sender, &messages.SequenceReply{ErrorCode: messages.CodeUnavailable,
				ErrorMessage: fmt.Sprintf("the sequence store restarted while deleting %s", id)})
		}
	case *messages.SequenceAdd:
		a.add(ctx, msg.Sequence)
	case *messages.SequenceGet:
		rec, ok := a.seqs[msg.Id]
		if !ok {
			ctx.Respond(notFound(msg.Id))
			return
		}
		ctx.Respond(&messages.SequenceReply{Sequences: []*messages.SequenceView{a.view(rec)}})
	case *messages.SequenceList:
		out := &messages.SequenceReply{Sequences: []*messages.SequenceView{}}
		for _, rec := range a.seqs {
			out.Sequences = append(out.Sequences, a.view(rec))
		}
		slices.SortFunc(out.Sequences, func(x, y *messages.SequenceView) int {
			return cmp.Or(cmp.Compare(x.Sequence.CreatedMs, y.Sequence.CreatedMs), cmp.Compare(x.Sequence.Id, y.Sequence.Id))
		})
		ctx.Respond(out)
	case *messages.SequenceDelete:
		a.delete(ctx, msg)
	case *messages.SequenceReserve:
		ctx.Respond(a.reserve(msg))
	case *messages.SequenceInstanceEnded:
		if in := a.svc.live[msg.SequenceId]; in != nil {
			delete(in.running, msg.InstanceId)
		}
		a.settle(msg.SequenceId)
	case *messages.SequenceInstanceGone:
		if in := a.svc.live[msg.SequenceId]; in != nil {
			delete(in.running, msg.InstanceId)
			in.all = slices.DeleteFunc(in.all, func(s string) bool { return s == msg.InstanceId })
			if len(in.all) == 0 {
				delete(a.svc.live, msg.SequenceId)
			}
		}
		a.settle(msg.SequenceId)
	case *messages.Tick:
		a.expire()
	case *system.Withdraw:
		// The client of a delete that waits for its instances went away
		// (AskOrWithdraw): the delete is dropped, its instances stay
		// killed.
		for id, p := range a.pending {
			if p.sender == ctx.Sender() {
				delete(a.pending, id)
			}
		}
		a.svc.sys.AnswerWithdraw(ctx.Sender())
		a.schedule()
	}
}

// Recover reads the stored sequences (durable.State).
func (a *storeActor) Recover(r store.Reader) error {
	a.self = a.log.Self()
	a.seqs, a.pending = map[string]*messages.SequenceRecord{}, map[string]*pendingDelete{}
	err := r.Scan([]byte(recordPrefix), func(_, value []byte) error {
		var rec messages.SequenceRecord
		if err := proto.Unmarshal(value, &rec); err != nil {
			return err
		}
		// The folder is found under the current root, so that a data dir
		// may move.
		rec.Dir = filepath.Join(a.svc.root, rec.Id)
		a.seqs[rec.Id] = &rec
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the stored sequences: %w", err)
	}
	a.svc.stored.Store(int64(len(a.seqs)))
	return nil
}

func (a *storeActor) view(rec *messages.SequenceRecord) *messages.SequenceView {
	v := &messages.SequenceView{Sequence: rec, Instances: []string{}, Running: []string{}}
	if in := a.svc.live[rec.Id]; in != nil {
		v.Instances = slices.Clone(in.all)
		for _, id := range in.all {
			if in.running[id] {
				v.Running = append(v.Running, id)
			}
		}
	}
	return v
}

func (a *storeActor) add(ctx actor.Context, rec *messages.SequenceRecord) {
	raw, err := proto.Marshal(rec)
	if err != nil {
		ctx.Respond(&messages.SequenceReply{ErrorCode: messages.CodeInvalid, ErrorMessage: err.Error()})
		return
	}
	if _, replaced := a.seqs[rec.Id]; !replaced && a.svc.full(len(a.seqs)) {
		ctx.Respond(&messages.SequenceReply{ErrorCode: messages.CodeLimit, ErrorMessage: a.svc.fullError().Message})
		return
	}
	a.seqs[rec.Id] = rec
	a.svc.stored.Store(int64(len(a.seqs)))
	a.log.Set(recordKey(rec.Id), raw)
	a.log.Reply(ctx.Sender(), &messages.SequenceReply{Sequences: []*messages.SequenceView{a.view(rec)}}, storeFailed)
}

func (a *storeActor) reserve(msg *messages.SequenceReserve) *messages.SequenceReply {
	rec := a.seqs[msg.Id]
	if rec == nil {
		// The original also starts a sequence by its name.
		for _, r := range a.seqs {
			if r.Name != "" && r.Name == msg.Id && (rec == nil || r.CreatedMs > rec.CreatedMs) {
				rec = r
			}
		}
	}
	if rec == nil {
		return notFound(msg.Id)
	}
	if _, deleting := a.pending[rec.Id]; deleting {
		return &messages.SequenceReply{ErrorCode: messages.CodeSequenceInUse, ErrorMessage: fmt.Sprintf("Sequence %s is being deleted", rec.Id)}
	}
	in := a.svc.live[rec.Id]
	if in == nil {
		in = &instances{running: map[string]bool{}}
		a.svc.live[rec.Id] = in
	}
	in.all = append(in.all, msg.InstanceId)
	in.running[msg.InstanceId] = true
	return &messages.SequenceReply{Sequences: []*messages.SequenceView{{Sequence: rec}}}
}

func (a *storeActor) delete(ctx actor.Context, msg *messages.SequenceDelete) {
	rec := a.seqs[msg.Id]
	if rec == nil {
		ctx.Respond(notFound(msg.Id))
		return
	}
	if _, deleting := a.pending[rec.Id]; deleting {
		ctx.Respond(&messages.SequenceReply{ErrorCode: messages.CodeSequenceInUse, ErrorMessage: fmt.Sprintf("Sequence %s is being deleted", rec.Id)})
		return
	}
	running := a.view(rec).Running
	if len(running) == 0 {
		a.remove(ctx.Sender(), rec)
		return
	}
	if !msg.KillInstances {
		ctx.Respond(&messages.SequenceReply{ErrorCode: messages.CodeSequenceInUse, ErrorMessage: "Can't remove sequence in use."})
		return
	}
	for _, id := range running {
		if pid, ok := a.svc.sys.Registry.Lookup("instances/" + id); ok {
			ctx.Send(pid, &messages.InstanceKill{})
		}
	}
	a.pending[rec.Id] = &pendingDelete{sender: ctx.Sender(), deadline: time.Now().Add(a.svc.opts.KillWait)}
	a.schedule()
}

// settle completes a pending delete once the sequence runs no instance.
func (a *storeActor) settle(id string) {
	p, ok := a.pending[id]
	if !ok {
		return
	}
	if in := a.svc.live[id]; in != nil && len(in.running) > 0 {
		return
	}
	delete(a.pending, id)
	a.remove(p.sender, a.seqs[id])
}

// remove deletes a sequence's record and answers sender once that is
// durable; the caller removes the package folder.
func (a *storeActor) remove(sender *actor.PID, rec *messages.SequenceRecord) {
	delete(a.seqs, rec.Id)
	a.svc.stored.Store(int64(len(a.seqs)))
	a.log.Delete(recordKey(rec.Id))
	a.log.Reply(sender, &messages.SequenceReply{Sequences: []*messages.SequenceView{{Sequence: rec}}}, storeFailed)
}

// expire fails the pending deletes past their deadline.
func (a *storeActor) expire() {
	now := time.Now()
	for id, p := range a.pending {
		if now.Before(p.deadline) {
			continue
		}
		delete(a.pending, id)
		a.svc.sys.Root.Send(p.sender, &messages.SequenceReply{ErrorCode: messages.CodeSequenceInUse,
			ErrorMessage: fmt.Sprintf("the instances of sequence %s did not end within %s", id, a.svc.opts.KillWait)})
	}
	a.schedule()
}

// schedule arms the timer for the earliest pending deadline.
func (a *storeActor) schedule() {
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	var at time.Time
	for _, p := range a.pending {
		if at.IsZero() || p.deadline.Before(at) {
			at = p.deadline
		}
	}
	if at.IsZero() {
		return
	}
	self, root := a.self, a.svc.sys.Root
	a.timer = time.AfterFunc(time.Until(at), func() { root.Send(self, &messages.Tick{}) })
}

func storeFailed(err error) any {
	return &messages.SequenceReply{ErrorCode: messages.CodeStore, ErrorMessage: fmt.Sprintf("not stored: %v", err)}
}
