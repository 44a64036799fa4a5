package system

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/troupe-run/troupe/system/defaults"
)

// Config is everything an operator can set. Each field is a flag --foo-bar,
// the environment variable TROUPE_FOO_BAR, and the key foo-bar of the YAML
// file given by --config; a flag wins over the environment, the environment
// over the file.
type Config struct {
	ConfigFile string

	DataDir        string
	Fsync          string
	FsyncInterval  time.Duration
	Journal        string        // postgres://...: the journal in PostgreSQL; empty: Pebble under DataDir
	JournalTimeout time.Duration // each round trip to the PostgreSQL journal

	// Cluster mode (system/cluster): on when ClusterName is set.
	ClusterName  string
	ClusterEtcd  []string // etcd endpoints, host:port
	ClusterBind  string   // host:port of the actor traffic between nodes
	ClusterLease time.Duration

	SSPAddr            string
	DataAddr           string
	HubAddr            string
	RESPAddr           string
	SynapRPCAddr       string
	RESPScanCursors    int
	RESPEventLoops     int
	SkipControlAddr    string
	SkipStreamingAddr  string
	SkipServices       []string
	SkipCallBudget     time.Duration
	SkipInstanceTTL    time.Duration
	SkipBuildTimeout   time.Duration
	SkipValueCache     int
	SkipMaxInstances   int
	SkipMaxStreams     int
	SkipHeartbeat      time.Duration
	SkipSSEBuffer      int
	SkipSSEBufferBytes int64
	SkipWriteTimeout   time.Duration
	// SkipResourcePrefix is what POST /v1/streams puts before a stream's
	// uuid (SKIP_RESOURCE_PREFIX).
	SkipResourcePrefix string

	// AdminAddr is the operator's dashboard door (GET /dashboard).
	AdminAddr       string
	AdminHistory    time.Duration
	AdminSSEBuffer  int
	AdminSSEClients int

	APIKeys  []string
	Chaos    bool
	Insecure bool

	LogFormat string
	LogLevel  string

	// GCPercent and MemoryLimit tune Go's garbage collector (see
	// cmd/troupe/memory.go); GOGC and GOMEMLIMIT, when set, win.
	GCPercent   int
	MemoryLimit int64

	Shards         int
	MaxBody        int64
	MaxMemory      int64
	MaxBatch       int
	RequestTimeout time.Duration
	DrainTimeout   time.Duration
	// CallerRunsBatch bounds the messages a goroutine that finds a
	// CallerRuns actor idle handles for it (see CallerRuns).
	CallerRunsBatch int

	// The front doors' HTTP servers: the time a client has to send a
	// request's headers, and all of it (a route that streams or waits
	// lifts it for its request), and how long a kept-alive connection may
	// idle between requests.
	HTTPReadHeaderTimeout time.Duration
	HTTPReadTimeout       time.Duration
	HTTPIdleTimeout       time.Duration
	SweepInterval         time.Duration

	QueueMaxDepth    int
	QueueAckDeadline time.Duration
	QueueMaxRetries  int
	MaxQueues        int
	MaxConsumeWait   time.Duration
	RoomMaxEvents    int
	RoomMaxAge       time.Duration
	MaxRooms         int
	MaxMessage       int64
	MaxSubscriptions int
	WSBuffer         int
	WSPingInterval   time.Duration
	MaxSessions      int
	RateLimit        float64
	RateBurst        int
	RateClients      int
	MaxTxns          int
	// DataReplies is the data door's reply encoding: "spec" or "original"
	// (the original server's shapes, for its SDKs).
	DataReplies    string
	WSBufferBytes  int64
	WSWriteTimeout time.Duration

	MaxViews           int
	TTLCleanupInterval time.Duration

	SSPSchedulerURL      string
	SSPID                string
	SSPAdvertiseAddr     string
	SSPHeartbeatInterval time.Duration
	SSPBootstrapPageSize int
	SSPRegisterTimeout   time.Duration
	// SSPAuthSecret is the views door's bearer secret (SPKY_AUTH_SECRET).
	SSPAuthSecret string
	// The views service's database, which the original SSP reads from its
	// environment; Troupe only reports them to the scheduler.
	SSPDBURL, SSPDBNS, SSPDBName, SSPDBUser string

	SSPJobConfig string
	// SSPJobs is the job tables in SPKY_JOB_CONFIG's JSON.
	SSPJobs           string
	SSPJobConcurrency int
	SSPJobMaxPending  int

	HubMaxPackage     int64
	HubMaxUnpacked    int64
	HubMaxFiles       int
	HubMaxFile        int64
	HubMaxInstances   int
	HubMaxSequences   int
	HubRetention      time.Duration
	HubMaxEnded       int
	HubStreamBuffer   int64
	HubEventBuffer    int
	HubEventNames     int
	HubUnhealthyAfter time.Duration
	HubKillAfter      time.Duration
	HubKillGrace      time.Duration
	HubWarmRunners    int
	HubTopicBuffer    int64
	HubMaxTopics      int
	HubConsumerIDs    int
	HubLogBuffer      int
	HubScramjet       string
	HubTopicRetention int64
	HubTopicMaxAge    time.Duration
	Node              string
	Python            string

	RestartMax        int
	RestartWindow     time.Duration
	RestartBackoff    time.Duration
	RestartBackoffMax time.Duration
}

