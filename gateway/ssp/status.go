package ssp

import (
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/messages"
)

// status is what /health and /info report: "ready" once the views are
// rebuilt from the store, "bootstrapping" before (the original's words),
// "draining" once Drain is called. In scheduler mode the lifecycle must be
// ready too: "bootstrapping" while it registers or bootstraps, "failed"
// once it gave up.
func (s *Server) status() string {
	switch {
	case s.draining.Load():
		return "draining"
	case !s.views.Ready():
		return "bootstrapping"
	case s.cfg.Lifecycle == nil:
		return "ready"
	}
	switch st := s.cfg.Lifecycle.State(); st {
	case "ready", "failed":
		return st
	}
	return "bootstrapping"
}

// notReady returns the 503 that ingests and view requests get while the
// SSP is not ready, nil once it is.
func (s *Server) notReady() *apiError {
	switch {
	case !s.views.Ready():
		return rebuilding()
	case s.cfg.Lifecycle == nil:
		return nil
	}
	switch s.cfg.Lifecycle.State() {
	case "ready":
		return nil
	case "failed":
		return unavailable(messages.CodeSSPNotReady, "the SSP's scheduler lifecycle failed (see the server log); it stays unavailable until a restart")
	}
	return unavailable(messages.CodeSSPNotReady, "the SSP is registering with its scheduler and bootstrapping; retry when GET /health answers ready")
}

// serveHealth serves GET /health: 200 {"status":"ready"}, else 503 with the
// status. The scheduler polls it to learn when the SSP is ready.
func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) int {
	st := s.status()
	code := http.StatusOK
	if st != "ready" {
		code = http.StatusServiceUnavailable
	}
	out := jsonw.Get()
	defer jsonw.Put(out)
	out.Obj()
	out.Key("status")
	out.Str(st)
	out.EndObj()
	return out.Respond(w, code)
}

// serveVersion serves GET /version: {"version", "mode": "streaming"}.
func (s *Server) serveVersion(w http.ResponseWriter, _ *http.Request) int {
	out := jsonw.Get()
	defer jsonw.Put(out)
	out.Obj()
	out.Key("version")
	out.Str(s.cfg.Version)
	out.Key("mode")
	out.Str("streaming")
	out.EndObj()
	return out.Respond(w, http.StatusOK)
}

// serveInfo serves GET /info: the spec's list of one entity, {"entity":
// "ssp", "id", "status", "views", "ref_mode", "version", "uptime_seconds",
// "circuit_tables": {table: records}, "circuit_hashes": {table: hash}}.
func (s *Server) serveInfo(w http.ResponseWriter, r *http.Request) int {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	info, err := s.views.Info(ctx)
	if err != nil {
		return s.writeError(w, backendError(err))
	}
	out := jsonw.Get()
	defer jsonw.Put(out)
	out.Arr()
	out.Obj()
	out.Key("entity")
	out.Str("ssp")
	out.Key("id")
	out.Str(s.cfg.SSPID)
	out.Key("status")
	out.Str(s.status())
	out.Key("views")
	out.Int(info.GetViews())
	out.Key("ref_mode")
	out.Str(s.cfg.RefMode)
	out.Key("version")
	out.Str(s.cfg.Version)
	out.Key("uptime_seconds")
	out.Int(int64(time.Since(s.started) / time.Second))
	out.Key("circuit_tables")
	out.Obj()
	tables := info.GetCircuitTables()
	for _, t := range slices.Sorted(maps.Keys(tables)) {
		out.StrKey(t)
		out.Int(tables[t])
	}
	out.EndObj()
	out.Key("circuit_hashes")
	out.Obj()
	hashes := info.GetCircuitHashes()
	for _, t := range slices.Sorted(maps.Keys(hashes)) {
		out.StrKey(t)
		out.Str(hashes[t])
	}
	out.EndObj()
	if jobs := info.GetJobs(); len(jobs) > 0 {
		writeJobs(out, jobs)
	}
	out.EndObj()
	out.EndArr()
	return out.Respond(w, http.StatusOK)
}

