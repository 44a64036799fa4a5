package synap

import (
	"testing"

	"github.com/troupe-run/troupe/messages"
)

type rr = messages.RoomRequest

func TestStreamCommands(t *testing.T) {
	ev := func(offset int64) *messages.RoomEvent {
		return &messages.RoomEvent{Room: "chat", EventId: "evt_" + string(rune('0'+offset)), Offset: offset,
			EventType: "message", Data: []byte(`{"text":"hi"}`), TimestampMs: 1697410920500}
	}
	const ev30 = `{"event_id":"evt_0","offset":0,"event_type":"message","event":"message","data":{"text":"hi"},"timestamp":1697410920}`
	const ev31 = `{"event_id":"evt_1","offset":1,"event_type":"message","event":"message","data":{"text":"hi"},"timestamp":1697410920}`
	runMsgCases(t, []msgCase{
		{name: "publish", command: "stream.publish",
			payload: `{"room":"chat","event_type":"message","data":{"user": "alice"}}`,
			want:    &rr{Op: messages.RoomOp_ROOM_PUBLISH, Room: "chat", EventType: "message", Data: []byte(`{"user":"alice"}`)},
			reply:   &messages.RoomReply{Event: &messages.RoomEvent{EventId: "evt_42", Offset: 42}, SubscribersNotified: 5},
			out:     `{"event_id":"evt_42","offset":42,"subscribers_notified":5,"room":"chat"}`},
		{name: "publish as the SDKs name it", command: "stream.publish", payload: `{"room":"chat","event":"join","data":null}`,
			want: &rr{Op: messages.RoomOp_ROOM_PUBLISH, Room: "chat", EventType: "join", Data: []byte(`null`)},
			out:  `{"event_id":"","offset":0,"subscribers_notified":0,"room":"chat"}`},
		{name: "history", command: "stream.history", payload: `{"room":"chat","from_offset":0,"limit":2}`,
			want:  &rr{Op: messages.RoomOp_ROOM_HISTORY, Room: "chat", FromOffset: 0, Limit: 2},
			reply: &messages.RoomReply{Events: []*messages.RoomEvent{ev(0), ev(1)}, OldestOffset: 0, NewestOffset: 42},
			out:   `{"events":[` + ev30 + `,` + ev31 + `],"oldest_offset":0,"newest_offset":42,"next_offset":2}`},
		{name: "history of nothing, with defaults", command: "stream.history", payload: `{"room":"chat"}`,
			want:  &rr{Op: messages.RoomOp_ROOM_HISTORY, Room: "chat", Limit: 100},
			reply: &messages.RoomReply{OldestOffset: 0, NewestOffset: -1},
			out:   `{"events":[],"oldest_offset":0,"newest_offset":-1,"next_offset":0}`},
		{name: "consume, as the SDKs read history", command: "stream.consume", payload: `{"room":"chat","subscriber_id":"s","from_offset":7}`,
			want: &rr{Op: messages.RoomOp_ROOM_HISTORY, Room: "chat", FromOffset: 7, Limit: 100},
			out:  `{"events":[],"oldest_offset":0,"newest_offset":0,"next_offset":7}`},
		{name: "stats", command: "stream.stats", payload: `{"room":"chat"}`,
			want: &rr{Op: messages.RoomOp_ROOM_STATS, Room: "chat"},
			reply: &messages.RoomReply{Stats: &messages.RoomStats{Room: "chat", EventCount: 3, OldestOffset: 40, NewestOffset: 42,
				Subscribers: 2, PublishedTotal: 43, FirstTimestampMs: 1000, LastTimestampMs: 2000, CreatedAtMs: 900, Generation: 901}},
			out: `{"room":"chat","name":"chat","message_count":3,"min_offset":40,"max_offset":42,"subscriber_count":2,` +
				`"total_published":43,"first_timestamp_ms":1000,"last_timestamp_ms":2000,"created_at":900,"generation":901}`},
		{name: "create", command: "stream.create", payload: `{"room":"chat","max_events":5}`,
			want:  &rr{Op: messages.RoomOp_ROOM_CREATE, Room: "chat", Limit: 5, Replay: true},
			reply: &messages.RoomReply{Ok: true},
			out:   `{"success":true,"room":"chat"}`},
		{name: "get or create", command: "stream.get_or_create", payload: `{"room":"chat"}`,
			want: &rr{Op: messages.RoomOp_ROOM_CREATE, Room: "chat"},
			out:  `{"success":true,"room":"chat","created":false}`},
		{name: "delete", command: "stream.delete", payload: `{"room":"chat"}`,
			want:  &rr{Op: messages.RoomOp_ROOM_DELETE, Room: "chat"},
			reply: &messages.RoomReply{Ok: true},
			out:   `{"room":"chat","deleted":true}`},

		{name: "REST publish", method: "POST", path: "/stream/chat/publish", body: `{"event":"message","data":{"a":1}}`,
			want:  &rr{Op: messages.RoomOp_ROOM_PUBLISH, Room: "chat", EventType: "message", Data: []byte(`{"a":1}`)},
			reply: &messages.RoomReply{Event: &messages.RoomEvent{EventId: "evt_1", Offset: 1}},
			out:   `{"event_id":"evt_1","offset":1,"subscribers_notified":0,"room":"chat"}`},
		{name: "REST history", method: "GET", path: "/stream/chat/history?from_offset=5&limit=3",
			want: &rr{Op: messages.RoomOp_ROOM_HISTORY, Room: "chat", FromOffset: 5, Limit: 3},
			out:  `{"events":[],"oldest_offset":0,"newest_offset":0,"next_offset":5}`},
		{name: "REST consume", method: "GET", path: "/stream/chat/consume/sub-1?from_offset=2",
			want: &rr{Op: messages.RoomOp_ROOM_HISTORY, Room: "chat", FromOffset: 2, Limit: 100},
			out:  `{"events":[],"oldest_offset":0,"newest_offset":0,"next_offset":2}`},
		{name: "REST stats", method: "GET", path: "/stream/chat/stats",
			want: &rr{Op: messages.RoomOp_ROOM_STATS, Room: "chat"},
			out: `{"room":"chat","name":"chat","message_count":0,"min_offset":0,"max_offset":0,"subscriber_count":0,` +
				`"total_published":0,"first_timestamp_ms":0,"last_timestamp_ms":0,"created_at":0,"generation":0}`},
	})
}

