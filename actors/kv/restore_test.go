package kv

import (
	"encoding/binary"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"

	pb "github.com/troupe-run/troupe/messages"
)

// opReader turns arbitrary bytes into a sequence of commands over a small
// keyspace, so that random or fuzzed input hits the same keys, fields and
// members again and again. Keys include prefixes of one another and bytes
// that a careless layout would confuse.
type opReader struct {
	data []byte
}

var (
	fuzzOps = func() []pb.DataOp {
		var ops []pb.DataOp
		for n := range pb.DataOp_name {
			if n != 0 {
				ops = append(ops, pb.DataOp(n))
			}
		}
		slices.Sort(ops) // a fixed mapping from bytes to ops, for the fuzzer
		return ops
	}()
	fuzzKeys    = []string{"a", "b", "a\x00", "a\x01", "", "\xff", "a\x00\x01"}
	fuzzFields  = []string{"f", "g", "", "f\x00", "\x01"}
	fuzzValues  = []string{`1`, `"2"`, `-3`, `"x"`, `9223372036854775807`, `{"k":[1,2]}`, `""`, ``}
	fuzzInts    = []int64{0, 1, 2, 3, -1, -2, 5, 100, math.MaxInt64, math.MinInt64}
	fuzzTTLs    = []int64{0, 0, 0, 1, 5, 50, 1000, -1, math.MaxInt64}
	fuzzFloats  = []float64{0, 1, -1, 2.5, 1, math.Inf(1), math.Inf(-1), math.NaN(), math.Copysign(0, -1), 1e308}
	fuzzCursors = []string{"", "a", "a\x00", "b", "\xff\xff"}
)

func (r *opReader) more() bool { return len(r.data) > 0 }

func (r *opReader) byte() byte {
	if len(r.data) == 0 {
		return 0
	}
	b := r.data[0]
	r.data = r.data[1:]
	return b
}

func pick[T any](r *opReader, from []T) T { return from[int(r.byte())%len(from)] }

func picks[T any](r *opReader, from []T) []T {
	out := make([]T, int(r.byte())%4)
	for i := range out {
		out[i] = pick(r, from)
	}
	return out
}

// next returns the next command. Every field is filled; each op reads
// only its own, which also checks that stray fields do no harm.
func (r *opReader) next() *pb.DataRequest {
	req := &pb.DataRequest{
		Op:      pick(r, fuzzOps),
		Key:     pick(r, fuzzKeys),
		Keys:    picks(r, fuzzKeys),
		Value:   []byte(pick(r, fuzzValues)),
		TtlMs:   pick(r, fuzzTTLs),
		Amount:  pick(r, fuzzInts),
		Field:   pick(r, fuzzFields),
		Fields:  picks(r, fuzzFields),
		Member:  pick(r, fuzzFields),
		Members: picks(r, fuzzFields),
		Score:   pick(r, fuzzFloats),
		Start:   pick(r, fuzzInts),
		Stop:    pick(r, fuzzInts),
		Min:     pick(r, fuzzFloats),
		Max:     pick(r, fuzzFloats),
		Count:   pick(r, fuzzInts),
		Prefix:  pick(r, fuzzCursors),
		Cursor:  pick(r, fuzzCursors),
		Txn:     uint64(r.byte() % 3),
	}
	flags := r.byte()
	req.Nx, req.Xx, req.Incr, req.KeepTtl = flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
	for range int(r.byte()) % 4 {
		req.Pairs = append(req.Pairs, &pb.Pair{Key: pick(r, fuzzKeys), Value: []byte(pick(r, fuzzValues))})
	}
	for range int(r.byte()) % 4 {
		req.Values = append(req.Values, []byte(pick(r, fuzzValues)))
	}
	for range int(r.byte()) % 4 {
		req.Scored = append(req.Scored, &pb.ScoredMember{Member: pick(r, fuzzFields), Score: pick(r, fuzzFloats)})
	}
	if flags&16 != 0 {
		// Hash commands read pairs as fields.
		for _, p := range req.Pairs {
			p.Key = pick(r, fuzzFields)
		}
	}
	return req
}

