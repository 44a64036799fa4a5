package integration

import (
	"slices"
	"testing"
)

// TestClusterListsSpanMembers: queue.list and stream.rooms through any
// node list the queues and rooms created, and not those deleted, through
// every node (each member's own set only holds what it saw; in a cluster a
// listing reads the names from the journal the members share).
func TestClusterListsSpanMembers(t *testing.T) {
	c := startCluster(t, 2)
	c.nodes[0].ok("queue.create", map[string]any{"queue": "made-on-1"}, nil)
	c.nodes[1].ok("queue.create", map[string]any{"queue": "made-on-2"}, nil)
	c.nodes[0].ok("stream.create", map[string]any{"room": "room-on-1"}, nil)
	c.nodes[1].ok("stream.create", map[string]any{"room": "room-on-2"}, nil)
	lists := func(s *server) (queues, rooms []string) {
		var q struct {
			Queues []string `json:"queues"`
		}
		s.ok("queue.list", map[string]any{}, &q)
		var r struct {
			Rooms []string `json:"rooms"`
		}
		s.ok("stream.rooms", map[string]any{}, &r)
		return q.Queues, r.Rooms
	}
	for i, s := range c.nodes {
		queues, rooms := lists(s)
		if !slices.Equal(queues, []string{"made-on-1", "made-on-2"}) {
			t.Fatalf("queue.list through node %d: %v", i+1, queues)
		}
		if !slices.Equal(rooms, []string{"room-on-1", "room-on-2"}) {
			t.Fatalf("stream.rooms through node %d: %v", i+1, rooms)
		}
	}
	c.nodes[1].ok("queue.delete", map[string]any{"queue": "made-on-1"}, nil)
	c.nodes[1].ok("stream.delete", map[string]any{"room": "room-on-1"}, nil)
	for i, s := range c.nodes {
		queues, rooms := lists(s)
		if !slices.Equal(queues, []string{"made-on-2"}) {
			t.Fatalf("queue.list through node %d after a delete through node 2: %v", i+1, queues)
		}
		if !slices.Equal(rooms, []string{"room-on-2"}) {
			t.Fatalf("stream.rooms through node %d after a delete through node 2: %v", i+1, rooms)
		}
	}
}
