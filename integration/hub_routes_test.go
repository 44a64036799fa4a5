package integration

import (
	"bufio"
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Every route of the hub door (spec/hub-api.txt), against the binary, with
// the sample sequences of issue 5 §7.

func TestHubHostRoutes(t *testing.T) {
	t.Parallel()
	s := hubServer(t)
	h := hubOf(s)
	logs := bufio.NewReader(h.open("/log"))

	var version struct{ Service, APIVersion, Version, Build string }
	h.json("GET", "/version", "", http.StatusOK, &version)
	if version.APIVersion != "v1" || version.Service == "" || version.Version == "" || version.Build == "" {
		t.Errorf("GET /version = %+v", version)
	}
	var config struct {
		Host struct{ APIBase string }
	}
	h.json("GET", "/config", "", http.StatusOK, &config)
	if config.Host.APIBase != "/api/v1" {
		t.Errorf("GET /config = %+v", config)
	}
	var load struct {
		AvgLoad, CurrentLoad float64
		MemFree, MemUsed     uint64
		FsSize               []struct {
			Size, Available uint64
		}
	}
	h.json("GET", "/load-check", "", http.StatusOK, &load)
	if load.MemFree == 0 || load.MemUsed == 0 || load.AvgLoad < 0 || load.CurrentLoad < 0 ||
		len(load.FsSize) == 0 || load.FsSize[0].Size == 0 {
		t.Errorf("GET /load-check = %+v", load)
	}
	var status struct{ Instances, Topics int }
	h.json("GET", "/status", "", http.StatusOK, &status)
	if status.Instances != 0 || status.Topics != 0 {
		t.Errorf("GET /status = %+v", status)
	}
	h.json("GET", "/version", "", http.StatusNotAcceptable, nil, "Accept", "text/html")
	h.json("GET", "/no-such-route", "", http.StatusNotFound, nil)

	// GET /log streams the hub's log from when it was opened.
	seq := h.send(hubNode(t, "logged", hubHello))
	if got := readUntil(t, logs, seq); !strings.Contains(got, "sequence added") {
		t.Errorf("hub log around the upload: %q", got)
	}
}

func TestHubSequenceRoutes(t *testing.T) {
	t.Parallel()
	s := hubServer(t)
	h := hubOf(s)

	hello := h.send(hubNode(t, "hello", hubHello))
	// The same, as the field "file" of a multipart form.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	mw.WriteField("appConfig", "{}")
	fw, _ := mw.CreateFormFile("file", "never-reads.tar.gz")
	fw.Write(hubNode(t, "never-reads", hubNeverReads))
	mw.Close()
	var r struct{ ID string }
	h.json("POST", "/sequence", form.String(), http.StatusAccepted, &r, "Content-Type", mw.FormDataContentType())
	never := r.ID
	py := h.send(hubPython(t, "py-hello", hubPythonHello))

	type seqView struct {
		ID        string
		Config    map[string]any
		Instances []string
	}
	var list []seqView
	h.json("GET", "/sequences", "", http.StatusOK, &list)
	if len(list) != 3 || list[0].ID != hello || list[1].ID != never || list[2].ID != py {
		t.Fatalf("GET /sequences = %+v", list)
	}
	var v seqView
	h.json("GET", "/sequence/"+hello, "", http.StatusOK, &v)
	if v.Config["name"] != "hello" || v.Config["entrypointPath"] != "index.js" || v.Config["language"] != "js" {
		t.Errorf("GET /sequence/:id = %+v", v)
	}
	h.json("GET", "/sequence/"+py, "", http.StatusOK, &v)
	if v.Config["language"] != "py" || v.Config["entrypointPath"] != "main.py" {
		t.Errorf("GET /sequence/:id of the Python hello = %+v", v)
	}
	h.json("GET", "/sequence/00000000-0000-4000-8000-000000000000", "", http.StatusNotFound, nil)

	for _, tc := range []struct {
		archive []byte
		why     string
	}{
		{[]byte("not a package"), "not a gzip stream"},
		{hubPackage(t, `{"name":"x"}`, map[string]string{"index.js": ""}), "main is missing"},
		{hubPackage(t, `{"main":"index.js"}`, map[string]string{"index.js": "", "../escape.js": ""}), "leaves the package"},
	} {
		status, body := h.do("POST", "/sequence", bytes.NewReader(tc.archive), "Content-Type", "application/octet-stream")
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, tc.why) {
			t.Errorf("POST /sequence = %d %s, want 422 saying %q", status, body, tc.why)
		}
	}

	// Start with an id of the caller's choosing; it cannot be taken twice.
	const chosen = "6f1c2d3e-4b5a-4c6d-8e7f-8091a2b3c4d5"
	if id := h.start(never, `{"instanceId":"`+chosen+`","appConfig":{"k":"v"},"args":[1]}`); id != chosen {
		t.Errorf("start with instanceId gave %s", id)
	}
	h.json("POST", "/sequence/"+never+"/start", `{"instanceId":"`+chosen+`"}`, http.StatusConflict, nil)
	h.json("POST", "/sequence/"+never+"/start", `{"args":{"not":"an array"}}`, http.StatusBadRequest, nil)
	h.json("POST", "/sequence/00000000-0000-4000-8000-000000000000/start", `{}`, http.StatusNotFound, nil)
	i := h.running(chosen)
	if i.Sequence != never || i.AppConfig["k"] != "v" || len(i.Args) != 1 || i.Created == "" || i.Started == "" {
		t.Errorf("GET /instance/:id = %+v", i)
	}
	var ids []string
	h.json("GET", "/sequence/"+never+"/instances", "", http.StatusOK, &ids)
	if len(ids) != 1 || ids[0] != chosen {
		t.Errorf("GET /sequence/:id/instances = %v", ids)
	}

	// In use: 409, unless the request kills its instances.
	var e struct{ Error string }
	h.json("DELETE", "/sequence/"+never, "", http.StatusConflict, &e)
	if e.Error != "Can't remove sequence in use." {
		t.Errorf("409 body %+v", e)
	}
	var ok struct{ OpStatus, ID string }
	h.json("DELETE", "/sequence/"+never, "", http.StatusOK, &ok, "X-Seq-Kill-Inst", "true")
	if ok.OpStatus != "OK" || ok.ID != never {
		t.Errorf("DELETE /sequence/:id = %+v", ok)
	}
	if i := h.ended(chosen); i.Terminated.ExitCode != 137 {
		t.Errorf("instance of the deleted sequence: %+v", i.Terminated)
	}
	h.json("GET", "/sequence/"+never, "", http.StatusNotFound, nil)
	h.json("DELETE", "/sequence/"+never, "", http.StatusNotFound, nil)
	h.json("DELETE", "/sequence/"+py, "", http.StatusOK, nil)
	h.json("GET", "/sequences", "", http.StatusOK, &list)
	if len(list) != 1 || list[0].ID != hello {
		t.Errorf("GET /sequences after the deletes = %+v", list)
	}
}

