package job

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	jobsDesc = prometheus.NewDesc("troupe_ssp_jobs", "Jobs of a job table now: pending (waiting in its queue) and processing (held by the runner: calling, or waiting to retry).",
		[]string{"table", "backend", "status"}, nil)
	endedDesc = prometheus.NewDesc("troupe_ssp_jobs_ended_total", "Jobs of a job table that ended, by final status, since the process started.",
		[]string{"table", "backend", "status"}, nil)
	retriedDesc = prometheus.NewDesc("troupe_ssp_job_retries_total", "Failed calls of a job table's backend that were retried.",
		[]string{"table", "backend"}, nil)
	writeFailDesc = prometheus.NewDesc("troupe_ssp_job_row_write_failures_total", "Job status changes that could not be written to their row.",
		[]string{"table", "backend"}, nil)
)

// collector reports the runner's figures at each scrape; the pending count
// comes from the queues then.
type collector struct{ svc *Service }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobsDesc
	ch <- endedDesc
	ch <- retriedDesc
	ch <- writeFailDesc
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, info := range c.svc.Info(ctx) {
		t := c.svc.tracks[info.Table]
		labels := []string{info.Table, info.Backend}
		if info.Pending >= 0 {
			ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(info.Pending), info.Table, info.Backend, string(Pending))
		}
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(info.Processing), info.Table, info.Backend, string(Processing))
		ch <- prometheus.MustNewConstMetric(endedDesc, prometheus.CounterValue, float64(info.Success), info.Table, info.Backend, string(Success))
		ch <- prometheus.MustNewConstMetric(endedDesc, prometheus.CounterValue, float64(info.Failed), info.Table, info.Backend, string(Failed))
		ch <- prometheus.MustNewConstMetric(retriedDesc, prometheus.CounterValue, float64(info.Retried), labels...)
		ch <- prometheus.MustNewConstMetric(writeFailDesc, prometheus.CounterValue, float64(t.writeFailures.Load()), labels...)
	}
}