// exercise applies the commands data decodes to a shard and checks, after
// every command, the shard's invariants and that a refused command changed
// nothing; then that a restore from the journal is indistinguishable; then
// that deleting everything leaves no byte charged and no record stored.
func exercise(t *testing.T, data []byte) {
	r := &opReader{data: data}
	var limit int64
	if r.byte()%2 == 1 {
		limit = 2000
	}
	mem := NewMemory(limit)
	s := NewShard(testPrefix, mem)
	s.rng = rand.New(rand.NewPCG(1, 2))
	j := mapJournal{}
	now := t0
	for i := 0; r.more(); i++ {
		switch b := r.byte(); {
		case b < 8:
			now = now.Add(time.Duration(b) * 3 * time.Millisecond)
		case b < 12:
			s.Sweep(now, j, int(b-7))
		default:
			req := r.next()
			before := liveDump(s, now.UnixMilli())
			reply := s.Apply(now, req, j)
			if reply.GetErrorCode() != "" {
				if reply.GetErrorMessage() == "" {
					t.Fatalf("op %d (%v): error %s without a message", i, prototext.Format(req), reply.GetErrorCode())
				}
				if after := liveDump(s, now.UnixMilli()); after != before {
					t.Fatalf("op %d (%v) failed with %s but changed the shard:\n%s\n%s", i, prototext.Format(req), reply.GetErrorCode(), before, after)
				}
			}
		}
		checkInvariants(t, s)
		if mem.Used() != s.Bytes()+s.held {
			t.Fatalf("op %d: memory counts %d, the shard %d", i, mem.Used(), s.Bytes())
		}
		if limit > 0 && mem.Used() > limit+200 {
			// Only a committed msetnx may pass the limit, by its own size.
			t.Fatalf("op %d: %d bytes in use, limit %d", i, mem.Used(), limit)
		}
	}
	checkRestore(t, s, j)

	for txn := range uint64(3) {
		s.Apply(now, &pb.DataRequest{Op: pb.DataOp_TXN_ABORT, Txn: txn}, j)
	}
	var keys []string
	for k := range s.keys {
		keys = append(keys, k)
	}
	if reply := s.Apply(now, &pb.DataRequest{Op: pb.DataOp_KV_DEL, Keys: keys}, j); reply.GetErrorCode() != "" {
		t.Fatalf("deleting everything: %s", reply.GetErrorMessage())
	}
	if s.Len() != 0 || s.Bytes() != 0 || mem.Used() != 0 || len(j) != 0 {
		t.Fatalf("after deleting everything: %d keys, %d bytes, %d charged, %d records", s.Len(), s.Bytes(), mem.Used(), len(j))
	}
}

// TestRestoreEquivalence drives random command sequences through exercise.
func TestRestoreEquivalence(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for range 300 {
		data := make([]byte, 1500)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		exercise(t, data)
	}
}

func FuzzShardApply(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x00\x40abcdefghijklmnopqrstuvwxyz0123456789\x40ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
	f.Add([]byte("\x01\x20\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0\xc0\xd0\xe0\xf0\xff\x05\x09"))
	f.Fuzz(func(t *testing.T, data []byte) {
		exercise(t, data)
	})
}

