package main

import (
	"context"
	"errors"
	"os"

	"github.com/troupe-run/troupe/actors/job"
	"github.com/troupe-run/troupe/actors/job/jobconfig"
	"github.com/troupe-run/troupe/actors/queue"
	"github.com/troupe-run/troupe/actors/view"
	"github.com/troupe-run/troupe/gateway/ssp"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// startJobs reads the job tables (--ssp-jobs, or SPKY_JOB_CONFIG, and --ssp-job-config; a
// mistake stops the start) and starts their runner, which first runs the
// jobs an earlier run left in its queues.
func startJobs(sys *system.System, queues *queue.Service, views *view.Service) (*job.Service, error) {
	c := sys.Config
	cfg, err := jobconfig.Load(c.SSPJobs, c.SSPJobConfig, os.ReadFile)
	if err != nil {
		return nil, err
	}
	for _, be := range cfg.Sorted() {
		sys.Log.Info("job table", "table", be.Table, "backend", be.Name, "base_url", be.BaseURL, "timeout", be.Timeout,
			"timeout_overridable", be.TimeoutOverridable)
	}
	return job.Start(sys, cfg, queues, views, job.Options{Concurrency: c.SSPJobConcurrency, MaxPending: c.SSPJobMaxPending,
		UserAgent: "troupe/" + system.Version})
}

// withJobs puts the job runner in front of the views door's backend when
// there are job tables. sspID is the id the door reports; in scheduler mode
// (scheduled) only the jobs the scheduler assigns to it run here, in
// standalone mode every job does.
func (d *domains) withJobs(views ssp.Views, sspID string, scheduled bool) ssp.Views {
	if d.jobs == nil || !d.jobs.Enabled() {
		return views
	}
	self := ""
	if scheduled {
		self = sspID
	}
	return &jobViews{Views: views, jobs: d.jobs, self: self}
}

// jobViews is the views with the job runner watching ingests: a CREATE
// that makes a job is applied to its table first, then the job is queued
// durably, then the ingest is answered. A job that cannot be queued fails
// the ingest (507 when the queue is full), so that the caller retries it.
type jobViews struct {
	ssp.Views
	jobs *job.Service
	self string
}

func (v *jobViews) Ingest(ctx context.Context, req *messages.IngestRequest) (*messages.IngestReply, error) {
	rep, err := v.Views.Ingest(ctx, req)
	if err != nil || rep.GetErrorCode() != "" || !v.jobs.Takes(req, v.self) {
		return rep, err
	}
	if err := v.jobs.Submit(ctx, req); err != nil {
		var se *job.SubmitError
		if errors.As(err, &se) {
			return &messages.IngestReply{ErrorCode: se.Code, ErrorMessage: se.Message}, nil
		}
		return nil, err
	}
	return rep, nil
}

// Info adds the jobs of each job table to the views' figures (GET /info).
func (v *jobViews) Info(ctx context.Context) (*messages.ViewsInfoReply, error) {
	info, err := v.Views.Info(ctx)
	if err != nil {
		return nil, err
	}
	info.Jobs = v.jobs.Info(ctx)
	return info, nil
}
