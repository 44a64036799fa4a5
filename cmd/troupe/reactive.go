package main

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/oklog/run"

	"github.com/troupe-run/troupe/actors/reactive"
	"github.com/troupe-run/troupe/gateway/skip"
	"github.com/troupe-run/troupe/system"
)

// listenReactive starts the Skip services of --skip-service and opens the
// control and streaming doors of each. With one service,
// --skip-control-addr and --skip-streaming-addr, when given, win over the
// ports of its runService call; with several, each listens on the ports
// of its own call (two services cannot share a port).
func (d *domains) listenReactive(g *run.Group, servers *sync.WaitGroup) error {
	sys, c := d.sys, d.sys.Config
	log := sys.Log
	if len(c.SkipServices) == 0 {
		log.Info("reactive doors closed: no --skip-service given")
		return nil
	}
	svcs, err := reactive.Start(sys, reactive.Options{Files: c.SkipServices, CallBudget: c.SkipCallBudget,
		InstanceTTL: c.SkipInstanceTTL, BuildTimeout: c.SkipBuildTimeout, ValueCache: c.SkipValueCache, MaxInstances: c.SkipMaxInstances, MaxStreams: c.SkipMaxStreams})
	if err != nil {
		return err
	}
	d.dash.setReactive(svcs)
	heartbeat := c.SkipHeartbeat
	if heartbeat <= 0 {
		heartbeat = -1 // the door's zero is its default
	}
	if len(svcs) > 1 && (c.SkipControlAddr != "" || c.SkipStreamingAddr != "") {
		log.Warn("reactive doors: several services given, each listens on the ports of its runService call; --skip-control-addr and --skip-streaming-addr are ignored")
	}
	for i, svc := range svcs {
		control, streaming := svc.Ports()
		controlAddr, streamingAddr := ":"+strconv.Itoa(control), ":"+strconv.Itoa(streaming)
		if len(svcs) == 1 {
			if c.SkipControlAddr != "" {
				controlAddr = c.SkipControlAddr
			}
			if c.SkipStreamingAddr != "" {
				streamingAddr = c.SkipStreamingAddr
			}
		}
		name := "skip"
		if i > 0 {
			name = fmt.Sprintf("skip-%d", i+1)
		}
		sessions, err := sys.Sessions(name)
		if err != nil {
			return err
		}
		door := skip.New(skip.Config{
			Insecure:       c.Insecure,
			MaxBody:        c.MaxBody,
			RequestTimeout: c.RequestTimeout,
			Heartbeat:      heartbeat,
			SSEBuffer:      c.SkipSSEBuffer,
			SSEBufferBytes: c.SkipSSEBufferBytes,
			WriteTimeout:   c.SkipWriteTimeout,
			MaxSessions:    c.MaxSessions,
			ResourcePrefix: c.SkipResourcePrefix,
			NoCORS:         svc.NoCORS(),
			BuildTimeout:   c.SkipBuildTimeout,
		}, svc, sessions, sys.Metrics, log.With("door", name))
		if system.Enabled(controlAddr) {
			if err := listenAddr(g, servers, name+"-control", controlAddr, door.Control(), door.Drain, limits(c), log); err != nil {
				return err
			}
		} else {
			log.Info("reactive control door off", "service", svc.Name())
		}
		if system.Enabled(streamingAddr) {
			if err := listenAddr(g, servers, name+"-streaming", streamingAddr, door.Streaming(), door.Drain, limits(c), log); err != nil {
				return err
			}
		} else {
			log.Info("reactive streaming door off", "service", svc.Name())
		}
	}
	return nil
}
