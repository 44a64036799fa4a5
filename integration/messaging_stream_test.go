package integration

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// TestMessagingStreamSubscribeDuringPublish: subscribers that join a room
// with from_offset while a publisher is publishing see every offset from
// theirs on exactly once, in order: the replay and the live events meet
// with no gap and no duplicate.
func TestMessagingStreamSubscribeDuringPublish(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const n = 400
	var published atomic.Int64
	done := make(chan error, 1)
	go func() {
		for i := range n {
			status, r, err := tryCommand(http.DefaultClient, s.data, "stream.publish", map[string]any{"room": "live", "event_type": "tick", "data": map[string]int{"i": i}})
			if err != nil || status != http.StatusOK || !strings.Contains(string(r.Payload), fmt.Sprintf(`"offset":%d,`, i)) {
				done <- fmt.Errorf("publish %d: %d %s %+v %v", i, status, r.Payload, r.Error, err)
				return
			}
			published.Add(1)
		}
		done <- nil
	}()
	type joiner struct {
		after, from int64 // join once after events are published, from offset from
		c           *wsClient
	}
	joiners := []*joiner{{after: 30, from: 0}, {after: 120, from: 100}, {after: 200, from: 200}, {after: 250, from: 140}}
	for _, j := range joiners {
		msgEventually(t, fmt.Sprintf("%d events published", j.after), func() bool { return published.Load() >= j.after })
		j.c = s.dialWS("", nil)
		var sub struct {
			Success  bool   `json:"success"`
			Room     string `json:"room"`
			Replayed int64  `json:"replayed"`
		}
		j.c.ok("stream.subscribe", map[string]any{"room": "live", "from_offset": j.from}, &sub)
		if !sub.Success || sub.Room != "live" || sub.Replayed < j.after-j.from {
			t.Fatalf("subscribe from %d after %d events: %+v", j.from, j.after, sub)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, j := range joiners {
		want := j.from
		for want < n {
			f := j.c.next()
			if f.Type != "event" || f.Room != "live" || f.EventType != "tick" || f.Offset != want ||
				string(f.Data) != fmt.Sprintf(`{"i":%d}`, want) {
				t.Fatalf("subscriber from offset %d (joined after %d events): got %s event at offset %d (data %s), want offset %d",
					j.from, j.after, f.Type, f.Offset, f.Data, want)
			}
			want++
		}
	}

	// After stream.unsubscribe no event comes. Events of one publisher
	// reach a session in order, so the event of another room, published
	// after, marks the end.
	c := joiners[0].c
	c.ok("stream.subscribe", map[string]any{"room": "marker"}, nil)
	c.ok("stream.unsubscribe", map[string]any{"room": "live"}, nil)
	s.ok("stream.publish", map[string]any{"room": "live", "event_type": "tick", "data": "late"}, nil)
	s.ok("stream.publish", map[string]any{"room": "marker", "event_type": "end", "data": 1}, nil)
	if f := c.next(); f.Room != "marker" {
		t.Fatalf("after stream.unsubscribe got %+v", f)
	}
}

// TestMessagingStreamRetention: with --room-max-events=10 a room keeps its
// last 10 events; a read below the oldest is an error naming the oldest
// offset, over HTTP and over the WebSocket; the events survive a restart.
func TestMessagingStreamRetention(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--room-max-events=10")
	for i := range 25 {
		var pub struct {
			EventID             string `json:"event_id"`
			Offset              int64  `json:"offset"`
			SubscribersNotified int64  `json:"subscribers_notified"`
		}
		s.ok("stream.publish", map[string]any{"room": "ret", "event_type": "e", "data": i}, &pub)
		if pub.Offset != int64(i) || pub.EventID == "" || pub.SubscribersNotified != 0 {
			t.Fatalf("publish %d: %+v", i, pub)
		}
	}
	msg := s.fails("stream.history", map[string]any{"room": "ret", "from_offset": 0}, http.StatusBadRequest, "OFFSET_OUT_OF_RANGE")
	if !strings.Contains(msg, "15") {
		t.Fatalf("the error does not name the oldest offset 15: %q", msg)
	}
	_, r := s.command("stream.history", map[string]any{"room": "ret", "from_offset": 14})
	if r.Error == nil || fmt.Sprint(r.Error.Details["oldest_offset"]) != "15" {
		t.Fatalf("history below the oldest: %+v, want details.oldest_offset 15", r.Error)
	}

	type history struct {
		Events []struct {
			Offset int64  `json:"offset"`
			Data   int    `json:"data"`
			Type   string `json:"event_type"`
		} `json:"events"`
		Oldest int64 `json:"oldest_offset"`
		Newest int64 `json:"newest_offset"`
		Next   int64 `json:"next_offset"`
	}
	check := func(from, limit int64, first, count int, next int64) {
		t.Helper()
		var h history
		s.ok("stream.history", map[string]any{"room": "ret", "from_offset": from, "limit": limit}, &h)
		if len(h.Events) != count || h.Oldest != 15 || h.Newest != 24 || h.Next != next {
			t.Fatalf("history from %d limit %d: %+v", from, limit, h)
		}
		for i, e := range h.Events {
			if e.Offset != int64(first+i) || e.Data != first+i || e.Type != "e" {
				t.Fatalf("history from %d: event %d is %+v", from, i, e)
			}
		}
	}
	check(15, 100, 15, 10, 25)
	check(20, 2, 20, 2, 22)

	// Over the WebSocket: from an offset trimmed, the same error; with
	// replay and no offset, from the oldest kept.
	c := s.dialWS("", nil)
	f := c.call("stream.subscribe", map[string]any{"room": "ret", "from_offset": 3})
	if f.Status != "error" || f.Error == nil || f.Error.Code != "OFFSET_OUT_OF_RANGE" ||
		fmt.Sprint(f.Error.Details["oldest_offset"]) != "15" || !strings.Contains(f.Error.Message, "15") {
		t.Fatalf("subscribe from a trimmed offset: %+v %+v", f, f.Error)
	}
	var sub struct {
		Replayed int   `json:"replayed"`
		Oldest   int64 `json:"oldest_offset"`
		Newest   int64 `json:"newest_offset"`
	}
	c.ok("stream.subscribe", map[string]any{"room": "ret", "replay": true}, &sub)
	if sub.Replayed != 10 || sub.Oldest != 15 || sub.Newest != 24 {
		t.Fatalf("subscribe with replay: %+v", sub)
	}
	for want := int64(15); want < 25; want++ {
		if f := c.next(); f.Offset != want {
			t.Fatalf("replay: offset %d, want %d", f.Offset, want)
		}
	}
	var pub struct {
		Offset              int64 `json:"offset"`
		SubscribersNotified int64 `json:"subscribers_notified"`
	}
	s.ok("stream.publish", map[string]any{"room": "ret", "event_type": "e", "data": 25}, &pub)
	if f := c.next(); f.Offset != 25 || pub.SubscribersNotified != 1 {
		t.Fatalf("live event %+v after a publish that notified %d", f, pub.SubscribersNotified)
	}
	var st struct {
		MessageCount   int64 `json:"message_count"`
		MinOffset      int64 `json:"min_offset"`
		MaxOffset      int64 `json:"max_offset"`
		Subscribers    int64 `json:"subscriber_count"`
		TotalPublished int64 `json:"total_published"`
	}
	s.ok("stream.stats", map[string]any{"room": "ret"}, &st)
	if st.MessageCount != 10 || st.MinOffset != 16 || st.MaxOffset != 25 || st.Subscribers != 1 || st.TotalPublished != 26 {
		t.Fatalf("stream.stats: %+v", st)
	}
	var rooms struct {
		Rooms []string `json:"rooms"`
	}
	s.ok("stream.rooms", map[string]any{}, &rooms)
	if !slices.Equal(rooms.Rooms, []string{"ret"}) {
		t.Fatalf("stream.rooms: %v", rooms.Rooms)
	}

	// The events are in the store.
	if err := s.stop(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	s.restart()
	var h history
	s.ok("stream.history", map[string]any{"room": "ret", "from_offset": 16}, &h)
	if len(h.Events) != 10 || h.Events[0].Offset != 16 || h.Events[9].Data != 25 || h.Oldest != 16 || h.Newest != 25 {
		t.Fatalf("history after a restart: %+v", h)
	}
	s.fails("stream.history", map[string]any{"room": "ret", "from_offset": 15}, http.StatusBadRequest, "OFFSET_OUT_OF_RANGE")
	s.ok("stream.publish", map[string]any{"room": "ret", "event_type": "e", "data": 26}, &pub)
	if pub.Offset != 26 {
		t.Fatalf("offset after a restart: %d, want 26", pub.Offset)
	}
}
