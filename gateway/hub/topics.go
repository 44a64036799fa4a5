package hub

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/troupe-run/troupe/actors/topic"
)

// postTopic is POST /topic/:name: the body is published to the topic,
// created on first use with the request's content type (the spec's
// default, application/x-ndjson, without one). Producers are served one at
// a time: a request waits for the one before to end. The answer comes once
// the body is published: 200 with x-end-stream: true, else 202.
func (s *Server) postTopic(w http.ResponseWriter, r *http.Request) {
	name, ct := r.PathValue("name"), mediaType(r)
	if ct == "" {
		ct = topic.DefaultContentType
	}
	if !topic.ValidContentType(ct) {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported content-type %q: a topic carries one of %v", ct, topic.ContentTypes))
		return
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	p, err := s.topics.Produce(ctx, name, ct)
	if err != nil {
		fail(w, err)
		return
	}
	defer p.Close()
	if err := p.Wait(ctx); err != nil {
		fail(w, err)
		return
	}
	buf := make([]byte, chunkSize)
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			if perr := p.Publish(ctx, buf[:n]); perr != nil {
				fail(w, perr)
				return
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return // the client is gone
		}
	}
	status := http.StatusAccepted
	if endStream(r, false) {
		status = http.StatusOK
	}
	w.WriteHeader(status)
}

// getTopic is GET /topic/:name: a never-ending stream of everything
// published to the topic from now on. A reader too slow to keep up is
// cut off (the connection is closed without the end of the body), as is
// every reader of a deleted topic, cleanly.
func (s *Server) getTopic(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.streamContext(r)
	defer cancel()
	c, ct, err := s.topics.Consume(ctx, r.PathValue("name"), mediaType(r))
	if err != nil {
		fail(w, err)
		return
	}
	defer c.Close()
	flush := startStream(w, ct)
	for {
		b, err := c.Next(ctx)
		if errors.Is(err, topic.ErrTooSlow) {
			panic(http.ErrAbortHandler)
		}
		if err != nil {
			return
		}
		if _, err := w.Write(b); err != nil {
			return
		}
		flush()
	}
}

// topicJSON is a topic as GET /topics lists it.
type topicJSON struct {
	ContentType   string `json:"contentType"`
	LocalProvider string `json:"localProvider"`
	Topic         string `json:"topic"`
	TopicName     string `json:"topicName"`
}

func (s *Server) getTopics(w http.ResponseWriter, r *http.Request) {
	list := s.topics.List()
	out := make([]topicJSON, 0, len(list))
	for _, t := range list {
		out = append(out, topicJSON{ContentType: t.ContentType, Topic: t.Name, TopicName: t.Name})
	}
	writeJSON(w, http.StatusOK, out)
}

// postTopics is POST /topics {id, "content-type"}: creates a topic that
// does not exist yet.
func (s *Server) postTopics(w http.ResponseWriter, r *http.Request) {
	var b struct {
		ID          string `json:"id"`
		ContentType string `json:"content-type"`
	}
	if !readJSON(w, r, &b) {
		return
	}
	switch {
	case b.ID == "":
		writeError(w, http.StatusBadRequest, "Missing body param: id")
		return
	case b.ContentType == "":
		writeError(w, http.StatusBadRequest, "Missing body param: content-type")
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	t, err := s.topics.Create(ctx, b.ID, b.ContentType, true)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": t.Name, "topicName": t.Name, "contentType": t.ContentType})
}

func (s *Server) deleteTopic(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	name := r.PathValue("name")
	if err := s.topics.Delete(ctx, name); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": fmt.Sprintf("Topic %s removed", name)})
}
