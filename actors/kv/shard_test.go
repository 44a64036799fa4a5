package kv

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	pb "github.com/troupe-run/troupe/messages"
)

// t0 is the clock of every test; steps give offsets from it.
var t0 = time.UnixMilli(1_700_000_000_000)

var testPrefix = []byte("d\x03")

// mapJournal is a store in a map: what a shard journals, applied.
type mapJournal map[string][]byte

func (m mapJournal) Set(key, value []byte) { m[string(key)] = bytes.Clone(value) }
func (m mapJournal) Delete(key []byte)     { delete(m, string(key)) }

func (m mapJournal) DeleteRange(start, end []byte) {
	for k := range m {
		if k >= string(start) && k < string(end) {
			delete(m, k)
		}
	}
}

// restoreFrom builds a fresh shard from the records of j, in key order, as
// the store does at start-up.
func restoreFrom(t testing.TB, j mapJournal, mem *Memory) *Shard {
	t.Helper()
	s := NewShard(testPrefix, mem)
	keys := make([]string, 0, len(j))
	for k := range j {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := s.Restore([]byte(k), j[k]); err != nil {
			t.Fatalf("restore %q: %v", k, err)
		}
	}
	return s
}

// dump describes everything a shard holds, expired keys and list sequence
// numbers included, so that two shards with equal dumps behave alike.
func dump(s *Shard) string {
	var b strings.Builder
	fmt.Fprintf(&b, "len=%d bytes=%d\n", s.Len(), s.Bytes())
	s.order.Scan(func(key string, e *entry) bool {
		fmt.Fprintf(&b, "%q %s exp=%d size=%d:", key, e.kind, e.expireAt, e.size)
		writeElements(&b, e)
		b.WriteByte('\n')
		return true
	})
	return b.String()
}

// liveDump describes what reads see at now: live keys and their contents.
func liveDump(s *Shard, now int64) string {
	var b strings.Builder
	s.order.Scan(func(key string, e *entry) bool {
		if !e.expired(now) {
			fmt.Fprintf(&b, "%q %s exp=%d:", key, e.kind, e.expireAt)
			writeElements(&b, e)
			b.WriteByte('\n')
		}
		return true
	})
	return b.String()
}

func writeElements(b *strings.Builder, e *entry) {
	switch c := e.coll.(type) {
	case nil:
		fmt.Fprintf(b, " %s", e.value)
	case *hashValue:
		c.fields.Scan(func(f string, v []byte) bool { fmt.Fprintf(b, " %q=%s", f, v); return true })
	case *listValue:
		c.items.Scan(func(seq int64, v []byte) bool { fmt.Fprintf(b, " %d:%s", seq, v); return true })
	case *setValue:
		c.members.Scan(func(m string) bool { fmt.Fprintf(b, " %q", m); return true })
	case *zsetValue:
		c.byScore.Scan(func(it zitem) bool {
			fmt.Fprintf(b, " %q:%x", it.member, math.Float64bits(it.score))
			return true
		})
	}
}

