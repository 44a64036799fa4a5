package room

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestRestoreEquivalence applies random publishes and trims to a room, then
// restores a second room from the journal and checks that both answer alike,
// now and after further publishes.
func TestRestoreEquivalence(t *testing.T) {
	configs := []Config{
		{MaxEvents: 5, MaxAge: 20 * time.Second},
		{MaxEvents: 3},
		{MaxAge: 4 * time.Second},
		{},
	}
	prefix := []byte("rooms/chat\x00")
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 1))
		cfg := configs[seed%uint64(len(configs))]
		j := mapJournal{}
		a := New(prefix, cfg, j)
		now := t0
		for range r.IntN(40) {
			now = now.Add(time.Duration(r.IntN(3000)) * time.Millisecond)
			if r.IntN(4) == 0 {
				a.Trim(now)
			} else {
				a.Publish(now, fmt.Sprintf("type%d", r.IntN(3)), fmt.Appendf(nil, `{"v":%d}`, r.Int()))
			}
		}
		b := j.restore(t, prefix, cfg)
		sameRoom(t, seed, a, b)

		// Both go on identically: offsets are never reused.
		now = now.Add(time.Second)
		ea := a.Publish(now, "after", []byte("{}"))
		eb := b.Publish(now, "after", []byte("{}"))
		if ea.ID != eb.ID || ea.Offset != eb.Offset {
			t.Fatalf("seed %d: next publish %s@%d, restored %s@%d", seed, ea.ID, ea.Offset, eb.ID, eb.Offset)
		}
		sameRoom(t, seed, a, b)
	}
}

func sameRoom(t *testing.T, seed uint64, a, b *State) {
	t.Helper()
	if !statsEqual(a.Stats(), b.Stats()) {
		t.Fatalf("seed %d: restored stats %+v, want %+v", seed, b.Stats(), a.Stats())
	}
	ea, errA := a.Since(a.Oldest())
	eb, errB := b.Since(b.Oldest())
	if errA != nil || errB != nil {
		t.Fatalf("seed %d: Since: %v, %v", seed, errA, errB)
	}
	for i := range ea {
		x, y := ea[i], eb[i]
		if x.ID != y.ID || x.Offset != y.Offset || x.EventType != y.EventType ||
			!bytes.Equal(x.Data, y.Data) || !x.Timestamp.Equal(y.Timestamp) {
			t.Fatalf("seed %d: restored event %+v, want %+v", seed, y, x)
		}
	}
	ta, oka := a.NextExpiry()
	tb, okb := b.NextExpiry()
	if oka != okb || !ta.Equal(tb) {
		t.Fatalf("seed %d: restored NextExpiry %v %v, want %v %v", seed, tb, okb, ta, oka)
	}
}

// TestJournalHoldsOnlyWhatIsKept checks that trimmed events leave the store.
func TestJournalHoldsOnlyWhatIsKept(t *testing.T) {
	j := mapJournal{}
	s := New([]byte("p/"), Config{MaxEvents: 3, MaxAge: time.Minute}, j)
	for i := range 10 {
		s.Publish(t0.Add(time.Duration(i)*time.Second), "e", nil)
	}
	if len(j) != 3 {
		t.Errorf("journal holds %d keys after 10 publishes with MaxEvents 3, want 3", len(j))
	}
	s.Trim(t0.Add(time.Hour))
	if len(j) != 1 {
		t.Errorf("journal holds %d keys after trimming everything, want only the next offset", len(j))
	}
}

func TestRestoreRejectsBadInput(t *testing.T) {
	prefix := []byte("p/")
	good := mapJournal{}
	src := New(prefix, Config{}, good)
	src.Publish(t0, "e", []byte("{}"))
	src.Publish(t0, "e", []byte("{}"))
	key0, key1 := src.eventKey(0), src.eventKey(1)
	val := good[string(key0)]

	tests := []struct {
		name  string
		keys  [][]byte
		value []byte
		why   string
	}{
		{"other prefix", [][]byte{[]byte("q/e12345678")}, val, "not under prefix"},
		{"bare prefix", [][]byte{prefix}, val, "not under prefix"},
		{"unknown tag", [][]byte{[]byte("p/x")}, val, "unknown key"},
		{"short event key", [][]byte{[]byte("p/e123")}, val, "unknown key"},
		{"future version", [][]byte{key0}, append([]byte{9}, val[1:]...), "version"},
		{"empty value", [][]byte{key0}, nil, "version"},
		{"truncated", [][]byte{key0}, []byte{version, 0x80}, "corrupt"},
		{"type longer than value", [][]byte{key0}, []byte{version, 0, 50, 'a'}, "corrupt"},
		{"gap", [][]byte{key0, src.eventKey(2)}, val, "gap"},
		{"bad next", [][]byte{src.nextKey()}, []byte{version}, "corrupt"},
	}
	for _, tt := range tests {
		s := New(prefix, Config{}, mapJournal{})
		var err error
		for _, k := range tt.keys {
			if err = s.Restore(k, tt.value); err != nil {
				break
			}
		}
		if err == nil || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("%s: Restore error = %v, want one about %q", tt.name, err, tt.why)
		}
	}

	// And the good journal restores.
	s := New(prefix, Config{}, mapJournal{})
	for _, k := range [][]byte{key0, key1} {
		if err := s.Restore(k, good[string(k)]); err != nil {
			t.Fatalf("Restore(%q): %v", k, err)
		}
	}
	if s.Newest() != 1 {
		t.Errorf("restored Newest = %d, want 1", s.Newest())
	}
}
