package kv

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-run/troupe/messages"
)

// crossMemberPoll is how often a blocked pop in a cluster looks again
// without a signal: one request to its shards per blocked client.
const crossMemberPoll = 100 * time.Millisecond

// Blocking pops (the Redis door's BLPOP, BZPOPMIN ...) wait for a push to
// one of their keys. A waiter registers its keys before it looks at them,
// then sleeps on its channel: every command that adds to a list or a
// sorted set, through Do or reported by a pipelining door (Wrote), signals
// the waiters of its key once it succeeded. A signal may be spurious (the
// element was popped by another first); the waiter looks again.
//
// In a cluster the signal comes only from writes made through this member:
// a push through another member (to a shard on any member) signals that
// member's waiters. A waiter here therefore also looks again every
// crossMemberPoll, which bounds how late such a push wakes it.
type wakes struct {
	active atomic.Int64 // waiters registered: writes skip the lock when none
	mu     sync.Mutex
	by     map[string]map[*Waiter]struct{}
}

// Waiter is one blocked command's registration.
type Waiter struct {
	// C receives when one of the keys may have something (buffered: a
	// signal sent before the waiter sleeps is kept).
	C    chan struct{}
	keys []string
	w    *wakes
	poll time.Duration // 0 on one node; crossMemberPoll in a cluster
}

// WaitWrite registers a waiter for a push or an add to any of keys; Stop
// it when done.
func (k *Keyspace) WaitWrite(keys []string) *Waiter {
	w := &k.wakes
	wt := &Waiter{C: make(chan struct{}, 1), keys: keys, w: w}
	if k.sys.Placement != nil {
		wt.poll = crossMemberPoll
	}
	w.mu.Lock()
	if w.by == nil {
		w.by = map[string]map[*Waiter]struct{}{}
	}
	for _, key := range keys {
		set := w.by[key]
		if set == nil {
			set = map[*Waiter]struct{}{}
			w.by[key] = set
		}
		set[wt] = struct{}{}
	}
	w.mu.Unlock()
	w.active.Add(1)
	return wt
}

// Stop unregisters the waiter.
func (wt *Waiter) Stop() {
	w := wt.w
	w.mu.Lock()
	for _, key := range wt.keys {
		if set := w.by[key]; set != nil {
			delete(set, wt)
			if len(set) == 0 {
				delete(w.by, key)
			}
		}
	}
	w.mu.Unlock()
	w.active.Add(-1)
}

// Wrote signals the waiters of the keys req may have given something to
// pop: its key when it added to a list or a sorted set, and the keys a
// hold lets go of (a pop refused while the key was held looks again). Do
// calls it; a door that sends commands another way (a Pipe) calls it when
// their replies came back.
func (k *Keyspace) Wrote(req *messages.DataRequest, rep *messages.DataReply) {
	w := &k.wakes
	if w.active.Load() == 0 || rep == nil {
		return
	}
	switch req.Op {
	case messages.DataOp_LIST_LPUSH, messages.DataOp_LIST_RPUSH, messages.DataOp_ZSET_ADD, messages.DataOp_ZSET_INCRBY:
		if rep.ErrorCode == "" {
			w.signal(req.Key)
		}
	case messages.DataOp_TXN_ABORT, messages.DataOp_TXN_COMMIT:
		for _, key := range req.Keys {
			w.signal(key)
		}
		for _, p := range req.Pairs {
			w.signal(p.Key)
		}
	}
}

func (w *wakes) signal(key string) {
	w.mu.Lock()
	for wt := range w.by[key] {
		select {
		case wt.C <- struct{}{}:
		default:
		}
	}
	w.mu.Unlock()
}

// Until runs try each time the waiter is signalled (and in a cluster every
// crossMemberPoll), until try answers (true), timeout passes (0: none; try
// runs once more then), gone is closed (the blocked client went away) or
// ctx ends (the door closes).
// The caller has made its first try after registering, so that a write
// between that look and the sleep is not missed.
func (wt *Waiter) Until(ctx context.Context, timeout time.Duration, gone <-chan struct{}, try func() bool) bool {
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	var poll <-chan time.Time
	if wt.poll > 0 {
		t := time.NewTicker(wt.poll)
		defer t.Stop()
		poll = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return false
		case <-gone:
			return false // nobody to answer
		case <-deadline:
			return try()
		case <-wt.C:
			if try() {
				return true
			}
		case <-poll:
			if try() {
				return true
			}
		}
	}
}