// specEnv are the original systems' own variables, honoured when neither the
// flag nor its TROUPE_ variable is set, with the unit their value is in.
var specEnv = map[string]struct{ name, unit string }{
	"ssp-addr":             {"SPKY_SSP_LISTEN_ADDR", ""},
	"ttl-cleanup-interval": {"TTL_CLEANUP_INTERVAL_SECS", "s"},

	"ssp-scheduler-url":       {"SPKY_SCHEDULER_URL", ""},
	"ssp-id":                  {"SPKY_SSP_ID", ""},
	"ssp-advertise-addr":      {"SPKY_SSP_ADVERTISE_ADDR", ""},
	"ssp-heartbeat-interval":  {"HEARTBEAT_INTERVAL_MS", "ms"},
	"ssp-bootstrap-page-size": {"SPKY_SSP_BOOTSTRAP_PAGE_SIZE", ""},
	"ssp-auth-secret":         {"SPKY_AUTH_SECRET", ""},
	"ssp-db-url":              {"SPKY_DB_URL", ""},
	"ssp-db-ns":               {"SPKY_DB_NS", ""},
	"ssp-db-name":             {"SPKY_DB_NAME", ""},
	"ssp-db-user":             {"SPKY_DB_USER", ""},
	"ssp-jobs":                {"SPKY_JOB_CONFIG", ""},
	"skip-resource-prefix":    {"SKIP_RESOURCE_PREFIX", ""},
}