// writeJobs writes /info's "jobs" (only when there are job tables): per job
// table, {"backend", "pending", "processing", "success", "failed",
// "retried"}; pending is -1 when its queue did not answer.
func writeJobs(out *jsonw.Writer, jobs []*messages.JobBackendInfo) {
	out.Key("jobs")
	out.Obj()
	for _, j := range jobs {
		out.StrKey(j.GetTable())
		out.Obj()
		out.Key("backend")
		out.Str(j.GetBackend())
		for _, f := range []struct {
			k string
			v int64
		}{{"pending", j.GetPending()}, {"processing", j.GetProcessing()}, {"success", j.GetSuccess()},
			{"failed", j.GetFailed()}, {"retried", j.GetRetried()}} {
			out.Key(f.k)
			out.Int(f.v)
		}
		out.EndObj()
	}
	out.EndObj()
}

// serveDebugView serves GET /debug/view/{id}: the spec's shape, {"view_id",
// "cache_size", "last_hash", "format", "cache", "subquery_tables",
// "referenced_tables", "content_generation", "subquery_cache"}, where cache
// lists the result's records as register does, plus the registration
// ("surql", "client_id", "ttl_ms", "last_active_at"). An unknown view is
// 404 {"error": "View not found"}, the original's body.
func (s *Server) serveDebugView(w http.ResponseWriter, r *http.Request) int {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	d, err := s.views.Debug(ctx, r.PathValue("id"))
	switch {
	case err != nil:
		return s.writeError(w, backendError(err))
	case d.GetErrorCode() == messages.CodeNotFound:
		out := jsonw.Get()
		defer jsonw.Put(out)
		out.Literal(`{"error":"View not found"}`)
		return out.Respond(w, http.StatusNotFound)
	case d.GetErrorCode() != "":
		return s.writeError(w, replyError(d.GetErrorCode(), d.GetErrorMessage()))
	}
	out := jsonw.Get()
	defer jsonw.Put(out)
	out.Obj()
	out.Key("view_id")
	out.Str(d.GetViewId())
	out.Key("cache_size")
	out.Int(d.GetCacheSize())
	out.Key("last_hash")
	out.Str(d.GetLastHash())
	out.Key("format")
	if d.GetFormat() == "" {
		out.Null()
	} else {
		out.Str(d.GetFormat())
	}
	out.Key("cache")
	writeRecords(out, d.GetCache())
	out.Key("subquery_tables")
	out.Strs(d.GetSubqueryTables())
	out.Key("referenced_tables")
	out.Strs(d.GetReferencedTables())
	out.Key("content_generation")
	out.Uint(d.GetContentGeneration())
	// The spec's shape has it; the views keep no cache of subquery rows
	// apart from the tables, so it is always empty.
	out.Key("subquery_cache")
	out.Obj()
	out.EndObj()
	out.Key("surql")
	out.Str(d.GetSurql())
	out.Key("client_id")
	out.Str(d.GetClientId())
	out.Key("ttl_ms")
	out.Int(d.GetTtlMs())
	out.Key("last_active_at")
	if d.GetLastActiveMs() == 0 {
		out.Null()
	} else {
		out.Str(time.UnixMilli(d.GetLastActiveMs()).UTC().Format(time.RFC3339Nano))
	}
	out.EndObj()
	return out.Respond(w, http.StatusOK)
}

// serveDebugDeps serves GET /debug/deps: {"dependency_map": {table: [view
// ids]}, "tables_in_store": [...], "view_count"}.
func (s *Server) serveDebugDeps(w http.ResponseWriter, r *http.Request) int {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	deps, err := s.views.Deps(ctx)
	if err != nil {
		return s.writeError(w, backendError(err))
	}
	out := jsonw.Get()
	defer jsonw.Put(out)
	out.Obj()
	out.Key("dependency_map")
	out.Obj()
	dm := deps.GetDependencyMap()
	for _, t := range slices.Sorted(maps.Keys(dm)) {
		out.StrKey(t)
		out.Strs(dm[t].GetViews())
	}
	out.EndObj()
	out.Key("tables_in_store")
	out.Strs(deps.GetTablesInStore())
	out.Key("view_count")
	out.Int(deps.GetViewCount())
	out.EndObj()
	return out.Respond(w, http.StatusOK)
}
