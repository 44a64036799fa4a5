package hub

import (
	"net/http"
	"time"

	"github.com/troupe-run/troupe/messages"
)

func (s *Server) routes() {
	h := s.handle
	h("GET "+base+"/version", getJSON(s.getVersion))
	h("GET "+base+"/config", getJSON(s.getConfig))
	h("GET "+base+"/load-check", getJSON(s.getLoadCheck))
	h("GET "+base+"/status", getJSON(s.getStatus))
	h("GET "+base+"/log", s.getLog)

	h("POST "+base+"/sequence", s.postSequence)
	h("GET "+base+"/sequences", getJSON(s.getSequences))
	h("GET "+base+"/sequence/{id}", getJSON(s.getSequence))
	h("GET "+base+"/sequence/{id}/instances", getJSON(s.getSequenceInstances))
	h("DELETE "+base+"/sequence/{id}", s.deleteSequence)
	h("PUT "+base+"/sequence/{id}", s.putSequence)
	h("GET "+base+"/entities", getJSON(s.getEntities))
	h("GET "+base+"/audit", s.getAudit)
	h("POST "+base+"/sequence/{id}/start", s.startSequence)

	h("GET "+base+"/instances", getJSON(s.getInstances))
	h("GET "+base+"/instance/{id}", getJSON(s.getInstance))
	h("GET "+base+"/instance/{id}/{$}", getJSON(s.getInstance))
	h("POST "+base+"/instance/{id}/inout", s.postInout)
	h("POST "+base+"/instance/{id}/_monitoring_rate", s.postMonitoringRate)
	h("GET "+base+"/instance/{id}/monitoring", s.getMonitoring)
	h("GET "+base+"/instance/{id}/health", getJSON(s.getHealth))
	h("POST "+base+"/instance/{id}/_stop", s.postStop)
	h("POST "+base+"/instance/{id}/_kill", s.postKill)
	h("POST "+base+"/instance/{id}/_event", s.postEvent)
	h("GET "+base+"/instance/{id}/event", getJSON(s.getEvent(false)))
	h("GET "+base+"/instance/{id}/event/{name}", getJSON(s.getEvent(false)))
	h("GET "+base+"/instance/{id}/once", getJSON(s.getEvent(true)))
	h("GET "+base+"/instance/{id}/once/{name}", getJSON(s.getEvent(true)))
	h("GET "+base+"/instance/{id}/events/{name}", s.getEvents)
	h("POST "+base+"/instance/{id}/input", s.postInput(false))
	h("POST "+base+"/instance/{id}/stdin", s.postInput(true))
	h("GET "+base+"/instance/{id}/output", s.getStream(messages.InstanceStream_INSTANCE_STREAM_OUTPUT))
	h("GET "+base+"/instance/{id}/stdout", s.getStream(messages.InstanceStream_INSTANCE_STREAM_STDOUT))
	h("GET "+base+"/instance/{id}/stderr", s.getStream(messages.InstanceStream_INSTANCE_STREAM_STDERR))
	h("GET "+base+"/instance/{id}/log", s.getStream(messages.InstanceStream_INSTANCE_STREAM_LOG))

	h("POST "+base+"/topic/{name}", s.postTopic)
	h("GET "+base+"/topic/{name}", s.getTopic)
	h("GET "+base+"/topics", getJSON(s.getTopics))
	h("POST "+base+"/topics", s.postTopics)
	h("DELETE "+base+"/topics/{name}", s.deleteTopic)

	h("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no route "+r.Method+" "+r.URL.Path)
	})
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"service": "troupe", "apiVersion": "v1",
		"version": s.cfg.Version, "build": s.cfg.Build})
}

// getConfig shows the hub's settings that are no secret, and the caller's
// Config.Public.
func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{
		"host":           map[string]any{"apiBase": base},
		"maxPackage":     s.cfg.MaxPackage,
		"requestTimeout": s.cfg.RequestTimeout.Milliseconds(),
		"protectedMode":  len(s.cfg.APIKeys) == 0 && !s.cfg.Insecure,
	}
	for k, v := range s.cfg.Public {
		out[k] = v
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	running := 0
	for _, i := range s.instances.List() {
		if !i.Terminated {
			running++
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"cpm":       map[string]any{"connected": false},
		"uptime":    time.Since(s.started).Milliseconds(),
		"instances": running,
		"topics":    len(s.topics.List()),
	})
}

func (s *Server) getLoadCheck(w http.ResponseWriter, r *http.Request) {
	lc, err := s.load.check(s.cfg.DataDir)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "reading the machine's load: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, lc)
}

// getLog is GET /log: the hub's own log, line by line: the recent lines
// the tap keeps (--hub-log-buffer), then what comes.
func (s *Server) getLog(w http.ResponseWriter, r *http.Request) {
	if s.logs == nil {
		writeError(w, http.StatusNotFound, "the hub's log is not served")
		return
	}
	if !accepts(r, octetStream) {
		notAcceptable(w, octetStream)
		return
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	lines, unsubscribe := s.logs.Subscribe()
	defer unsubscribe()
	flush := startStream(w, octetStream)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return
			}
			if _, err := w.Write(line); err != nil {
				return
			}
			flush()
		case <-ctx.Done():
			return
		}
	}
}
