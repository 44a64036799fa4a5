package synap

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
)

// FuzzCommandDecode feeds arbitrary bodies to the command endpoint: the
// server must never panic, and must always answer a JSON envelope with a 2xx
// or 4xx status (the backend here always succeeds, so nothing else is due).
func FuzzCommandDecode(f *testing.F) {
	for _, seed := range []string{
		getA,
		`{"command":"kv.set","request_id":"r","payload":{"key":"a","value":{"x":[1,2.5e10,"s"]},"ttl":60,"nx":true}}`,
		`{"command":"kv.mset","payload":{"pairs":[["a",1],{"key":"b","value":null}]}}`,
		`{"command":"kv.msetnx","payload":{"pairs":{"a":1,"b":2}}}`,
		`{"command":"hash.mset","payload":{"key":"h","fields":[{"field":"f","value":1}]}}`,
		`{"command":"sortedset.zadd","payload":{"key":"z","members":["a"],"scores":[1]}}`,
		`{"command":"sortedset.zrangebyscore","payload":{"key":"z","min":"-inf","max":"(5"}}`,
		`{"command":"list.lpop","payload":{"key":"l","count":-3}}`,
		`{"command":"kv.scan","payload":{"cursor":"\u0000","count":1e3}}`,
		`{"type":"batch","request_id":"b","commands":[{"command":"kv.get","payload":{"key":"a"}},{"command":"x"}]}`,
		`{"command":"admin.stats"}`,
		`{"command":"kv.get","payload":[]}`,
		`[1,2,3]`, `null`, `"kv.get"`, `{`, ``, "\xff\xfe",
	} {
		f.Add(seed)
	}
	admin := &fakeAdmin{config: map[string]any{"a": 1}}
	s := New(insecure(), Backends{Keyspace: okKeyspace{}, Admin: admin}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("POST", commandPath, strings.NewReader(body)))
		if rec.Code >= 500 || rec.Code < 200 || rec.Code >= 300 && rec.Code < 400 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		var r reply
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("invalid JSON reply for %q: %v\n%s", body, err, rec.Body)
		}
		switch {
		case r.Type != "response" && r.Type != "batch_response":
			t.Fatalf("reply type %q for %q", r.Type, body)
		case r.RequestID == nil:
			t.Fatalf("no request_id for %q: %s", body, rec.Body)
		case r.Type == "response" && r.Status != "success" && r.Status != "error":
			t.Fatalf("reply status %q for %q", r.Status, body)
		case r.Status == "error" && (r.Error == nil || r.Error.Code == "" || r.Error.Message == ""):
			t.Fatalf("error without code or message for %q: %s", body, rec.Body)
		}
	})
}

// okKeyspace answers every request with an empty success, and keeps nothing.
type okKeyspace struct{}

func (okKeyspace) Do(context.Context, *messages.DataRequest) (*messages.DataReply, error) {
	return &messages.DataReply{}, nil
}

// FuzzWSFrame feeds arbitrary frames to a WebSocket session's decoder and
// command runner: nothing may panic, every frame gets one reply, a JSON
// envelope with a request_id, and the replay a subscription brings is made
// of JSON event frames.
func FuzzWSFrame(f *testing.F) {
	for _, seed := range []string{
		`{"request_id":"ws-001","command":"stream.subscribe","payload":{"room":"chat","from_offset":null,"replay":true}}`,
		`{"command":"stream.subscribe","payload":{"room":"chat","from_offset":-3}}`,
		`{"command":"pubsub.subscribe","payload":{"topics":["notifications.email.*","events.user.#"]}}`,
		`{"command":"pubsub.unsubscribe","payload":{"topics":"x"}}`,
		`{"command":"queue.subscribe","payload":{"queue":"q","ack_deadline":1e99}}`,
		`{"command":"queue.consume","payload":{"queue":"q","timeout":9223372036854775807}}`,
		`{"command":"queue.publish","payload":{"queue":"q","message":{"a":[1]},"priority":9,"headers":{"h":"v"}}}`,
		`{"command":"queue.create","payload":{"name":"q","config":{"max_depth":1,"dead_letter":true}}}`,
		`{"type":"batch","request_id":"b","commands":[{"command":"stream.subscribe","payload":{"room":"r"}},{"command":"stream.unsubscribe","payload":{"room":"r"}}]}`,
		`{"command":"pubsub.publish","payload":{"topic":"a.b","data":null,"metadata":{}}}`,
		`{"command":"stream.history","payload":{"room":"r","limit":"7"}}`,
		`{"command":`, ``, `[]`, "\x00",
	} {
		f.Add(seed)
	}
	s := New(insecure(), Backends{Keyspace: okKeyspace{}, Queues: okQueues{}, Rooms: okRooms{}, PubSub: okPubSub{},
		Admin: &fakeAdmin{}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	self := actor.NewPID("nonhost", "fuzz")
	f.Fuzz(func(t *testing.T, frame string) {
		r := &wsRunner{s: s, self: self, ctx: context.Background(), rooms: map[string]bool{}, queues: map[string]bool{}}
		out := r.execute(s.decodeFrame([]byte(frame), "ip:127.0.0.1"), r, nil)
		var rep reply
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("invalid JSON reply for %q: %v\n%s", frame, err, out.Bytes())
		}
		if rep.RequestID == nil || rep.Type != "response" && rep.Type != "batch_response" {
			t.Fatalf("bad reply for %q: %s", frame, out.Bytes())
		}
		for _, w := range r.replay {
			var ev struct{ Type string }
			if err := json.Unmarshal(w.Bytes(), &ev); err != nil || ev.Type != "event" {
				t.Fatalf("bad replay frame for %q: %s", frame, w.Bytes())
			}
		}
	})
}

// okQueues, okRooms and okPubSub answer every request with a success and
// keep nothing; a room subscription replays two events.
type okQueues struct{}

func (okQueues) Do(context.Context, *messages.QueueRequest) (*messages.QueueReply, error) {
	return &messages.QueueReply{Message: &messages.QueueMessage{MessageId: "m", Message: []byte(`{}`)}}, nil
}
func (okQueues) List(context.Context) ([]string, error) { return []string{"q"}, nil }

type okRooms struct{}

func (okRooms) Do(_ context.Context, req *messages.RoomRequest) (*messages.RoomReply, error) {
	ev := &messages.RoomEvent{Room: req.Room, Offset: 1, EventType: "t\u2028", Data: []byte(`"\u0000"`)}
	return &messages.RoomReply{Event: ev, Events: []*messages.RoomEvent{ev, ev}}, nil
}
func (okRooms) List(context.Context) ([]string, error) { return nil, nil }

type okPubSub struct{}

func (okPubSub) Do(_ context.Context, req *messages.PubSubRequest) (*messages.PubSubReply, error) {
	return &messages.PubSubReply{Topics: req.Patterns}, nil
}
