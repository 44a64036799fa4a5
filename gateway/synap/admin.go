package synap

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
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
	w.Obj()
	w.Key("server")
	w.Obj()
	w.Key("version")
	w.Str(c.s.cfg.Version)
	w.Key("uptime_secs")
	w.Int(int64(st.Uptime / time.Second))
	w.Key("role")
	w.Str(st.Role)
	w.EndObj()
	w.Key("memory")
	w.Obj()
	w.Key("used_bytes")
	w.Int(st.MemoryUsed)
	w.Key("limit_bytes")
	w.Int(st.MemoryLimit)
	w.EndObj()
	w.Key("kv")
	w.Obj()
	w.Key("total_keys")
	w.Int(st.TotalKeys)
	w.Key("operations_per_sec")
	w.Float(st.OpsPerSec)
	w.EndObj()
	w.Key("queues")
	w.Obj()
	w.Key("total_queues")
	w.Int(st.Queues)
	w.Key("total_messages")
	w.Int(st.QueueMessages)
	w.EndObj()
	w.Key("streams")
	w.Obj()
	w.Key("total_rooms")
	w.Int(st.Rooms)
	w.Key("total_subscribers")
	w.Int(st.RoomSubs)
	w.EndObj()
	w.Key("pubsub")
	w.Obj()
	w.Key("total_topics")
	w.Int(st.Topics)
	w.Key("total_subscribers")
	w.Int(st.TopicSubs)
	w.EndObj()
	w.EndObj()
	return nil
}

// admin.config {} -> the effective configuration.
func adminConfig(c *call) error {
	b, err := json.Marshal(c.s.admin.Config())
	if err != nil {
		return errorf(http.StatusInternalServerError, codeInternal, "encoding the configuration: %v", err)
	}
	c.out.Raw(b)
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
	c.out.Obj()
	c.out.Key("success")
	c.out.Bool(true)
	c.out.Key("message")
	c.out.Str("shutting down")
	c.out.EndObj()
	return nil
}

// serveHealth answers GET /health: 200 when healthy, 503 otherwise (and
// while draining, so that load balancers stop sending work).
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) (string, int) {
	h := s.admin.Health(r.Context())
	if s.draining.Load() {
		h.Status = "draining"
	}
	out := jsonw.Get()
	defer jsonw.Put(out)
	s.writeHealth(out, h)
	status := http.StatusOK
	if h.Status != Healthy {
		status = http.StatusServiceUnavailable
	}
	return "health", out.Respond(w, status)
}

// writeHealth writes the spec's health document.
func (s *Server) writeHealth(w *jsonw.Writer, h Health) {
	w.Obj()
	w.Key("status")
	w.Str(h.Status)
	w.Key("version")
	w.Str(s.cfg.Version)
	w.Key("role")
	w.Str(h.Role)
	w.Key("uptime_secs")
	w.Int(int64(h.Uptime / time.Second))
	w.Key("components")
	w.Obj()
	names := make([]string, 0, len(h.Components))
	for name := range h.Components {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		w.StrKey(name)
		w.Str(h.Components[name])
	}
	w.EndObj()
	w.EndObj()
}

// serveChaos answers POST /admin/chaos {"target", "fault"}: it arms the
// target actors to fail while handling their next message.
func (s *Server) serveChaos(w http.ResponseWriter, r *http.Request) (string, int) {
	body, err := s.readBody(w, r)
	defer body.Release()
	var req struct {
		Target string `json:"target"`
		Fault  string `json:"fault"`
	}
	switch {
	case err != nil:
	case json.Unmarshal(body.Bytes(), &req) != nil:
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
	out := jsonw.Get()
	defer jsonw.Put(out)
	out.Obj()
	out.Key("target")
	out.Str(req.Target)
	out.Key("fault")
	out.Str(req.Fault)
	out.Key("affected")
	out.Int(int64(n))
	out.EndObj()
	return "admin.chaos", out.Respond(w, http.StatusOK)
}
