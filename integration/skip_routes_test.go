package integration

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// wantSkipError checks an error answer: status, a JSON {"error"} body, and
// that the message says what it should.
func wantSkipError(t *testing.T, what string, status int, body string, wantStatus int, says string) {
	t.Helper()
	var e struct{ Error string }
	if status != wantStatus || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, says) {
		t.Errorf("%s: %d %s, want %d with an error saying %q", what, status, body, wantStatus, says)
	}
}

var sseID = regexp.MustCompile(`^[0-9A-Za-z]{27}/[0-9]+$`)

func TestSkipRoutes(t *testing.T) {
	t.Setenv("SKIP_RESOURCE_PREFIX", "")
	_, d := startSkipTroupe(t, skipService(t, "sum.mjs"), "--max-body=2KiB")

	// Health.
	for _, base := range []string{d.control + "/v1/healthcheck", d.control + "/healthz", d.streaming + "/healthz"} {
		if st, body := d.get(base); st != 200 || body != "OK" {
			t.Errorf("GET %s: %d %q", base, st, body)
		}
	}

	// Writes and reads; a duplicate key in one PATCH: the last wins.
	d.patch("input", `[["a",[1,2]],["b",[10]],["a",[3]],["c",[1]]]`)
	if got := d.snapshot("doubled", `{}`); got != `[["a",[6]],["b",[20]],["c",[2]]]` {
		t.Errorf("doubled: %s", got)
	}
	if got := d.snapshot("sum", ``); got != `[["total",[14]]]` {
		t.Errorf("sum (no body: params {}): %s", got)
	}
	if got := d.lookup("doubled", `{}`, `"b"`); got != `[20]` {
		t.Errorf("lookup b: %s", got)
	}
	if got := d.lookup("doubled", `{}`, `"zz"`); got != `[]` {
		t.Errorf("lookup of an absent key: %s", got)
	}

	// Streams.
	uuid := d.createStream("doubled", `{}`)
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(uuid) {
		t.Errorf("stream uuid %q", uuid)
	}
	if s := d.subscribe(uuid, "application/json"); s.status != 406 {
		t.Errorf("Accept: application/json: %d", s.status)
	}
	if s := d.subscribe("00000000-0000-0000-0000-000000000000", "text/event-stream"); s.status != 404 {
		t.Errorf("unknown uuid: %d", s.status)
	}
	s := d.subscribe(uuid, "") // no Accept is fine
	if s.status != 200 || s.header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %q", s.status, s.header.Get("Content-Type"))
	}
	ev := s.next()
	if ev.Event != "init" || !sseID.MatchString(ev.ID) || ev.Data != `[["a",[6]],["b",[20]],["c",[2]]]` {
		t.Errorf("init event %+v", ev)
	}
	if s2 := d.subscribe(uuid, "text/event-stream"); s2.status != 409 {
		t.Errorf("a second subscriber: %d", s2.status)
	}
	// A no-op PATCH yields no event; one PATCH of two keys yields one event
	// of both, a deleted key as [k, []].
	d.patch("input", `[["b",[10]]]`)
	d.patch("input", `[["a",[]],["b",[11]]]`)
	ev = s.next()
	if ev.Event != "update" || !sseID.MatchString(ev.ID) || foldSnapshot(t, ev.Data, false).String() != `"b"=[22] ` ||
		!strings.Contains(ev.Data, `["a",[]]`) {
		t.Errorf("update event %+v", ev)
	}
	d.patch("input", `[["d",[1]]]`)
	if ev = s.next(); ev.Data != `[["d",[2]]]` {
		t.Errorf("the next update %+v", ev)
	}
	if st, body := d.do("DELETE", "/v1/streams/"+uuid, ""); st != 200 || body != "OK" {
		t.Errorf("DELETE: %d %s", st, body)
	}
	s.ended()
	st, body := d.do("DELETE", "/v1/streams/"+uuid, "")
	wantSkipError(t, "DELETE again", st, body, 404, "unknown stream")
	if s := d.subscribe(uuid, ""); s.status != 404 {
		t.Errorf("a deleted uuid: %d", s.status)
	}

	// Errors.
	st, body = d.do("POST", "/v1/snapshot/nope", `{}`)
	wantSkipError(t, "unknown resource", st, body, 404, "unknown resource")
	st, body = d.do("POST", "/v1/streams/nope", `{}`)
	wantSkipError(t, "stream of an unknown resource", st, body, 404, "unknown resource")
	st, body = d.do("PATCH", "/v1/inputs/nope", `[]`)
	wantSkipError(t, "unknown collection", st, body, 404, "unknown input collection")
	st, body = d.do("PATCH", "/v1/inputs/input", `{"a":1}`)
	wantSkipError(t, "object PATCH", st, body, 400, "must be an array")
	st, body = d.do("PATCH", "/v1/inputs/input", `[["a",5]]`)
	wantSkipError(t, "values not an array", st, body, 400, "must be an array, got 5")
	st, body = d.do("PATCH", "/v1/inputs/input", `[["a",[1]`)
	wantSkipError(t, "truncated PATCH", st, body, 400, "not JSON")
	st, body = d.do("POST", "/v1/snapshot/doubled/lookup", `{"key":"a"}`)
	wantSkipError(t, "lookup without params", st, body, 400, `no "params"`)
	st, body = d.do("PATCH", "/v1/inputs/input", `[["a",["`+strings.Repeat("x", 4096)+`"]]]`)
	wantSkipError(t, "body over --max-body", st, body, 413, "larger than the limit")
	st, body = d.do("GET", "/v1/inputs/input", "")
	wantSkipError(t, "unknown route", st, body, 404, "no route")
	if got := d.snapshot("doubled", `{}`); got != `[["b",[22]],["c",[2]],["d",[2]]]` {
		t.Errorf("after the refused writes: %s", got)
	}
}

