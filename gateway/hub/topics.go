package hub

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/troupe-run/troupe/messages"
)

// postTopic is POST /topic/:name: the body is published to the topic,
// created on first use with the request's content type (the spec's
// default, application/x-ndjson, without one). Several producers publish
// at once; their chunks interleave whole (whole lines for ndjson and
// text: a partial line waits for its end, or for the end of the body).
// The answer comes once the body is in the topic's journal: 200 with
// x-end-stream: true, else 202.
func (s *Server) postTopic(w http.ResponseWriter, r *http.Request) {
	name, ct := r.PathValue("name"), mediaType(r)
	if ct == "" {
		ct = messages.DefaultTopicContentType
	}
	if !slices.Contains(messages.TopicContentTypes, ct) {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported content-type %q: a topic carries one of %v", ct, messages.TopicContentTypes))
		return
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	p, err := s.topics.Produce(ctx, name, &messages.TopicProduce{ContentType: ct})
	if err != nil {
		fail(w, err)
		return
	}
	defer p.Close()
	buf := make([]byte, chunkSize)
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			if perr := p.Write(ctx, buf[:n]); perr != nil {
				fail(w, perr)
				return
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return // the client is gone; its partial line goes with it
		}
	}
	if err := p.Flush(ctx); err != nil {
		fail(w, err)
		return
	}
	status := http.StatusAccepted
	if endStream(r, false) {
		status = http.StatusOK
	}
	w.WriteHeader(status)
}

// getTopic is GET /topic/:name: a never-ending stream of the topic's
// chunks, from the offset ?from= names, else from where the consumer id
// of x-consumer-id last acknowledged (a chunk counts as acknowledged once
// written to the connection and flushed), else from the first chunk no
// reader has been given. X-Topic-Offset tells the offset of the first
// chunk sent. A deleted topic's readers reach the end of their stream.
func (s *Server) getTopic(w http.ResponseWriter, r *http.Request) {
	cmd := &messages.TopicConsume{ContentType: mediaType(r), ConsumerId: r.Header.Get("X-Consumer-Id")}
	if v := r.URL.Query().Get("from"); v != "" {
		off, err := strconv.ParseInt(v, 10, 64)
		if err != nil || off < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("from must be an offset, a whole number from 0: %q", v))
			return
		}
		cmd.HasOffset, cmd.FromOffset = true, off
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	c, err := s.topics.Consume(ctx, r.PathValue("name"), cmd)
	if err != nil {
		fail(w, err)
		return
	}
	defer c.Close()
	w.Header().Set("X-Topic-Offset", strconv.FormatInt(c.Start(), 10))
	startStream(w, c.ContentType())
	rc := http.NewResponseController(w)
	for {
		off, data, err := c.Next(ctx)
		if err != nil {
			return
		}
		rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := w.Write(data); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
		c.Ack(off + 1)
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
	if !s.readJSON(w, r, &b) {
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
	t, err := s.topics.Create(ctx, b.ID, &messages.TopicCreate{ContentType: b.ContentType, Exclusive: true})
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
