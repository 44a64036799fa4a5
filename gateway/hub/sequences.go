package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/troupe-run/troupe/messages"
)

var jsonTypes = []string{"application/json", "text/json"}

// getJSON wraps a GET route answering JSON: 406 when the Accept header
// wants something else.
func getJSON(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !accepts(r, jsonTypes...) {
			notAcceptable(w, jsonTypes...)
			return
		}
		h(w, r)
	}
}

// sequenceJSON is a sequence as the original lists it.
type sequenceJSON struct {
	ID        string         `json:"id"`
	Name      string         `json:"name,omitempty"`
	Config    map[string]any `json:"config"`
	Location  string         `json:"location"`
	Instances []string       `json:"instances"`
}

func sequenceOut(v *messages.SequenceView) sequenceJSON {
	rec := v.Sequence
	var manifest struct {
		Engines  map[string]any `json:"engines"`
		Scramjet struct {
			Config map[string]any `json:"config"`
		} `json:"scramjet"`
	}
	json.Unmarshal(rec.Manifest, &manifest) // checked when the package was unpacked
	if manifest.Engines == nil {
		manifest.Engines = map[string]any{}
	}
	language := "js"
	if rec.Engine == messages.EnginePython {
		language = "py"
	}
	config := map[string]any{
		"type":           "process",
		"id":             rec.Id,
		"name":           rec.Name,
		"version":        rec.Version,
		"entrypointPath": rec.Main,
		"engines":        manifest.Engines,
		"language":       language,
		"sequenceDir":    rec.Dir,
		"config":         manifest.Scramjet.Config,
	}
	return sequenceJSON{ID: rec.Id, Name: rec.Name, Config: config, Location: "troupe", Instances: v.Running}
}

// postSequence is POST /sequence: the package as the raw body, or as the
// field "file" of a multipart form.
func (s *Server) postSequence(w http.ResponseWriter, r *http.Request) {
	pkg, done, ok := s.packageBody(w, r)
	if !ok {
		return
	}
	defer done()
	rec, err := s.seqs.Add(r.Context(), pkg)
	if err != nil {
		s.uploadFailed(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": rec.Id})
}

// filePart finds the multipart field "file", streaming: the package is not
// buffered whole.
func filePart(r *http.Request) (io.ReadCloser, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("reading the multipart form: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			return nil, errors.New(`the multipart form has no field "file" holding the package`)
		}
		if part.FormName() == "file" {
			return part, nil
		}
		part.Close()
	}
}

func (s *Server) getSequences(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	views, err := s.seqs.List(ctx)
	if err != nil {
		fail(w, err)
		return
	}
	out := make([]sequenceJSON, 0, len(views))
	for _, v := range views {
		out = append(out, sequenceOut(v))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getSequence(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	v, err := s.seqs.Get(ctx, &messages.SequenceGet{Id: r.PathValue("id")})
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sequenceOut(v))
}

func (s *Server) getSequenceInstances(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	v, err := s.seqs.Get(ctx, &messages.SequenceGet{Id: r.PathValue("id")})
	if err != nil {
		fail(w, err)
		return
	}
	// As /instances and the sequence's own instances: those not ended.
	writeJSON(w, http.StatusOK, v.Running)
}

// deleteSequence is DELETE /sequence/:id; x-seq-kill-inst: true kills the
// sequence's instances first.
func (s *Server) deleteSequence(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	del := &messages.SequenceDelete{Id: id, KillInstances: r.Header.Get("X-Seq-Kill-Inst") == "true"}
	if err := s.seqs.Delete(r.Context(), del); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"opStatus": "OK", "id": id})
}

// startBody is the body of POST /sequence/:id/start.
type startBody struct {
	AppConfig   json.RawMessage `json:"appConfig"`
	Args        json.RawMessage `json:"args"`
	InstanceID  string          `json:"instanceId"`
	InputTopic  string          `json:"inputTopic"`
	OutputTopic string          `json:"outputTopic"`
}

func (s *Server) startSequence(w http.ResponseWriter, r *http.Request) {
	var b startBody
	if !s.readJSON(w, r, &b) {
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	id, err := s.instances.Start(ctx, &messages.InstanceStart{Sequence: r.PathValue("id"), InstanceId: b.InstanceID,
		AppConfig: b.AppConfig, Args: b.Args, InputTopic: b.InputTopic, OutputTopic: b.OutputTopic})
	if err != nil {
		// "result": "error" is what the original's 0.26 clients look for
		// (they reject the start with "error"; without it si seq deploy
		// says "No id provided").
		failWith(w, err, map[string]string{"result": "error"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": "success", "opStatus": "OK", "id": id,
		"message": fmt.Sprintf("Sequence %s starting", id)})
}

// maxJSONBody bounds the JSON bodies of commands (start, stop, events).
const maxJSONBody = 1 << 20

// readJSON decodes an optional JSON body into v, read within
// cfg.ReadTimeout; it answers the request itself and returns false when
// the body is bad.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	// Reading the body to its end lifts the deadline again: net/http then
	// watches the connection for the client's hang-up without one.
	if s.cfg.ReadTimeout > 0 {
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.readTimedOut(w)
		return false
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("reading the body: %v", err))
		return false
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return true
	}
	if err := json.Unmarshal(data, v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("the body is not valid JSON: %v", err))
		return false
	}
	return true
}

// readTimedOut answers a request whose body did not come in time.
func (s *Server) readTimedOut(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	writeError(w, http.StatusRequestTimeout,
		fmt.Sprintf("the body did not come within %s (--http-read-timeout)", s.cfg.ReadTimeout))
}

// isoTime formats milliseconds as the original's dates; zero is absent.
func isoTime(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}
