package synap

import (
	"context"
	"net/http"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
)

// Backends are what the data door serves: the actors behind it, and the
// parts of the system it reports to. Every one is required but Watch, Metrics
// and MetricsHandler.
type Backends struct {
	Keyspace Keyspace
	Queues   Queues
	Rooms    Rooms
	PubSub   PubSub
	Sessions Sessions
	Admin    Admin
	// Watch lets WebSocket sessions watch keys (/kv/ws, kv.watch); nil
	// answers those 503.
	Watch KeyWatcher
	// Metrics records every request (nothing when nil).
	Metrics Metrics
	// MetricsHandler serves GET /metrics (no such route when nil).
	MetricsHandler http.Handler
}

// Keyspace executes a data command on the shard or shards owning its keys.
// Multi-key ops (KV_DEL, KV_MGET, KV_MSET, KV_MSETNX, KV_SCAN, KV_EXISTS with
// keys, KV_COUNT) are fanned out by the implementation; the gateway makes one
// Do call per command.
//
// A failure of the command itself (wrong type, not an integer, memory limit
// ...) is a reply with ErrorCode set. A non-nil error means the command could
// not be executed at all (deadline passed, shard unavailable); the gateway
// answers 503 for it.
//
// The gateway reads these reply fields, per op (ops not listed read nothing
// but the error code):
//
//	KV_SET          ok (the write happened), previous (empty: none)
//	KV_GET          found, value, ttl_ms (-1: no expiry)
//	KV_DEL          integer (keys that existed)
//	KV_EXISTS       integer (how many of key and keys exist)
//	KV_INCR         integer (the new value)
//	KV_EXPIRE       ok (the key exists and now expires)
//	KV_PERSIST      ok (an expiry was removed)
//	KV_TTL          ttl_ms (-1: no expiry, -2: no key)
//	KV_SCAN         keys (sorted, after cursor), has_more
//	KV_USAGE        integer (approximate bytes; 0 for a missing key)
//	KV_TYPE         type
//	KV_MGET         values (in key order; empty: missing)
//	KV_MSETNX       ok (all keys were set)
//	KV_COUNT        integer
//	HASH_SET        integer (fields created)
//	HASH_GET        found, value
//	HASH_GETALL     pairs
//	HASH_DEL        integer (fields removed)
//	HASH_EXISTS     found
//	HASH_LEN        integer
//	HASH_MGET       values (in field order; empty: missing)
//	HASH_KEYS       keys
//	HASH_VALS       values
//	HASH_INCRBY     integer (the new value)
//	LIST_LPUSH/RPUSH integer (the new length)
//	LIST_LPOP/RPOP  values
//	LIST_RANGE      values
//	LIST_LEN        integer
//	LIST_INDEX      found, value
//	LIST_REM        integer (elements removed)
//	SET_ADD/REM     integer (members added, removed)
//	SET_MEMBERS     keys
//	SET_ISMEMBER    found
//	SET_CARD        integer
//	SET_POP/RANDMEMBER keys
//	ZSET_ADD        integer (members added); number (the new score) with incr
//	ZSET_REM        integer
//	ZSET_SCORE      found, number
//	ZSET_RANGE/REVRANGE/RANGEBYSCORE scored
//	ZSET_INCRBY     number (the new score)
//	ZSET_CARD       integer
//	ZSET_RANK/REVRANK found, integer
//	ZSET_COUNT      integer
type Keyspace interface {
	Do(ctx context.Context, req *messages.DataRequest) (*messages.DataReply, error)
}

// Queues executes queue commands on the actor of the named queue. As with
// Keyspace, a failure of the command is a reply with ErrorCode set, and a
// non-nil error means it could not be executed (503). The gateway reads
// these reply fields, per op:
//
//	QUEUE_CREATE      nothing (QUEUE_EXISTS when the queue exists)
//	QUEUE_DELETE      nothing (QUEUE_NOT_FOUND when it does not)
//	QUEUE_PUBLISH     message_id, position
//	QUEUE_CONSUME     message (absent: none came within timeout_ms)
//	QUEUE_NACK        action
//	QUEUE_PURGE       count (messages removed)
//	QUEUE_STATS       stats
//	QUEUE_DLQ_LIST    messages (from offset, at most limit), count (the DLQ's size)
//	QUEUE_DLQ_REQUEUE count (messages moved back)
//	QUEUE_DLQ_PURGE   count
//	QUEUE_SUBSCRIBE   nothing; then *messages.QueueDelivery to the subscriber
//
// Ops not listed read nothing but the error code. A consume may wait
// timeout_ms past the context's deadline: the implementation bounds the
// wait (and caps timeout_ms) itself.
type Queues interface {
	Do(ctx context.Context, req *messages.QueueRequest) (*messages.QueueReply, error)
	// List returns the names of the queues.
	List(ctx context.Context) ([]string, error)
}

