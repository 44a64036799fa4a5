package main

import (
	"errors"
	"os"
	"time"

	"github.com/troupe-run/troupe/actors/lifecycle"
	"github.com/troupe-run/troupe/gateway/ssp"
	"github.com/troupe-run/troupe/system"
)

// bootstrapStep bounds each step of a bootstrap (a proxy query, a page
// handed to the engine, the commit of the whole snapshot).
const bootstrapStep = time.Minute

// startLifecycle starts the views service's scheduler mode when a
// scheduler is configured (SPKY_SCHEDULER_URL).
func (d *domains) startLifecycle() error {
	sys, c := d.sys, d.sys.Config
	if c.SSPSchedulerURL == "" {
		return nil
	}
	if d.socks.ssp == nil {
		return errors.New("scheduler mode (SPKY_SCHEDULER_URL) needs the views door (--ssp-addr)")
	}
	url, err := lifecycle.AdvertiseURL(c.SSPAdvertiseAddr, addr(d.socks.ssp), os.Hostname)
	if err != nil {
		return err
	}
	// A page holds up to page-size records of up to --max-message bytes.
	maxResponse := min(max(int64(c.SSPBootstrapPageSize)*c.MaxMessage, 64<<20), 1<<30)
	policy := lifecycle.DefaultPolicy()
	policy.RegisterFor = c.SSPRegisterTimeout
	d.lifecycle, err = lifecycle.Start(sys, d.views, lifecycle.Options{
		SchedulerURL: c.SSPSchedulerURL, SSPID: d.sspID, URL: url, Version: system.Version, Env: c.SchedulerEnv(),
		HeartbeatInterval: c.SSPHeartbeatInterval, PageSize: c.SSPBootstrapPageSize,
		CallTimeout: 10 * time.Second, StepTimeout: bootstrapStep, MaxResponse: maxResponse,
		Policy: policy, Decode: ssp.DecodeStoredView,
	})
	if err == nil {
		sys.Log.Info("views door in scheduler mode", "scheduler", c.SSPSchedulerURL, "ssp_id", d.sspID, "url", url)
	}
	return err
}

// sspLifecycle is the lifecycle the views door follows; nil in
// standalone mode.
func (d *domains) sspLifecycle() ssp.Lifecycle {
	if d.lifecycle == nil {
		return nil
	}
	return d.lifecycle
}
