package hub_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PUT /sequence/:id replaces the package and keeps the id; /entities
// lists sequences and instances; GET /instance/:id/ with a trailing slash
// is the instance.
func TestReplaceSequenceAndEntities(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	seq := h.send(node(t, `module.exports = function () { this.exitTimeout = 0; return "one"; };`))
	status, body := h.do("PUT", "/sequence/"+seq, bytes.NewReader(node(t, `module.exports = function () { this.exitTimeout = 0; return "two"; };`)),
		"Content-Type", "application/octet-stream")
	if status != http.StatusAccepted || !strings.Contains(body, seq) {
		t.Fatalf("PUT /sequence = %d %s", status, body)
	}
	id := h.start(seq, "")
	if got := h.stream("/instance/" + id + "/output"); got != "two" {
		t.Errorf("output of the replaced sequence %q, want two", got)
	}
	var one info
	h.json("GET", "/instance/"+id+"/", "", http.StatusOK, &one)
	if one.ID != id {
		t.Errorf("GET /instance/:id/ = %+v", one)
	}
	var ents struct {
		Sequences []struct{ ID string }
		Instances []struct{ ID string }
	}
	h.json("GET", "/entities", "", http.StatusOK, &ents)
	if len(ents.Sequences) != 1 || ents.Sequences[0].ID != seq {
		t.Errorf("entities %+v", ents)
	}
	h.ended(id)
	// A refused package leaves the sequence as it was.
	if status, body := h.do("PUT", "/sequence/"+seq, strings.NewReader("not a tarball"), "Content-Type", "application/octet-stream"); status != http.StatusUnprocessableEntity {
		t.Errorf("PUT of garbage = %d %s, want 422", status, body)
	}
	h.json("PUT", "/sequence/nope", "", http.StatusNotFound, nil)
}

// A package whose main is missing is accepted; its start ends with exit 21
// and the original's message.
func TestMissingMainFailsAtStart(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	seq := h.send(pkg(t, `{"name":"x","main":"gone.js"}`, map[string]string{"index.js": ""}))
	// As the original: the start is refused with the runner's reason, and
	// no instance is made.
	var r struct{ Error string }
	h.json("POST", "/sequence/"+seq+"/start", "", http.StatusBadRequest, &r)
	if r.Error != "Sequence entrypoint path gone.js is invalid. Check `main` field in Sequence package.json" {
		t.Errorf("start of a package without its main: %q", r.Error)
	}
	var list []info
	h.json("GET", "/instances", "", http.StatusOK, &list)
	var v struct{ Instances []string }
	h.json("GET", "/sequence/"+seq, "", http.StatusOK, &v)
	if len(list) != 0 || len(v.Instances) != 0 {
		t.Errorf("instances after a refused start: %+v, of the sequence %v", list, v.Instances)
	}
	h.json("DELETE", "/sequence/"+seq, "", http.StatusOK, nil)
}

// package.json's scramjet.args are the args of a start that gives none.
func TestDefaultArgsFromPackage(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	seq := h.send(pkg(t, `{"name":"x","main":"index.js","scramjet":{"args":["from-package",2]}}`, map[string]string{
		"index.js": `module.exports = function (_input, ...args) { this.exitTimeout = 0; return JSON.stringify(args); };`}))
	if got := h.stream("/instance/" + h.start(seq, "") + "/output"); got != `["from-package",2]` {
		t.Errorf("default args output %q", got)
	}
	if got := h.stream("/instance/" + h.start(seq, `{"args":["given"]}`) + "/output"); got != `["given"]` {
		t.Errorf("given args output %q", got)
	}
}

// POST /inout carries the input and answers with the output on one
// connection.
func TestInout(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	id := h.start(h.send(node(t, `
module.exports = async function* (input) {
    this.exitTimeout = 0;
    for await (const s of input) yield "<" + s + ">";
};
`)), "")
	status, out := h.do("POST", "/instance/"+id+"/inout", strings.NewReader("abc"), "Content-Type", "text/plain")
	if status != http.StatusOK || out != `"<abc>"`+"\n" {
		t.Errorf("POST /inout = %d %q, want <abc>", status, out)
	}
}

