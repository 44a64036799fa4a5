// Package room holds the state machine of an event-stream room: an
// append-only log of events with contiguous offsets, bounded by count and
// by age, journaled so that it survives restarts.
//
// A State is a plain value owned by one actor; it is not safe for concurrent
// use. Every method that depends on time takes the current time, so the
// state machine is tested without clocks.
package room

import (
	"fmt"
	"time"
)

// Journal receives what must be durable. The actor hands the writes of one
// command to the store before replying. Keys and values passed to it are
// never reused by the State.
type Journal interface {
	Set(key, value []byte)
	Delete(key []byte)
}

// Config bounds what a room keeps. Retention is applied on Publish and Trim.
type Config struct {
	MaxEvents int           // events kept; the oldest go first; 0 means no count limit
	MaxAge    time.Duration // events older than this go; 0 means no age limit
}

// DefaultConfig keeps the newest 10,000 events of the last hour.
func DefaultConfig() Config {
	return Config{MaxEvents: 10_000, MaxAge: time.Hour}
}

// Event is one entry of a room. Data is opaque (JSON in practice) and must
// not be modified once published.
type Event struct {
	ID        string
	Offset    int64
	EventType string
	Data      []byte
	Timestamp time.Time
}

// OffsetError is returned for a read below the oldest kept offset: the
// events there were removed by retention.
type OffsetError struct {
	Requested int64
	Oldest    int64
}

func (e *OffsetError) Error() string {
	return fmt.Sprintf("offset %d is no longer kept; the oldest kept offset is %d", e.Requested, e.Oldest)
}

// State is the log of one room.
type State struct {
	prefix  []byte
	cfg     Config
	journal Journal

	// events are the kept events, oldest first, with contiguous offsets
	// ending at next-1. Slots are written once and never again, so slices
	// handed out by Since and History stay valid after later calls.
	events []Event
	next   int64 // offset of the next event; also the number ever published

	meta    Meta // set by Create (or restored)
	hasMeta bool
}

// Meta is what a room records of its creation. A room published to before
// rooms had it has none until it is created again.
type Meta struct {
	CreatedAt  time.Time
	Generation int64 // differs each time the room is created (deleted and created again)
	MaxEvents  int   // the room's own count limit; 0: the server's
}

// Create records the room's creation: when, its generation, and its own
// count limit (0: the server's). Retention applies it from now on.
func (s *State) Create(now time.Time, generation int64, maxEvents int) {
	s.meta = Meta{CreatedAt: now, Generation: generation, MaxEvents: maxEvents}
	s.hasMeta = true
	if maxEvents > 0 {
		s.cfg.MaxEvents = maxEvents
	}
	s.journal.Set(s.metaKey(), encodeMeta(s.meta))
}

// Meta returns what Create recorded, and whether it did.
func (s *State) Meta() (Meta, bool) { return s.meta, s.hasMeta }

// Clear removes every event and the room's metadata, from memory and from
// the journal: the room is as if it had never been. Offsets start at 0
// again; the generation of its next creation tells readers apart.
func (s *State) Clear(defaults Config) {
	for _, e := range s.events {
		s.journal.Delete(s.eventKey(e.Offset))
	}
	s.journal.Delete(s.nextKey())
	s.journal.Delete(s.metaKey())
	s.events, s.next = nil, 0
	s.meta, s.hasMeta = Meta{}, false
	s.cfg = defaults
}

// New returns an empty room that journals under prefix. Call Restore with
// every journaled key under prefix, in key order, before any other method.
func New(prefix []byte, cfg Config, j Journal) *State {
	return &State{prefix: prefix, cfg: cfg, journal: j}
}

// eventID names an event by its offset: unique within the room and sortable.
func eventID(offset int64) string { return fmt.Sprintf("evt_%016x", offset) }

// Publish appends an event at the next offset, then applies retention.
func (s *State) Publish(now time.Time, eventType string, data []byte) Event {
	e := Event{
		ID:        eventID(s.next),
		Offset:    s.next,
		EventType: eventType,
		Data:      data,
		Timestamp: now,
	}
	s.events = append(s.events, e)
	s.next++
	s.journal.Set(s.eventKey(e.Offset), encodeEvent(e))
	s.Trim(now)
	return e
}

// Trim drops the events that retention no longer allows and returns how
// many it dropped. The actor calls it when NextExpiry comes.
func (s *State) Trim(now time.Time) int {
	n := 0
	if s.cfg.MaxEvents > 0 && len(s.events) > s.cfg.MaxEvents {
		n = len(s.events) - s.cfg.MaxEvents
	}
	if s.cfg.MaxAge > 0 {
		cutoff := now.Add(-s.cfg.MaxAge)
		for n < len(s.events) && !s.events[n].Timestamp.After(cutoff) {
			n++
		}
	}
	if n == 0 {
		return 0
	}
	for _, e := range s.events[:n] {
		s.journal.Delete(s.eventKey(e.Offset))
	}
	// Reslice rather than shift: the dropped slots may still be read
	// through slices returned earlier.
	s.events = s.events[n:]
	if len(s.events) == 0 {
		// No event key is left to say where offsets resume.
		s.journal.Set(s.nextKey(), encodeNext(s.next))
	}
	return n
}

// NextExpiry returns when the oldest kept event becomes too old, so the
// actor can schedule Trim; false when age retention has nothing to do.
func (s *State) NextExpiry() (time.Time, bool) {
	if s.cfg.MaxAge <= 0 || len(s.events) == 0 {
		return time.Time{}, false
	}
	return s.events[0].Timestamp.Add(s.cfg.MaxAge), true
}

// Since returns the kept events from offset from to the newest, or an
// *OffsetError if from is below Oldest. A from beyond Newest gives none.
//
// It is cheap (no copy) and the returned slice is read-only and stays
// valid: later publishes and trims do not touch it. Since the actor applies
// commands one at a time, a subscriber sent Since(from) and then every event
// published after the call sees each offset from `from` on exactly once.
func (s *State) Since(from int64) ([]Event, error) {
	oldest := s.Oldest()
	if from < oldest {
		return nil, &OffsetError{Requested: from, Oldest: oldest}
	}
	if from >= s.next {
		return nil, nil
	}
	i := int(from - oldest)
	return s.events[i:len(s.events):len(s.events)], nil
}

// History returns at most limit events from offset from (limit <= 0 means
// no limit), with the same rules and sharing as Since.
func (s *State) History(from int64, limit int) ([]Event, error) {
	events, err := s.Since(from)
	if limit > 0 && len(events) > limit {
		events = events[:limit:limit]
	}
	return events, err
}

// Oldest returns the offset of the oldest kept event, or Newest()+1 when the
// room keeps none.
func (s *State) Oldest() int64 { return s.next - int64(len(s.events)) }

// Newest returns the offset of the newest event ever published, -1 before
// the first.
func (s *State) Newest() int64 { return s.next - 1 }

// Stats describes a room. The timestamps are zero when no event is kept.
type Stats struct {
	Events         int   // kept
	OldestOffset   int64 // see Oldest
	NewestOffset   int64 // see Newest
	FirstTimestamp time.Time
	LastTimestamp  time.Time
	Published      int64 // ever published, kept or not
}

// Stats returns the room's statistics.
func (s *State) Stats() Stats {
	st := Stats{
		Events:       len(s.events),
		OldestOffset: s.Oldest(),
		NewestOffset: s.Newest(),
		Published:    s.next,
	}
	if len(s.events) > 0 {
		st.FirstTimestamp = s.events[0].Timestamp
		st.LastTimestamp = s.events[len(s.events)-1].Timestamp
	}
	return st
}
