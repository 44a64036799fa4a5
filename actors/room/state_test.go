package room

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

// mapJournal is the store as the state machine sees it.
type mapJournal map[string][]byte

func (j mapJournal) Set(key, value []byte) { j[string(key)] = value }
func (j mapJournal) Delete(key []byte)     { delete(j, string(key)) }

// restore builds a State from j the way the actor does after a restart.
func (j mapJournal) restore(t *testing.T, prefix []byte, cfg Config) *State {
	t.Helper()
	s := New(prefix, cfg, mapJournal{})
	keys := make([]string, 0, len(j))
	for k := range j {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := s.Restore([]byte(k), j[k]); err != nil {
			t.Fatalf("Restore(%q): %v", k, err)
		}
	}
	return s
}

func offsets(events []Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Offset
	}
	return out
}

func TestPublishAssignsContiguousOffsets(t *testing.T) {
	s := New([]byte("r/"), Config{}, mapJournal{})
	if s.Oldest() != 0 || s.Newest() != -1 {
		t.Fatalf("empty room: Oldest, Newest = %d, %d, want 0, -1", s.Oldest(), s.Newest())
	}
	for i := range int64(3) {
		now := t0.Add(time.Duration(i) * time.Second)
		e := s.Publish(now, "message", fmt.Appendf(nil, `{"n":%d}`, i))
		want := Event{ID: fmt.Sprintf("evt_%016x", i), Offset: i, EventType: "message", Timestamp: now}
		if e.ID != want.ID || e.Offset != want.Offset || e.EventType != want.EventType || !e.Timestamp.Equal(now) {
			t.Errorf("Publish #%d = %+v, want %+v", i, e, want)
		}
	}
	events, err := s.Since(0)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(events[2].Data); got != `{"n":2}` {
		t.Errorf("event 2 data = %s", got)
	}
}

func TestHistory(t *testing.T) {
	// Ten events published, offsets 0..9; count retention keeps 4..9.
	s := New([]byte("r/"), Config{MaxEvents: 6}, mapJournal{})
	for i := range 10 {
		s.Publish(t0.Add(time.Duration(i)*time.Second), "e", nil)
	}
	tests := []struct {
		from    int64
		limit   int
		want    []int64
		tooLow  bool
		comment string
	}{
		{from: 4, limit: 10, want: []int64{4, 5, 6, 7, 8, 9}, comment: "from the oldest"},
		{from: 6, limit: 2, want: []int64{6, 7}, comment: "limit"},
		{from: 8, limit: 0, want: []int64{8, 9}, comment: "no limit"},
		{from: 9, limit: 5, want: []int64{9}, comment: "the newest"},
		{from: 10, limit: 5, want: nil, comment: "the next offset"},
		{from: 100, limit: 5, want: nil, comment: "far beyond"},
		{from: 3, limit: 5, tooLow: true, comment: "just below the oldest"},
		{from: 0, limit: 5, tooLow: true, comment: "trimmed long ago"},
		{from: -1, limit: 5, tooLow: true, comment: "negative"},
	}
	for _, tt := range tests {
		events, err := s.History(tt.from, tt.limit)
		if tt.tooLow {
			var oe *OffsetError
			if !errors.As(err, &oe) || oe.Requested != tt.from || oe.Oldest != 4 {
				t.Errorf("%s: History(%d) error = %v, want OffsetError{%d, 4}", tt.comment, tt.from, err, tt.from)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: History(%d, %d): %v", tt.comment, tt.from, tt.limit, err)
		}
		if got := offsets(events); !slices.Equal(got, tt.want) {
			t.Errorf("%s: History(%d, %d) = %v, want %v", tt.comment, tt.from, tt.limit, got, tt.want)
		}
	}
}

func TestRetention(t *testing.T) {
	type step struct {
		at      int  // seconds after t0
		publish bool // else Trim
		trimmed int  // what Trim returns
		kept    []int64
	}
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"count", Config{MaxEvents: 2}, []step{
			{at: 0, publish: true, kept: []int64{0}},
			{at: 1, publish: true, kept: []int64{0, 1}},
			{at: 2, publish: true, kept: []int64{1, 2}},
			{at: 3, publish: true, kept: []int64{2, 3}},
			{at: 100, trimmed: 0, kept: []int64{2, 3}},
		}},
		{"age", Config{MaxAge: 10 * time.Second}, []step{
			{at: 0, publish: true, kept: []int64{0}},
			{at: 5, publish: true, kept: []int64{0, 1}},
			{at: 9, trimmed: 0, kept: []int64{0, 1}},
			{at: 10, trimmed: 1, kept: []int64{1}}, // exactly MaxAge old
			{at: 12, publish: true, kept: []int64{1, 2}},
			{at: 16, publish: true, kept: []int64{2, 3}}, // publish trims too
			{at: 30, trimmed: 2, kept: nil},
			{at: 31, publish: true, kept: []int64{4}}, // offsets go on
		}},
		{"both", Config{MaxEvents: 3, MaxAge: 10 * time.Second}, []step{
			{at: 0, publish: true, kept: []int64{0}},
			{at: 1, publish: true, kept: []int64{0, 1}},
			{at: 2, publish: true, kept: []int64{0, 1, 2}},
			{at: 3, publish: true, kept: []int64{1, 2, 3}},
			{at: 11, publish: true, kept: []int64{2, 3, 4}},
			{at: 13, trimmed: 2, kept: []int64{4}},
		}},
		{"unbounded", Config{}, []step{
			{at: 0, publish: true, kept: []int64{0}},
			{at: 1e7, publish: true, kept: []int64{0, 1}},
			{at: 2e7, trimmed: 0, kept: []int64{0, 1}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := mapJournal{}
			s := New([]byte("r/"), tt.cfg, j)
			for i, st := range tt.steps {
				now := t0.Add(time.Duration(st.at) * time.Second)
				if st.publish {
					s.Publish(now, "e", nil)
				} else if got := s.Trim(now); got != st.trimmed {
					t.Fatalf("step %d: Trim = %d, want %d", i, got, st.trimmed)
				}
				events, err := s.Since(s.Oldest())
				if err != nil {
					t.Fatal(err)
				}
				if got := offsets(events); !slices.Equal(got, st.kept) {
					t.Fatalf("step %d: kept %v, want %v", i, got, st.kept)
				}
				// The journal holds exactly the kept events.
				r := j.restore(t, []byte("r/"), tt.cfg)
				if got := r.Stats(); !statsEqual(got, s.Stats()) {
					t.Fatalf("step %d: restored %+v, want %+v", i, got, s.Stats())
				}
			}
		})
	}
}

