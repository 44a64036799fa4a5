package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-run/troupe/messages"
)

// The routes the original hub has beside those of the spec: PUT
// /sequence/:id, GET /entities, POST /instance/:id/inout, POST
// /instance/:id/_monitoring_rate, GET /instance/:id/monitoring, GET /audit.

// packageBody is the uploaded package of POST and PUT /sequence: the raw
// body, or the field "file" of a multipart form. ok is false when an
// answer was written.
func (s *Server) packageBody(w http.ResponseWriter, r *http.Request) (pkg io.Reader, done func(), ok bool) {
	if s.cfg.ReadTimeout > 0 {
		r.Body = &progressReader{r: r.Body, rc: http.NewResponseController(w), d: s.cfg.ReadTimeout}
	}
	// The multipart reader reads r.Body: the limit bounds both forms.
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxPackage)
	if !strings.HasPrefix(mediaType(r), "multipart/form-data") {
		return r.Body, func() {}, true
	}
	part, err := filePart(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, nil, false
	}
	return part, func() { part.Close() }, true
}

// progressReader reads an upload that must make progress: each read has
// d to bring bytes, so a large package may take its time but a client
// that stops sending does not hold the request open. (Reading the body to
// its end lifts the deadline again: net/http then watches the connection
// for the client's hang-up without one.)
type progressReader struct {
	r  io.ReadCloser
	rc *http.ResponseController
	d  time.Duration
}

func (p *progressReader) Read(b []byte) (int, error) {
	p.rc.SetReadDeadline(time.Now().Add(p.d))
	return p.r.Read(b)
}

func (p *progressReader) Close() error { return p.r.Close() }

// uploadFailed answers a refused upload.
func (s *Server) uploadFailed(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("the package is larger than the limit of %d bytes (--hub-max-package)", s.cfg.MaxPackage))
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.readTimedOut(w)
	default:
		fail(w, err)
	}
}

