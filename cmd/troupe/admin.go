package main

import (
	"context"
	"time"

	"github.com/troupe-run/troupe/actors/kv"
	"github.com/troupe-run/troupe/gateway/synap"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// admin answers the data door's admin commands from the running system.
type admin struct {
	sys      *system.System
	ks       *kv.Keyspace
	shutdown func()
}

func (a *admin) Stats(ctx context.Context) (synap.Stats, error) {
	count, err := a.ks.Do(ctx, &messages.DataRequest{Op: messages.DataOp_KV_COUNT})
	if err != nil {
		return synap.Stats{}, err
	}
	mem := a.ks.Memory()
	return synap.Stats{
		Uptime:      time.Since(a.sys.Started),
		Role:        "master",
		MemoryUsed:  mem.Used(),
		MemoryLimit: mem.Limit(),
		TotalKeys:   count.Integer,
		OpsPerSec:   a.ks.OpsPerSec(),
	}, nil
}

func (a *admin) Health(ctx context.Context) synap.Health {
	kvState := "operational"
	if _, err := a.ks.Do(ctx, &messages.DataRequest{Op: messages.DataOp_KV_COUNT}); err != nil {
		kvState = "degraded: " + err.Error()
	}
	status := synap.Healthy
	if kvState != "operational" {
		status = "degraded"
	}
	return synap.Health{
		Status: status,
		Role:   "master",
		Uptime: time.Since(a.sys.Started),
		Components: map[string]string{
			"kv_store": kvState,
			"store":    storeState(a.sys),
		},
	}
}

func storeState(sys *system.System) string {
	if !sys.Store.Durable() {
		return "memory-only"
	}
	return "operational"
}

func (a *admin) Config() map[string]any {
	c := a.sys.Config
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
		"request_timeout": c.RequestTimeout.String(),
		"auth_enabled":    len(c.APIKeys) > 0,
		"insecure":        c.Insecure,
		"chaos":           c.Chaos,
	}
}

func (a *admin) Shutdown() { a.shutdown() }

func (a *admin) InjectFault(target, fault string) (int, error) {
	names, err := a.sys.InjectFault(target, fault)
	return len(names), err
}