// checkInvariants verifies the shard's indexes and byte counts agree.
func checkInvariants(t testing.TB, s *Shard) {
	t.Helper()
	if len(s.keys) != s.order.Len() {
		t.Fatalf("%d keys in the map, %d in the ordered index", len(s.keys), s.order.Len())
	}
	var total int64
	expiring := 0
	for key, e := range s.keys {
		if e.key != key {
			t.Fatalf("entry %q filed under %q", e.key, key)
		}
		want, n := e.baseSize(), 1
		switch c := e.coll.(type) {
		case *hashValue:
			n = c.fields.Len()
			c.fields.Scan(func(f string, v []byte) bool { want += fieldSize(f, v); return true })
		case *listValue:
			n = c.items.Len()
			c.items.Scan(func(_ int64, v []byte) bool { want += itemSize(v); return true })
		case *setValue:
			n = c.members.Len()
			c.members.Scan(func(m string) bool { want += memberSize(m); return true })
		case *zsetValue:
			n = c.byScore.Len()
			if n != len(c.scores) {
				t.Fatalf("zset %q: %d items by score, %d scores", key, n, len(c.scores))
			}
			for m, sc := range c.scores {
				if _, ok := c.byScore.Get(zitem{sc, m}); !ok {
					t.Fatalf("zset %q: member %q missing from the score tree", key, m)
				}
				want += zmemberSize(m)
			}
		}
		if n == 0 {
			t.Fatalf("key %q: empty %s kept", key, e.kind)
		}
		if e.size != want {
			t.Fatalf("key %q: size %d, contents weigh %d", key, e.size, want)
		}
		total += e.size
		if e.expireAt != 0 {
			expiring++
			if e.heapIdx < 0 || e.heapIdx >= len(s.expiry) || s.expiry[e.heapIdx] != e {
				t.Fatalf("key %q: expiry heap index %d is wrong", key, e.heapIdx)
			}
		} else if e.heapIdx != -1 {
			t.Fatalf("key %q: no expiry but heap index %d", key, e.heapIdx)
		}
	}
	if expiring != len(s.expiry) {
		t.Fatalf("%d keys expire, the heap holds %d", expiring, len(s.expiry))
	}
	for i := 1; i < len(s.expiry); i++ {
		if s.expiry[i].expireAt < s.expiry[(i-1)/2].expireAt {
			t.Fatalf("expiry heap out of order at %d", i)
		}
	}
	if total != s.bytes {
		t.Fatalf("entries weigh %d, the shard counts %d", total, s.bytes)
	}
}

// step is one command of a scenario, at t0+at.
type step struct {
	at   time.Duration
	req  *pb.DataRequest
	want *pb.DataReply // an error reply is matched on its code only; nil: any success
}

// scenario is a table case: steps over a fresh shard.
type scenario struct {
	name  string
	steps []step
}

func runScenarios(t *testing.T, cases []scenario) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := NewMemory(0)
			s := NewShard(testPrefix, mem)
			j := mapJournal{}
			for i, st := range c.steps {
				got := s.Apply(t0.Add(st.at), st.req, j)
				checkReply(t, i, st.req, got, st.want)
				checkInvariants(t, s)
			}
			checkRestore(t, s, j)
			if mem.Used() != s.Bytes()+s.held {
				t.Fatalf("memory counts %d, the shard %d", mem.Used(), s.Bytes())
			}
		})
	}
}

func checkReply(t testing.TB, i int, req *pb.DataRequest, got, want *pb.DataReply) {
	t.Helper()
	if want == nil {
		if got.GetErrorCode() != "" {
			t.Fatalf("step %d (%v): %s", i, prototext.Format(req), got.GetErrorMessage())
		}
		return
	}
	if want.GetErrorCode() != "" {
		if got.GetErrorCode() != want.GetErrorCode() || got.GetErrorMessage() == "" {
			t.Fatalf("step %d (%v): got %v, want error %s with a message", i, prototext.Format(req), prototext.Format(got), want.GetErrorCode())
		}
		return
	}
	if !proto.Equal(got, want) {
		t.Fatalf("step %d (%v):\n got %v\nwant %v", i, prototext.Format(req), prototext.Format(got), prototext.Format(want))
	}
}

// checkRestore verifies that a shard restored from everything s journaled
// is indistinguishable from s.
func checkRestore(t testing.TB, s *Shard, j mapJournal) {
	t.Helper()
	for k := range j {
		if !strings.HasPrefix(k, string(testPrefix)) {
			t.Fatalf("record %q outside the shard's prefix", k)
		}
	}
	mem := NewMemory(0)
	r := restoreFrom(t, j, mem)
	checkInvariants(t, r)
	if got, want := dump(r), dump(s); got != want {
		t.Fatalf("restored shard differs\nrestored:\n%s\noriginal:\n%s", got, want)
	}
	if mem.Used() != r.Bytes() {
		t.Fatalf("restore charged %d, the shard counts %d", mem.Used(), r.Bytes())
	}
}

func js(s string) []byte { return []byte(s) }

func jsons(vs ...string) [][]byte {
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = []byte(v)
	}
	return out
}

