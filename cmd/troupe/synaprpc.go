package main

import (
	"sync"

	"github.com/oklog/run"

	"github.com/troupe-run/troupe/gateway/synap"
	"github.com/troupe-run/troupe/gateway/synaprpc"
	"github.com/troupe-run/troupe/system"
)

// listenSynapRPC opens the SynapRPC door (--synap-rpc-addr) on the data
// door's commands. Its bounds are the data door's: --max-body per frame,
// --max-sessions connections, --ws-buffer-bytes and --ws-write-timeout for
// a client's output, --request-timeout per command. With the data door off
// it is not bound (bind): it has no commands to run.
func (d *domains) listenSynapRPC(g *run.Group, servers *sync.WaitGroup, data *synap.Server, sessions synaprpc.Sessions) {
	sys, c := d.sys, d.sys.Config
	ln := d.socks.synapRPC
	if ln == nil {
		return
	}
	door := synaprpc.New(synaprpc.Config{
		APIKeys:        c.APIKeys,
		Insecure:       c.Insecure,
		MaxFrame:       int(c.MaxBody),
		MaxConns:       c.MaxSessions,
		OutputBuffer:   int(c.WSBufferBytes),
		WriteTimeout:   c.WSWriteTimeout,
		RequestTimeout: c.RequestTimeout,
		Version:        system.Version,
	}, synaprpc.Backends{
		Commands: data,
		PubSub:   d.pubsub,
		Sessions: sessions,
		Dropped:  func() { sys.Metrics.SubscriberDropped("synap-rpc") },
		Waits:    d.keyspace,
		Watch:    d.keyspace,
	}, sys.Log.With("door", "synap-rpc"))
	sys.Log.Info("front door listening", "door", "synap-rpc", "addr", ln.Addr().String())
	servers.Add(1)
	g.Add(func() error {
		defer servers.Done()
		return door.Serve(ln)
	}, func(error) {
		door.Close()
	})
}
