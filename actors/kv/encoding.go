package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Store layout. Every record of a shard lives under the shard's prefix, and
// every record of one key lives in that key's own range:
//
//	prefix | uvarint(len(key)) | key | 0x00           metadata: kind, expiry, a string's value
//	prefix | uvarint(len(key)) | key | 0x01 | suffix  one element of a collection
//
// The length prefix keeps ranges apart whatever bytes a key holds: no key's
// range is a prefix of another's, so deleting a key is one DeleteRange. In
// key order a key's metadata comes right before its elements, which is what
// Restore relies on.
//
// The metadata value is kind (1 byte) | expiry in Unix milliseconds (8 bytes,
// big-endian, 0 = none) | the value, for a string. An element's suffix and
// value depend on the kind of its collection:
//
//	hash  field                      -> JSON value
//	list  sequence number (8 bytes)  -> JSON value
//	set   member                     -> empty
//	zset  member                     -> score (8 bytes, IEEE 754 bits)
//
// A list's sequence numbers are big-endian with the sign bit flipped, so byte
// order is numeric order and lpush can take head-1 below zero.
const (
	tagMeta    = 0x00
	tagElement = 0x01
	tagEnd     = 0x02 // first byte past a key's range

	metaHeader = 9 // kind and expiry
)

// keyBase appends prefix | uvarint(len(key)) | key to dst.
func (s *Shard) keyBase(dst []byte, key string) []byte {
	dst = append(dst, s.prefix...)
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	return append(dst, key...)
}

// keyRange returns the bounds of every record of key, metadata included.
func (s *Shard) keyRange(key string) (start, end []byte) {
	start = append(s.keyBase(nil, key), tagMeta)
	end = append(s.keyBase(nil, key), tagEnd)
	return start, end
}

// writeMeta journals e's metadata record. Key and value share one
// allocation, and a string's entry keeps the value as it sits in the record:
// stored values are never modified in place, so sharing is safe and saves a
// copy of the caller's bytes.
func (s *Shard) writeMeta(j Journal, e *entry) {
	buf := append(s.keyBase(make([]byte, 0, len(s.prefix)+len(e.key)+metaHeader+12+len(e.value)), e.key), tagMeta)
	k := len(buf)
	buf = append(buf, byte(e.kind))
	buf = binary.BigEndian.AppendUint64(buf, uint64(e.expireAt))
	if e.kind.blob() {
		buf = append(buf, e.value...)
		e.value = buf[k+metaHeader:]
	}
	j.Set(buf[:k:k], buf[k:])
}

// writeElement journals one element of e's collection and returns value as
// stored in the record (see writeMeta).
func (s *Shard) writeElement(j Journal, e *entry, suffix string, value []byte) []byte {
	buf := s.keyBase(make([]byte, 0, len(s.prefix)+len(e.key)+len(suffix)+len(value)+12), e.key)
	buf = append(append(buf, tagElement), suffix...)
	k := len(buf)
	buf = append(buf, value...)
	j.Set(buf[:k:k], buf[k:])
	return buf[k:]
}

// elementKey returns the store key of one element of e's collection; with
// an empty suffix, the start of the collection's elements.
func (s *Shard) elementKey(e *entry, suffix string) []byte {
	return append(append(s.keyBase(nil, e.key), tagElement), suffix...)
}

// deleteElement journals the removal of one element of e's collection.
func (s *Shard) deleteElement(j Journal, e *entry, suffix string) {
	j.Delete(s.elementKey(e, suffix))
}

// seqSuffix encodes a list sequence number so that byte order is numeric order.
func seqSuffix(seq int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seq)^(1<<63))
	return string(b[:])
}

func scoreBytes(score float64) []byte {
	return binary.BigEndian.AppendUint64(nil, math.Float64bits(score))
}

var errNotMine = errors.New("record is outside the shard's prefix")

// record is one decoded store record.
type record struct {
	key    string
	tag    byte
	suffix []byte // element records only
}

func (s *Shard) decodeKey(k []byte) (record, error) {
	rest, ok := bytes.CutPrefix(k, s.prefix)
	if !ok {
		return record{}, errNotMine
	}
	n, w := binary.Uvarint(rest)
	if w <= 0 || n >= uint64(len(rest)-w) {
		return record{}, fmt.Errorf("record key %q: bad key length", k)
	}
	rest = rest[w:]
	r := record{key: string(rest[:n]), tag: rest[n], suffix: rest[n+1:]}
	switch {
	case r.tag == tagMeta && len(r.suffix) == 0, r.tag == tagElement:
		return r, nil
	default:
		return record{}, fmt.Errorf("record key %q: unknown record tag %#x", k, r.tag)
	}
}

func decodeMeta(v []byte) (kind, int64, []byte, error) {
	if len(v) < metaHeader {
		return 0, 0, nil, fmt.Errorf("metadata record of %d bytes, want at least %d", len(v), metaHeader)
	}
	k := kind(v[0])
	if k < kindString || k > kindBitmap {
		return 0, 0, nil, fmt.Errorf("metadata record of unknown kind %d", v[0])
	}
	if !k.blob() && len(v) != metaHeader {
		return 0, 0, nil, fmt.Errorf("metadata record of a %s carries %d stray bytes", k, len(v)-metaHeader)
	}
	at := int64(binary.BigEndian.Uint64(v[1:metaHeader]))
	if at < 0 {
		return 0, 0, nil, fmt.Errorf("metadata record with negative expiry %d", at)
	}
	return k, at, v[metaHeader:], nil
}

func decodeSeq(suffix []byte) (int64, error) {
	if len(suffix) != 8 {
		return 0, fmt.Errorf("list element with a %d-byte sequence number", len(suffix))
	}
	return int64(binary.BigEndian.Uint64(suffix) ^ (1 << 63)), nil
}

func decodeScore(v []byte) (float64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("sorted set element with a %d-byte score", len(v))
	}
	f := math.Float64frombits(binary.BigEndian.Uint64(v))
	if math.IsNaN(f) {
		return 0, errors.New("sorted set element with a NaN score")
	}
	return f, nil
}