func pairs(kv ...string) []*pb.Pair {
	out := make([]*pb.Pair, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, &pb.Pair{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return out
}

func errReply(code string) *pb.DataReply { return &pb.DataReply{ErrorCode: code} }

// Every command of a type's family refuses a key holding another type, names
// the key and its type, and changes nothing.
func TestWrongType(t *testing.T) {
	holders := map[string]*pb.DataRequest{
		"string": {Op: pb.DataOp_KV_SET, Key: "k", Value: js(`1`)},
		"hash":   {Op: pb.DataOp_HASH_SET, Key: "k", Pairs: pairs("f", `1`)},
		"list":   {Op: pb.DataOp_LIST_RPUSH, Key: "k", Values: jsons(`1`)},
		"set":    {Op: pb.DataOp_SET_ADD, Key: "k", Members: []string{"m"}},
		"zset":   {Op: pb.DataOp_ZSET_ADD, Key: "k", Scored: []*pb.ScoredMember{{Member: "m", Score: 1}}},
	}
	family := map[string][]*pb.DataRequest{
		"string": {
			{Op: pb.DataOp_KV_SET, Key: "k", Value: js(`2`)},
			{Op: pb.DataOp_KV_GET, Key: "k"},
			{Op: pb.DataOp_KV_INCR, Key: "k", Amount: 1},
			{Op: pb.DataOp_KV_MSET, Pairs: pairs("k", `2`)},
		},
		"hash": {
			{Op: pb.DataOp_HASH_SET, Key: "k", Pairs: pairs("f", `2`)},
			{Op: pb.DataOp_HASH_GET, Key: "k", Field: "f"},
			{Op: pb.DataOp_HASH_GETALL, Key: "k"},
			{Op: pb.DataOp_HASH_DEL, Key: "k", Fields: []string{"f"}},
			{Op: pb.DataOp_HASH_EXISTS, Key: "k", Field: "f"},
			{Op: pb.DataOp_HASH_LEN, Key: "k"},
			{Op: pb.DataOp_HASH_MGET, Key: "k", Fields: []string{"f"}},
			{Op: pb.DataOp_HASH_KEYS, Key: "k"},
			{Op: pb.DataOp_HASH_VALS, Key: "k"},
			{Op: pb.DataOp_HASH_INCRBY, Key: "k", Field: "f", Amount: 1},
		},
		"list": {
			{Op: pb.DataOp_LIST_LPUSH, Key: "k", Values: jsons(`2`)},
			{Op: pb.DataOp_LIST_RPUSH, Key: "k", Values: jsons(`2`)},
			{Op: pb.DataOp_LIST_LPOP, Key: "k"},
			{Op: pb.DataOp_LIST_RPOP, Key: "k"},
			{Op: pb.DataOp_LIST_RANGE, Key: "k", Stop: -1},
			{Op: pb.DataOp_LIST_LEN, Key: "k"},
			{Op: pb.DataOp_LIST_INDEX, Key: "k"},
			{Op: pb.DataOp_LIST_SET, Key: "k", Value: js(`2`)},
			{Op: pb.DataOp_LIST_TRIM, Key: "k", Stop: -1},
			{Op: pb.DataOp_LIST_REM, Key: "k", Value: js(`1`)},
		},
		"set": {
			{Op: pb.DataOp_SET_ADD, Key: "k", Members: []string{"n"}},
			{Op: pb.DataOp_SET_REM, Key: "k", Members: []string{"m"}},
			{Op: pb.DataOp_SET_MEMBERS, Key: "k"},
			{Op: pb.DataOp_SET_ISMEMBER, Key: "k", Member: "m"},
			{Op: pb.DataOp_SET_CARD, Key: "k"},
			{Op: pb.DataOp_SET_POP, Key: "k"},
			{Op: pb.DataOp_SET_RANDMEMBER, Key: "k"},
		},
		"zset": {
			{Op: pb.DataOp_ZSET_ADD, Key: "k", Scored: []*pb.ScoredMember{{Member: "n", Score: 2}}},
			{Op: pb.DataOp_ZSET_REM, Key: "k", Members: []string{"m"}},
			{Op: pb.DataOp_ZSET_SCORE, Key: "k", Member: "m"},
			{Op: pb.DataOp_ZSET_RANGE, Key: "k", Stop: -1},
			{Op: pb.DataOp_ZSET_REVRANGE, Key: "k", Stop: -1},
			{Op: pb.DataOp_ZSET_RANGEBYSCORE, Key: "k", Min: 0, Max: 9},
			{Op: pb.DataOp_ZSET_INCRBY, Key: "k", Member: "m", Score: 1},
			{Op: pb.DataOp_ZSET_CARD, Key: "k"},
			{Op: pb.DataOp_ZSET_RANK, Key: "k", Member: "m"},
			{Op: pb.DataOp_ZSET_REVRANK, Key: "k", Member: "m"},
			{Op: pb.DataOp_ZSET_COUNT, Key: "k", Min: 0, Max: 9},
		},
	}
	for holder, create := range holders {
		for fam, reqs := range family {
			if fam == holder {
				continue
			}
			for _, req := range reqs {
				t.Run(holder+"/"+req.GetOp().String(), func(t *testing.T) {
					s := NewShard(testPrefix, nil)
					j := mapJournal{}
					if r := s.Apply(t0, create, j); r.GetErrorCode() != "" {
						t.Fatal(r.GetErrorMessage())
					}
					before := dump(s)
					got := s.Apply(t0, req, j)
					if got.GetErrorCode() != pb.CodeWrongType {
						t.Fatalf("got %v, want WRONG_TYPE", prototext.Format(got))
					}
					if !strings.Contains(got.GetErrorMessage(), holder) || !strings.Contains(got.GetErrorMessage(), `"k"`) {
						t.Errorf("message %q does not name the key and its type %s", got.GetErrorMessage(), holder)
					}
					if after := dump(s); after != before {
						t.Fatalf("refused command changed the shard:\n%s\n%s", before, after)
					}
				})
			}
		}
	}
}

// Commands that work on a key of any type.
func TestGenericCommands(t *testing.T) {
	creators := map[string]*pb.DataRequest{
		"string": {Op: pb.DataOp_KV_SET, Key: "k", Value: js(`"v"`)},
		"hash":   {Op: pb.DataOp_HASH_SET, Key: "k", Pairs: pairs("f", `1`, "g", `2`)},
		"list":   {Op: pb.DataOp_LIST_RPUSH, Key: "k", Values: jsons(`1`, `2`)},
		"set":    {Op: pb.DataOp_SET_ADD, Key: "k", Members: []string{"a", "b"}},
		"zset":   {Op: pb.DataOp_ZSET_ADD, Key: "k", Scored: []*pb.ScoredMember{{Member: "a", Score: 1}, {Member: "b", Score: 2}}},
	}
	var cases []scenario
	for typ, create := range creators {
		cases = append(cases, scenario{name: typ, steps: []step{
			{req: create},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_TYPE, Key: "k"}, want: &pb.DataReply{Found: true, Type: typ}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_EXISTS, Key: "k"}, want: &pb.DataReply{Found: true, Integer: 1}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_TTL, Key: "k"}, want: &pb.DataReply{Found: true, TtlMs: -1}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_PERSIST, Key: "k"}, want: &pb.DataReply{Found: true}},
			{req: &pb.DataRequest{Op: pb.DataOp_KV_EXPIRE, Key: "k", TtlMs: 1000}, want: &pb.DataReply{Ok: true}},
			{at: 400 * time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_TTL, Key: "k"}, want: &pb.DataReply{Found: true, TtlMs: 600}},
			{at: 400 * time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_PERSIST, Key: "k"}, want: &pb.DataReply{Ok: true, Found: true}},
			{at: 5 * time.Second, req: &pb.DataRequest{Op: pb.DataOp_KV_TTL, Key: "k"}, want: &pb.DataReply{Found: true, TtlMs: -1}},
			{at: 5 * time.Second, req: &pb.DataRequest{Op: pb.DataOp_KV_EXPIRE, Key: "k", TtlMs: 10}, want: &pb.DataReply{Ok: true}},
			{at: 5*time.Second + 9*time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_COUNT}, want: &pb.DataReply{Integer: 1}},
			// Expired: invisible to every read before any sweep.
			{at: 5*time.Second + 10*time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_COUNT}, want: &pb.DataReply{}},
			{at: 5*time.Second + 10*time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_TYPE, Key: "k"}, want: &pb.DataReply{Type: "none"}},
			{at: 5*time.Second + 10*time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_TTL, Key: "k"}, want: &pb.DataReply{TtlMs: -2}},
			{at: 5*time.Second + 10*time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_EXISTS, Key: "k"}, want: &pb.DataReply{}},
			{at: 5*time.Second + 10*time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_USAGE, Key: "k"}, want: &pb.DataReply{}},
			{at: 5*time.Second + 10*time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_SCAN}, want: &pb.DataReply{}},
			{at: 5*time.Second + 10*time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_DEL, Key: "k"}, want: &pb.DataReply{Ok: true}},
			{at: 5*time.Second + 10*time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_EXISTS, Key: "k"}, want: &pb.DataReply{}},
			{at: 5*time.Second + 10*time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_EXPIRE, Key: "k", TtlMs: 10}, want: &pb.DataReply{}},
			{at: 5*time.Second + 10*time.Millisecond, req: &pb.DataRequest{Op: pb.DataOp_KV_PERSIST, Key: "k"}, want: &pb.DataReply{}},
			{at: 6 * time.Second, req: create},
			{at: 6 * time.Second, req: &pb.DataRequest{Op: pb.DataOp_KV_EXPIRE, Key: "k", TtlMs: 0}, want: &pb.DataReply{Ok: true}},
			{at: 6 * time.Second, req: &pb.DataRequest{Op: pb.DataOp_KV_EXISTS, Keys: []string{"k", "k"}}, want: &pb.DataReply{}},
			{at: 6 * time.Second, req: create},
			{at: 6 * time.Second, req: &pb.DataRequest{Op: pb.DataOp_KV_EXPIRE, Key: "k", TtlMs: -5}, want: &pb.DataReply{Ok: true}},
			{at: 6 * time.Second, req: create},
			{at: 6 * time.Second, req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "other", Value: js(`1`)}},
			{at: 6 * time.Second, req: &pb.DataRequest{Op: pb.DataOp_KV_EXISTS, Keys: []string{"k", "k", "other", "nope"}}, want: &pb.DataReply{Found: true, Integer: 3}},
			{at: 6 * time.Second, req: &pb.DataRequest{Op: pb.DataOp_KV_DEL, Keys: []string{"k", "k", "other", "nope"}}, want: &pb.DataReply{Ok: true, Integer: 2}},
			{at: 6 * time.Second, req: &pb.DataRequest{Op: pb.DataOp_KV_COUNT}, want: &pb.DataReply{}},
			{at: 6 * time.Second, req: &pb.DataRequest{Op: pb.DataOp_KV_DEL, Key: "k"}, want: &pb.DataReply{Ok: true}},
		}})
	}
	runScenarios(t, cases)
}