// putSequence is PUT /sequence/:id: a new package for the sequence, which
// keeps its id; 409 while it has instances running.
func (s *Server) putSequence(w http.ResponseWriter, r *http.Request) {
	pkg, done, ok := s.packageBody(w, r)
	if !ok {
		return
	}
	defer done()
	rec, err := s.seqs.Replace(r.Context(), r.PathValue("id"), pkg)
	if err != nil {
		s.uploadFailed(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": rec.Id})
}

// getEntities is GET /entities: the sequences and the instances at once.
func (s *Server) getEntities(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	views, err := s.seqs.List(ctx)
	if err != nil {
		fail(w, err)
		return
	}
	seqs := make([]sequenceJSON, 0, len(views))
	for _, v := range views {
		seqs = append(seqs, sequenceOut(v))
	}
	list := s.instances.List()
	insts := make([]instanceJSON, 0, len(list))
	for _, i := range list {
		if !i.Terminated {
			insts = append(insts, instanceOut(i))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sequences": seqs, "instances": insts})
}

// postInout is POST /instance/:id/inout: the request body is the input
// (its Content-Type names the type, as the first /input does), the answer
// is the output, both at once on one connection.
func (s *Server) postInout(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.streamContext(r)
	defer cancel()
	id := r.PathValue("id")
	rd, err := s.instances.Open(ctx, id, &messages.InstanceStreamOpen{Stream: messages.InstanceStream_INSTANCE_STREAM_OUTPUT})
	if err != nil {
		fail(w, err)
		return
	}
	defer rd.Close()
	port, err := s.instances.Input(ctx, id, &messages.InstanceInputOpen{ContentType: mediaType(r)})
	if err != nil {
		fail(w, err)
		return
	}
	rc := http.NewResponseController(w)
	if err := rc.EnableFullDuplex(); err != nil {
		writeError(w, http.StatusInternalServerError, "the connection cannot carry input and output at once: "+err.Error())
		return
	}
	// The copy of the body is this handler's: it waits for it below, and
	// closing the body (or the input's end) ends it.
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		port.Copy(r.Body, endStream(r, true))
	}()
	defer func() {
		r.Body.Close()
		<-copied
	}()
	flush := startStream(w, octetStream)
	buf := make([]byte, chunkSize)
	for {
		n, err := rd.Read(ctx, buf)
		if n > 0 {
			rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			flush()
		}
		if err != nil {
			return
		}
	}
}

// streamWriteTimeout bounds one write of a stream to its client: a client
// that takes no byte for this long is gone.
const streamWriteTimeout = time.Minute

// postMonitoringRate is POST /_monitoring_rate {monitoringRate} (or the
// original client's [4003, {monitoringRate}]): health reports per second.
func (s *Server) postMonitoringRate(w http.ResponseWriter, r *http.Request) {
	var b struct {
		MonitoringRate *float64 `json:"monitoringRate"`
	}
	if !s.readMessage(w, r, &b, "Invalid format: want {monitoringRate} or [4003, {monitoringRate}]") {
		return
	}
	if b.MonitoringRate == nil || *b.MonitoringRate <= 0 {
		writeError(w, http.StatusBadRequest, "monitoringRate must be a positive number")
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	if _, err := s.instances.Do(ctx, r.PathValue("id"), &messages.InstanceMonitoringRate{Rate: *b.MonitoringRate}); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"opStatus": "Accepted"})
}

// getMonitoring is GET /monitoring: the instance's health reports as they
// come, one JSON line each ([3001, {"healthy": true}]).
func (s *Server) getMonitoring(w http.ResponseWriter, r *http.Request) {
	if !accepts(r, octetStream) {
		notAcceptable(w, octetStream)
		return
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	m, err := s.instances.Monitoring(ctx, r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	defer m.Close()
	flush := startStream(w, octetStream)
	rc := http.NewResponseController(w)
	for {
		line, err := m.Next(ctx)
		if err != nil {
			return
		}
		rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := w.Write(line); err != nil {
			return
		}
		flush()
	}
}

// writeLines streams lines until the channel closes, the context ends or
// the client stops taking them.
func writeLines(done <-chan struct{}, w http.ResponseWriter, lines <-chan []byte) {
	flush := startStream(w, octetStream)
	rc := http.NewResponseController(w)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return
			}
			rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			if _, err := w.Write(line); err != nil {
				return
			}
			flush()
		case <-done:
			return
		}
	}
}

// auditor is GET /audit: one JSON line per API request answered, to each
// reader, from when it came. A reader that lets its buffer fill is
// dropped, so the audit never slows the API.
type auditor struct {
	seq  atomic.Int64
	mu   sync.Mutex
	subs map[chan []byte]struct{}
}

const auditBuffer = 1024

func (a *auditor) subscribe() (<-chan []byte, func()) {
	c := make(chan []byte, auditBuffer)
	a.mu.Lock()
	if a.subs == nil {
		a.subs = map[chan []byte]struct{}{}
	}
	a.subs[c] = struct{}{}
	a.mu.Unlock()
	return c, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if _, ok := a.subs[c]; ok {
			delete(a.subs, c)
			close(c)
		}
	}
}

// record is one audit line: what the original's auditor names the object,
// its id and the operation, with the request and its answer.
func (a *auditor) record(r *http.Request, status int, received time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.subs) == 0 {
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, base+"/"), "/")
	rec := map[string]any{
		"requestId":  a.seq.Add(1),
		"method":     r.Method,
		"url":        r.URL.RequestURI(),
		"status":     status,
		"receivedAt": received.UTC().Format(time.RFC3339Nano),
		"finishedAt": time.Now().UTC().Format(time.RFC3339Nano),
		"object":     parts[0],
	}
	if len(parts) > 1 && parts[1] != "" {
		rec["objectId"] = parts[1]
	}
	if len(parts) > 2 && parts[2] != "" {
		rec["op"] = parts[2]
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return
	}
	line = append(line, '\n')
	for c := range a.subs {
		select {
		case c <- line:
		default:
			delete(a.subs, c)
			close(c)
		}
	}
}

func (s *Server) getAudit(w http.ResponseWriter, r *http.Request) {
	if !accepts(r, octetStream) {
		notAcceptable(w, octetStream)
		return
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	lines, unsubscribe := s.audit.subscribe()
	defer unsubscribe()
	writeLines(ctx.Done(), w, lines)
}