func TestSkipResourcePrefix(t *testing.T) {
	t.Setenv("SKIP_RESOURCE_PREFIX", "/streams/sum")
	_, d := startSkipTroupe(t, skipService(t, "sum.mjs"))
	id := d.createStream("sum", `{}`)
	uuid, ok := strings.CutPrefix(id, "/streams/sum/")
	if !ok {
		t.Fatalf("stream id %q lacks the prefix", id)
	}
	if s := d.subscribe(uuid, "text/event-stream"); s.status != 200 || s.next().Event != "init" {
		t.Errorf("the stream behind the prefix: %d", s.status)
	}
}

func TestSkipDoorsClosedWithoutService(t *testing.T) {
	s := startServer(t)
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if !strings.Contains(s.log.String(), "reactive doors closed: no --skip-service given") {
		t.Errorf("the log does not say why the reactive doors are closed:\n%s", s.log)
	}
}

// TestSkipNoCORS: a service run with no_cors answers the streaming API's
// preflights and sends the CORS headers, as the real Skip server does with
// the same file.
func TestSkipNoCORS(t *testing.T) {
	file := skipService(t, "cors.mjs")
	_, troupe := startSkipTroupe(t, file)
	for _, d := range []*skipDoors{startSkipReal(t, file), troupe} {
		req, _ := http.NewRequest("OPTIONS", d.streaming+"/v1/streams", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: preflight %d %v", d.name, resp.StatusCode, resp.Header)
		}
		s := d.subscribe(d.createStream("posts", `{}`), "text/event-stream")
		if s.status != 200 || s.header.Get("Access-Control-Allow-Origin") != "*" || s.header.Get("Access-Control-Allow-Credentials") != "true" ||
			s.header.Get("Access-Control-Allow-Methods") != "GET,OPTIONS" {
			t.Errorf("%s: stream %d %v", d.name, s.status, s.header)
		}
	}
}
