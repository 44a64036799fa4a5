package room

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Journal layout, under the room's prefix:
//
//	'e' offset (8 bytes, big endian) -> one event
//	'n'                              -> the next offset, written only when
//	                                    trimming leaves no event behind
//
// Big-endian offsets make key order offset order. Every value starts with a
// format version byte.
const (
	eventTag = 'e'
	nextTag  = 'n'
	metaTag  = 'c' // the room's Meta: created at (Unix ms), generation, max events
	version  = 1
)

func (s *State) metaKey() []byte {
	k := make([]byte, 0, len(s.prefix)+1)
	return append(append(k, s.prefix...), metaTag)
}

func encodeMeta(m Meta) []byte {
	b := []byte{version}
	b = binary.AppendVarint(b, m.CreatedAt.UnixMilli())
	b = binary.AppendVarint(b, m.Generation)
	return binary.AppendUvarint(b, uint64(m.MaxEvents))
}

func decodeMeta(b []byte) (Meta, error) {
	at, n1 := binary.Varint(b)
	if n1 <= 0 {
		return Meta{}, errCorrupt
	}
	gen, n2 := binary.Varint(b[n1:])
	if n2 <= 0 {
		return Meta{}, errCorrupt
	}
	maxEvents, n3 := binary.Uvarint(b[n1+n2:])
	if n3 <= 0 || maxEvents > 1<<31 {
		return Meta{}, errCorrupt
	}
	return Meta{CreatedAt: time.UnixMilli(at), Generation: gen, MaxEvents: int(maxEvents)}, nil
}

func (s *State) eventKey(offset int64) []byte {
	k := make([]byte, 0, len(s.prefix)+9)
	k = append(append(k, s.prefix...), eventTag)
	return binary.BigEndian.AppendUint64(k, uint64(offset))
}

func (s *State) nextKey() []byte {
	k := make([]byte, 0, len(s.prefix)+1)
	return append(append(k, s.prefix...), nextTag)
}

// encodeEvent writes version, timestamp (Unix ns), event type, then the data.
// The ID is derived from the offset and not stored.
func encodeEvent(e Event) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64*2+len(e.EventType)+len(e.Data))
	b = append(b, version)
	b = binary.AppendVarint(b, e.Timestamp.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(e.EventType)))
	b = append(b, e.EventType...)
	return append(b, e.Data...)
}

func encodeNext(next int64) []byte {
	return binary.AppendUvarint([]byte{version}, uint64(next))
}

var errCorrupt = errors.New("room: corrupt journal value")

// Restore loads one journaled key and its value. Called for every key under
// the room's prefix in key order, it rebuilds the state the journal was
// written from. It copies what it keeps, so the caller may reuse key and
// value.
func (s *State) Restore(key, value []byte) error {
	rest, ok := bytes.CutPrefix(key, s.prefix)
	if !ok || len(rest) == 0 {
		return fmt.Errorf("room: key %q is not under prefix %q", key, s.prefix)
	}
	if len(value) == 0 || value[0] != version {
		return fmt.Errorf("room: key %q: unknown format version", key)
	}
	switch {
	case rest[0] == eventTag && len(rest) == 9:
		offset := int64(binary.BigEndian.Uint64(rest[1:]))
		if len(s.events) > 0 && offset != s.next {
			return fmt.Errorf("room: event %d follows event %d: the journal has a gap", offset, s.next-1)
		}
		e, err := decodeEvent(offset, value[1:])
		if err != nil {
			return fmt.Errorf("%w: key %q", err, key)
		}
		s.events = append(s.events, e)
		s.next = offset + 1
	case rest[0] == metaTag && len(rest) == 1:
		m, err := decodeMeta(value[1:])
		if err != nil {
			return fmt.Errorf("%w: key %q", err, key)
		}
		s.meta, s.hasMeta = m, true
		if m.MaxEvents > 0 {
			s.cfg.MaxEvents = m.MaxEvents
		}
	case rest[0] == nextTag && len(rest) == 1:
		next, n := binary.Uvarint(value[1:])
		if n <= 0 {
			return fmt.Errorf("%w: key %q", errCorrupt, key)
		}
		// Stale once events were published after it was written.
		s.next = max(s.next, int64(next))
	default:
		return fmt.Errorf("room: unknown key %q", key)
	}
	return nil
}

func decodeEvent(offset int64, b []byte) (Event, error) {
	ts, n := binary.Varint(b)
	if n <= 0 {
		return Event{}, errCorrupt
	}
	b = b[n:]
	l, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < l {
		return Event{}, errCorrupt
	}
	b = b[n:]
	return Event{
		ID:        eventID(offset),
		Offset:    offset,
		EventType: string(b[:l]),
		Data:      bytes.Clone(b[l:]),
		Timestamp: time.Unix(0, ts),
	}, nil
}