// QueueSender is a Queues that can have several of a client's commands in
// flight: Send hands req to the queue's actor and returns the function that
// waits for its reply (as Do answers it). Requests sent one after another
// reach the actor in that order. A WebSocket session pipelines its
// consecutive publishes, acks and nacks to one queue through it, so that
// they share the store's commits and the connection's writes.
type QueueSender interface {
	Send(ctx context.Context, req *messages.QueueRequest) func() (*messages.QueueReply, error)
}

// Rooms executes event-stream commands on the actor of the named room. The
// gateway reads, per op:
//
//	ROOM_PUBLISH     event, subscribers_notified
//	ROOM_HISTORY     events, oldest_offset, newest_offset
//	ROOM_STATS       stats
//	ROOM_SUBSCRIBE   events (the replay), oldest_offset, newest_offset; then
//	                 *messages.RoomEvent to the subscriber, from the offset
//	                 after the last replayed one, without gap or duplicate
//
// and oldest_offset with OFFSET_OUT_OF_RANGE.
type Rooms interface {
	Do(ctx context.Context, req *messages.RoomRequest) (*messages.RoomReply, error)
	// List returns the names of the rooms.
	List(ctx context.Context) ([]string, error)
}

// PubSub executes pub/sub commands on the topic router. It validates topics
// and patterns: a bad one is INVALID_ARGUMENT, with the reason. The gateway
// reads, per op:
//
//	PUBSUB_PUBLISH     subscribers_notified
//	PUBSUB_SUBSCRIBE   topics (the subscriber's patterns), subscriptions (their
//	                   number); then *messages.PubSubMessage to the subscriber
//	PUBSUB_UNSUBSCRIBE subscriptions (patterns left)
//	PUBSUB_TOPICS      topics
//	PUBSUB_STATS       total_topics, total_subscribers, subscriptions, messages_published
type PubSub interface {
	Do(ctx context.Context, req *messages.PubSubRequest) (*messages.PubSubReply, error)
}

// Sessions starts the actor of one WebSocket connection under the gateway's
// supervisor; a crashed session actor is stopped (its connection closed),
// not restarted.
type Sessions interface {
	Spawn(name string, producer actor.Producer) (*actor.PID, error)
	// Stop stops a session actor, after the messages already sent to it.
	Stop(pid *actor.PID)
	// Send hands msg to pid, fire and forget: the connection's reader and
	// command runner use it to reach their session actor.
	Send(pid *actor.PID, msg any)
}

// Admin is the part of the system the admin commands and routes report on
// and act upon.
type Admin interface {
	// Stats gathers the figures of admin.stats.
	Stats(ctx context.Context) (Stats, error)
	// Health reports the state of each component.
	Health(ctx context.Context) Health
	// Config is the effective configuration, as admin.config shows it. It
	// must hold no secrets and must marshal with encoding/json.
	Config() map[string]any
	// Shutdown starts a graceful shutdown and returns at once: the shutdown
	// waits for in-flight requests, the admin.shutdown request among them.
	Shutdown()
	// InjectFault makes the actors matching target ("data/shard-3",
	// "data/*") fail with fault ("panic") while handling their next
	// message. It returns how many actors were armed.
	InjectFault(target, fault string) (int, error)
}

// Stats holds the figures of admin.stats.
type Stats struct {
	Uptime      time.Duration
	Role        string // "master"
	MemoryUsed  int64  // bytes
	MemoryLimit int64  // bytes; 0 means no limit

	TotalKeys int64
	OpsPerSec float64

	Queues        int64
	QueueMessages int64
	Rooms         int64
	RoomSubs      int64
	Topics        int64
	TopicSubs     int64
}

// Health is the state of the server and its components.
type Health struct {
	Status     string // "healthy" when every component is operational
	Role       string
	Uptime     time.Duration
	Components map[string]string // e.g. "kv_store": "operational"
}

// Healthy is Health.Status of a server whose components all work.
const Healthy = "healthy"

// Metrics records what the door does.
type Metrics interface {
	// ObserveRequest records one request: the front door, the command (or
	// route) it ran, the HTTP status it got (over a WebSocket, the status
	// it would have got) and how long it took.
	ObserveRequest(door, command string, status int, d time.Duration)
	// SubscriberDropped counts a WebSocket client disconnected because it
	// could not keep up with its pushes.
	SubscriberDropped(door string)
}

type noMetrics struct{}

func (noMetrics) ObserveRequest(string, string, int, time.Duration) {}
func (noMetrics) SubscriberDropped(string)                          {}
