package main

import (
	"sync"

	"github.com/oklog/run"

	"github.com/troupe-run/troupe/gateway/resp"
	"github.com/troupe-run/troupe/system"
)

// listenRESP opens the Redis-protocol door (--resp-addr) on the data
// door's keyspace and pub/sub router. Its bounds are the data door's:
// --max-body per command, --max-sessions connections, --ws-buffer-bytes
// and --ws-write-timeout for a subscriber's output, --max-subscriptions
// channels and patterns per connection.
func (d *domains) listenRESP(g *run.Group, servers *sync.WaitGroup) error {
	sys, c := d.sys, d.sys.Config
	ln := d.socks.resp
	if ln == nil {
		return nil
	}
	// A connection's pipe sends batches straight to the shard actors of
	// this process. In a cluster the shards are wherever the cluster
	// placed them, so there each command goes through the keyspace's Do,
	// which routes it by sys.Placement as the HTTP door's commands go (a
	// pipeline then runs one command at a time). An event loop would wait
	// there for each command of its connections in turn, all of them
	// behind a request to another member: in a cluster every connection
	// has a goroutine of its own.
	pipes := func() resp.Pipe { return d.keyspace.NewPipe() }
	loops := c.RESPEventLoops
	if sys.Placement != nil {
		pipes, loops = nil, 0
	}
	sessions, err := sys.Sessions("resp")
	if err != nil {
		return err
	}
	door := resp.New(resp.Config{
		APIKeys:        c.APIKeys,
		Insecure:       c.Insecure,
		MaxRequest:     int(c.MaxBody),
		MaxClients:     c.MaxSessions,
		OutputBuffer:   int(c.WSBufferBytes),
		WriteTimeout:   c.WSWriteTimeout,
		RequestTimeout: c.RequestTimeout,
		MaxPatterns:    c.MaxSubscriptions,
		ScanCursors:    c.RESPScanCursors,
		EventLoops:     loops,
		MaxBatch:       c.MaxBatch,
		Version:        system.Version,
		DataDir:        c.DataDir,
		Fsync:          c.Fsync,
	}, resp.Backends{
		Keyspace: d.keyspace,
		PubSub:   d.pubsub,
		Sessions: sessions,
		Pipes:    pipes,
		Dropped:  func() { sys.Metrics.SubscriberDropped("resp") },
	}, sys.Log.With("door", "resp"))
	if !d.sys.Config.Insecure && len(c.APIKeys) == 0 {
		sys.Log.Info("resp door in protected mode: loopback clients only (no --api-keys, no --insecure)")
	}
	sys.Log.Info("front door listening", "door", "resp", "addr", ln.Addr().String())
	servers.Add(1)
	g.Add(func() error {
		defer servers.Done()
		return door.Serve(ln)
	}, func(error) {
		door.Close()
	})
	return nil
}
