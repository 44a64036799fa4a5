package reactive

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/dop251/goja"
)

// maxTimers bounds the timers one runtime may have pending.
const maxTimers = 10000

// owner is the actor a runtime belongs to: timers and external updates
// reach the runtime as messages to it, handled on its goroutine.
type owner struct {
	root *actor.RootContext
	self *actor.PID
}

func (o owner) post(msg any) {
	if o.root != nil && o.self != nil {
		o.root.Send(o.self, msg)
	}
}

// timerFired runs a setTimeout/setInterval callback of rt.
type timerFired struct {
	rt *runtime
	id int64
}

type jsTimer struct {
	fn     goja.Callable
	every  time.Duration // 0: once
	handle *time.Timer
}

// setTimer arms a timer that posts timerFired to the owner.
func (r *runtime) setTimer(fn goja.Callable, d time.Duration, repeat bool) (int64, error) {
	if len(r.timers) >= maxTimers {
		return 0, fmt.Errorf("more than %d timers pending", maxTimers)
	}
	if d < 0 {
		d = 0
	}
	if repeat && d < time.Millisecond {
		d = time.Millisecond
	}
	r.nextTimer++
	id := r.nextTimer
	t := &jsTimer{fn: fn}
	if repeat {
		t.every = d
	}
	t.handle = time.AfterFunc(d, func() { r.owner.post(&timerFired{rt: r, id: id}) })
	r.timers[id] = t
	return id, nil
}

func (r *runtime) clearTimer(id int64) {
	if t, ok := r.timers[id]; ok {
		t.handle.Stop()
		delete(r.timers, id)
	}
}

// fire runs a timer's callback on the owner's goroutine.
func (r *runtime) fire(id int64) {
	t, ok := r.timers[id]
	if !ok {
		return
	}
	if t.every > 0 {
		t.handle = time.AfterFunc(t.every, func() { r.owner.post(&timerFired{rt: r, id: id}) })
	} else {
		delete(r.timers, id)
	}
	if _, err := r.call(t.fn); err != nil {
		r.log.Warn("timer callback threw", "err", err)
	}
}

func (r *runtime) stopTimers() {
	for id, t := range r.timers {
		t.handle.Stop()
		delete(r.timers, id)
	}
}

// installTimers defines setTimeout, setInterval and their clear functions.
func (r *runtime) installTimers() error {
	rt := r.rt
	set := func(repeat bool) func(goja.FunctionCall) goja.Value {
		return func(c goja.FunctionCall) goja.Value {
			fn, ok := goja.AssertFunction(c.Argument(0))
			if !ok {
				panic(rt.NewTypeError("the callback must be a function"))
			}
			args := append([]goja.Value(nil), c.Arguments[min(2, len(c.Arguments)):]...)
			call := func(this goja.Value, _ ...goja.Value) (goja.Value, error) { return fn(goja.Undefined(), args...) }
			id, err := r.setTimer(call, time.Duration(c.Argument(1).ToFloat()*float64(time.Millisecond)), repeat)
			if err != nil {
				r.throw(err)
			}
			return rt.ToValue(id)
		}
	}
	clear := func(c goja.FunctionCall) goja.Value {
		if v := c.Argument(0); !goja.IsUndefined(v) && !goja.IsNull(v) {
			r.clearTimer(v.ToInteger())
		}
		return goja.Undefined()
	}
	return errors.Join(rt.Set("setTimeout", set(false)), rt.Set("setInterval", set(true)),
		rt.Set("clearTimeout", clear), rt.Set("clearInterval", clear))
}