func TestHubHelloArgsAndPython(t *testing.T) {
	t.Parallel()
	s := hubServer(t)
	h := hubOf(s)

	seq := h.send(hubNode(t, "hello", hubHello))
	id := h.start(seq, `{"appConfig":{"x":1},"args":[]}`)
	if status, body := h.do("POST", "/instance/"+id+"/input", strings.NewReader("World"), "Content-Type", "text/plain"); status != http.StatusOK {
		t.Fatalf("POST /input = %d %s", status, body)
	}
	// Written before this reader came: kept for it.
	if got := h.stream("/instance/" + id + "/output"); got != "Hello World!" {
		t.Errorf("hello output %q", got)
	}
	i := h.ended(id)
	if i.Status != "completed" || i.Terminated.ExitCode != 0 || i.Terminated.Reason != "Instance completed" || i.Sequence != seq {
		t.Errorf("ended hello = %+v %+v", i, i.Terminated)
	}
	// Ended, it is readable by its id but no longer listed.
	var list []hubInfo
	h.json("GET", "/instances", "", http.StatusOK, &list)
	if len(list) != 0 {
		t.Errorf("GET /instances after the end = %+v", list)
	}

	args := h.start(h.send(hubNode(t, "args", hubArgsToOutput)), `{"args":["a",2,{"b":true}]}`)
	// The generator's string comes as a JSON line, as the original's.
	if got := h.stream("/instance/" + args + "/output"); got != `"[\"a\",2,{\"b\":true}]"`+"\n" {
		t.Errorf("args output %s", got)
	}

	py := h.start(h.send(hubPython(t, "py-hello", hubPythonHello)), "")
	h.do("POST", "/instance/"+py+"/input", strings.NewReader("Py"), "Content-Type", "text/plain")
	if got := h.stream("/instance/" + py + "/output"); got != "Hello Py!" {
		t.Errorf("Python hello output %q", got)
	}
	if i := h.ended(py); i.Status != "completed" {
		t.Errorf("Python hello ended %+v %+v", i, i.Terminated)
	}
}