func TestStreamRooms(t *testing.T) {
	ts := newTestServer(t, insecure())
	ts.rooms.names = []string{"b", "a"}
	const want = `{"rooms":["a","b"],"count":2}`
	if got := serve(ts, "GET", "/stream/list", "").Body.String(); got != want {
		t.Errorf("GET /stream/list = %s, want %s", got, want)
	}
	for _, cmd := range []string{"stream.rooms", "stream.list"} {
		if got := string(decodeReply(t, postCommand(ts, `{"command":"`+cmd+`"}`)).Payload); got != want {
			t.Errorf("%s = %s, want %s", cmd, got, want)
		}
	}
}

func TestStreamInvalid(t *testing.T) {
	runInvalidCases(t, []invalidCase{
		{"no room", "stream.publish", `{"event_type":"m","data":1}`, "room is required"},
		{"no event type", "stream.publish", `{"room":"r","data":1}`, "event_type is required"},
		{"no data", "stream.publish", `{"room":"r","event_type":"m"}`, "data is required"},
		{"negative from_offset", "stream.history", `{"room":"r","from_offset":-1}`, "from_offset must not be negative"},
		{"from_offset not a number", "stream.history", `{"room":"r","from_offset":"x"}`, "from_offset must be an integer"},
		{"zero limit", "stream.history", `{"room":"r","limit":0}`, "limit must be at least 1"},
		{"limit too big", "stream.history", `{"room":"r","limit":10001}`, "limit must be at most 10000"},
		{"stats without room", "stream.stats", `{}`, "room is required"},
	})
}
