package synap

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

var adminCommands = []commandSpec{
	{"admin.stats", adminStats},
	{"admin.config", adminConfig},
	{"admin.health", adminHealth},
	{"admin.shutdown", adminShutdown},
	{"kv.stats", kvStats},
}

// admin.stats {} -> the spec's statistics.
func adminStats(c *call) error {
	st, err := c.s.admin.Stats(c.ctx)
	if err != nil {
		return asAPIError(err)
	}
	w := c.out
	w.obj()
	w.key("server")
	w.obj()
	w.key("version")
	w.str(c.s.cfg.Version)
	w.key("uptime_secs")
	w.int(int64(st.Uptime / time.Second))
	w.key("role")
	w.str(st.Role)
	w.endObj()
	w.key("memory")
	w.obj()
	w.key("used_bytes")
	w.int(st.MemoryUsed)
	w.key("limit_bytes")
	w.int(st.MemoryLimit)
	w.endObj()
	w.key("kv")
	w.obj()
	w.key("total_keys")
	w.int(st.TotalKeys)
	w.key("operations_per_sec")
	w.float(st.OpsPerSec)
	w.endObj()
	w.key("queues")
	w.obj()
	w.key("total_queues")
	w.int(st.Queues)
	w.key("total_messages")
	w.int(st.QueueMessages)
	w.endObj()
	w.key("streams")
	w.obj()
	w.key("total_rooms")
	w.int(st.Rooms)
	w.key("total_subscribers")
	w.int(st.RoomSubs)
	w.endObj()
	w.key("pubsub")
	w.obj()
	w.key("total_topics")
	w.int(st.Topics)
	w.key("total_subscribers")
	w.int(st.TopicSubs)
	w.endObj()
	w.endObj()
	return nil
}

// kv.stats {} -> {total_keys, total_memory_bytes}, the part of Synap's KV
// statistics Troupe keeps.
func kvStats(c *call) error {
	st, err := c.s.admin.Stats(c.ctx)
	if err != nil {
		return asAPIError(err)
	}
	c.out.obj()
	c.out.key("total_keys")
	c.out.int(st.TotalKeys)
	c.out.key("total_memory_bytes")
	c.out.int(st.MemoryUsed)
	c.out.endObj()
	return nil
}

// admin.config {} -> the effective configuration.
func adminConfig(c *call) error {
	b, err := json.Marshal(c.s.admin.Config())
	if err != nil {
		return errorf(http.StatusInternalServerError, codeInternal, "encoding the configuration: %v", err)
	}
	c.out.raw(b)
	return nil
}

// admin.health {} -> the body of GET /health.
func adminHealth(c *call) error {
	c.s.writeHealth(c.out, c.s.admin.Health(c.ctx))
	return nil
}

// admin.shutdown {} -> {success, message}. The shutdown starts now and waits
// for in-flight requests, this one among them.
func adminShutdown(c *call) error {
	c.s.log.Warn("data service: shutdown requested by admin.shutdown")
	c.s.admin.Shutdown()
	c.out.obj()
	c.out.key("success")
	c.out.bool(true)
	c.out.key("message")
	c.out.str("shutting down")
	c.out.endObj()
	return nil
}

// serveHealth answers GET /health: 200 when healthy, 503 otherwise (and
// while draining, so that load balancers stop sending work).
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) (string, int) {
	h := s.admin.Health(r.Context())
	if s.draining.Load() {
		h.Status = "draining"
	}
	out := getJSONW()
	defer putJSONW(out)
	s.writeHealth(out, h)
	status := http.StatusOK
	if h.Status != Healthy {
		status = http.StatusServiceUnavailable
	}
	return "health", s.send(w, status, out)
}

// writeHealth writes the spec's health document.
func (s *Server) writeHealth(w *jsonw, h Health) {
	w.obj()
	w.key("status")
	w.str(h.Status)
	w.key("version")
	w.str(s.cfg.Version)
	w.key("role")
	w.str(h.Role)
	w.key("uptime_secs")
	w.int(int64(h.Uptime / time.Second))
	w.key("components")
	w.obj()
	names := make([]string, 0, len(h.Components))
	for name := range h.Components {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		w.strKey(name)
		w.str(h.Components[name])
	}
	w.endObj()
	w.endObj()
}

// serveChaos answers POST /admin/chaos {"target", "fault"}: it arms the
// target actors to fail while handling their next message.
func (s *Server) serveChaos(w http.ResponseWriter, r *http.Request) (string, int) {
	body, err := s.readBody(w, r)
	defer body.release()
	var req struct {
		Target string `json:"target"`
		Fault  string `json:"fault"`
	}
	switch {
	case err != nil:
	case json.Unmarshal(body.b, &req) != nil:
		err = malformed(`the body must be {"target": "data/shard-3" | "data/*", "fault": "panic"}`)
	case req.Target == "":
		err = invalid("target is required")
	case req.Fault == "":
		err = invalid("fault is required")
	}
	if err != nil {
		return "admin.chaos", s.writeError(w, asAPIError(err))
	}
	n, err := s.admin.InjectFault(req.Target, req.Fault)
	switch {
	case err != nil:
		return "admin.chaos", s.writeError(w, invalid("%v", err))
	case n == 0:
		return "admin.chaos", s.writeError(w, errorf(http.StatusNotFound, codeNotFound, "no actor matches %q", req.Target))
	}
	s.log.Warn("data service: fault injected", "target", req.Target, "fault", req.Fault, "actors", n)
	out := getJSONW()
	defer putJSONW(out)
	out.obj()
	out.key("target")
	out.str(req.Target)
	out.key("fault")
	out.str(req.Fault)
	out.key("affected")
	out.int(int64(n))
	out.endObj()
	return "admin.chaos", s.send(w, http.StatusOK, out)
}
