package room

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/systemtest"
)

func start(t *testing.T, args ...string) (*system.System, *Service) {
	t.Helper()
	sys := systemtest.Boot(t, args...)
	svc, err := Start(sys, Options{Retention: Config{MaxEvents: 1000}, MaxRooms: 10, MaxSubscribers: 10})
	if err != nil {
		t.Fatal(err)
	}
	return sys, svc
}

func roomDo(t *testing.T, svc *Service, req *messages.RoomRequest) *messages.RoomReply {
	t.Helper()
	r, err := svc.Do(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// recorder is a subscriber session: it keeps the live events pushed to it,
// in arrival order.
type recorder struct {
	mu      sync.Mutex
	offsets []int64
}

func (r *recorder) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *messages.RoomEvent:
		r.mu.Lock()
		r.offsets = append(r.offsets, m.Offset)
		r.mu.Unlock()
	}
}

// A subscriber joining from an offset while a publisher runs sees every
// offset from there exactly once, in order.
func TestSubscribeWhilePublishingHasNoGapNoDuplicate(t *testing.T) {
	sys, svc := start(t)
	for i := 0; i < 50; i++ {
		roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_PUBLISH, Room: "chat", EventType: "m", Data: []byte(fmt.Sprint(i))})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 50; i < 300; i++ {
			roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_PUBLISH, Room: "chat", EventType: "m", Data: []byte(fmt.Sprint(i))})
		}
	}()
	rec := &recorder{}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return rec }))
	// Subscribing blocks the session until the replay arrives, so live
	// events queue behind it in its mailbox.
	room, _ := sys.Registry.Get("rooms/chat")
	res, err := sys.Root.RequestFuture(room, &messages.RoomRequest{Op: messages.RoomOp_ROOM_SUBSCRIBE, Room: "chat",
		Subscriber: pid, FromOffset: 20}, 5*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	replay := res.(*messages.RoomReply).Events
	<-done
	want := int64(20)
	for _, e := range replay {
		if e.Offset != want {
			t.Fatalf("replay: offset %d, want %d", e.Offset, want)
		}
		want++
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		rec.mu.Lock()
		n := len(rec.offsets)
		rec.mu.Unlock()
		if int64(n)+int64(len(replay)) >= 280 || time.Now().After(deadline) {
			break
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, off := range rec.offsets {
		if off != want {
			t.Fatalf("live: offset %d, want %d (replay ended at %d)", off, want, 20+len(replay)-1)
		}
		want++
	}
	if want != 300 {
		t.Fatalf("saw offsets 20..%d, want 20..299", want-1)
	}
}

func TestHistoryBelowRetentionNamesOldest(t *testing.T) {
	sys := systemtest.Boot(t)
	svc, err := Start(sys, Options{Retention: Config{MaxEvents: 5}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_PUBLISH, Room: "r", EventType: "e", Data: []byte(`1`)})
	}
	r := roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_HISTORY, Room: "r", FromOffset: 2, Limit: 10})
	if r.ErrorCode != messages.CodeOffsetTrimmed || r.OldestOffset != 7 {
		t.Fatalf("history below the oldest kept offset: %+v", r)
	}
	r = roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_HISTORY, Room: "r", FromOffset: 7, Limit: 3})
	if len(r.Events) != 3 || r.Events[0].Offset != 7 || r.NewestOffset != 11 {
		t.Fatalf("history: %+v", r)
	}
}

func TestRoomsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	sys, svc := start(t, "--data-dir="+dir, "--fsync=always")
	for i := 0; i < 5; i++ {
		roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_PUBLISH, Room: "keep", EventType: "e", Data: []byte(fmt.Sprint(i))})
	}
	sys.Close()
	_, svc = start(t, "--data-dir="+dir)
	if names, _ := svc.List(context.Background()); len(names) != 1 || names[0] != "keep" {
		t.Fatalf("rooms after restart: %v", names)
	}
	r := roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_PUBLISH, Room: "keep", EventType: "e", Data: []byte(`5`)})
	if r.Event.Offset != 5 {
		t.Fatalf("offset after restart: %d, want 5 (contiguous, never reused)", r.Event.Offset)
	}
	h := roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_HISTORY, Room: "keep", FromOffset: 0})
	if len(h.Events) != 6 || string(h.Events[3].Data) != "3" {
		t.Fatalf("history after restart: %+v", h.Events)
	}
	if r := roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_STATS, Room: "nope"}); r.ErrorCode != messages.CodeNotFound {
		t.Fatalf("stats of an unknown room: %+v", r)
	}
}

// TestCreateDeleteGeneration: a room created, deleted and created again
// starts from offset 0 with a new generation, and all of it survives a
// restart; its own max_events bounds its retention.
func TestCreateDeleteGeneration(t *testing.T) {
	dir := t.TempDir()
	sys, svc := start(t, "--data-dir="+dir, "--fsync=always")
	create := func(exclusive bool, maxEvents int64) *messages.RoomReply {
		return roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_CREATE, Room: "g", Limit: maxEvents, Replay: exclusive})
	}
	stats := func() *messages.RoomStats {
		return roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_STATS, Room: "g"}).Stats
	}
	if r := create(false, 2); !r.Ok {
		t.Fatalf("get_or_create of a new room: %+v", r)
	}
	if r := create(false, 0); r.Ok || r.ErrorCode != "" {
		t.Fatalf("get_or_create of an existing room: %+v", r)
	}
	if r := create(true, 0); r.ErrorCode == "" {
		t.Fatalf("create of an existing room: %+v", r)
	}
	first := stats()
	if first.CreatedAtMs == 0 || first.Generation == 0 {
		t.Fatalf("stats of a created room: %+v", first)
	}
	for i := range 3 {
		roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_PUBLISH, Room: "g", EventType: "e", Data: []byte(fmt.Sprint(i))})
	}
	if st := stats(); st.EventCount != 2 || st.OldestOffset != 1 {
		t.Fatalf("max_events 2 kept %d events from %d", st.EventCount, st.OldestOffset)
	}
	if r := roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_DELETE, Room: "g"}); !r.Ok {
		t.Fatalf("delete: %+v", r)
	}
	if r := roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_STATS, Room: "g"}); r.ErrorCode != messages.CodeNotFound {
		t.Fatalf("stats of a deleted room: %+v", r)
	}
	if r := roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_DELETE, Room: "g"}); r.Ok {
		t.Fatalf("delete of a deleted room: %+v", r)
	}
	r := roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_PUBLISH, Room: "g", EventType: "e", Data: []byte(`"again"`)})
	if r.Event.Offset != 0 {
		t.Fatalf("first offset of the room created again: %d", r.Event.Offset)
	}
	second := stats()
	if second.Generation <= first.Generation {
		t.Fatalf("generation %d after %d", second.Generation, first.Generation)
	}
	sys.Close()
	_, svc = start(t, "--data-dir="+dir)
	after := roomDo(t, svc, &messages.RoomRequest{Op: messages.RoomOp_ROOM_STATS, Room: "g"}).Stats
	if after.Generation != second.Generation || after.CreatedAtMs != second.CreatedAtMs || after.EventCount != 1 {
		t.Fatalf("after a restart %+v, want %+v", after, second)
	}
}
