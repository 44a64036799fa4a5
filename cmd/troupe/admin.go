package main

import (
	"context"
	"strings"
	"time"

	"github.com/troupe-run/troupe/gateway/synap"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// admin answers the data door's admin commands from the running domains.
type admin struct {
	d        *domains
	shutdown func()
}

func (a *admin) Stats(ctx context.Context) (synap.Stats, error) {
	count, err := a.d.keyspace.Do(ctx, &messages.DataRequest{Op: messages.DataOp_KV_COUNT})
	if err != nil {
		return synap.Stats{}, err
	}
	mem := a.d.keyspace.Memory()
	queues, _ := a.d.queues.List(ctx)
	var messagesHeld int64
	for _, q := range queues {
		r, err := a.d.queues.Do(ctx, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_STATS, Queue: q})
		if err == nil && r.Stats != nil {
			messagesHeld += r.Stats.Depth + r.Stats.InFlight
		}
	}
	rooms, _ := a.d.rooms.List(ctx)
	topics, topicSubs := a.d.pubsub.Counts()
	return synap.Stats{
		Uptime:        time.Since(a.d.sys.Started),
		Role:          "master",
		MemoryUsed:    mem.Used(),
		MemoryLimit:   mem.Limit(),
		TotalKeys:     count.Integer,
		OpsPerSec:     a.d.keyspace.OpsPerSec(),
		Queues:        int64(len(queues)),
		QueueMessages: messagesHeld,
		Rooms:         int64(len(rooms)),
		RoomSubs:      a.d.rooms.Subscribers(),
		Topics:        topics,
		TopicSubs:     topicSubs,
	}, nil
}

func (a *admin) Health(ctx context.Context) synap.Health {
	components := map[string]string{
		"kv_store":     "operational",
		"queue_system": "operational",
		"event_stream": "operational",
		"pubsub":       "operational",
		"store":        "operational",
	}
	if _, err := a.d.keyspace.Do(ctx, &messages.DataRequest{Op: messages.DataOp_KV_COUNT}); err != nil {
		components["kv_store"] = "degraded: " + err.Error()
	}
	if _, err := a.d.pubsub.Do(ctx, &messages.PubSubRequest{Op: messages.PubSubOp_PUBSUB_STATS}); err != nil {
		components["pubsub"] = "degraded: " + err.Error()
	}
	if !a.d.sys.Store.Durable() {
		components["store"] = "memory-only"
	}
	if p := a.d.sys.Placement; p != nil {
		components["cluster"] = p.Status()
	}
	status := synap.Healthy
	for _, state := range components {
		if !strings.HasPrefix(state, "operational") && state != "memory-only" {
			status = "degraded"
		}
	}
	return synap.Health{Status: status, Role: "master", Uptime: time.Since(a.d.sys.Started), Components: components}
}

func (a *admin) Config() map[string]any {
	c := a.d.sys.Config
	return map[string]any{
		"version":         system.Version,
		"data_dir":        c.DataDir,
		"fsync":           c.Fsync,
		"fsync_interval":  c.FsyncInterval.String(),
		"data_addr":       c.DataAddr,
		"shards":          c.Shards,
		"max_body":        c.MaxBody,
		"max_memory":      c.MaxMemory,
		"max_batch":       c.MaxBatch,
		"max_message":     c.MaxMessage,
		"request_timeout": c.RequestTimeout.String(),
		"queue_max_depth": c.QueueMaxDepth,
		"room_max_events": c.RoomMaxEvents,
		"room_max_age":    c.RoomMaxAge.String(),
		"ws_buffer":       c.WSBuffer,
		"rate_limit":      c.RateLimit,
		"auth_enabled":    len(c.APIKeys) > 0,
		"insecure":        c.Insecure,
		"chaos":           c.Chaos,
	}
}

func (a *admin) Shutdown() { a.shutdown() }

func (a *admin) InjectFault(target, fault string) (int, error) {
	names, err := a.d.sys.InjectFault(target, fault)
	return len(names), err
}
