package lifecycle

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	stateDesc = prometheus.NewDesc("troupe_ssp_lifecycle_state",
		"The views door's scheduler lifecycle: 1 for the state it is in, 0 for the others.", []string{"state"}, nil)
	registrationsDesc = prometheus.NewDesc("troupe_ssp_registrations_total",
		"Registrations with the scheduler, by result: ok, retried, refused (4xx).", []string{"result"}, nil)
	bootstrapsDesc = prometheus.NewDesc("troupe_ssp_bootstraps_total",
		"Bootstraps from the scheduler's proxy, by result: ok, failed, mismatch (table hashes differ).", []string{"result"}, nil)
	heartbeatsDesc = prometheus.NewDesc("troupe_ssp_heartbeats_total",
		"Heartbeats sent to the scheduler, by the status it answered (error: no answer).", []string{"status"}, nil)
)

// counts are the lifecycle's counters, kept by its actor.
type counts struct {
	mu            sync.Mutex
	registrations map[string]int64
	bootstraps    map[string]int64
	heartbeats    map[string]int64
}

func newCounts() *counts {
	return &counts{registrations: map[string]int64{}, bootstraps: map[string]int64{}, heartbeats: map[string]int64{}}
}

// observe counts what an event says, given the state the machine was in
// before it and is in after it.
func (c *counts) observe(ev Event, before, after State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ev := ev.(type) {
	case Registered:
		if before == Registering && after == Bootstrapping {
			c.registrations["ok"]++
		}
	case RegisterFailed:
		if before != Registering {
			return
		}
		if ev.Fatal {
			c.registrations["refused"]++
		} else {
			c.registrations["retried"]++
		}
	case Bootstrapped:
		if before != Bootstrapping {
			return
		}
		if after == Ready {
			c.bootstraps["ok"]++
		} else {
			c.bootstraps["mismatch"]++
		}
	case BootstrapFailed:
		if before == Bootstrapping {
			c.bootstraps["failed"]++
		}
	case HeartbeatDone:
		status := "error"
		if ev.Status != 0 {
			status = strconv.Itoa(ev.Status)
		}
		c.heartbeats[status]++
	}
}

// collector exposes the lifecycle on /metrics.
type collector struct{ svc *Service }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{stateDesc, registrationsDesc, bootstrapsDesc, heartbeatsDesc} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	now := State(c.svc.State())
	for _, st := range []State{Registering, Bootstrapping, Ready, Failed} {
		v := 0.0
		if st == now {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, v, string(st))
	}
	k := c.svc.counts
	k.mu.Lock()
	defer k.mu.Unlock()
	for desc, m := range map[*prometheus.Desc]map[string]int64{registrationsDesc: k.registrations,
		bootstrapsDesc: k.bootstraps, heartbeatsDesc: k.heartbeats} {
		for label, n := range m {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(n), label)
		}
	}
}
