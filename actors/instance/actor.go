package instance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/actors/instance/process"
	"github.com/troupe-run/troupe/actors/sequence"
	"github.com/troupe-run/troupe/actors/topic"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/durable"
)

// Local messages from the goroutines that watch the process.
type (
	runnerMessage struct{ m process.Message }
	exited        struct {
		code int
		err  error
	}
)

// instanceActor owns one instance and its OS process.
//
// Supervision: an actor restarted after a panic cannot adopt the process
// its last incarnation started (the goroutines and pipes that bound it to
// that actor are the slot's, but what the actor was doing with them is
// lost), so it kills the process group and the instance ends errored,
// with a reason saying so. The process is never left running unowned nor
// started twice: launching happens once per slot. If the process had
// already exited, the message lost to the failure may have been the news
// of it: the restarted actor records the end itself.
//
// Durability: the instance's run record (see orphans.go) is its part of
// the journal, written through a durable.Log (jl) from the start of its process
// to its end. A write the journal could not make restarts the actor as a
// panic does: the process, which a lost hub could then leave behind
// unrecorded, is killed.
type instanceActor struct {
	svc  *Service
	s    *slot
	jl   durable.Log
	self *actor.PID
	log  *slog.Logger
}

func (a *instanceActor) Receive(ctx actor.Context) {
	a.jl.Receive(ctx, a.svc.sys, a)
	s := a.s
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.self = ctx.Self()
		a.log = a.svc.log.With("instance", s.id)
		switch {
		case !s.launched:
			a.launch()
		case s.restored && s.retention == nil:
			a.keepForRetention()
		default:
			a.adoptAfterCrash()
		}
	case *actor.Stopping:
		a.shutdown()
		return
	case *messages.InstanceInfoRequest:
		ctx.Respond(&messages.InstanceReply{Info: s.info()})
		return
	case *messages.InstanceStop:
		a.reply(ctx, a.stop(msg))
	case *messages.InstanceKill:
		a.reply(ctx, a.kill())
	case *messages.InstanceEvent:
		a.reply(ctx, a.deliver(msg))
		return
	case *messages.InstanceMonitoringRate:
		a.reply(ctx, a.setRate(msg.Rate))
		return
	case *runnerMessage:
		a.onRunner(msg.m)
	case *exited:
		a.onExit(msg.code, msg.err)
	case *messages.Tick:
		a.checkHealth()
	case *waitEvent:
		s.ev.wait(msg.w, msg.next)
		if s.isEnded() {
			s.ev.end() // what was not answered now never will be
		}
		return
	case *cancelWait:
		s.ev.cancel(msg.ch)
		return
	case *watchEvents:
		msg.reply <- a.watch(msg.name)
		return
	case *unwatchEvents:
		s.ev.unwatch(msg.s)
		return
	case *openStream:
		msg.reply <- &Reader{s.streams[msg.kind].attach()}
		return
	case *openInput:
		r := a.openInput(msg)
		s.publish() // the input's type, once the first /input named it
		msg.reply <- r
		return
	case *watchMonitoring:
		msg.reply <- a.watchMonitoring()
		return
	case *stopMonitoring:
		s.mon.remove(msg.c)
		return
	}
	s.publish()
}

// reply answers a command with the instance's description, or its error.
// Commands sent without a sender (by other actors) get no answer.
func (a *instanceActor) reply(ctx actor.Context, err *Error) {
	if ctx.Sender() == nil {
		return
	}
	if err != nil {
		ctx.Respond(&messages.InstanceReply{ErrorCode: err.Code, ErrorMessage: err.Message})
		return
	}
	ctx.Respond(&messages.InstanceReply{Info: a.s.info()})
}

