package kv

import (
	"bytes"
	"slices"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/actors/kv/glob"
	"github.com/troupe-run/troupe/messages"
)

// Watching keys (the original's /kv/ws): a subscriber registers glob
// patterns with every shard; a shard that changes a string key matching one
// pushes a KeyChange to it with the value after the change, as the original
// does (set, del, expired, expire, persist, incrby, decrby). Like the
// original's, delivery is best effort: the push goes out when the change is
// applied, before its commit is durable, and a subscriber that cannot keep
// up is closed by its session. A per-key version, counted in memory from 1
// and restarted when the key goes, lets a client see that it missed one.
//
// Only string keys are watched, as in the original, where the other types
// live in stores of their own that publish nothing.

// watchers is one shard's registry of watch subscribers. It outlives the
// shard actor's incarnations, so that a crash of the shard does not end the
// watches silently; only the current incarnation touches it.
type watchers struct {
	subs     map[string]*watcher // by the subscriber's PID
	versions map[string]uint64   // per watched key that changed; dropped when the key goes
}

type watcher struct {
	pid      *actor.PID
	patterns []string
}

func newWatchers() *watchers {
	return &watchers{subs: map[string]*watcher{}, versions: map[string]uint64{}}
}

// active reports whether anyone watches a key of this shard.
func (w *watchers) active() bool { return len(w.subs) > 0 }

// add registers patterns for pid; it refuses to hold more than limit of
// them for one subscriber. It returns how many pid holds, and whether pid is
// new (to be watched for termination).
func (w *watchers) add(pid *actor.PID, patterns []string, limit int) (n int, fresh bool, ok bool) {
	sub := w.subs[pid.String()]
	if sub == nil {
		sub = &watcher{pid: pid}
		fresh = true
	}
	var added []string
	for _, p := range patterns {
		if !slices.Contains(sub.patterns, p) && !slices.Contains(added, p) {
			added = append(added, p)
		}
	}
	if len(sub.patterns)+len(added) > limit {
		return len(sub.patterns), false, false
	}
	sub.patterns = append(sub.patterns, added...)
	if len(sub.patterns) == 0 {
		return 0, false, true
	}
	w.subs[pid.String()] = sub
	return len(sub.patterns), fresh, true
}

// remove drops patterns of pid (all of them when none is named) and
// returns how many it still holds.
func (w *watchers) remove(pid *actor.PID, patterns []string) int {
	sub := w.subs[pid.String()]
	if sub == nil {
		return 0
	}
	if len(patterns) > 0 {
		sub.patterns = slices.DeleteFunc(sub.patterns, func(p string) bool { return slices.Contains(patterns, p) })
	}
	if len(patterns) == 0 || len(sub.patterns) == 0 {
		delete(w.subs, pid.String())
		if len(w.subs) == 0 {
			clear(w.versions)
		}
		return 0
	}
	return len(sub.patterns)
}

// matching appends to buf the subscribers with a pattern matching key.
func (w *watchers) matching(key string, buf []*actor.PID) []*actor.PID {
	for _, sub := range w.subs {
		for _, p := range sub.patterns {
			if glob.Match(p, key) {
				buf = append(buf, sub.pid)
				break
			}
		}
	}
	return buf
}

// next returns key's next version; gone drops its counter afterwards (the
// key was deleted or expired, and its next life starts at 1 again).
func (w *watchers) next(key string, gone bool) uint64 {
	v := w.versions[key] + 1
	if gone {
		delete(w.versions, key)
	} else {
		w.versions[key] = v
	}
	return v
}

// keyState is what a watcher can see of a key.
type keyState struct {
	present  bool // an entry exists, perhaps expired
	expired  bool
	str      bool // it holds a string
	value    []byte
	expireAt int64
}

func (k keyState) live() bool { return k.present && !k.expired && k.str }

// peek reads key's state at ms without changing anything.
func (s *Shard) peek(key string, ms int64) keyState {
	e := s.keys[key]
	if e == nil {
		return keyState{}
	}
	return keyState{present: true, expired: e.expired(ms), str: e.kind == kindString, value: e.value, expireAt: e.expireAt}
}

// watchedKey is a key a command names that someone watches, as it was
// before the command.
type watchedKey struct {
	key    string
	before keyState
	subs   []*actor.PID
}

// namedKeys calls f with each key a request names (a hash command's pairs
// are fields, which f only sees when they happen to name a string key too:
// peeking at them is harmless, an unchanged key makes no event).
func namedKeys(req *messages.DataRequest, f func(string)) {
	if req.GetKey() != "" {
		f(req.GetKey())
	}
	for _, k := range req.GetKeys() {
		f(k)
	}
	for _, p := range req.GetPairs() {
		f(p.GetKey())
	}
}

// change tells what happened to a watched key between before and after,
// for a command of op with amount: the event, and whether it carries the
// value; "" when nothing a watcher sees changed.
func change(before, after keyState, op messages.DataOp, amount int64, ok bool) (event string, withValue bool) {
	switch {
	case before.live() && !after.live():
		return "del", false
	case !before.live() && before.present && before.str && before.expired && !after.present:
		return "expired", false
	case after.live():
		setting := ok && (op == messages.DataOp_KV_SET || op == messages.DataOp_KV_MSET ||
			op == messages.DataOp_TXN_COMMIT || op == messages.DataOp_KV_MSETNX)
		if !before.live() || setting || !bytes.Equal(before.value, after.value) {
			switch {
			case op == messages.DataOp_KV_INCR && amount < 0:
				return "decrby", true
			case op == messages.DataOp_KV_INCR:
				return "incrby", true
			}
			return "set", true
		}
		if before.expireAt != after.expireAt {
			if after.expireAt != 0 {
				return "expire", false
			}
			return "persist", false
		}
	}
	return "", false
}
