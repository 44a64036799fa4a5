package topic

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"

	"github.com/troupe-run/troupe/system/store"
)

// Store layout, one prefix per kind so that the service's start reads the
// topics' types without walking their chunks:
//
//	htm/<name>            -> version, content type
//	htc/<name>/<offset>   -> version, time (Unix ns, varint), data
//	hta/<name>/<consumer> -> version, the consumer's next offset (uvarint)
//
// Names are [A-Za-z0-9_+-], so "/" ends one; offsets are 8 bytes big
// endian, so key order is offset order.
const (
	metaPrefix  = "htm/"
	chunkPrefix = "htc/"
	ackPrefix   = "hta/"
	version     = 1
)

func metaKey(name string) []byte { return []byte(metaPrefix + name) }

func chunksOf(name string) []byte { return []byte(chunkPrefix + name + "/") }

func acksOf(name string) []byte { return []byte(ackPrefix + name + "/") }

func chunkKey(name string, off int64) []byte {
	return binary.BigEndian.AppendUint64(chunksOf(name), uint64(off))
}

func ackKey(name, consumer string) []byte { return append(acksOf(name), consumer...) }

func encodeChunk(at int64, data []byte) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(data))
	b = append(b, version)
	b = binary.AppendVarint(b, at)
	return append(b, data...)
}

var errCorrupt = errors.New("topic: corrupt journal value")

// chunk is one published piece of a topic: a whole line or lines for the
// line-based content types, a whole write for octet streams.
type chunk struct {
	at   int64 // Unix ns of its publication
	data []byte
}

// journal is a topic's retained chunks, offsets base up to base+len-1,
// and what its consumers have read. The topic actor writes it; consumers
// read it under the lock, each at its own offset, so a slow one holds no
// one up until the journal is full (then the producers wait: nothing is
// dropped that a live consumer has not read, but for age).
type journal struct {
	mu        sync.Mutex
	chunks    []chunk
	base      int64
	bytes     int64
	delivered int64 // the first offset no consumer has been given
	readers   map[*Consumer]struct{}
	acks      map[string]int64 // consumer id -> next offset, as stored
	ended     error            // the topic was deleted: readers end
	changed   chan struct{}    // closed and replaced on every change
	starved   bool             // a publish waits for readers to move on
}

func newJournal() *journal {
	return &journal{readers: map[*Consumer]struct{}{}, acks: map[string]int64{}, changed: make(chan struct{})}
}

// notify wakes the waiting readers; mu must be held.
func (j *journal) notify() {
	close(j.changed)
	j.changed = make(chan struct{})
}

func (j *journal) next() int64 { return j.base + int64(len(j.chunks)) }

// load reads a topic's chunks and acks from the store.
func (j *journal) load(st store.Reader, name string) error {
	prefix := chunksOf(name)
	err := st.Scan(prefix, func(key, value []byte) error {
		if len(key) != len(prefix)+8 || len(value) == 0 || value[0] != version {
			return errCorrupt
		}
		off := int64(binary.BigEndian.Uint64(key[len(prefix):]))
		at, n := binary.Varint(value[1:])
		if n <= 0 {
			return errCorrupt
		}
		if len(j.chunks) == 0 {
			j.base = off
		} else if off != j.next() {
			return errors.New("topic: the journal has a gap")
		}
		j.chunks = append(j.chunks, chunk{at: at, data: append([]byte(nil), value[1+n:]...)})
		j.bytes += int64(len(value) - 1 - n)
		return nil
	})
	if err != nil {
		return err
	}
	// After a restart nothing retained has been delivered in this run: the
	// first consumer without an offset gets it all.
	j.delivered = j.base
	aprefix := acksOf(name)
	return st.Scan(aprefix, func(key, value []byte) error {
		if len(value) == 0 || value[0] != version {
			return errCorrupt
		}
		next, n := binary.Uvarint(value[1:])
		if n <= 0 {
			return errCorrupt
		}
		j.acks[string(key[len(aprefix):])] = int64(next)
		return nil
	})
}

// protected is the first offset a trim by size may not drop: what a live
// reader, or the next new reader, has not been given yet. mu must be held.
func (j *journal) protected() int64 {
	p := j.delivered
	for c := range j.readers {
		p = min(p, c.pos)
	}
	return p
}

// dropFront removes the first n chunks; mu must be held.
func (j *journal) dropFront(n int) {
	for i := range n {
		j.bytes -= int64(len(j.chunks[i].data))
		j.chunks[i] = chunk{}
	}
	j.chunks = j.chunks[n:]
	j.base += int64(n)
	j.delivered = max(j.delivered, j.base)
}

// read returns the chunk at off (or, when off was trimmed away, the first
// retained one), waiting for it. It returns the chunk's offset.
func (j *journal) read(ctx context.Context, off int64) (int64, []byte, error) {
	for {
		j.mu.Lock()
		if j.ended != nil {
			j.mu.Unlock()
			return off, nil, j.ended
		}
		off = max(off, j.base)
		if off < j.next() {
			b := j.chunks[off-j.base].data
			j.delivered = max(j.delivered, off+1)
			j.mu.Unlock()
			return off, b, nil
		}
		wait := j.changed
		j.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return off, nil, ctx.Err()
		}
	}
}