// FlagSet declares every flag, with its default, on a new flag set bound to c.
func (c *Config) FlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&c.ConfigFile, "config", "", "optional YAML file of flag names to values")

	fs.StringVar(&c.DataDir, "data-dir", "troupe-data", "directory of the durable store; empty keeps everything in memory")
	fs.StringVar(&c.Fsync, "fsync", "batch", "when writes are fsynced: always (before each reply), batch (group commit every --fsync-interval), none")
	fs.DurationVar(&c.FsyncInterval, "fsync-interval", 10*time.Millisecond, "time between fsyncs under --fsync=batch: the most a crash can lose")
	fs.StringVar(&c.Journal, "journal", "", "postgres://user@host/db keeps the actors' journal in PostgreSQL (acknowledged once its transaction commits; --fsync does not apply); empty: in Pebble under --data-dir")
	fs.DurationVar(&c.JournalTimeout, "journal-timeout", time.Minute, "bound on each round trip to a PostgreSQL journal (a read, an actor's recovery scan, a group's write); past it the read or commit fails and the actor restarts")

	fs.StringVar(&c.ClusterName, "cluster-name", "", "cluster mode: the name of the cluster this node joins (its KV shards, queues and rooms are placed over the members); needs --journal postgres://, --cluster-etcd and --cluster-bind; empty: one node")
	fs.Func("cluster-etcd", "host:port[,host:port...] of the etcd that holds the cluster's membership", func(v string) error {
		c.ClusterEtcd = nil
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				c.ClusterEtcd = append(c.ClusterEtcd, e)
			}
		}
		return nil
	})
	fs.StringVar(&c.ClusterBind, "cluster-bind", "", "host:port this node listens on for actor traffic from the other members (protoactor remote); the host is the address the others reach it at")
	fs.DurationVar(&c.ClusterLease, "cluster-lease", 3*time.Second, "TTL of this node's membership lease in etcd: a node that stops renewing it (dead, or cut off) leaves the cluster this long after")

	fs.StringVar(&c.SSPAddr, "ssp-addr", ":8667", "views front door address (also SPKY_SSP_LISTEN_ADDR); off disables it")
	fs.StringVar(&c.DataAddr, "data-addr", ":15500", "data front door address; off disables it")
	fs.StringVar(&c.HubAddr, "hub-addr", ":8000", "hub front door address; off disables it")
	fs.StringVar(&c.RESPAddr, "resp-addr", ":6379", "Redis-protocol front door address (RESP2/RESP3, the data door's keyspace and pub/sub); off disables it")
	fs.StringVar(&c.SynapRPCAddr, "synap-rpc-addr", ":15501", "SynapRPC front door address (the original Synap's binary protocol, synap:// URLs of its SDKs, on the data door's commands; needs --data-addr); off disables it")
	fs.IntVar(&c.RESPScanCursors, "resp-scan-cursors", 65536, "SCAN cursors the Redis-protocol door remembers (for every connection); an older cursor is refused")
	fs.IntVar(&c.RESPEventLoops, "resp-event-loops", 1, "event loops serving the Redis-protocol door's connections (simple commands answered without a goroutine per connection); 0: a goroutine per connection")
	fs.StringVar(&c.SkipControlAddr, "skip-control-addr", "", "reactive control front door address (default: the control_port of the service's runService call; with one --skip-service this wins); off disables it")
	fs.StringVar(&c.SkipStreamingAddr, "skip-streaming-addr", "", "reactive streaming front door address (default: the streaming_port of the service's runService call; with one --skip-service this wins); off disables it")
	fs.Func("skip-service", "a Skip service module (.ts, .js, .mjs) to run; repeatable (the environment and the config file give a comma-separated list)", func(v string) error {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				c.SkipServices = append(c.SkipServices, f)
			}
		}
		return nil
	})
	fs.DurationVar(&c.SkipCallBudget, "skip-call-budget", 5*time.Second, "longest one call of a Skip service's code may run before it is interrupted (its write is refused)")
	fs.DurationVar(&c.SkipInstanceTTL, "skip-instance-ttl", 30*time.Second, "how long a Skip resource instance outlives its last subscriber")
	fs.DurationVar(&c.SkipBuildTimeout, "skip-build-timeout", 2*time.Minute, "longest a Skip resource instance may take to be built over all its data (the first snapshot or stream of a resource over a large collection waits for it, past --request-timeout)")
	fs.IntVar(&c.SkipValueCache, "skip-value-cache", 10_000, "parsed values a Skip runtime keeps for the getArray/getUnique reads of its mappers")
	fs.IntVar(&c.SkipMaxInstances, "skip-max-instances", 1000, "Skip resource instances (distinct resource and params) per service")
	fs.IntVar(&c.SkipMaxStreams, "skip-max-streams", 10_000, "Skip streams per service")
	fs.DurationVar(&c.SkipHeartbeat, "skip-heartbeat", defaults.SkipHeartbeat, "how often an idle Skip stream gets an empty update that keeps proxies open (0: never)")
	fs.IntVar(&c.SkipSSEBuffer, "skip-sse-buffer", defaults.SkipSSEBuffer, "events buffered per Skip stream client before it is disconnected as too slow")
	c.SkipSSEBufferBytes = defaults.SkipSSEBufferBytes
	fs.Var((*byteSize)(&c.SkipSSEBufferBytes), "skip-sse-buffer-bytes", "bytes of events buffered per Skip stream client before it is disconnected as too slow")
	fs.DurationVar(&c.SkipWriteTimeout, "skip-write-timeout", defaults.SkipWriteTimeout, "deadline of each write to a Skip stream client")
	fs.StringVar(&c.SkipResourcePrefix, "skip-resource-prefix", "", "what POST /v1/streams puts before a stream's uuid, for a proxy that routes streams by it (also SKIP_RESOURCE_PREFIX)")

	fs.StringVar(&c.AdminAddr, "admin-addr", "127.0.0.1:7070", "operator's dashboard address (GET /dashboard, /admin/api/tree, /admin/api/events); off disables it")
	fs.DurationVar(&c.AdminHistory, "admin-history", 10*time.Minute, "how far back the dashboard's charts reach (one sample a second is kept for this long)")
	fs.IntVar(&c.AdminSSEBuffer, "admin-sse-buffer", 16, "dashboard updates queued per event-stream client before it is sent a resync frame instead")
	fs.IntVar(&c.AdminSSEClients, "admin-sse-clients", 64, "dashboard event-stream clients at once")
	fs.Func("api-keys", "comma-separated API keys accepted by the data and hub doors (none: loopback clients only, unless --insecure)", func(s string) error {
		c.APIKeys = nil
		for _, k := range strings.Split(s, ",") {
			if k = strings.TrimSpace(k); k != "" {
				c.APIKeys = append(c.APIKeys, k)
			}
		}
		return nil
	})
	fs.BoolVar(&c.Chaos, "chaos", false, "enable fault injection through POST /admin/chaos (for chaos tests)")
	fs.BoolVar(&c.Insecure, "insecure", false, "let doors without a secret or key answer non-loopback clients")

	fs.StringVar(&c.LogFormat, "log-format", "auto", "log format: text (tint), json, or auto (text on a terminal)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.IntVar(&c.GCPercent, "gc-percent", 400, "heap growth between garbage collections, in percent of the live heap (Go's GOGC, which wins when set; -1: only at --memory-limit)")
	fs.Var((*byteSize)(&c.MemoryLimit), "memory-limit", "soft limit of the Go heap, past which the collector runs as often as it must (Go's GOMEMLIMIT, which wins when set; 0: three quarters of the machine's or the cgroup's memory)")

	fs.IntVar(&c.Shards, "shards", 16, "number of KV shard actors the keyspace is hashed over (fixed for a data dir)")
	c.MaxBody = defaults.MaxBody
	fs.Var((*byteSize)(&c.MaxBody), "max-body", "largest request body accepted (e.g. 512KiB, 16MiB)")
	fs.Var((*byteSize)(&c.MaxMemory), "max-memory", "bytes of data the server may hold; writes past it get 507 (0: no limit)")
	fs.IntVar(&c.MaxBatch, "max-batch", defaults.MaxBatch, "most commands in one batch request")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", defaults.RequestTimeout, "deadline of a request inside the server")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 10*time.Second, "how long shutdown waits for in-flight requests")
	fs.IntVar(&c.CallerRunsBatch, "caller-runs-batch", 16, "messages a request's goroutine handles for an idle views engine or queue before it hands the rest to the actor's own goroutine")
	fs.DurationVar(&c.HTTPReadHeaderTimeout, "http-read-header-timeout", 10*time.Second, "time a client has to send a request's headers")
	fs.DurationVar(&c.HTTPReadTimeout, "http-read-timeout", defaults.HTTPReadTimeout, "time a client has to send a whole request, body included (routes that stream or wait lift it for their request)")
	fs.DurationVar(&c.HTTPIdleTimeout, "http-idle-timeout", 2*time.Minute, "how long a kept-alive HTTP connection may wait for its next request")
	fs.DurationVar(&c.SweepInterval, "sweep-interval", time.Second, "how often expired keys are swept")

	fs.IntVar(&c.QueueMaxDepth, "queue-max-depth", 100_000, "messages a queue holds (ready and in flight) unless its config says otherwise")
	fs.DurationVar(&c.QueueAckDeadline, "queue-ack-deadline", 30*time.Second, "default time a consumed message may stay unacknowledged")
	fs.IntVar(&c.QueueMaxRetries, "queue-max-retries", 3, "default failed deliveries before a message goes to the dead-letter queue")
	fs.IntVar(&c.MaxQueues, "max-queues", 10_000, "queues that may exist")
	fs.DurationVar(&c.MaxConsumeWait, "max-consume-wait", time.Minute, "longest wait of a queue.consume with a timeout")
	fs.IntVar(&c.RoomMaxEvents, "room-max-events", 10_000, "events an event-stream room keeps (0: no count limit)")
	fs.DurationVar(&c.RoomMaxAge, "room-max-age", 24*time.Hour, "how long a room keeps an event (0: no age limit)")
	fs.IntVar(&c.MaxRooms, "max-rooms", 10_000, "event-stream rooms that may exist")
	c.MaxMessage = defaults.MaxMessage
	fs.Var((*byteSize)(&c.MaxMessage), "max-message", "largest queue message, room event or pub/sub message")
	fs.IntVar(&c.MaxSubscriptions, "max-subscriptions", 1000, "subscribers per room and topic patterns per subscriber")
	fs.IntVar(&c.WSBuffer, "ws-buffer", defaults.WSBuffer, "messages buffered for a WebSocket client before it is disconnected as too slow")
	fs.DurationVar(&c.WSPingInterval, "ws-ping-interval", defaults.WSPingInterval, "WebSocket ping interval; a peer silent for two is closed")
	fs.IntVar(&c.MaxSessions, "max-sessions", defaults.MaxSessions, "concurrent WebSocket connections per front door")
	fs.Float64Var(&c.RateLimit, "rate-limit", 0, "requests per second per API key (per client IP without keys) on the data door; 0 disables")
	fs.IntVar(&c.RateBurst, "rate-burst", 100, "burst of the rate limit")
	fs.IntVar(&c.RateClients, "rate-clients", defaults.RateClients, "clients (API keys or IPs) the data door's rate limiter keeps a bucket for; full buckets are forgotten first")
	fs.IntVar(&c.MaxTxns, "max-txns", defaults.MaxTxns, "open transactions on the data door (each watches at most --max-batch keys)")
	fs.StringVar(&c.DataReplies, "data-replies", "spec", "reply shapes of the data door: spec, or original (the original server's, for its SDKs)")
	c.WSBufferBytes = defaults.WSBufferBytes
	fs.Var((*byteSize)(&c.WSBufferBytes), "ws-buffer-bytes", "bytes buffered for a WebSocket client of the data or views door (or an HTTP pub/sub subscriber) before it is disconnected as too slow")
	fs.DurationVar(&c.WSWriteTimeout, "ws-write-timeout", defaults.WSWriteTimeout, "deadline of one write to a WebSocket client of the data or views door; past it the client is closed as too slow")

	fs.IntVar(&c.MaxViews, "max-views", 10_000, "views that may be registered on the views door")
	fs.DurationVar(&c.TTLCleanupInterval, "ttl-cleanup-interval", time.Minute, "how often views past their ttl are removed (also TTL_CLEANUP_INTERVAL_SECS, in seconds)")
	fs.StringVar(&c.SSPSchedulerURL, "ssp-scheduler-url", "", "the Sp00ky scheduler to register the views door with (also SPKY_SCHEDULER_URL); none: standalone")
	fs.StringVar(&c.SSPID, "ssp-id", "", "this SSP's id (also SPKY_SSP_ID); none: ssp-<uuid>, kept in the data dir")
	fs.StringVar(&c.SSPAdvertiseAddr, "ssp-advertise-addr", "", "host:port the scheduler reaches the views door at (also SPKY_SSP_ADVERTISE_ADDR); none: --ssp-addr, a wildcard host replaced by the host name")
	fs.DurationVar(&c.SSPHeartbeatInterval, "ssp-heartbeat-interval", 5*time.Second, "time between heartbeats to the scheduler (also HEARTBEAT_INTERVAL_MS, in milliseconds)")
	fs.IntVar(&c.SSPBootstrapPageSize, "ssp-bootstrap-page-size", 1000, "rows per proxy query when bootstrapping from the scheduler (also SPKY_SSP_BOOTSTRAP_PAGE_SIZE)")
	fs.DurationVar(&c.SSPRegisterTimeout, "ssp-register-timeout", 5*time.Minute, "how long registration with the scheduler is retried before the lifecycle fails")
	fs.StringVar(&c.SSPAuthSecret, "ssp-auth-secret", "", "the views door's bearer secret (also SPKY_AUTH_SECRET); none: any bearer token, loopback clients only unless --insecure")
	fs.StringVar(&c.SSPDBURL, "ssp-db-url", "", "the views service's database URL, reported to the scheduler (also SPKY_DB_URL)")
	fs.StringVar(&c.SSPDBNS, "ssp-db-ns", "", "the database's namespace, reported to the scheduler (also SPKY_DB_NS)")
	fs.StringVar(&c.SSPDBName, "ssp-db-name", "", "the database's name, reported to the scheduler (also SPKY_DB_NAME)")
	fs.StringVar(&c.SSPDBUser, "ssp-db-user", "", "the database's user, reported to the scheduler (also SPKY_DB_USER)")
	fs.StringVar(&c.SSPJobConfig, "ssp-job-config", "", "YAML file (such as sp00ky.yml) whose job_tables key, or backend apps with an outbox table, list the job tables and their backends (merged with --ssp-jobs)")
	fs.StringVar(&c.SSPJobs, "ssp-jobs", "", "the job tables as JSON, SPKY_JOB_CONFIG's list or job_tables object (also SPKY_JOB_CONFIG)")
	fs.IntVar(&c.SSPJobConcurrency, "ssp-job-concurrency", 8, "jobs of one job table (one backend) run at once, waits before a retry included")
	fs.IntVar(&c.SSPJobMaxPending, "ssp-job-max-pending", 100_000, "jobs one job table's queue holds; a job created past it is refused (507)")

	c.HubMaxPackage, c.HubMaxUnpacked, c.HubMaxFile = 256<<20, 1<<30, 256<<20
	fs.Var((*byteSize)(&c.HubMaxPackage), "hub-max-package", "largest uploaded sequence package, compressed")
	fs.Var((*byteSize)(&c.HubMaxUnpacked), "hub-max-unpacked", "largest sequence package, unpacked")
	fs.IntVar(&c.HubMaxFiles, "hub-max-files", 50_000, "most files in a sequence package")
	fs.Var((*byteSize)(&c.HubMaxFile), "hub-max-file", "largest file in a sequence package")
	fs.IntVar(&c.HubMaxInstances, "hub-max-instances", 100, "sequence instances running at once")
	fs.IntVar(&c.HubMaxSequences, "hub-max-sequences", 1000, "sequences the hub stores; past it an upload is refused (507)")
	fs.DurationVar(&c.HubRetention, "hub-retention", 3*time.Minute, "how long an ended instance stays readable, with its output")
	fs.IntVar(&c.HubMaxEnded, "hub-max-ended", 1000, "ended instances kept readable; past it the one that ended longest ago is forgotten before its --hub-retention is over")
	c.HubStreamBuffer, c.HubTopicBuffer = 1<<20, 1<<20
	fs.Var((*byteSize)(&c.HubStreamBuffer), "hub-stream-buffer", "bytes kept per instance stream (output, stdout, stderr, log) until read")
	fs.IntVar(&c.HubEventBuffer, "hub-event-buffer", 256, "events buffered per event-stream reader before it is dropped")
	fs.IntVar(&c.HubEventNames, "hub-event-names", 1024, "event names an instance keeps the last event of (GET /event/:name); past it the least recent name is forgotten")
	fs.DurationVar(&c.HubUnhealthyAfter, "hub-unhealthy-after", 5*time.Second, "an instance silent this long is unhealthy")
	fs.DurationVar(&c.HubKillAfter, "hub-kill-after", 30*time.Second, "an instance silent this long is killed")
	fs.DurationVar(&c.HubKillGrace, "hub-kill-grace", 5*time.Second, "time from a kill request to SIGKILL of the process group")
	fs.IntVar(&c.HubWarmRunners, "hub-warm-runners", 1, "idle runners kept started ahead per engine (node, python3), each taken by one instance's start and replaced; 0: each runner starts with its instance")
	fs.Var((*byteSize)(&c.HubTopicBuffer), "hub-topic-buffer", "bytes buffered per topic consumer before it is dropped")
	fs.IntVar(&c.HubMaxTopics, "hub-max-topics", 1000, "topics that may exist")
	fs.IntVar(&c.HubConsumerIDs, "hub-topic-consumer-ids", 1024, "consumer ids (x-consumer-id) a topic remembers the position of; past it a new id is refused (507)")
	fs.IntVar(&c.HubLogBuffer, "hub-log-buffer", 1024, "log lines kept for GET /api/v1/log")
	fs.StringVar(&c.HubScramjet, "hub-scramjet", "auto", "scramjet for Node sequences without their own: auto (npm installs it into the data dir on first use), off, or a node_modules folder holding it")
	c.HubTopicRetention = 16 << 20
	fs.Var((*byteSize)(&c.HubTopicRetention), "hub-topic-retention", "bytes a topic's journal keeps; a full journal holds producers back until its live consumers have read its oldest chunks")
	fs.DurationVar(&c.HubTopicMaxAge, "hub-topic-max-age", 24*time.Hour, "chunks of a topic older than this are dropped from its journal")
	fs.StringVar(&c.Node, "node", "node", "Node.js interpreter for sequences")
	fs.StringVar(&c.Python, "python", "python3", "Python interpreter for sequences")

	fs.IntVar(&c.RestartMax, "restart-max", 10, "restarts a supervisor allows a child within --restart-window before escalating")
	fs.DurationVar(&c.RestartWindow, "restart-window", 10*time.Second, "window of the restart budget")
	fs.DurationVar(&c.RestartBackoff, "restart-backoff", 10*time.Millisecond, "delay before the first restart in a window, doubled for each further one")
	fs.DurationVar(&c.RestartBackoffMax, "restart-backoff-max", time.Second, "longest delay before a restart")
	return fs
}

// LoadConfig parses args (without the program name), then fills every flag
// not given from the environment (lookupEnv is os.LookupEnv, or NoEnv),
// then from the --config file. A variable set to the empty string is the
// empty value, as the flag given empty is (TROUPE_DATA_DIR= keeps
// everything in memory); only an unset one is not given.
func LoadConfig(args []string, lookupEnv func(string) (string, bool), usage io.Writer) (Config, error) {
	var c Config
	fs := c.FlagSet("troupe")
	fs.SetOutput(usage)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	if !given["config"] {
		if v, ok := lookupEnv(envName("config")); ok {
			c.ConfigFile = v
		}
	}
	var file map[string]any
	if c.ConfigFile != "" {
		data, err := os.ReadFile(c.ConfigFile)
		if err != nil {
			return c, fmt.Errorf("config file: %w", err)
		}
		if err := yaml.Unmarshal(data, &file); err != nil {
			return c, fmt.Errorf("config file %s: %w", c.ConfigFile, err)
		}
		for k := range file {
			if k == "config" || fs.Lookup(k) == nil {
				return c, fmt.Errorf("config file %s: unknown setting %q", c.ConfigFile, k)
			}
		}
	}

	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || f.Name == "config" {
			return
		}
		var val, from string
		if v, ok := lookupEnv(envName(f.Name)); ok {
			val, from = v, envName(f.Name)
		} else if v, ok := lookupSpecEnv(lookupEnv, f.Name); ok {
			val, from = v+specEnv[f.Name].unit, specEnv[f.Name].name
		} else if v, ok := file[f.Name]; ok {
			val, from = yamlString(v), c.ConfigFile
		} else {
			return
		}
		if err := fs.Set(f.Name, val); err != nil {
			errs = append(errs, fmt.Errorf("%s from %s: %w", f.Name, from, err))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	var errs []error
	if c.GCPercent < -1 || c.GCPercent == 0 {
		errs = append(errs, fmt.Errorf("--gc-percent=%d: want a positive percentage, or -1 to collect only at --memory-limit", c.GCPercent))
	}
	if c.GCPercent == -1 && c.MemoryLimit == 0 {
		errs = append(errs, fmt.Errorf("--gc-percent=-1 needs an explicit --memory-limit"))
	}
	if c.Shards < 1 || c.Shards > 4096 {
		errs = append(errs, fmt.Errorf("--shards=%d: want 1 to 4096", c.Shards))
	}
	if c.Journal != "" && !strings.HasPrefix(c.Journal, "postgres://") && !strings.HasPrefix(c.Journal, "postgresql://") {
		errs = append(errs, fmt.Errorf("--journal=%q: want a postgres:// URL, or empty for Pebble", c.Journal))
	}
	errs = append(errs, c.validateCluster()...)
	switch c.Fsync {
	case "always", "batch", "none":
	default:
		errs = append(errs, fmt.Errorf("--fsync=%q: want always, batch or none", c.Fsync))
	}
	switch c.LogFormat {
	case "auto", "text", "json":
	default:
		errs = append(errs, fmt.Errorf("--log-format=%q: want auto, text or json", c.LogFormat))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level=%q: want debug, info, warn or error", c.LogLevel))
	}
	if c.MaxBody < 1024 {
		errs = append(errs, fmt.Errorf("--max-body=%d: want at least 1KiB", c.MaxBody))
	}
	if c.RateClients < 1 || c.MaxTxns < 1 {
		errs = append(errs, errors.New("--rate-clients and --max-txns must be at least 1"))
	}
	if c.CallerRunsBatch < 1 {
		errs = append(errs, fmt.Errorf("--caller-runs-batch=%d: want at least 1", c.CallerRunsBatch))
	}
	if c.MaxBatch < 1 {
		errs = append(errs, fmt.Errorf("--max-batch=%d: want at least 1", c.MaxBatch))
	}
	if c.RequestTimeout <= 0 || c.DrainTimeout < 0 || c.SweepInterval <= 0 {
		errs = append(errs, errors.New("--request-timeout and --sweep-interval must be positive, --drain-timeout not negative"))
	}
	if c.QueueMaxDepth < 1 || c.QueueAckDeadline <= 0 || c.QueueMaxRetries < 0 || c.MaxConsumeWait < 0 {
		errs = append(errs, errors.New("--queue-max-depth and --queue-ack-deadline must be positive, --queue-max-retries and --max-consume-wait not negative"))
	}
	if c.RoomMaxEvents < 0 || c.RoomMaxAge < 0 || c.WSBuffer < 1 || c.RateLimit < 0 || c.RateBurst < 1 {
		errs = append(errs, errors.New("--room-max-events and --room-max-age must not be negative; --ws-buffer and --rate-burst at least 1; --rate-limit not negative"))
	}
	if c.SSPHeartbeatInterval <= 0 || c.SSPBootstrapPageSize < 1 || c.SSPRegisterTimeout <= 0 {
		errs = append(errs, errors.New("--ssp-heartbeat-interval and --ssp-register-timeout must be positive, --ssp-bootstrap-page-size at least 1"))
	}
	switch c.DataReplies {
	case "spec", "original":
	default:
		errs = append(errs, fmt.Errorf("--data-replies=%q: want spec or original", c.DataReplies))
	}
	if c.WSBufferBytes < 1024 || c.WSWriteTimeout <= 0 || c.SkipSSEBufferBytes < 1024 {
		errs = append(errs, errors.New("--ws-buffer-bytes and --skip-sse-buffer-bytes must be at least 1KiB and --ws-write-timeout positive"))
	}
	if c.HTTPReadHeaderTimeout <= 0 || c.HTTPReadTimeout < 0 || c.HTTPIdleTimeout < 0 {
		errs = append(errs, errors.New("--http-read-header-timeout must be positive, --http-read-timeout and --http-idle-timeout not negative (0: none)"))
	}
	if c.RestartMax < 0 || c.RestartWindow <= 0 {
		errs = append(errs, errors.New("--restart-max must not be negative and --restart-window must be positive"))
	}
	return errors.Join(errs...)
}

// Enabled reports whether a front door address is switched on.
func Enabled(addr string) bool { return addr != "" && addr != "off" }

func envName(flagName string) string {
	return "TROUPE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// NoEnv is an empty environment, for LoadConfig.
func NoEnv(string) (string, bool) { return "", false }

// lookupSpecEnv looks up the original systems' own variable for a flag, if
// it has one.
func lookupSpecEnv(lookupEnv func(string) (string, bool), flagName string) (string, bool) {
	name := specEnv[flagName].name
	if name == "" {
		return "", false
	}
	return lookupEnv(name)
}

// SchedulerEnv is what the views door tells the scheduler of its settings
// at registration, as the original SSP sends its environment: the
// original's variables, in their units, for the settings that have a
// value. The secret is not among them.
func (c *Config) SchedulerEnv() map[string]string {
	env := map[string]string{}
	for name, v := range map[string]string{
		"SPKY_DB_URL": c.SSPDBURL, "SPKY_DB_NS": c.SSPDBNS, "SPKY_DB_NAME": c.SSPDBName, "SPKY_DB_USER": c.SSPDBUser,
		"SPKY_SCHEDULER_URL": c.SSPSchedulerURL, "SPKY_SSP_LISTEN_ADDR": c.SSPAddr,
		"SPKY_SSP_ADVERTISE_ADDR": c.SSPAdvertiseAddr, "SPKY_SSP_ID": c.SSPID,
		"HEARTBEAT_INTERVAL_MS":     strconv.FormatInt(c.SSPHeartbeatInterval.Milliseconds(), 10),
		"TTL_CLEANUP_INTERVAL_SECS": strconv.FormatInt(int64(c.TTLCleanupInterval/time.Second), 10),
	} {
		if v != "" {
			env[name] = v
		}
	}
	return env
}

// yamlString turns a YAML value into a flag's text; a list becomes a
// comma-separated one (api-keys).
func yamlString(v any) string {
	if list, ok := v.([]any); ok {
		parts := make([]string, len(list))
		for i, x := range list {
			parts[i] = fmt.Sprint(x)
		}
		return strings.Join(parts, ",")
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// byteSize is a flag holding a byte count written as 1048576, 512KiB, 16MiB,
// 2GiB (or KB, MB, GB as powers of 1000).
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("%q is not a byte size (e.g. 1048576, 512KiB, 16MiB)", s)
	}
	*b = byteSize(n * mult)
	return nil
}

// validateCluster checks the cluster flags: cluster mode needs the shared
// PostgreSQL journal (an actor placed on another node after a failure
// recovers from it), etcd and an address for the actor traffic.
func (c *Config) validateCluster() []error {
	if c.ClusterName == "" {
		return nil
	}
	var errs []error
	if c.Journal == "" {
		errs = append(errs, errors.New("--cluster-name needs --journal postgres://...: the members recover each other's actors from the shared journal"))
	}
	if len(c.ClusterEtcd) == 0 {
		errs = append(errs, errors.New("--cluster-name needs --cluster-etcd host:port"))
	}
	if _, port, err := net.SplitHostPort(c.ClusterBind); err != nil || port == "0" {
		errs = append(errs, fmt.Errorf("--cluster-bind=%q: want host:port with a fixed port, the address the other members reach this node at", c.ClusterBind))
	}
	if c.ClusterLease < time.Second {
		errs = append(errs, fmt.Errorf("--cluster-lease=%s: want at least 1s (etcd counts leases in seconds)", c.ClusterLease))
	}
	return errs
}
