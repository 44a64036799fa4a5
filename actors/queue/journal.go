package queue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Journal layout, under the queue's prefix:
//
//	'c'                              -> the counters
//	'd' DLQ sequence (8 bytes, BE)   -> a dead message
//	'm' message sequence (8 bytes, BE) -> a message, ready or in flight
//
// Big-endian sequences make key order the order of the ready queue within a
// priority and of the DLQ. Every value starts with a format version byte.
const (
	countersTag = 'c'
	deadTag     = 'd'
	messageTag  = 'm'
	version     = 1
)

func (s *State) key(tag byte, seq uint64) []byte {
	k := make([]byte, 0, len(s.prefix)+9)
	k = append(append(k, s.prefix...), tag)
	return binary.BigEndian.AppendUint64(k, seq)
}

func (s *State) messageKey(seq uint64) []byte  { return s.key(messageTag, seq) }
func (s *State) deadKey(deadSeq uint64) []byte { return s.key(deadTag, deadSeq) }

func (s *State) saveMessage(e *entry) { s.journal.Set(s.messageKey(e.seq), encodeEntry(e)) }

func (s *State) saveCounters() {
	b := make([]byte, 0, 1+4*binary.MaxVarintLen64)
	b = append(b, version)
	for _, c := range []uint64{s.published, s.consumed, s.acked, s.nacked} {
		b = binary.AppendUvarint(b, c)
	}
	k := make([]byte, 0, len(s.prefix)+1)
	s.journal.Set(append(append(k, s.prefix...), countersTag), b)
}

// encodeEntry writes version, sequence, priority, retries, publish time
// (Unix ns), the headers (count, then length-prefixed names and values in
// name order), then the payload.
func encodeEntry(e *entry) []byte {
	size := 1 + 4*binary.MaxVarintLen64 + 1 + len(e.payload)
	for k, v := range e.headers {
		size += 2*binary.MaxVarintLen64 + len(k) + len(v)
	}
	b := make([]byte, 0, size)
	b = append(b, version)
	b = binary.AppendUvarint(b, e.seq)
	b = append(b, e.priority)
	b = binary.AppendUvarint(b, uint64(e.retries))
	b = binary.AppendVarint(b, e.publishedAt.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(e.headers)))
	if len(e.headers) > 0 {
		// Most messages have no headers: the sort (and the deep stack it
		// grows a fresh mailbox goroutine to) is for those that do.
		for _, k := range slices.Sorted(maps.Keys(e.headers)) {
			b = appendString(b, k)
			b = appendString(b, e.headers[k])
		}
	}
	return append(b, e.payload...)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

var errCorrupt = errors.New("queue: corrupt journal value")

// Restore loads one journaled key and its value. Called for every key under
// the queue's prefix in key order, it rebuilds the queue the journal was
// written from, with every message that was in flight ready again. It
// copies what it keeps, so the caller may reuse key and value.
func (s *State) Restore(key, value []byte) error {
	rest, ok := bytes.CutPrefix(key, s.prefix)
	if !ok || len(rest) == 0 {
		return fmt.Errorf("queue: key %q is not under prefix %q", key, s.prefix)
	}
	if len(value) == 0 || value[0] != version {
		return fmt.Errorf("queue: key %q: unknown format version", key)
	}
	d := decoder{b: value[1:]}
	switch {
	case rest[0] == countersTag && len(rest) == 1:
		s.published, s.consumed, s.acked, s.nacked = d.uvarint(), d.uvarint(), d.uvarint(), d.uvarint()
		if d.err != nil {
			return fmt.Errorf("%w: key %q", d.err, key)
		}
	case (rest[0] == messageTag || rest[0] == deadTag) && len(rest) == 9:
		seq := binary.BigEndian.Uint64(rest[1:])
		e, err := d.entry()
		if err != nil {
			return fmt.Errorf("%w: key %q", err, key)
		}
		if s.entries[e.seq] != nil {
			return fmt.Errorf("queue: key %q: message %s is journaled twice", key, messageID(e.seq))
		}
		if rest[0] == deadTag {
			e.where, e.deadSeq = dead, seq
			s.dead = append(s.dead, e)
			s.nextDead = seq + 1
		} else {
			if e.seq != seq {
				return fmt.Errorf("%w: key %q holds message %s", errCorrupt, key, messageID(e.seq))
			}
			s.makeReady(e)
		}
		s.entries[e.seq] = e
	default:
		return fmt.Errorf("queue: unknown key %q", key)
	}
	return nil
}

// decoder reads what encodeEntry and saveCounters write; the first error
// sticks and makes every later read return zero.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errCorrupt
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errCorrupt
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) entry() (*entry, error) {
	e := new(entry)
	e.seq = d.uvarint()
	e.order = e.seq
	e.priority = d.byte()
	e.retries = int(d.uvarint())
	e.publishedAt = time.Unix(0, d.varint())
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > uint64(len(d.b)) { // each header takes at least two bytes
			return nil, errCorrupt
		}
		e.headers = make(map[string]string, n)
		for range n {
			k := d.string()
			e.headers[k] = d.string()
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if e.priority > MaxPriority {
		return nil, errCorrupt
	}
	e.payload = bytes.Clone(d.b)
	return e, nil
}
