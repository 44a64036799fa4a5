package main

import (
	"crypto/rand"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/oklog/run"

	"github.com/troupe-run/troupe/actors/hubdoor"
	"github.com/troupe-run/troupe/actors/instance"
	"github.com/troupe-run/troupe/actors/job"
	"github.com/troupe-run/troupe/actors/kv"
	"github.com/troupe-run/troupe/actors/lifecycle"
	"github.com/troupe-run/troupe/actors/pubsub"
	"github.com/troupe-run/troupe/actors/queue"
	"github.com/troupe-run/troupe/actors/room"
	"github.com/troupe-run/troupe/actors/sequence"
	"github.com/troupe-run/troupe/actors/topic"
	"github.com/troupe-run/troupe/actors/view"
	"github.com/troupe-run/troupe/gateway/hub"
	"github.com/troupe-run/troupe/gateway/ssp"
	"github.com/troupe-run/troupe/gateway/synap"
	"github.com/troupe-run/troupe/system"
)

// domains are the services of a running Troupe.
type domains struct {
	sys      *system.System
	keyspace *kv.Keyspace
	queues   *queue.Service
	rooms    *room.Service
	pubsub   *pubsub.Service
	views    *view.Service
	// lifecycle is the views door's scheduler mode; nil when standalone.
	lifecycle *lifecycle.Service
	sspID     string
	jobs      *job.Service
	seqs      *sequence.Service
	topics    *topic.Service
	insts     *instance.Service
	socks     *sockets // the front doors' listeners, bound before the domains start
	logs      *hub.LogTap
	// instanceKey is the key this.hub of this run's instances presents;
	// "" when the hub door asks for none.
	instanceKey string
	dash        *dashboard // the admin door's source
}

// startDomains starts every domain; each rebuilds its state from the store.
func startDomains(sys *system.System, socks *sockets, logs *hub.LogTap) (*domains, error) {
	c := sys.Config
	d := &domains{sys: sys, socks: socks, logs: logs, instanceKey: newInstanceKey(c.APIKeys)}
	d.dash = &dashboard{d: d}
	var err error
	if d.keyspace, err = kv.Start(sys, kv.NewMemory(c.MaxMemory)); err != nil {
		return nil, err
	}
	defaults := queue.DefaultConfig()
	defaults.MaxDepth, defaults.AckDeadline, defaults.MaxRetries = c.QueueMaxDepth, c.QueueAckDeadline, c.QueueMaxRetries
	if d.queues, err = queue.Start(sys, queue.Options{Defaults: defaults, MaxQueues: c.MaxQueues,
		MaxWait: c.MaxConsumeWait, MaxMessage: int(c.MaxMessage)}); err != nil {
		return nil, d.fail(err)
	}
	if d.rooms, err = room.Start(sys, room.Options{Retention: room.Config{MaxEvents: c.RoomMaxEvents, MaxAge: c.RoomMaxAge},
		MaxRooms: c.MaxRooms, MaxSubscribers: c.MaxSubscriptions, MaxEvent: int(c.MaxMessage)}); err != nil {
		return nil, d.fail(err)
	}
	if d.pubsub, err = pubsub.Start(sys, pubsub.Options{MaxPatterns: c.MaxSubscriptions, MaxMessage: int(c.MaxMessage)}); err != nil {
		return nil, d.fail(err)
	}
	if d.views, err = view.Start(sys, view.Options{MaxViews: c.MaxViews, MaxRecord: int(c.MaxMessage),
		TTLInterval: c.TTLCleanupInterval, SubsPerView: c.MaxSubscriptions,
		KeepHashes: c.SSPSchedulerURL != ""}); err != nil {
		return nil, d.fail(err)
	}
	if d.sspID, err = lifecycle.SSPID(c.SSPID, sys.Path("ssp-id")); err != nil {
		return nil, d.fail(err)
	}
	if err := d.startLifecycle(); err != nil {
		return nil, d.fail(err)
	}
	if d.jobs, err = startJobs(sys, d.queues, d.views); err != nil {
		return nil, d.fail(err)
	}
	if d.seqs, err = sequence.Start(sys, sequence.Options{Dir: sys.Path("sequences"), MaxSequences: c.HubMaxSequences,
		Limits: sequence.Limits{MaxBytes: c.HubMaxUnpacked, MaxFiles: c.HubMaxFiles, MaxFileBytes: c.HubMaxFile}}); err != nil {
		return nil, d.fail(err)
	}
	if d.topics, err = topic.Start(sys, topic.Options{ConsumerBuffer: int(c.HubTopicBuffer), MaxTopics: c.HubMaxTopics,
		ConsumerIDs: c.HubConsumerIDs, Retention: c.HubTopicRetention, MaxAge: c.HubTopicMaxAge}); err != nil {
		return nil, d.fail(err)
	}
	if d.insts, err = instance.StartService(sys, d.seqs, d.topics, instance.Options{MaxInstances: c.HubMaxInstances,
		Retention: c.HubRetention, MaxEnded: c.HubMaxEnded, StreamBuffer: int(c.HubStreamBuffer), EventBuffer: c.HubEventBuffer,
		EventNames: c.HubEventNames, UnhealthyAfter: c.HubUnhealthyAfter, KillAfter: c.HubKillAfter, KillGrace: c.HubKillGrace,
		Node: c.Node, Python: c.Python, WarmRunners: c.HubWarmRunners, Scramjet: c.HubScramjet, ScramjetDir: sys.Path("node"),
		HubURL: hubURL(addr(socks.hub)), HubKey: d.instanceKey}); err != nil {
		return nil, d.fail(err)
	}
	return d, nil
}