// POST /_monitoring_rate changes how often the instance reports; GET
// /monitoring streams the reports; GET /audit streams the API's requests.
func TestMonitoringAndAudit(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	res, err := http.Get(h.url + "/audit")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /audit: %v %v", res, err)
	}
	defer res.Body.Close()
	id := h.start(h.send(node(t, `module.exports = function () { return new Promise(() => {}); };`)), "")
	h.running(id)
	h.json("POST", "/instance/"+id+"/_monitoring_rate", `[4003, {"monitoringRate": 20}]`, http.StatusAccepted, nil)
	h.json("POST", "/instance/"+id+"/_monitoring_rate", `{"monitoringRate": -1}`, http.StatusBadRequest, nil)
	mon, err := http.Get(h.url + "/instance/" + id + "/monitoring")
	if err != nil || mon.StatusCode != http.StatusOK {
		t.Fatalf("GET /monitoring: %v %v", mon, err)
	}
	defer mon.Body.Close()
	reports := bufio.NewReader(mon.Body)
	for range 3 {
		line, err := reports.ReadString('\n')
		if err != nil || line != `[3001,{"healthy":true}]`+"\n" {
			t.Fatalf("monitoring line %q %v", line, err)
		}
	}
	h.json("POST", "/instance/"+id+"/_kill", "", http.StatusAccepted, nil)
	if rest, _ := io.ReadAll(reports); strings.Count(string(rest), "\n") != strings.Count(string(rest), "3001") {
		t.Errorf("monitoring after the kill %q", rest)
	}

	audit := bufio.NewReader(res.Body)
	for {
		line, err := audit.ReadString('\n')
		if err != nil {
			t.Fatalf("audit ended before the kill: %v", err)
		}
		if strings.Contains(line, `"op":"_kill"`) && strings.Contains(line, `"objectId":"`+id+`"`) && strings.Contains(line, `"status":202`) {
			break
		}
	}
}

// Topics over HTTP: ?from= replays, x-consumer-id resumes after what was
// written, X-Topic-Offset tells where a reader starts.
func TestTopicOffsetsAndConsumerIDs(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	for _, line := range []string{"a\n", "b\n", "c\n"} {
		if status, body := h.do("POST", "/topic/letters", strings.NewReader(line), "Content-Type", "text/plain"); status != http.StatusAccepted {
			t.Fatalf("POST /topic = %d %s", status, body)
		}
	}
	read := func(path string, lines int, headers ...string) (string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", h.url+path, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %v %v", path, res, err)
		}
		defer res.Body.Close()
		r := bufio.NewReader(res.Body)
		var got strings.Builder
		for range lines {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("GET %s: %v after %q", path, err, got.String())
			}
			got.WriteString(line)
		}
		return got.String(), res.Header.Get("X-Topic-Offset")
	}
	if got, off := read("/topic/letters?from=1", 2); got != "b\nc\n" || off != "1" {
		t.Errorf("from=1: %q at %s", got, off)
	}
	// The reader with an id reads a and b, then leaves; it comes back
	// after what was written to it: b's successor at the earliest (the
	// server may have written c before it saw the reader go).
	if got, _ := read("/topic/letters?from=0", 2, "X-Consumer-Id", "r1"); got != "a\nb\n" {
		t.Errorf("first read %q", got)
	}
	// The old connection may still swallow what is posted until the server
	// sees it gone, so the test keeps producing until the resumed reader
	// gets a line; that line must come after b and be the chunk at its offset.
	type line struct{ text, off string }
	resumed := make(chan line, 1)
	go func() {
		text, off := "", ""
		req, _ := http.NewRequest("GET", h.url+"/topic/letters", nil)
		req.Header.Set("X-Consumer-Id", "r1")
		if res, err := http.DefaultClient.Do(req); err == nil {
			defer res.Body.Close()
			text, _ = bufio.NewReader(res.Body).ReadString('\n')
			off = res.Header.Get("X-Topic-Offset")
		}
		resumed <- line{text, off}
	}()
	produced := []string{"a\n", "b\n", "c\n"}
	deadline := time.After(2 * time.Minute)
	var got line
wait:
	for {
		next := fmt.Sprintf("%c\n", 'd'+len(produced)-3)
		h.do("POST", "/topic/letters", strings.NewReader(next), "Content-Type", "text/plain")
		produced = append(produced, next)
		select {
		case got = <-resumed:
			break wait
		case <-deadline:
			t.Fatalf("the resumed reader got nothing; produced %q", produced)
		case <-time.After(200 * time.Millisecond):
		}
	}
	off, err := strconv.Atoi(got.off)
	if err != nil || off < 2 || off >= len(produced) || got.text != produced[off] {
		t.Errorf("resumed read %q at offset %q, want the chunk at an offset from 2 (c) of %q", got.text, got.off, produced)
	}
	h.json("GET", "/topic/letters?from=-1", "", http.StatusBadRequest, nil)
}

// An instance reading a topic named at start decodes it with the content
// type its code declares, not the topic's.
func TestInputTopicDecodedByDeclaredType(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	h.do("POST", "/topic/nums", strings.NewReader("1\n2\n"), "Content-Type", "text/plain")
	id := h.start(h.send(node(t, `
module.exports = [
    { requires: "declared", contentType: "application/x-ndjson" },
    async function* (input) {
        this.exitTimeout = 0;
        let n = 0;
        for await (const v of input) { yield v * 10; if (++n === 2) return; }
    },
];
`)), `{"inputTopic":"nums"}`)
	if got := h.stream("/instance/" + id + "/output"); got != "10\n20\n" {
		t.Errorf("output %q, want the topic's lines as JSON numbers", got)
	}
}