func TestExpiryLimits(t *testing.T) {
	runScenarios(t, []scenario{{name: "bad ttls", steps: []step{
		{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "k", Value: js(`1`), TtlMs: -1}, want: errReply(pb.CodeInvalid)},
		{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "k", Value: js(`1`), TtlMs: math.MaxInt64}, want: errReply(pb.CodeInvalid)},
		{req: &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "k", Value: js(`1`)}, want: &pb.DataReply{Ok: true}},
		{req: &pb.DataRequest{Op: pb.DataOp_KV_EXPIRE, Key: "k", TtlMs: math.MaxInt64}, want: errReply(pb.CodeInvalid)},
		{req: &pb.DataRequest{Op: pb.DataOp_KV_TTL, Key: "k"}, want: &pb.DataReply{Found: true, TtlMs: -1}},
	}}})
}

func TestSweep(t *testing.T) {
	mem := NewMemory(0)
	s := NewShard(testPrefix, mem)
	j := mapJournal{}
	for i := range 10 {
		s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: fmt.Sprint("s", i), Value: js(`1`), TtlMs: int64(100 * (i + 1))}, j)
		s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_HASH_SET, Key: fmt.Sprint("h", i), Pairs: pairs("a", `1`, "b", `2`)}, j)
		s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_KV_EXPIRE, Key: fmt.Sprint("h", i), TtlMs: int64(100 * (i + 1))}, j)
	}
	s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "forever", Value: js(`1`)}, j)
	checkInvariants(t, s)

	for _, c := range []struct {
		at   time.Duration
		live int64
	}{{0, 21}, {99 * time.Millisecond, 21}, {100 * time.Millisecond, 19}, {250 * time.Millisecond, 17}, {500 * time.Millisecond, 11}, {time.Hour, 1}} {
		if got := s.Apply(t0.Add(c.at), &pb.DataRequest{Op: pb.DataOp_KV_COUNT}, j).GetInteger(); got != c.live {
			t.Fatalf("at %v: %d live keys, want %d", c.at, got, c.live)
		}
	}
	if n := s.Sweep(t0.Add(99*time.Millisecond), j, 100); n != 0 {
		t.Fatalf("swept %d keys before any expired", n)
	}
	// At 500 ms, s0..s4 and h0..h4 are due; a budget of 3 takes three.
	at := t0.Add(500 * time.Millisecond)
	if n := s.Sweep(at, j, 3); n != 3 {
		t.Fatalf("swept %d, want 3", n)
	}
	if n := s.Sweep(at, j, 100); n != 7 {
		t.Fatalf("swept %d, want the 7 left due", n)
	}
	checkInvariants(t, s)
	if s.Len() != 11 {
		t.Fatalf("%d keys left, want 11", s.Len())
	}
	// Swept keys are gone from the store too: a restore agrees.
	checkRestore(t, s, j)
	for k := range j {
		r, _ := s.decodeKey([]byte(k))
		if e := s.keys[r.key]; e == nil {
			t.Fatalf("record %q of a swept key is still in the store", k)
		}
	}
	if n := s.Sweep(t0.Add(time.Hour), j, 100); n != 10 {
		t.Fatalf("swept %d, want 10", n)
	}
	if s.Len() != 1 || len(j) != 1 {
		t.Fatalf("%d keys and %d records left, want the one without expiry", s.Len(), len(j))
	}
	if got, want := mem.Used(), stringGrowth(nil, "forever", js(`1`)); got != want {
		t.Fatalf("memory holds %d bytes, want %d", got, want)
	}
}

