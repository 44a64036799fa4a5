// Package skip is the reactive front door (spec skip-runservice.txt): the
// control API (inputs, snapshots, stream creation) and the streaming API
// (Server-Sent Events) of one Skip service running on Troupe's actors.
package skip

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
)

// Entry is one key of a collection with all its values, as JSON: the
// [key, [value, ...]] pairs of Skip's wire format.
type Entry struct {
	Key    json.RawMessage
	Values []json.RawMessage
}

// Update is one event of a stream: Init carries the whole current contents
// of the resource instance, otherwise Entries holds only the keys that
// changed, each with all its current values (none: the key was deleted).
// RunID and Tick make the SSE id "<RunID>/<Tick>".
type Update struct {
	Init    bool
	RunID   string
	Tick    uint64
	Entries []Entry

	// framed, set by Shared, holds the SSE frame of an update pushed to
	// many streams, encoded by the first of them.
	framed *sharedFrame
}

type sharedFrame struct {
	once sync.Once
	b    []byte
}

// Shared returns u to be pushed to several streams: its SSE frame is then
// encoded once for all of them (100 streams of one resource instance cost
// one encoding per update, not 100).
func (u Update) Shared() Update {
	u.framed = &sharedFrame{}
	return u
}

// Sink receives the updates of one stream. Push must not block: it returns
// false when the subscriber's buffer is full, and the service then drops
// the subscriber (the door closes its connection). Closed is called once
// when the stream ends for a reason of the service's (the uuid was
// DELETEd, the service stopped).
type Sink interface {
	Push(u Update) bool
	Closed(reason error)
}

// Service is one running Skip service behind a pair of doors.
// Errors: the Err* values below (wrapped, with a message that says what was
// wrong); any other error is the service's own failure (503).
type Service interface {
	// Name identifies the service (its module's file name) in logs.
	Name() string
	// Patch writes entries into the input collection, atomically: if any
	// mapper, reducer or resource code throws, nothing is applied and the
	// error wraps ErrRefused. It returns once the write is durable and
	// every live stream has been sent its update.
	Patch(ctx context.Context, collection string, entries []Entry) error
	// Snapshot reads a whole resource instantiated with params, keys in
	// Skip's JSON order, keys without values omitted.
	Snapshot(ctx context.Context, resource string, params json.RawMessage) ([]Entry, error)
	// Lookup reads the values of one key of a resource (none: empty).
	Lookup(ctx context.Context, resource string, params json.RawMessage, key json.RawMessage) ([]json.RawMessage, error)
	// CreateStream instantiates (or shares) the resource instance of
	// (resource, params) and returns a new stream uuid.
	CreateStream(ctx context.Context, resource string, params json.RawMessage) (string, error)
	// DeleteStream ends the stream: its subscriber is closed and the uuid
	// is dead from then on (ErrUnknownStream).
	DeleteStream(ctx context.Context, uuid string) error
	// Subscribe attaches sink to the stream: its first update is an Init
	// of the current contents. ErrUnknownStream, ErrStreamTaken (a second
	// subscriber). cancel detaches the sink (the client went away).
	Subscribe(ctx context.Context, uuid string, sink Sink) (cancel func(), err error)
}

var (
	ErrUnknownResource   = errors.New("unknown resource")
	ErrUnknownCollection = errors.New("unknown input collection")
	ErrUnknownStream     = errors.New("unknown stream")
	ErrStreamTaken       = errors.New("stream already has a subscriber")
	// ErrBadInput: params, keys or values the service cannot take.
	ErrBadInput = errors.New("bad input")
	// ErrRefused: user code threw while applying the request; nothing
	// was applied.
	ErrRefused = errors.New("refused by the service's code")
)
