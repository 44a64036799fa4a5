package synap

import (
	"context"
	"net/http"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/messages"
)

// Watching keys, as the original's /kv/ws (and its KV.WATCH): a session
// watches glob patterns (kv.keys syntax); each change to a matching string
// key comes as the original's pub/sub frame on the key's channel
// "__watch@0__:<key>":
//
//	{"type":"message","message_id","topic":"__watch@0__:<key>",
//	 "payload":{"key","event","version","value"?,"truncated"?},"metadata":null,"timestamp"}
//
// event is set, del, expired, expire, persist, incrby or decrby; value is
// the value after the change (a string as itself, any other value as its
// JSON text), left out for del, expired, expire and persist, and withheld
// with "truncated": true past watchInlineMax bytes, as the original does.
// Delivery is best effort, as in the original: a client that cannot keep up
// is closed (1008) by the session's bounds; version (per key, from 1, in
// memory) shows a gap.

// KeyWatcher registers a session's watch patterns with the keyspace, which
// then sends the session *messages.KeyChange for every change to a
// matching string key. A refusal (too many patterns) is a reply with its
// error code.
type KeyWatcher interface {
	Watch(ctx context.Context, subscriber *actor.PID, patterns []string) (*messages.DataReply, error)
	// Unwatch drops patterns (all the subscriber's when none is named).
	Unwatch(ctx context.Context, subscriber *actor.PID, patterns []string) (*messages.DataReply, error)
}

// watchChannel prefixes a key to name its channel, as the original does.
const watchChannel = "__watch@0__:"

// watchInlineMax is the largest value a change carries (the original's
// default inline cap).
const watchInlineMax = 64 << 10

var watchCommands = []commandSpec{
	{"kv.watch", kvWatch},
	{"kv.unwatch", kvUnwatch},
}

// watchKeys reads the keys (patterns) of kv.watch and kv.unwatch.
func watchKeys(c *call, required bool) ([]string, error) {
	a, err := c.args()
	if err != nil {
		return nil, err
	}
	keys := a.Keys
	if len(keys) == 0 && a.Key != "" {
		keys = []string{a.Key}
	}
	if len(keys) == 0 && required {
		return nil, invalid("keys is required: an array of keys or glob patterns to watch")
	}
	for _, k := range keys {
		if k == "" {
			return nil, invalid("keys must not hold an empty key")
		}
	}
	return keys, nil
}

// kv.watch {keys} -> {success, subscriber_id, topics, subscription_count}:
// topics are the keys' channels; then every change to a matching key as a
// message frame. WebSocket only.
func kvWatch(c *call) error {
	if err := c.needSession(); err != nil {
		return err
	}
	if c.s.watch == nil {
		return errorf(http.StatusServiceUnavailable, messages.CodeUnavailable, "watching keys is not available on this server")
	}
	keys, err := watchKeys(c, true)
	if err != nil {
		return err
	}
	c.sess.watching = true
	rep, err := c.s.watch.Watch(c.ctx, c.sess.self, keys)
	if ae := failure(rep, err); ae != nil {
		return ae
	}
	w := c.out
	w.Obj()
	w.Key("success")
	w.Bool(true)
	w.Key("subscriber_id")
	w.Str(c.sess.self.Id)
	w.Key("topics")
	w.Arr()
	for _, k := range keys {
		w.Str(watchChannel + k)
	}
	w.EndArr()
	w.Key("subscription_count")
	w.Int(rep.Integer)
	w.EndObj()
	return nil
}

// kv.unwatch {keys?} -> {success, subscription_count}: drops the patterns
// named, or all of them. WebSocket only.
func kvUnwatch(c *call) error {
	if err := c.needSession(); err != nil {
		return err
	}
	if c.s.watch == nil {
		return errorf(http.StatusServiceUnavailable, messages.CodeUnavailable, "watching keys is not available on this server")
	}
	keys, err := watchKeys(c, false)
	if err != nil {
		return err
	}
	rep, err := c.s.watch.Unwatch(c.ctx, c.sess.self, keys)
	if ae := failure(rep, err); ae != nil {
		return ae
	}
	if rep.Integer == 0 {
		c.sess.watching = false
	}
	w := c.out
	w.Obj()
	w.Key("success")
	w.Bool(true)
	w.Key("subscription_count")
	w.Int(rep.Integer)
	w.EndObj()
	return nil
}

// watchFrame encodes a key's change as the original's /kv/ws frame.
func watchFrame(ch *messages.KeyChange, seq uint64) *jsonw.Writer {
	w := jsonw.Get()
	w.Literal(`{"type":"message","message_id":`)
	w.Str(watchMessageID(ch, seq))
	w.Key("topic")
	w.Str(watchChannel + ch.Key)
	w.Key("payload")
	writeWatchPayload(w, ch, true)
	w.Literal(`,"metadata":null,"timestamp":`)
	w.Int(ch.TimestampMs / 1000)
	w.EndObj()
	return w
}

// writeWatchPayload writes a change's payload: {"key","event","version",
// "value"?,"truncated"?}; withValue false leaves the value out (the
// SynapRPC door's notify mode).
func writeWatchPayload(w *jsonw.Writer, ch *messages.KeyChange, withValue bool) {
	w.Literal(`{"key":`)
	w.Str(ch.Key)
	w.Key("event")
	w.Str(ch.Event)
	w.Key("version")
	w.Int(int64(ch.Version))
	if ch.HasValue && withValue {
		v := ch.Value
		// The original's value is the text a GET answers: a string
		// as itself, any other value as its JSON.
		text := len(v)
		if len(v) > 0 && v[0] == '"' {
			text = len(v) - 2 // escapes aside: a bound, not an exact length
		}
		if text > watchInlineMax {
			w.Key("truncated")
			w.Bool(true)
		} else {
			w.Key("value")
			writeOriginalValue(w, true, v)
		}
	}
	w.EndObj()
}

// WatchPayload is the payload of a change to a watched key as the
// WebSocket's frames carry it, for the SynapRPC door's KV.WATCH pushes:
// one encoding of a change for both doors.
func WatchPayload(ch *messages.KeyChange, withValue bool) []byte {
	w := jsonw.Get()
	defer jsonw.Put(w)
	writeWatchPayload(w, ch, withValue)
	return append([]byte(nil), w.Bytes()...)
}

// WatchChannel is the channel a watched key's changes come on:
// "__watch@0__:" and the key (or pattern), as the original names it.
func WatchChannel(key string) string { return watchChannel + key }

// watchMessageID names one pushed change by its key and the session's
// count of pushed changes (the original draws a UUID per message; only
// uniqueness matters).
func watchMessageID(ch *messages.KeyChange, seq uint64) string {
	return "watch-" + strconv.FormatUint(seq, 10) + "-" + ch.Key
}