// The property test only drives known ops; this checks restore refuses
// records it cannot have written.
func TestRestoreRejectsBadRecords(t *testing.T) {
	base := func(key string, tag byte, suffix ...byte) []byte {
		b := append([]byte(nil), testPrefix...)
		b = binary.AppendUvarint(b, uint64(len(key)))
		return append(append(append(b, key...), tag), suffix...)
	}
	meta := func(k kind, at int64, rest ...byte) []byte {
		v := binary.BigEndian.AppendUint64([]byte{byte(k)}, uint64(at))
		return append(v, rest...)
	}
	cases := []struct {
		name     string
		key, val []byte
		setup    func(*Shard)
		want     string
	}{
		{name: "other prefix", key: []byte("x\x01a\x00"), val: meta(kindString, 0, '1'), want: "prefix"},
		{name: "truncated key", key: append(append([]byte(nil), testPrefix...), 5, 'a'), val: meta(kindString, 0), want: "key length"},
		{name: "unknown tag", key: base("a", 7), val: meta(kindString, 0), want: "tag"},
		{name: "meta with suffix", key: base("a", tagMeta, 1), val: meta(kindString, 0), want: "tag"},
		{name: "short meta", key: base("a", tagMeta), val: []byte{1, 0}, want: "at least"},
		{name: "unknown kind", key: base("a", tagMeta), val: meta(9, 0), want: "kind"},
		{name: "collection meta with a value", key: base("a", tagMeta), val: meta(kindHash, 0, 'x'), want: "stray"},
		{name: "negative expiry", key: base("a", tagMeta), val: meta(kindString, -5), want: "negative"},
		{name: "element without meta", key: base("a", tagElement, 'f'), val: []byte("1"), want: "no collection"},
		{name: "element of a string", key: base("a", tagElement, 'f'), val: []byte("1"),
			setup: func(s *Shard) { _ = s.Restore(base("a", tagMeta), meta(kindString, 0, '1')) }, want: "no collection"},
		{name: "twice", key: base("a", tagMeta), val: meta(kindString, 0, '1'),
			setup: func(s *Shard) { _ = s.Restore(base("a", tagMeta), meta(kindString, 0, '1')) }, want: "twice"},
		{name: "list seq", key: base("l", tagElement, 1, 2), val: []byte("1"),
			setup: func(s *Shard) { _ = s.Restore(base("l", tagMeta), meta(kindList, 0)) }, want: "sequence"},
		{name: "zset score", key: base("z", tagElement, 'm'), val: []byte{1},
			setup: func(s *Shard) { _ = s.Restore(base("z", tagMeta), meta(kindZSet, 0)) }, want: "score"},
		{name: "zset NaN", key: base("z", tagElement, 'm'), val: scoreBytes(math.NaN()),
			setup: func(s *Shard) { _ = s.Restore(base("z", tagMeta), meta(kindZSet, 0)) }, want: "NaN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewShard(testPrefix, nil)
			if c.setup != nil {
				c.setup(s)
			}
			err := s.Restore(c.key, c.val)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error about %q", err, c.want)
			}
		})
	}
}

// Deleting one key leaves alone the keys its encoding could be confused
// with: each is a byte prefix of another.
func TestLayoutKeepsKeysApart(t *testing.T) {
	s := NewShard(testPrefix, nil)
	j := mapJournal{}
	keys := []string{"a", "a\x00", "a\x01", "a\x00\x01", "\x01a"}
	for _, k := range keys {
		s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_HASH_SET, Key: k, Pairs: pairs("\x00", `1`, "\x01", `2`, "", `3`)}, j)
		s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_LIST_LPUSH, Key: k + "l", Values: jsons(`1`, `2`)}, j)
	}
	for _, gone := range keys {
		cj := maps.Clone(j)
		restoreFrom(t, cj, nil).Apply(t0, &pb.DataRequest{Op: pb.DataOp_KV_DEL, Keys: []string{gone, gone + "l"}}, cj)
		c := restoreFrom(t, cj, nil)
		if c.Len() != 2*len(keys)-2 {
			t.Fatalf("deleting %q left %d keys, want %d", gone, c.Len(), 2*len(keys)-2)
		}
		for _, k := range keys {
			if k == gone {
				continue
			}
			got := c.Apply(t0, &pb.DataRequest{Op: pb.DataOp_HASH_LEN, Key: k}, cj).GetInteger()
			if got != 3 {
				t.Fatalf("deleting %q: hash %q has %d fields, want 3", gone, k, got)
			}
		}
	}
}

// BenchmarkRestore times rebuilding a shard of string keys from its records,
// the bulk of a start-up.
func BenchmarkRestore(b *testing.B) {
	const keys = 100_000
	j := mapJournal{}
	s := NewShard(testPrefix, nil)
	for i := range keys {
		s.Apply(t0, set("user:"+strconv.Itoa(i), `{"name":"Alice","age":30}`), j)
	}
	records := slices.Sorted(maps.Keys(j))
	b.ReportMetric(keys, "keys/op")
	for b.Loop() {
		r := NewShard(testPrefix, nil)
		for _, k := range records {
			if err := r.Restore([]byte(k), j[k]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