// newInstanceKey is the API key of this run's instances (this.hub) when
// the hub door asks for keys: one of their own, so that the operator's
// keys are not handed to sequences' code.
func newInstanceKey(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return "instances-" + rand.Text()
}

// hubReadTimeout is the hub door's bound on reading a body that is no
// stream: --http-read-timeout, whose 0 (none) is the door's negative.
func hubReadTimeout(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// hubURL is the hub door's API base as a sequence on this host reaches it
// (this.hub), from the door's bound address; "" when the door is off.
func hubURL(addr string) string {
	if addr == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/api/v1"
}

func (d *domains) fail(err error) error {
	d.close()
	return err
}

// close stops what the actors do not own; call it after the system closed
// (the instance actors kill their processes when they stop).
func (d *domains) close() {
	if d.lifecycle != nil {
		d.lifecycle.Close()
	}
	if d.keyspace != nil {
		d.keyspace.Close()
	}
	if d.seqs != nil {
		d.seqs.Close()
	}
	if d.insts != nil {
		if err := d.insts.Close(); err != nil {
			d.sys.Log.Warn("stopping the instances", "err", err)
		}
	}
}

// listen starts every front door that is switched on.
func (d *domains) listen(g *run.Group, servers *sync.WaitGroup, shutdown func()) error {
	sys, c := d.sys, d.sys.Config
	log := sys.Log
	if d.socks.data != nil {
		sessions, err := sys.Sessions("data")
		if err != nil {
			return err
		}
		door := synap.New(synap.Config{
			APIKeys:        c.APIKeys,
			Insecure:       c.Insecure,
			MaxBody:        c.MaxBody,
			MaxBatch:       c.MaxBatch,
			RequestTimeout: c.RequestTimeout,
			Chaos:          c.Chaos,
			Version:        system.Version,
			WSBuffer:       c.WSBuffer,
			WSReadLimit:    c.MaxMessage + 64<<10,
			WSPingInterval: c.WSPingInterval,
			MaxSessions:    c.MaxSessions,
			RateLimit:      c.RateLimit,
			RateBurst:      c.RateBurst,
			Original:       c.DataReplies == "original",
			WSBufferBytes:  c.WSBufferBytes,
			WSWriteTimeout: c.WSWriteTimeout,
			RateClients:    c.RateClients,
			MaxTxns:        c.MaxTxns,
		}, synap.Backends{
			Keyspace:       d.keyspace,
			Watch:          d.keyspace,
			Queues:         d.queues,
			Rooms:          d.rooms,
			PubSub:         d.pubsub,
			Sessions:       sessions,
			Admin:          &admin{d: d, shutdown: shutdown},
			Metrics:        sys.Metrics,
			MetricsHandler: sys.Metrics.Handler(),
		}, log.With("door", "data"))
		serveHTTP(g, servers, "data", d.socks.data, door, door.Drain, limits(c), log)
		d.listenSynapRPC(g, servers, door, sessions)
	}
	if d.socks.ssp != nil {
		sessions, err := sys.Sessions("ssp")
		if err != nil {
			return err
		}
		door := ssp.New(ssp.Config{
			Secret:         c.SSPAuthSecret,
			Insecure:       c.Insecure,
			MaxBody:        c.MaxBody,
			RequestTimeout: c.RequestTimeout,
			WSBuffer:       c.WSBuffer,
			WSReadLimit:    c.MaxMessage + 64<<10,
			WSPingInterval: c.WSPingInterval,
			MaxSessions:    c.MaxSessions,
			WSBufferBytes:  c.WSBufferBytes,
			WSWriteTimeout: c.WSWriteTimeout,
			Version:        system.Version,
			SSPID:          d.sspID,
			RefMode:        "dedicated",
			Lifecycle:      d.sspLifecycle(),
		}, d.withJobs(d.views, d.sspID, c.SSPSchedulerURL != ""), sessions, sys.Metrics, log.With("door", "ssp"))
		serveHTTP(g, servers, "ssp", d.socks.ssp, door, door.Drain, limits(c), log)
	}
	if d.socks.hub != nil {
		keys := c.APIKeys
		if d.instanceKey != "" {
			keys = append(slices.Clip(keys), d.instanceKey)
		}
		door := hub.New(hub.Config{APIKeys: keys, Insecure: c.Insecure, MaxPackage: c.HubMaxPackage,
			RequestTimeout: c.RequestTimeout, ReadTimeout: hubReadTimeout(c.HTTPReadTimeout), DataDir: c.DataDir,
			Version: system.Version},
			hubdoor.New(d.seqs, d.insts, d.topics), d.logs, sys.Metrics, log.With("door", "hub"))
		serveHTTP(g, servers, "hub", d.socks.hub, door, door.Drain, limits(c).streamingBodies(), log)
	}
	if err := d.listenRESP(g, servers); err != nil {
		return err
	}
	if err := d.listenReactive(g, servers); err != nil {
		return err
	}
	return d.listenAdmin(g, servers)
}
