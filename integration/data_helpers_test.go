package integration

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// Helpers shared by the data door's end-to-end tests (data_*_test.go).

// payload runs a command that must succeed and returns its raw payload.
func (s *server) payload(name string, payload any) json.RawMessage {
	s.t.Helper()
	status, r := s.command(name, payload)
	if status != http.StatusOK || r.Status != "success" {
		s.t.Fatalf("%s %v: status %d %+v %+v", name, payload, status, r, r.Error)
	}
	return r.Payload
}

// okJSON runs a command that must succeed and compares its payload with the
// JSON document want (member order and white space aside).
func (s *server) okJSON(name string, payload any, want string) {
	s.t.Helper()
	got := s.payload(name, payload)
	if !jsonEqual(got, []byte(want)) {
		s.t.Fatalf("%s %v:\n got  %s\n want %s", name, payload, got, want)
	}
}

// fails runs a command that must fail with the given status and error code,
// in the spec's error envelope, and returns the error message.
func (s *server) fails(name string, payload any, status int, code string) string {
	s.t.Helper()
	got, r := s.command(name, payload)
	checkErrorReply(s.t, name, got, r, status, code)
	return r.Error.Message
}

// checkErrorReply checks a reply against the spec's error envelope.
func checkErrorReply(t *testing.T, what string, status int, r reply, wantStatus int, code string) {
	t.Helper()
	if status != wantStatus || r.Type != "response" || r.Status != "error" || r.Error == nil ||
		r.Error.Code != code || r.Error.Message == "" || r.Error.Details == nil {
		t.Fatalf("%s: got %d %+v %+v, want %d %s in the spec's error envelope", what, status, r, r.Error, wantStatus, code)
	}
}

// rest sends a request to a REST route; body is sent as is when it is a
// string or []byte, else JSON-encoded (nil sends no body). It returns the
// status and the raw reply.
func (s *server) rest(method, path string, body any, headers ...string) (int, []byte) {
	s.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			s.t.Fatal(err)
		}
	}
	return s.do(method, path, raw, headers...)
}

// restJSON sends a request to a REST route that must answer 200 with the JSON
// document want.
func (s *server) restJSON(method, path string, body any, want string) {
	s.t.Helper()
	status, got := s.rest(method, path, body)
	if status != http.StatusOK || !jsonEqual(got, []byte(want)) {
		s.t.Fatalf("%s %s %v:\n got  %d %s\n want 200 %s", method, path, body, status, got, want)
	}
}

// restFails sends a request to a REST route that must fail with the given
// status and error code, in the spec's error envelope.
func (s *server) restFails(method, path string, body any, status int, code string, headers ...string) {
	s.t.Helper()
	got, raw := s.rest(method, path, body, headers...)
	var r reply
	if err := json.Unmarshal(raw, &r); err != nil {
		s.t.Fatalf("%s %s: reply is not JSON (%d): %s", method, path, got, raw)
	}
	checkErrorReply(s.t, method+" "+path, got, r, status, code)
}

// jsonEqual reports whether two JSON documents hold the same value. Numbers
// are compared as written, so 1 and 1.0 differ, and big ones keep their digits.
func jsonEqual(a, b []byte) bool {
	va, ok1 := decodeJSON(a)
	vb, ok2 := decodeJSON(b)
	return ok1 && ok2 && reflect.DeepEqual(va, vb)
}

func decodeJSON(b []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, false
	}
	return v, true
}

// metricValue returns the value of one Prometheus series in a text
// exposition, and whether it is there.
func metricValue(text, series string) (string, bool) {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			return rest, true
		}
	}
	return "", false
}

// stopClean stops the server with SIGTERM, which must exit 0, then fails the
// test if the server logged a panic, a 500 or a data race. (The log can only
// be read once the process is gone.)
func (s *server) stopClean() {
	s.t.Helper()
	if err := s.stop(); err != nil {
		s.t.Errorf("SIGTERM: exit %v, want 0", err)
	}
	log := s.log.String()
	for _, bad := range []string{`"panic":`, "panic serving request", "INTERNAL_ERROR", "DATA RACE"} {
		if strings.Contains(log, bad) {
			s.t.Errorf("the server log contains %q:\n%s", bad, tail(log, 4000))
		}
	}
}

// rawCommand posts a request body to /api/v1/command as is.
func (s *server) rawCommand(body string, headers ...string) (int, reply) {
	s.t.Helper()
	status, raw := s.do("POST", "/api/v1/command", []byte(body), headers...)
	var r reply
	if err := json.Unmarshal(raw, &r); err != nil {
		s.t.Fatalf("%s: reply is not JSON (%d): %s", body, status, raw)
	}
	return status, r
}
