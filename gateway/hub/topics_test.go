package hub_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// openTopic starts reading a topic and returns its body.
func (h *hub) openTopic(name, ct string) (io.ReadCloser, context.CancelFunc) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", h.url+"/topic/"+name, nil)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		h.t.Fatalf("GET /topic/%s: %v %v", name, res, err)
	}
	h.t.Cleanup(func() { cancel(); res.Body.Close() })
	return res.Body, cancel
}

func TestTopicRoutes(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	// Published before anyone reads: kept for the first reader.
	if status, body := h.do("POST", "/topic/news", strings.NewReader("{\"n\":1}\n"), "Content-Type", "application/x-ndjson"); status != http.StatusAccepted {
		t.Fatalf("POST /topic = %d %s", status, body)
	}
	a, _ := h.openTopic("news", "")
	b, _ := h.openTopic("news", "application/x-ndjson")
	if status, _ := h.do("POST", "/topic/news", strings.NewReader("{\"n\":2}\n"), "Content-Type", "application/x-ndjson", "X-End-Stream", "true"); status != http.StatusOK {
		t.Fatalf("POST /topic with x-end-stream = %d", status)
	}
	ra, rb := bufio.NewReader(a), bufio.NewReader(b)
	for _, want := range []string{"{\"n\":1}\n", "{\"n\":2}\n"} {
		if got, err := ra.ReadString('\n'); got != want {
			t.Errorf("first reader got %q %v, want %q", got, err, want)
		}
	}
	// The second reader joined after the first chunk was delivered.
	if got, err := rb.ReadString('\n'); got != "{\"n\":2}\n" {
		t.Errorf("second reader got %q %v", got, err)
	}
	if status, _ := h.do("POST", "/topic/news", strings.NewReader("text"), "Content-Type", "text/plain"); status != http.StatusUnsupportedMediaType {
		t.Errorf("POST of another type = %d, want 415", status)
	}

	var list []struct{ ContentType, Topic, TopicName string }
	h.json("GET", "/topics", "", http.StatusOK, &list)
	if len(list) != 1 || list[0].TopicName != "news" || list[0].ContentType != "application/x-ndjson" {
		t.Errorf("GET /topics = %+v", list)
	}
	var created struct{ TopicName, ContentType string }
	h.json("POST", "/topics", `{"id":"raw","content-type":"application/octet-stream"}`, http.StatusOK, &created)
	if created.TopicName != "raw" || created.ContentType != "application/octet-stream" {
		t.Errorf("POST /topics = %+v", created)
	}
	h.json("POST", "/topics", `{"id":"raw","content-type":"application/octet-stream"}`, http.StatusBadRequest, nil)
	h.json("POST", "/topics", `{"id":"bad name","content-type":"text/plain"}`, http.StatusBadRequest, nil)
	h.json("DELETE", "/topics/news", "", http.StatusOK, nil)
	h.json("DELETE", "/topics/news", "", http.StatusNotFound, nil)
	// A deleted topic's readers reach the end of their stream.
	if rest, err := io.ReadAll(ra); err != nil || len(rest) != 0 {
		t.Errorf("reader of a deleted topic: %q %v", rest, err)
	}
}

func TestPairJoinedByATopic(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	producer := h.send(node(t, `
module.exports = function (_input, ...names) {
    return require("stream").Readable.from(names.map((n) => n + "\n"));
};
`))
	consumer := h.send(node(t, `
module.exports = [
    { requires: "names", contentType: "text/plain" },
    function (input) { return input.map((s) => s.toUpperCase()); },
];
`))
	c := h.start(consumer, "")
	h.until(c, "declared its topic", func(i info) bool { return i.Status == "running" })
	var status int
	if status, _ = h.do("POST", "/instance/"+c+"/input", strings.NewReader("x"), "Content-Type", "text/plain"); status != http.StatusNotAcceptable {
		t.Errorf("input of an instance reading a topic = %d, want 406", status)
	}
	_, body := h.do("POST", "/instance/"+c+"/input", strings.NewReader("x"), "Content-Type", "text/plain")
	if !strings.Contains(body, "Input provided in other way.") {
		t.Errorf("406 body %s", body)
	}
	p := h.start(producer, `{"args":["ann","bob"],"outputTopic":"names"}`)
	h.ended(p)
	out := bufio.NewReader(mustStream(t, h, "/instance/"+c+"/output"))
	got := ""
	for !strings.Contains(got, "BOB") {
		chunk := make([]byte, 64)
		n, err := out.Read(chunk)
		got += string(chunk[:n])
		if err != nil {
			t.Fatalf("consumer output ended with %q: %v", got, err)
		}
	}
	if got != "ANN\nBOB\n" {
		t.Errorf("consumer output %q", got)
	}
	var i struct{ Requires, Provides string }
	h.json("GET", "/instance/"+c, "", http.StatusOK, &i)
	if i.Requires != "names" {
		t.Errorf("consumer info %+v", i)
	}
}

// mustStream opens a stream route without reading it to its end.
func mustStream(t *testing.T, h *hub, path string) io.Reader {
	t.Helper()
	res, err := http.Get(h.url + path)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %v", path, res, err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res.Body
}

func TestOutputTopicTheSequenceDeclares(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	id := h.start(h.send(node(t, `
const { PassThrough } = require("stream");
module.exports = function () {
    const out = new PassThrough();
    out.end("a\nb\n");
    return Object.assign(out, { topic: "letters", contentType: "text/plain" });
};
`)), "")
	h.ended(id)
	body, _ := h.openTopic("letters", "")
	r := bufio.NewReader(body)
	for _, want := range []string{"a\n", "b\n"} {
		if got, err := r.ReadString('\n'); got != want {
			t.Errorf("topic reader got %q %v, want %q", got, err, want)
		}
	}
	var list []struct{ TopicName, ContentType string }
	h.json("GET", "/topics", "", http.StatusOK, &list)
	if len(list) != 1 || list[0].ContentType != "text/plain" {
		t.Errorf("topics %+v", list)
	}
}