// launch starts the process, the pumps that drain its streams and the
// goroutines that bring its messages and its end to the actor. They are
// the instance's (the service's pumps group): they end with the process,
// or when shutdown closes the pipes a program the sequence left behind
// still holds, and Service.Close joins them.
func (a *instanceActor) launch() {
	s, o := a.s, a.svc.opts
	s.launched = true
	for k := range s.streams {
		s.streams[k] = newSpool(o.StreamBuffer)
	}
	s.feeds, s.cancel = context.WithCancel(context.Background())
	s.inputFeed, s.endInput = context.WithCancel(s.feeds)
	proc, err := a.svc.warm.Start(s.feeds, process.Spec{
		ID:        s.id,
		Dir:       s.seq.Dir,
		Package:   sequence.PackageOf(s.seq),
		Args:      s.opts.Args,
		AppConfig: s.opts.AppConfig,
		Node:      o.Node,
		Python:    o.Python,
		RunnerDir: o.RunnerDir,
		KillGrace: o.KillGrace,
		Logger:    a.log,
		ExtraEnv:  a.runnerEnv(),
	})
	if err != nil {
		a.log.Error("instance did not start", "err", err)
		for _, sp := range s.streams {
			sp.end(false)
		}
		s.failure = fmt.Sprintf("Instance failed to start: %v", err)
		a.onExit(process.ExitBadEnvironment, nil)
		return
	}
	s.proc, s.status, s.healthy, s.lastReport = proc, StatusStarting, true, time.Now()
	a.remember(runRecord{ID: s.id, Sequence: s.seq.Id, PID: proc.PID(), Marker: proc.Marker(), CreatedMs: s.created.UnixMilli(),
		AppConfig: s.opts.AppConfig, Args: s.opts.Args})
	s.input, s.stdin = newPort(proc.Input()), newPort(proc.Stdin())
	pumps := &a.svc.pumps
	for kind, pipe := range outputPipes(proc) {
		pumps.Go(func() { s.streams[kind].pump(pipe) })
	}
	self, root := a.self, a.svc.sys.Root
	pumps.Go(func() {
		for m := range proc.Messages() {
			root.Send(self, &runnerMessage{m})
		}
	})
	pumps.Go(func() {
		code, err := proc.Wait()
		root.Send(self, &exited{code, err})
	})
	if t := s.opts.OutputTopic; t != "" {
		a.publishTo(t, "")
	}
	// An input topic waits for the runner's first PANG: the content type
	// the sequence declares there decodes the topic's chunks.
	a.armWatchdog(s.lastReport.Add(o.UnhealthyAfter))
	a.log.Info("instance started", "sequence", s.seq.Id, "pid", proc.PID())
}

// runnerEnv tells the runner where the hub's scramjet and API are.
func (a *instanceActor) runnerEnv() []string {
	var env []string
	if a.s.scramjet != "" {
		env = append(env, "TROUPE_SCRAMJET_MODULES="+a.s.scramjet)
	}
	if u := a.svc.opts.HubURL; u != "" {
		env = append(env, "TROUPE_HUB_URL="+u)
	}
	if k := a.svc.opts.HubKey; k != "" {
		env = append(env, "TROUPE_HUB_KEY="+k)
	}
	return env
}

// adoptAfterCrash is a restarted actor's start: see instanceActor.
func (a *instanceActor) adoptAfterCrash() {
	s := a.s
	if s.isEnded() || s.proc == nil {
		return
	}
	select {
	case <-s.proc.Done():
		// The message the failure lost may have been the news of the end:
		// record it now (onExit ignores the news if it comes after all).
		code, err := s.proc.Wait()
		a.onExit(code, err)
		return
	default:
	}
	a.log.Error("instance actor restarted after a failure: killing the process it cannot adopt", "pid", s.proc.PID())
	s.failure = "the instance's actor failed; its process was killed"
	s.status = StatusKilling
	s.proc.Kill()
}

// shutdown is the actor's end: the retention is over, or the hub stops.
// Whatever still runs is killed and every stream ends.
func (a *instanceActor) shutdown() {
	s := a.s
	stopTimer(s.watchdog)
	stopTimer(s.retention)
	if s.proc != nil && !s.isEnded() {
		a.log.Info("killing the instance: the hub is stopping")
		s.proc.Kill()
		a.release()
	}
	if s.cancel != nil {
		s.cancel()
	}
	for _, sp := range s.streams {
		if sp != nil {
			sp.end(true)
		}
	}
	if s.proc != nil {
		// A program the sequence started in a group of its own may
		// outlive it with the pipes: closing the hub's ends ends the pumps
		// and feeds blocked on them.
		for _, pipe := range outputPipes(s.proc) {
			pipe.Close()
		}
		s.proc.Input().Close()
		s.proc.Stdin().Close()
	}
	s.ev.end()
	s.mon.end()
}