// An expired key that was not swept yet must not come back after a
// restore, and must still be swept from the store afterwards.
func TestExpiredKeysStayExpiredAfterRestore(t *testing.T) {
	s := NewShard(testPrefix, nil)
	j := mapJournal{}
	s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_KV_SET, Key: "k", Value: js(`1`), TtlMs: 10}, j)
	s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_LIST_RPUSH, Key: "l", Values: jsons(`1`, `2`)}, j)
	s.Apply(t0, &pb.DataRequest{Op: pb.DataOp_KV_EXPIRE, Key: "l", TtlMs: 10}, j)

	r := restoreFrom(t, j, nil)
	later := t0.Add(time.Minute)
	for _, key := range []string{"k", "l"} {
		if got := r.Apply(later, &pb.DataRequest{Op: pb.DataOp_KV_EXISTS, Key: key}, j); got.GetInteger() != 0 {
			t.Fatalf("%s came back after a restore", key)
		}
	}
	if n := r.Sweep(later, j, 10); n != 2 {
		t.Fatalf("swept %d, want 2", n)
	}
	if len(j) != 0 || r.Bytes() != 0 {
		t.Fatalf("%d records and %d bytes left", len(j), r.Bytes())
	}
}

func TestUnknownOp(t *testing.T) {
	s := NewShard(testPrefix, nil)
	for _, req := range []*pb.DataRequest{nil, {}, {Op: 9999}} {
		if got := s.Apply(t0, req, mapJournal{}); got.GetErrorCode() != pb.CodeInvalid {
			t.Fatalf("%v: got %v, want INVALID_ARGUMENT", req, got)
		}
	}
}
