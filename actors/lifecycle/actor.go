package lifecycle

import (
	"context"
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// lifecycleActor runs the Machine: it turns its effects into HTTP calls
// and timers and their outcomes into events. Each call runs on a goroutine
// of its own (ergo's way of bridging blocking I/O into an actor) with a
// deadline, and answers with a message to the actor: the mailbox never
// waits. A restart (a panic) cancels every goroutine of the incarnation
// and starts over with a clean registration; the engine's views are not
// touched until a new bootstrap commits, so they keep serving reads.
type lifecycleActor struct {
	svc    *Service
	m      *Machine
	self   *actor.PID
	ctx    context.Context // of this incarnation
	cancel context.CancelFunc
	timers map[uint64]*time.Timer
	ticker *time.Ticker
}

// progress is a bootstrap goroutine's report after each page.
type progress struct {
	epoch uint64
	table string
	rows  int64
}

func (a *lifecycleActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.start(ctx)
	case *actor.Restarting, *actor.Stopping:
		a.stop()
		return
	case Event:
		if tf, ok := msg.(TimerFired); ok {
			delete(a.timers, tf.Token)
		}
		before := a.m.State()
		effects := a.m.Handle(msg)
		a.svc.counts.observe(msg, before, a.m.State())
		a.run(effects)
	case progress:
		a.svc.log.Debug("bootstrap progress", "epoch", msg.epoch, "table", msg.table, "rows", msg.rows)
	}
	if a.m != nil {
		a.svc.publish(a.m.State(), a.m.Reason())
	}
}

func (a *lifecycleActor) start(ctx actor.Context) {
	a.self = ctx.Self()
	a.ctx, a.cancel = context.WithCancel(a.svc.ctx)
	a.timers = map[uint64]*time.Timer{}
	// Tokens of each incarnation start far past the previous one's.
	a.m = NewMachine(a.svc.opts.Policy, a.svc.incarn.Add(1)<<40)
	a.ticker = time.NewTicker(a.svc.opts.HeartbeatInterval)
	tick, done, self, root := a.ticker.C, a.ctx.Done(), a.self, a.svc.sys.Root
	a.svc.goroutine(func() {
		for {
			select {
			case <-tick:
				root.Send(self, HeartbeatDue{})
			case <-done:
				return
			}
		}
	})
	a.run(a.m.Handle(Begin{Now: time.Now()}))
}

func (a *lifecycleActor) stop() {
	if a.cancel == nil {
		return
	}
	a.cancel()
	a.ticker.Stop()
	for _, t := range a.timers {
		t.Stop()
	}
	a.timers = nil
}

// run carries out the machine's effects.
func (a *lifecycleActor) run(effects []Effect) {
	for _, eff := range effects {
		switch eff := eff.(type) {
		case Log:
			a.svc.log.Log(a.ctx, eff.Level, eff.Msg, eff.Args...)
		case After:
			tok, self, root := eff.Token, a.self, a.svc.sys.Root
			a.timers[tok] = time.AfterFunc(eff.Delay, func() { root.Send(self, TimerFired{Token: tok}) })
		case DoRegister:
			a.register(eff.Token)
		case DoBootstrap:
			a.bootstrap(eff.Token)
		case DoHeartbeat:
			a.heartbeat(eff.Token)
		}
	}
}

func (a *lifecycleActor) register(tok uint64) {
	svc, ctx, self := a.svc, a.ctx, a.self
	reg := Registration{SSPID: svc.opts.SSPID, URL: svc.opts.URL, Version: svc.opts.Version, Env: svc.opts.Env}
	svc.goroutine(func() {
		c, cancel := context.WithTimeout(ctx, svc.opts.CallTimeout)
		res, err := svc.client.Register(c, reg)
		cancel()
		if err != nil {
			var re *RegisterError
			fatal := errors.As(err, &re) && re.Fatal
			svc.sys.Root.Send(self, RegisterFailed{Token: tok, Now: time.Now(), Fatal: fatal, Reason: err.Error()})
			return
		}
		svc.sys.Root.Send(self, Registered{Token: tok, SnapshotSeq: res.SnapshotSeq, TableHashes: res.TableHashes})
	})
}

func (a *lifecycleActor) bootstrap(tok uint64) {
	svc, ctx, self := a.svc, a.ctx, a.self
	epoch := svc.epochs.Add(1)
	b := &bootstrapper{
		proxy: svc.client, engine: svc.engine, decode: svc.opts.Decode, pageSize: svc.opts.PageSize,
		step: func(c context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(c, svc.opts.StepTimeout)
		},
		log: svc.log.With("epoch", epoch),
		progress: func(table string, rows int64) {
			svc.sys.Root.Send(self, progress{epoch: epoch, table: table, rows: rows})
		},
	}
	svc.goroutine(func() {
		hashes, err := b.run(ctx, epoch)
		if err != nil {
			svc.sys.Root.Send(self, BootstrapFailed{Token: tok, Reason: err.Error()})
			return
		}
		svc.sys.Root.Send(self, Bootstrapped{Token: tok, Hashes: hashes})
	})
}

func (a *lifecycleActor) heartbeat(tok uint64) {
	svc, ctx, self := a.svc, a.ctx, a.self
	svc.goroutine(func() {
		c, cancel := context.WithTimeout(ctx, svc.opts.CallTimeout)
		defer cancel()
		views, err := svc.engine.ViewCount(c)
		if err != nil {
			svc.sys.Root.Send(self, HeartbeatDone{Token: tok, Now: time.Now(), Reason: "counting the views: " + err.Error()})
			return
		}
		cpu, mem := svc.sampler.sample()
		status, body, err := svc.client.SendHeartbeat(c, Heartbeat{SSPID: svc.opts.SSPID, Timestamp: time.Now().Unix(),
			Views: views, CPUUsage: cpu, MemoryUsage: mem, Version: svc.opts.Version})
		reason := body
		if err != nil {
			reason = err.Error()
		}
		svc.sys.Root.Send(self, HeartbeatDone{Token: tok, Now: time.Now(), Status: status, Reason: reason})
	})
}
