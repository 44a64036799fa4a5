package ssp

import (
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/troupe-run/troupe/messages"
)

// status is what /health and /info report: "ready" once the views are
// rebuilt from the store, "bootstrapping" before (the original's words),
// "draining" once Drain is called.
func (s *Server) status() string {
	switch {
	case s.draining.Load():
		return "draining"
	case s.views.Ready():
		return "ready"
	}
	return "bootstrapping"
}

// serveHealth serves GET /health: 200 {"status":"ready"}, else 503 with the
// status. The scheduler polls it to learn when the SSP is ready.
func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) int {
	st := s.status()
	code := http.StatusOK
	if st != "ready" {
		code = http.StatusServiceUnavailable
	}
	out := getJSONW()
	defer putJSONW(out)
	out.obj()
	out.key("status")
	out.str(st)
	out.endObj()
	return s.send(w, code, out)
}

// serveVersion serves GET /version: {"version", "mode": "streaming"}.
func (s *Server) serveVersion(w http.ResponseWriter, _ *http.Request) int {
	out := getJSONW()
	defer putJSONW(out)
	out.obj()
	out.key("version")
	out.str(s.cfg.Version)
	out.key("mode")
	out.str("streaming")
	out.endObj()
	return s.send(w, http.StatusOK, out)
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
	out := getJSONW()
	defer putJSONW(out)
	out.arr()
	out.obj()
	out.key("entity")
	out.str("ssp")
	out.key("id")
	out.str(s.cfg.SSPID)
	out.key("status")
	out.str(s.status())
	out.key("views")
	out.int(info.GetViews())
	out.key("ref_mode")
	out.str(s.cfg.RefMode)
	out.key("version")
	out.str(s.cfg.Version)
	out.key("uptime_seconds")
	out.int(int64(time.Since(s.started) / time.Second))
	out.key("circuit_tables")
	out.obj()
	tables := info.GetCircuitTables()
	for _, t := range slices.Sorted(maps.Keys(tables)) {
		out.strKey(t)
		out.int(tables[t])
	}
	out.endObj()
	out.key("circuit_hashes")
	out.obj()
	hashes := info.GetCircuitHashes()
	for _, t := range slices.Sorted(maps.Keys(hashes)) {
		out.strKey(t)
		out.str(hashes[t])
	}
	out.endObj()
	out.endObj()
	out.endArr()
	return s.send(w, http.StatusOK, out)
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
		out := getJSONW()
		defer putJSONW(out)
		out.b = append(out.b, `{"error":"View not found"}`...)
		return s.send(w, http.StatusNotFound, out)
	case d.GetErrorCode() != "":
		return s.writeError(w, replyError(d.GetErrorCode(), d.GetErrorMessage()))
	}
	out := getJSONW()
	defer putJSONW(out)
	out.obj()
	out.key("view_id")
	out.str(d.GetViewId())
	out.key("cache_size")
	out.int(d.GetCacheSize())
	out.key("last_hash")
	out.str(d.GetLastHash())
	out.key("format")
	if d.GetFormat() == "" {
		out.null()
	} else {
		out.str(d.GetFormat())
	}
	out.key("cache")
	writeRecords(out, d.GetCache())
	out.key("subquery_tables")
	out.strs(d.GetSubqueryTables())
	out.key("referenced_tables")
	out.strs(d.GetReferencedTables())
	out.key("content_generation")
	out.uint(d.GetContentGeneration())
	// The spec's shape has it; the views keep no cache of subquery rows
	// apart from the tables, so it is always empty.
	out.key("subquery_cache")
	out.obj()
	out.endObj()
	out.key("surql")
	out.str(d.GetSurql())
	out.key("client_id")
	out.str(d.GetClientId())
	out.key("ttl_ms")
	out.int(d.GetTtlMs())
	out.key("last_active_at")
	if d.GetLastActiveMs() == 0 {
		out.null()
	} else {
		out.str(time.UnixMilli(d.GetLastActiveMs()).UTC().Format(time.RFC3339Nano))
	}
	out.endObj()
	return s.send(w, http.StatusOK, out)
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
	out := getJSONW()
	defer putJSONW(out)
	out.obj()
	out.key("dependency_map")
	out.obj()
	dm := deps.GetDependencyMap()
	for _, t := range slices.Sorted(maps.Keys(dm)) {
		out.strKey(t)
		out.strs(dm[t].GetViews())
	}
	out.endObj()
	out.key("tables_in_store")
	out.strs(deps.GetTablesInStore())
	out.key("view_count")
	out.int(deps.GetViewCount())
	out.endObj()
	return s.send(w, http.StatusOK, out)
}
