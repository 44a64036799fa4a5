package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/troupe-run/troupe/messages"
)

// instanceJSON is an instance as GET /instance/:id shows it.
type instanceJSON struct {
	ID         string          `json:"id"`
	AppConfig  json.RawMessage `json:"appConfig"`
	Args       json.RawMessage `json:"args"`
	Sequence   string          `json:"sequence"`
	Created    string          `json:"created"`
	Started    string          `json:"started,omitempty"`
	Ended      string          `json:"ended,omitempty"`
	Status     string          `json:"status"`
	Terminated *terminatedJSON `json:"terminated,omitempty"`
	Provides   string          `json:"provides,omitempty"`
	Requires   string          `json:"requires,omitempty"`
}

type terminatedJSON struct {
	ExitCode int32  `json:"exitcode"`
	Reason   string `json:"reason"`
}

func instanceOut(i *messages.InstanceInfo) instanceJSON {
	out := instanceJSON{ID: i.Id, AppConfig: i.AppConfig, Args: i.Args, Sequence: i.SequenceId,
		Created: isoTime(i.CreatedMs), Started: isoTime(i.StartedMs), Ended: isoTime(i.EndedMs),
		Status: i.Status, Provides: i.Provides, Requires: i.Requires}
	if i.Terminated {
		out.Terminated = &terminatedJSON{ExitCode: i.ExitCode, Reason: i.Reason}
	}
	return out
}

// getInstances lists the instances that have not ended: the ones whose
// /health answers. An ended one stays readable by its id for
// --hub-retention, but is no longer listed, as the original's store drops
// it once it ended (si inst ls is empty once si inst health is 404).
func (s *Server) getInstances(w http.ResponseWriter, r *http.Request) {
	list := s.instances.List()
	out := make([]instanceJSON, 0, len(list))
	for _, i := range list {
		if !i.Terminated {
			out = append(out, instanceOut(i))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getInstance(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	i, err := s.instances.Do(ctx, r.PathValue("id"), &messages.InstanceInfoRequest{})
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, instanceOut(i))
}

func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	i, err := s.firstReport(ctx, r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	if i.Terminated {
		// As the original, whose ended instances are gone from its store.
		writeError(w, http.StatusNotFound, fmt.Sprintf("Instance %s has ended", i.Id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"healthy": i.Healthy, "processId": i.Pid})
}

// firstReport describes an instance once its runner sent its first health
// report, or it ended. As the original's /health, which answers with the
// runner's last report and waits for the first: a sequence that declares
// itself unhealthy as it starts is never shown healthy. Past the request's
// deadline without a report, the instance is described as it is.
func (s *Server) firstReport(ctx context.Context, id string) (*messages.InstanceInfo, error) {
	i, err := s.instances.Do(ctx, id, &messages.InstanceInfoRequest{})
	if err != nil || i.Reported || i.Terminated {
		return i, err
	}
	// The stream opens before the second look, so a report between the
	// two is not missed; it ends with the instance.
	reports, err := s.instances.Monitoring(ctx, id)
	if err != nil {
		return nil, err
	}
	defer reports.Close()
	if i, err = s.instances.Do(ctx, id, &messages.InstanceInfoRequest{}); err != nil || i.Reported || i.Terminated {
		return i, err
	}
	if _, err := reports.Next(ctx); err != nil && ctx.Err() != nil {
		return i, nil
	}
	return s.instances.Do(ctx, id, &messages.InstanceInfoRequest{})
}

// postStop is POST /_stop {timeout, canCallKeepalive}: timeout in
// milliseconds, 7000 when absent.
func (s *Server) postStop(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Timeout          any `json:"timeout"`
		CanCallKeepalive any `json:"canCallKeepalive"`
	}
	if !s.readMessage(w, r, &b, "Invalid format: want {timeout, canCallKeepalive} or [4001, {timeout, canCallKeepalive}]") {
		return
	}
	timeout := DefaultStopTimeout
	if b.Timeout != nil {
		ms, ok := b.Timeout.(float64)
		if !ok || ms < 0 {
			writeError(w, http.StatusBadRequest, "Invalid timeout format")
			return
		}
		timeout = time.Duration(ms * float64(time.Millisecond))
	}
	keepalive := false
	if b.CanCallKeepalive != nil {
		v, ok := b.CanCallKeepalive.(bool)
		if !ok {
			writeError(w, http.StatusBadRequest, "Invalid canCallKeepalive format")
			return
		}
		keepalive = v
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	id := r.PathValue("id")
	stop := &messages.InstanceStop{TimeoutMs: timeout.Milliseconds(), CanCallKeepalive: keepalive}
	if _, err := s.instances.Do(ctx, id, stop); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": 0, "type": "stop",
		"message": fmt.Sprintf("Instance %s is stopping", id)})
}

func (s *Server) postKill(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	i, err := s.instances.Do(ctx, r.PathValue("id"), &messages.InstanceKill{})
	if err != nil {
		fail(w, err)
		return
	}
	out := struct {
		OpStatus string `json:"opStatus"`
		instanceJSON
	}{"Accepted", instanceOut(i)}
	writeJSON(w, http.StatusAccepted, out)
}