func TestNextExpiry(t *testing.T) {
	s := New([]byte("r/"), Config{MaxAge: time.Minute}, mapJournal{})
	if _, ok := s.NextExpiry(); ok {
		t.Error("empty room has an expiry")
	}
	s.Publish(t0, "e", nil)
	s.Publish(t0.Add(10*time.Second), "e", nil)
	if at, ok := s.NextExpiry(); !ok || !at.Equal(t0.Add(time.Minute)) {
		t.Errorf("NextExpiry = %v, %v, want %v", at, ok, t0.Add(time.Minute))
	}
	s.Trim(t0.Add(time.Minute))
	if at, ok := s.NextExpiry(); !ok || !at.Equal(t0.Add(70*time.Second)) {
		t.Errorf("after trim NextExpiry = %v, %v, want %v", at, ok, t0.Add(70*time.Second))
	}

	unbounded := New([]byte("r/"), Config{MaxEvents: 5}, mapJournal{})
	unbounded.Publish(t0, "e", nil)
	if _, ok := unbounded.NextExpiry(); ok {
		t.Error("room without age retention has an expiry")
	}
}

// TestSinceIsStable checks that a snapshot handed to a subscriber is not
// changed by the publishes and trims that follow, and that snapshot plus
// later events cover every offset once.
func TestSinceIsStable(t *testing.T) {
	s := New([]byte("r/"), Config{MaxEvents: 4}, mapJournal{})
	for range 6 {
		s.Publish(t0, "before", nil)
	}
	snapshot, err := s.Since(3)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(snapshot)
	var live []Event
	for range 50 {
		live = append(live, s.Publish(t0, "after", nil))
	}
	if !slices.EqualFunc(snapshot, want, func(a, b Event) bool { return a.Offset == b.Offset && a.EventType == b.EventType }) {
		t.Fatalf("snapshot changed: %v, want %v", offsets(snapshot), offsets(want))
	}
	seen := offsets(append(slices.Clone(snapshot), live...))
	for i, off := range seen {
		if off != int64(3+i) {
			t.Fatalf("snapshot then live: offsets %v, want 3, 4, 5, ... with no gap or duplicate", seen)
		}
	}
	// Appending to a returned slice must not write into the room.
	_ = append(snapshot[:1], Event{Offset: -7})
	if evs, _ := s.Since(s.Oldest()); evs[0].Offset != s.Oldest() {
		t.Fatalf("append to a snapshot changed the room")
	}
}

func TestStats(t *testing.T) {
	s := New([]byte("r/"), Config{MaxEvents: 2}, mapJournal{})
	if got, want := s.Stats(), (Stats{OldestOffset: 0, NewestOffset: -1}); !statsEqual(got, want) {
		t.Errorf("empty Stats = %+v, want %+v", got, want)
	}
	for i := range 3 {
		s.Publish(t0.Add(time.Duration(i)*time.Second), "e", nil)
	}
	want := Stats{Events: 2, OldestOffset: 1, NewestOffset: 2, FirstTimestamp: t0.Add(time.Second), LastTimestamp: t0.Add(2 * time.Second), Published: 3}
	if got := s.Stats(); !statsEqual(got, want) {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func statsEqual(a, b Stats) bool {
	return a.FirstTimestamp.Equal(b.FirstTimestamp) && a.LastTimestamp.Equal(b.LastTimestamp) &&
		a.Events == b.Events && a.OldestOffset == b.OldestOffset && a.NewestOffset == b.NewestOffset &&
		a.Published == b.Published
}