func TestHubCountdownStreams(t *testing.T) {
	t.Parallel()
	s := hubServer(t)
	h := hubOf(s)
	id := h.start(h.send(hubNode(t, "countdown", hubCountdown)), `{"args":[3]}`)
	if got := h.stream("/instance/" + id + "/output"); got != "3\n2\n1\n" {
		t.Errorf("output %q", got)
	}
	if got := h.stream("/instance/" + id + "/stdout"); got != "stdout 3\nstdout 2\nstdout 1\n" {
		t.Errorf("stdout %q", got)
	}
	if got := h.stream("/instance/" + id + "/stderr"); got != "stderr 3\nstderr 2\nstderr 1\n" {
		t.Errorf("stderr %q", got)
	}
	logs := h.stream("/instance/" + id + "/log")
	for _, want := range []string{"count 3\n", "count 2\n", "count 1\n"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	h.json("GET", "/instance/"+id+"/output", "", http.StatusNotAcceptable, nil, "Accept", "application/json")
	if i := h.ended(id); i.Status != "completed" {
		t.Errorf("countdown ended %+v", i)
	}
	h.json("GET", "/instance/00000000-0000-4000-8000-000000000000/output", "", http.StatusNotFound, nil)
}

func TestHubStopHandlerAndKeepAlive(t *testing.T) {
	t.Parallel()
	s := hubServer(t)
	h := hubOf(s)

	stop := h.start(h.send(hubNode(t, "stop-handler", hubStopHandler)), "")
	h.running(stop)
	h.json("POST", "/instance/"+stop+"/_stop", `{"timeout":"soon"}`, http.StatusBadRequest, nil)
	var r struct {
		Code    int
		Message string
	}
	h.json("POST", "/instance/"+stop+"/_stop", `{"timeout":5000,"canCallKeepalive":false}`, http.StatusOK, &r)
	i := h.ended(stop)
	if i.Status != "completed" || i.Terminated.ExitCode != 138 || i.Terminated.Reason != "Instance stopped" {
		t.Errorf("stopped instance %+v %+v", i, i.Terminated)
	}
	if got := h.stream("/instance/" + stop + "/stdout"); got != "cleaned up 5000 false\n" {
		t.Errorf("the stop handler wrote %q", got)
	}
	h.json("POST", "/instance/"+stop+"/_stop", `{}`, http.StatusBadRequest, nil)

	alive := h.start(h.send(hubNode(t, "keep-alive", hubKeepAlive)), "")
	h.running(alive)
	// A timeout that leaves the sequence's ALIVE time to reach the hub on
	// a busy machine (see TestKeepAliveOutlivesTheStop).
	h.json("POST", "/instance/"+alive+"/_stop", `{"timeout":5000,"canCallKeepalive":true}`, http.StatusOK, nil)
	h.until(alive, "kept itself alive", func(i hubInfo) bool { return i.Status == "running" })
	// Kept alive, it still answers events.
	h.json("POST", "/instance/"+alive+"/_event", `{"eventName":"still-there"}`, http.StatusOK, nil)
	var msg string
	h.json("GET", "/instance/"+alive+"/event/yes", "", http.StatusOK, &msg)
	if msg != "alive" {
		t.Errorf("event yes = %q", msg)
	}
	h.json("POST", "/instance/"+alive+"/_kill", "", http.StatusAccepted, nil)
	if i := h.ended(alive); i.Terminated.ExitCode != 137 {
		t.Errorf("killed keep-alive %+v", i.Terminated)
	}
}

func TestHubEvents(t *testing.T) {
	t.Parallel()
	s := hubServer(t)
	h := hubOf(s)
	id := h.start(h.send(hubNode(t, "replier", hubReplier)), "")
	listener := h.start(h.send(hubNode(t, "listener", `
module.exports = function () {
    this.on("pong", (message) => this.emit("heard", message));
    return new Promise(() => {});
};
`)), "")
	h.running(id)
	h.running(listener)
	events := bufio.NewReader(h.open("/instance/" + id + "/events/pong"))

	// The original client's form, then the plain one.
	h.json("POST", "/instance/"+id+"/_event", `[5001,{"eventName":"ping","message":"one"}]`, http.StatusOK, nil)
	var got struct{ Got string }
	h.json("GET", "/instance/"+id+"/event/pong", "", http.StatusOK, &got)
	if got.Got != "one" {
		t.Errorf("GET /event/pong = %+v", got)
	}
	if line, err := events.ReadString('\n'); line != `{"got":"one"}`+"\n" {
		t.Errorf("GET /events/pong began with %q %v", line, err)
	}
	// /once waits for the next one: keep pinging until it has it.
	next := make(chan string, 1)
	go func() {
		_, body := h.do("GET", "/instance/"+id+"/once/pong", nil)
		next <- body
	}()
	onceAny := make(chan string, 1)
	go func() {
		_, body := h.do("GET", "/instance/"+id+"/once", nil)
		onceAny <- body
	}()
	// Both wait from whenever they reach the instance: keep pinging until
	// both have answered.
	var body, anyBody string
	for deadline := time.Now().Add(hubPatience); body == "" || anyBody == ""; {
		h.json("POST", "/instance/"+id+"/_event", `{"eventName":"ping","message":"two"}`, http.StatusOK, nil)
		select {
		case body = <-next:
		case anyBody = <-onceAny:
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /once/pong answered %q, GET /once answered %q", body, anyBody)
		}
	}
	if body != `{"got":"two"}` {
		t.Errorf("GET /once/pong = %s", body)
	}
	if !strings.Contains(anyBody, `"eventName":"pong"`) {
		t.Errorf("GET /once = %s", anyBody)
	}
	var latest struct {
		EventName string
		Message   map[string]string
	}
	h.json("GET", "/instance/"+id+"/event", "", http.StatusOK, &latest)
	if latest.EventName != "pong" || latest.Message["got"] != "two" {
		t.Errorf("GET /event = %+v", latest)
	}
	// The replier's pong reached the other instance, which said so.
	var heard struct{ Got string }
	h.json("GET", "/instance/"+listener+"/event/heard", "", http.StatusOK, &heard)
	if heard.Got == "" {
		t.Errorf("the listener heard %+v", heard)
	}
	h.json("POST", "/instance/"+id+"/_event", `{"message":1}`, http.StatusBadRequest, nil)
	h.json("POST", "/instance/"+id+"/_kill", "", http.StatusAccepted, nil)
	h.ended(id)
	// The event stream ends with the instance.
	if rest, err := io.ReadAll(events); err != nil {
		t.Errorf("event stream after the end: %q %v", rest, err)
	}
	h.json("POST", "/instance/"+id+"/_event", `{"eventName":"ping"}`, http.StatusBadRequest, nil)
}

func TestHubInputStdinAndHealth(t *testing.T) {
	t.Parallel()
	s := hubServer(t)
	h := hubOf(s)

	never := h.start(h.send(hubNode(t, "never-reads", hubNeverReads)), "")
	h.running(never)
	var health struct {
		Healthy   bool
		ProcessID int
	}
	h.json("GET", "/instance/"+never+"/health", "", http.StatusOK, &health)
	if !health.Healthy || health.ProcessID == 0 {
		t.Errorf("GET /health = %+v", health)
	}
	h.json("POST", "/instance/"+never+"/input", "", http.StatusNotAcceptable, nil, "Content-Type", "")
	// It never reads its input: a body larger than every buffer on the
	// way cannot be delivered; the request ends when the instance does.
	done := make(chan int, 1)
	go func() {
		status, _ := h.do("POST", "/instance/"+never+"/input", bytes.NewReader(make([]byte, 8<<20)), "Content-Type", "application/octet-stream")
		done <- status
	}()
	h.json("POST", "/instance/"+never+"/_kill", "", http.StatusAccepted, nil)
	select {
	case status := <-done:
		if status != http.StatusConflict {
			t.Errorf("input to an instance that never read it = %d, want 409", status)
		}
	case <-time.After(hubPatience):
		t.Fatal("the input request outlived its instance")
	}
	h.ended(never)

	echo := h.start(h.send(hubNode(t, "stdin-echo", `
const readline = require("readline");
module.exports = async function* (input) {
    for await (const line of readline.createInterface({ input: process.stdin })) yield "stdin " + line + "\n";
    for await (const chunk of input) yield "input " + chunk + "\n";
};
`)), "")
	if status, _ := h.do("POST", "/instance/"+echo+"/stdin", strings.NewReader("a\nb\n")); status != http.StatusOK {
		t.Fatalf("POST /stdin = %d", status)
	}
	if status, _ := h.do("POST", "/instance/"+echo+"/input", strings.NewReader("x"), "Content-Type", "text/plain", "X-End-Stream", "false"); status != http.StatusAccepted {
		t.Fatalf("POST /input without end = %d", status)
	}
	if status, _ := h.do("POST", "/instance/"+echo+"/input", strings.NewReader("y")); status != http.StatusOK {
		t.Fatalf("POST /input with end = %d", status)
	}
	if status, _ := h.do("POST", "/instance/"+echo+"/input", strings.NewReader("z")); status != http.StatusConflict {
		t.Errorf("POST /input after its end = %d", status)
	}
	got := h.stream("/instance/" + echo + "/output")
	// The generator's strings come as JSON lines, as the original's.
	if !strings.HasPrefix(got, `"stdin a\n"`+"\n"+`"stdin b\n"`+"\n"+`"input x`) || !strings.HasSuffix(got, `y\n"`+"\n") {
		t.Errorf("output %q", got)
	}
}

func TestHubBusyLoopIsKilled(t *testing.T) {
	t.Parallel()
	s := hubServer(t)
	h := hubOf(s)
	id := h.start(h.send(hubNode(t, "busy-loop", hubBusyLoop)), "")
	h.running(id)
	pid := h.pid(id)
	var r struct{ OpStatus, Status string }
	h.json("POST", "/instance/"+id+"/_kill", "", http.StatusAccepted, &r)
	if r.OpStatus != "Accepted" || r.Status != "killing" {
		t.Errorf("_kill answered %+v", r)
	}
	if i := h.ended(id); i.Status != "completed" || i.Terminated.ExitCode != 137 || i.Terminated.Reason != "Instance killed" {
		t.Errorf("killed busy loop %+v %+v", i, i.Terminated)
	}
	waitGroupGone(t, pid)
	h.json("POST", "/instance/"+id+"/_kill", "", http.StatusBadRequest, nil)
	h.json("POST", "/instance/00000000-0000-4000-8000-000000000000/_kill", "", http.StatusNotFound, nil)
}

func TestHubTopics(t *testing.T) {
	t.Parallel()
	s := hubServer(t)
	h := hubOf(s)

	// Published before anyone reads: kept for the first reader.
	if status, body := h.do("POST", "/topic/news", strings.NewReader("{\"n\":1}\n"), "Content-Type", "application/x-ndjson"); status != http.StatusAccepted {
		t.Fatalf("POST /topic = %d %s", status, body)
	}
	a := bufio.NewReader(h.open("/topic/news"))
	b := bufio.NewReader(h.open("/topic/news", "Content-Type", "application/x-ndjson"))
	if status, _ := h.do("POST", "/topic/news", strings.NewReader("{\"n\":2}\n"), "Content-Type", "application/x-ndjson", "X-End-Stream", "true"); status != http.StatusOK {
		t.Fatalf("POST /topic with x-end-stream = %d", status)
	}
	for _, want := range []string{"{\"n\":1}\n", "{\"n\":2}\n"} {
		if got, err := a.ReadString('\n'); got != want {
			t.Errorf("first reader got %q %v, want %q", got, err, want)
		}
	}
	if got, err := b.ReadString('\n'); got != "{\"n\":2}\n" {
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
	h.json("POST", "/topics", `{"content-type":"text/plain"}`, http.StatusBadRequest, nil)
	h.json("DELETE", "/topics/news", "", http.StatusOK, nil)
	h.json("DELETE", "/topics/news", "", http.StatusNotFound, nil)
	// A deleted topic's readers reach the end of their stream.
	if rest, err := io.ReadAll(a); err != nil || len(rest) != 0 {
		t.Errorf("reader of a deleted topic: %q %v", rest, err)
	}

	// The pair joined by a topic.
	consumer := h.start(h.send(hubNode(t, "pair-consumer", hubPairConsumer)), "")
	h.running(consumer)
	status, body := h.do("POST", "/instance/"+consumer+"/input", strings.NewReader("x"), "Content-Type", "text/plain")
	if status != http.StatusNotAcceptable || !strings.Contains(body, "Input provided in other way.") {
		t.Errorf("input of an instance reading a topic = %d %s", status, body)
	}
	out := h.open("/instance/" + consumer + "/output")
	producer := h.start(h.send(hubNode(t, "pair-producer", hubPairProducer)), `{"args":["ann","bob"],"outputTopic":"names"}`)
	h.ended(producer)
	if got := readUntil(t, out, "BOB\n"); got != "ANN\nBOB\n" {
		t.Errorf("consumer output %q", got)
	}
	var i struct{ Requires string }
	h.json("GET", "/instance/"+consumer, "", http.StatusOK, &i)
	if i.Requires != "names" {
		t.Errorf("consumer info %+v", i)
	}
	h.json("GET", "/topics", "", http.StatusOK, &list)
	if len(list) != 2 {
		t.Errorf("GET /topics with the pair's = %+v", list)
	}
}
