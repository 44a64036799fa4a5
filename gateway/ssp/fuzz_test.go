package ssp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/troupe-run/troupe/messages"
)

// FuzzDecoders feeds arbitrary bodies to POST /ingest and POST
// /view/register. The server must never panic nor answer 5xx (the views
// here always succeed), a 400 must say why, and what reaches the views must
// be valid: the fields they rely on set, the JSON they get an object.
func FuzzDecoders(f *testing.F) {
	for _, seed := range []string{
		`{"table":"users","op":"CREATE","id":"user:alice","record":{"name":"Alice"}}`,
		`{"table":"user","op":"delete","id":"user:1","record":null,"hash":""}`,
		`{"table":"user","op":"Update","id":"user:1","record":{"_00_rv":3,"tags":["a",{"b":null}]}}`,
		`{"id":"query:abc123","surql":"SELECT * FROM users WHERE active = true","clientId":"client-456","ttl":"30s"}`,
		`{"id":"q","surql":"SELECT * FROM t","clientId":"c","ttl":"1h30m","params":{"auth":{"id":"user:1"}},"lastActiveAt":"2024-01-01T00:00:00Z","format":"ids"}`,
		`{"id":"q","surreal_ql":"x","client_id":"c","ttl":"2 days","params":"{\"a\":1}","last_active_at":"d'2024-01-01T00:00:00Z'","resultFormat":"flat"}`,
		`{"id":"q","surql":"x","clientId":"c","ttl":"1.5e3s"}`,
		`{"table":1}`, `[]`, `null`, `{`, ``, "\xff", `{"record":{"a":1}}{}`,
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	ts := newTestServer(f, withSecret())
	ts.views.register = &messages.ViewResult{Id: "q"}
	f.Fuzz(func(t *testing.T, body string, ingest bool) {
		path := "/view/register"
		if ingest {
			path = "/ingest"
		}
		rec := ts.call("POST", path, body)
		calls := ts.views.takeCalls()
		switch rec.Code {
		case 200:
		case 400:
			if msg := rec.Body.String(); len(msg) < 2 || !strings.HasSuffix(msg, "\n") {
				t.Fatalf("400 without a message for %q: %q", body, msg)
			}
			if len(calls) != 0 {
				t.Fatalf("a 400 body reached the views: %q", body)
			}
			return
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if len(calls) != 1 {
			t.Fatalf("%d calls on the views for %q", len(calls), body)
		}
		switch req := calls[0].arg.(type) {
		case *messages.IngestRequest:
			if req.Table == "" || req.Id == "" || !strings.Contains("CREATE UPDATE DELETE", req.Op) || len(req.Op) != 6 {
				t.Fatalf("invalid ingest passed for %q: %v", body, req)
			}
			if (req.Op != "DELETE" || len(req.Record) > 0) && !isJSONObject(req.Record) {
				t.Fatalf("ingest record %q is not an object, for %q", req.Record, body)
			}
		case *messages.RegisterView:
			if req.Id == "" || req.Surql == "" || req.ClientId == "" || req.TtlMs < 1 || req.Format != "" && req.Format != formatIDs {
				t.Fatalf("invalid registration passed for %q: %v", body, req)
			}
			if len(req.Params) > 0 && !isJSONObject(req.Params) {
				t.Fatalf("params %q are not an object, for %q", req.Params, body)
			}
		}
	})
}

func isJSONObject(b []byte) bool {
	var m map[string]any
	return json.Unmarshal(b, &m) == nil && m != nil
}

// FuzzParseTTL: a ttl parses to at least a millisecond, or is refused;
// never a panic.
func FuzzParseTTL(f *testing.F) {
	for _, seed := range []string{"30s", "1h30m", "2 days 3h", "1.5h", "9999999999y", "0.0000001ms", "1e9s", ".s", "µs1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := parseTTL(s); err == nil && d.Milliseconds() < 1 {
			t.Fatalf("parseTTL(%q) = %v", s, d)
		}
	})
}