func (a *instanceActor) onRunner(m process.Message) {
	s := a.s
	switch m.Code {
	case process.CodePing:
		s.started = time.Now()
	case process.CodeMonitoring:
		if len(s.mon.readers) > 0 {
			s.mon.offer(monitoringLine(m))
		}
		var h process.Health
		if err := m.Decode(&h); err == nil {
			s.healthy, s.reported = h.Healthy, true
		}
		s.lastReport = time.Now()
	case process.CodePang:
		var t process.Topics
		if err := m.Decode(&t); err != nil {
			a.log.Warn("undecodable PANG", "err", err)
			return
		}
		// The first PANG follows the loading of the code, just before its
		// function is called: from now on it can take events and input.
		if s.status == StatusStarting {
			s.status = StatusRunning
		}
		switch {
		case s.requires != "" || s.isEnded() || t.Provides != "":
		case s.opts.InputTopic != "":
			a.readFrom(s.opts.InputTopic, t.ContentType)
		case t.Requires != "":
			a.readFrom(t.Requires, t.ContentType)
		}
		if t.Provides != "" && s.provides == "" {
			a.publishTo(t.Provides, t.ContentType)
		}
	case process.CodeAlive:
		if s.status == StatusStopping && s.keepAlive {
			s.status = StatusRunning
		}
	case process.CodeEvent:
		var e process.Event
		if err := m.Decode(&e); err != nil || e.EventName == "" {
			a.log.Warn("event without a name from the sequence", "err", err)
			return
		}
		s.ev.record(e, func(name string) {
			a.log.Warn("event stream reader dropped: its buffer is full", "event", name, "buffer", a.svc.opts.EventBuffer)
			a.svc.sys.Metrics.SubscriberDropped("hub")
		})
		a.svc.broadcast(s.id, e)
	}
}

// onExit records the end of the process (or of its start), tells the
// sequence store, and keeps the instance readable for the retention
// period.
func (a *instanceActor) onExit(code int, err error) {
	s := a.s
	if s.terminated {
		return // recorded already, by a restarted actor
	}
	if err != nil {
		a.log.Error("waiting for the instance's process", "err", err)
	}
	stopTimer(s.watchdog)
	if s.endInput != nil {
		s.endInput()
	}
	out := outcomeOf(code, s.seq.Main)
	s.status, s.reason = out.Status, out.Reason
	if s.failure != "" {
		s.status, s.reason = StatusErrored, s.failure
	}
	s.terminated, s.exitCode, s.endedAt = true, code, time.Now()
	s.ended.Store(true)
	s.ev.end() // no event will come: waits and streams end now, not with the retention
	s.mon.end()
	if s.proc != nil {
		a.release()
	}
	a.svc.seqs.Ended(s.seq.Id, s.id)
	a.log.Info("instance ended", "status", s.status, "exitcode", code, "reason", s.reason)
	a.keepForRetention()
}

// keepForRetention forgets the ended instance once the retention is over.
func (a *instanceActor) keepForRetention() {
	id, seqID, svc := a.s.id, a.s.seq.Id, a.svc
	a.s.retention = time.AfterFunc(svc.opts.Retention, func() { svc.forget(id, seqID) })
	svc.trimEnded(id)
}

func (a *instanceActor) stop(msg *messages.InstanceStop) *Error {
	s := a.s
	if s.isEnded() || s.proc == nil {
		return errorf(messages.CodeNotRunning, "Instance not running")
	}
	timeout := time.Duration(msg.TimeoutMs) * time.Millisecond
	if err := s.proc.Stop(timeout, msg.CanCallKeepalive); err != nil {
		// A runner too busy to take STOP cannot stop itself.
		a.log.Warn("stop not delivered: killing the instance", "err", err)
		s.proc.Terminate()
		s.status = StatusKilling
		return nil
	}
	s.status, s.keepAlive = StatusStopping, msg.CanCallKeepalive
	return nil
}

// kill sends KILL, and SIGKILL after the grace period; a second kill
// sends SIGKILL at once.
func (a *instanceActor) kill() *Error {
	s := a.s
	if s.isEnded() || s.proc == nil {
		return errorf(messages.CodeNotRunning, "Instance not running")
	}
	if s.status == StatusKilling {
		s.proc.Kill()
		return nil
	}
	s.status = StatusKilling
	s.proc.Terminate()
	return nil
}

// deliver hands an event to the sequence.
func (a *instanceActor) deliver(msg *messages.InstanceEvent) *Error {
	s := a.s
	if s.isEnded() || s.proc == nil {
		return errorf(messages.CodeNotRunning, "Instance not running")
	}
	if err := s.proc.Send(process.CodeEvent, process.Event{EventName: msg.EventName, Message: msg.Message}); err != nil {
		return errorf(messages.CodeUnavailable, "event not delivered: %v", err)
	}
	return nil
}

func (a *instanceActor) watch(name string) *EventStream {
	c := make(chan process.Event, a.svc.opts.EventBuffer)
	self, root := a.self, a.svc.sys.Root
	st := &EventStream{C: c, c: c, name: name, release: func(st *EventStream) { root.Send(self, &unwatchEvents{st}) }}
	if a.s.isEnded() {
		close(c) // no event will come
		return st
	}
	a.s.ev.streams = append(a.s.ev.streams, st)
	return st
}

func (a *instanceActor) openInput(msg *openInput) inputReply {
	s := a.s
	switch {
	case s.isEnded() || s.proc == nil:
		return inputReply{err: errorf(messages.CodeInputEnded, "Instance not running")}
	case msg.stdin:
		return inputReply{port: s.stdin}
	case s.requires != "":
		return inputReply{err: errorf(messages.CodeInputElsewhere, "Input provided in other way.")}
	case s.inputType == "" && msg.contentType == "":
		return inputReply{err: errorf(messages.CodeNoContentType, "Content-Type must be defined")}
	case s.inputType == "":
		err := s.proc.SetInputContentType(msg.contentType)
		switch {
		case errors.Is(err, process.ErrExited):
			// Killed, its end not yet seen here: as for an ended one.
			return inputReply{err: errorf(messages.CodeInputEnded, "Instance not running")}
		case err != nil:
			return inputReply{err: errorf(messages.CodeUnavailable, "the runner does not take messages: %v", err)}
		}
		s.inputType = msg.contentType
	}
	return inputReply{port: s.input}
}

// checkHealth is the watchdog: a runner silent for UnhealthyAfter is
// unhealthy, for KillAfter it is killed (a busy loop, a hung runtime).
func (a *instanceActor) checkHealth() {
	s, o := a.s, a.svc.opts
	if s.isEnded() || s.proc == nil {
		return
	}
	silent := time.Since(s.lastReport)
	switch {
	case silent >= o.KillAfter:
		if s.failure == "" {
			a.log.Warn("instance killed by the watchdog", "silent", silent.Round(time.Millisecond))
			s.failure = fmt.Sprintf("Instance killed: no health report for %s", o.KillAfter)
			s.status, s.healthy = StatusKilling, false
			s.proc.Terminate()
		}
	case silent >= o.UnhealthyAfter:
		if s.healthy {
			a.log.Warn("instance unhealthy: no health report", "silent", silent.Round(time.Millisecond))
		}
		s.healthy = false
		a.armWatchdog(s.lastReport.Add(o.KillAfter))
	default:
		a.armWatchdog(s.lastReport.Add(o.UnhealthyAfter))
	}
}

func (a *instanceActor) armWatchdog(at time.Time) {
	stopTimer(a.s.watchdog)
	self, root := a.self, a.svc.sys.Root
	a.s.watchdog = time.AfterFunc(time.Until(at), func() { root.Send(self, &messages.Tick{}) })
}

// readFrom feeds the instance's input from a topic. ct is the type the
// sequence declared; without one the runner is told the topic's.
func (a *instanceActor) readFrom(name, ct string) {
	s, topics, log := a.s, a.svc.topics, a.log
	s.requires = name
	ctx, proc := s.inputFeed, s.proc
	a.svc.pumps.Go(func() {
		in := proc.Input()
		defer in.Close()
		c, topicType, err := topics.Consume(ctx, name, ct)
		if err != nil {
			log.Warn("instance input topic refused", "topic", name, "err", err)
			return
		}
		defer c.Close()
		if ct == "" {
			proc.SetInputContentType(topicType)
		}
		for {
			b, err := c.Next(ctx)
			if err != nil {
				if errors.Is(err, topic.ErrDeleted) {
					log.Warn("instance input from topic ended", "topic", name, "err", err)
				}
				return
			}
			if _, err := in.Write(b); err != nil {
				return
			}
		}
	})
}

// publishTo feeds a topic from the instance's output. The feed is a reader
// of the output stream, attached now: it gets every byte no reader has had
// yet, so output that came before the runner named the topic goes there.
func (a *instanceActor) publishTo(name, ct string) {
	s, topics, log := a.s, a.svc.topics, a.log
	s.provides = name
	r := s.streams[Output].attach()
	ctx := s.feeds
	a.svc.pumps.Go(func() {
		defer r.Close()
		p, err := topics.Produce(ctx, name, ct)
		if err != nil {
			log.Warn("instance output topic refused", "topic", name, "err", err)
			return
		}
		defer p.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(ctx, buf)
			if n > 0 && p.Write(ctx, buf[:n]) != nil {
				return
			}
			if err != nil {
				// The output ended: its last partial line goes too.
				p.Flush(ctx)
				return
			}
		}
	})
}

// outputPipes are the pipes the hub reads of a process, by the stream
// each feeds.
func outputPipes(p *process.Process) map[Stream]io.ReadCloser {
	return map[Stream]io.ReadCloser{Output: p.Output(), Stdout: p.Stdout(), Stderr: p.Stderr(), Log: p.Log()}
}
