package ssp

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/troupe-run/troupe/messages"
)

var twoUsers = &messages.ViewResult{Id: "query:abc123", Hash: "9f2c", Generation: 3, Records: []*messages.ViewRecord{
	{Id: "user:1", Version: 1, Record: []byte(`{"id":"user:1","active":true}`)},
	{Id: "user:2", Version: 4, Record: []byte(`{"id":"user:2","active":true}`)},
}}

func TestRegister(t *testing.T) {
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	tests := []struct {
		name  string
		body  string
		reply *messages.ViewResult
		want  *messages.RegisterView
		resp  string
	}{
		{"spec example",
			`{"id":"query:abc123","surql":"SELECT * FROM users WHERE active = true","clientId":"client-456","ttl":"30s"}`,
			twoUsers,
			&messages.RegisterView{Id: "query:abc123", Surql: "SELECT * FROM users WHERE active = true", ClientId: "client-456", TtlMs: 30000},
			`{"id":"query:abc123","hash":"9f2c","generation":3,"records":[` +
				`{"id":"user:1","version":1,"record":{"id":"user:1","active":true}},` +
				`{"id":"user:2","version":4,"record":{"id":"user:2","active":true}}]}`},
		{"every field, nulls as in the spec",
			`{"id":"q","surql":"SELECT * FROM t","clientId":"c","ttl":"5m","params":null,"lastActiveAt":"2024-01-01T00:00:00Z","format":null}`,
			&messages.ViewResult{Id: "q", Hash: "h"},
			&messages.RegisterView{Id: "q", Surql: "SELECT * FROM t", ClientId: "c", TtlMs: 300000, LastActiveMs: at},
			`{"id":"q","hash":"h","generation":0,"records":[]}`},
		{"params object, format ids",
			`{"id":"q","surql":"SELECT * FROM user WHERE id = $auth.id","clientId":"c","ttl":"1h","params":{"auth":{"id":"user:1"}},"format":"ids"}`,
			&messages.ViewResult{Id: "q", Hash: "h", Records: []*messages.ViewRecord{{Id: "user:1", Version: 2}}},
			&messages.RegisterView{Id: "q", Surql: "SELECT * FROM user WHERE id = $auth.id", ClientId: "c", TtlMs: 3600000,
				Params: []byte(`{"auth":{"id":"user:1"}}`), Format: "ids"},
			`{"id":"q","hash":"h","generation":0,"records":[{"id":"user:1","version":2}]}`},
		{"the sp00ky client's shape: params as a string, format flat, SurrealQL datetime",
			`{"id":"q","surql":"SELECT * FROM t","clientId":"c","ttl":"1h","params":"{\"a\": 1}","lastActiveAt":"d'2024-01-01T00:00:00.000Z'","format":"flat"}`,
			&messages.ViewResult{Id: "q"},
			&messages.RegisterView{Id: "q", Surql: "SELECT * FROM t", ClientId: "c", TtlMs: 3600000, Params: []byte(`{"a": 1}`), LastActiveMs: at},
			`{"id":"q","hash":"","generation":0,"records":[]}`},
		{"the original's aliases",
			`{"id":"q","surreal_ql":"SELECT * FROM t","client_id":"c","ttl":"1d","last_active_at":"2024-01-01T00:00:00Z","resultFormat":"IDS"}`,
			&messages.ViewResult{Id: "q"},
			&messages.RegisterView{Id: "q", Surql: "SELECT * FROM t", ClientId: "c", TtlMs: 86400000, LastActiveMs: at, Format: "ids"},
			`{"id":"q","hash":"","generation":0,"records":[]}`},
		{"empty params string",
			`{"id":"q","surql":"SELECT * FROM t","clientId":"c","ttl":"1h","params":" "}`,
			&messages.ViewResult{Id: "q"},
			&messages.RegisterView{Id: "q", Surql: "SELECT * FROM t", ClientId: "c", TtlMs: 3600000},
			`{"id":"q","hash":"","generation":0,"records":[]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, withSecret())
			ts.views.register = tc.reply
			wantJSON(t, ts.call("POST", "/view/register", tc.body), 200, tc.resp)
			calls := ts.views.callList()
			if len(calls) != 1 || !proto.Equal(calls[0].arg.(*messages.RegisterView), tc.want) {
				t.Errorf("the views got %v, want %v", calls, tc.want)
			}
		})
	}
}

func TestRegisterErrors(t *testing.T) {
	const good = `{"id":"q","surql":"SELECT * FROM t","clientId":"c","ttl":"30s"}`
	tests := []struct {
		name   string
		body   string
		setup  func(*fakeViews)
		status int
		resp   string
	}{
		{"missing id", `{"surql":"SELECT * FROM t","clientId":"c","ttl":"30s"}`, nil, 400, plain("missing field 'id'")},
		{"missing surql", `{"id":"q","clientId":"c","ttl":"30s"}`, nil, 400, plain("missing field 'surql'")},
		{"missing clientId", `{"id":"q","surql":"SELECT * FROM t","ttl":"30s"}`, nil, 400, plain("missing field 'clientId'")},
		{"missing ttl", `{"id":"q","surql":"SELECT * FROM t","clientId":"c"}`, nil, 400,
			plain(`missing field 'ttl': a duration such as "30s" is required`)},
		{"bad ttl", `{"id":"q","surql":"SELECT * FROM t","clientId":"c","ttl":"soon"}`, nil, 400,
			plain(`invalid 'ttl' "soon": a duration such as "30s", "5m", "1h30m" or "2d" is required`)},
		{"zero ttl", `{"id":"q","surql":"SELECT * FROM t","clientId":"c","ttl":"0s"}`, nil, 400,
			plain(`invalid 'ttl' "0s": the duration must be at least 1ms`)},
		{"ttl a number", `{"id":"q","surql":"SELECT * FROM t","clientId":"c","ttl":30}`, nil, 400,
			plain("'ttl' must be a string, not number")},
		{"bad lastActiveAt", `{"id":"q","surql":"SELECT * FROM t","clientId":"c","ttl":"30s","lastActiveAt":"yesterday"}`, nil, 400,
			plain(`invalid 'lastActiveAt' "yesterday": an RFC 3339 time such as 2024-01-01T00:00:00Z is required`)},
		{"params an array", `{"id":"q","surql":"SELECT * FROM t","clientId":"c","ttl":"30s","params":[1]}`, nil, 400,
			plain("'params' must be a JSON object")},
		{"params a string that is no object", `{"id":"q","surql":"SELECT * FROM t","clientId":"c","ttl":"30s","params":"a: 1"}`, nil, 400,
			plain(`'params' holds a string that is not an object: "a: 1"`)},
		{"unknown format", `{"id":"q","surql":"SELECT * FROM t","clientId":"c","ttl":"30s","format":"xml"}`, nil, 400,
			plain(`unsupported format "xml": use "ids" for ids and versions only, "sp00ky" for the original's prefix match, or leave it out for the records`)},
		{"unsupported query", good, func(f *fakeViews) {
			f.register = &messages.ViewResult{ErrorCode: messages.CodeInvalid,
				ErrorMessage: "unsupported: FETCH at line 1, column 17 (FETCH is not supported in views)"}
		}, 400, plain("unsupported: FETCH at line 1, column 17 (FETCH is not supported in views)")},
		{"too many views", good, func(f *fakeViews) {
			f.register = &messages.ViewResult{ErrorCode: messages.CodeLimit, ErrorMessage: "10000 views: the limit"}
		}, 507, plain("10000 views: the limit")},
		{"not ready", good, func(f *fakeViews) { f.ready.Store(false) }, 503, notReadyBody},
		{"views down", good, func(f *fakeViews) { f.err = errors.New("gone") }, 503,
			`{"code":"SERVICE_UNAVAILABLE","message":"the views service cannot answer: gone"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, withSecret())
			if tc.setup != nil {
				tc.setup(ts.views)
			}
			want(t, ts.call("POST", "/view/register", tc.body), tc.status, tc.resp)
			if tc.setup == nil && len(ts.views.callList()) != 0 {
				t.Error("a bad body reached the views")
			}
		})
	}
}

func TestParseTTL(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30s", 30 * time.Second, true},
		{"5m", 5 * time.Minute, true},
		{"1h", time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"1.5h", 90 * time.Minute, true},
		{"100ms", 100 * time.Millisecond, true},
		{"2d", 48 * time.Hour, true},
		{"1w", 7 * 24 * time.Hour, true},
		{"1y", 365 * 24 * time.Hour, true},
		{"2 days 3h", 51 * time.Hour, true},
		{"10 minutes", 10 * time.Minute, true},
		{" 45sec ", 45 * time.Second, true},
		{"", 0, false},
		{"30", 0, false},
		{"s", 0, false},
		{"-5m", 0, false},
		{"5 parsecs", 0, false},
		{"1..5h", 0, false},
		{"500us", 0, false},
		{"300000y", 0, false},
	}
	for _, tc := range tests {
		got, err := parseTTL(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseTTL(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestUnregister(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		setup  func(*fakeViews)
		status int
		resp   string
	}{
		{"known view", `{"id":"users_view"}`, nil, 200, ""},
		{"unknown view: 200, as in the original", `{"id":"users_view"}`, func(f *fakeViews) {
			f.unregister = &messages.ViewResult{ErrorCode: messages.CodeNotFound, ErrorMessage: "no view users_view"}
		}, 200, ""},
		{"missing id", `{}`, nil, 400, plain("missing field 'id'")},
		{"id not a string", `{"id":7}`, nil, 400, plain("'id' must be a string, not number")},
		{"not ready", `{"id":"users_view"}`, func(f *fakeViews) { f.ready.Store(false) }, 503, notReadyBody},
		{"views down", `{"id":"users_view"}`, func(f *fakeViews) { f.err = errors.New("gone") }, 503,
			`{"code":"SERVICE_UNAVAILABLE","message":"the views service cannot answer: gone"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, withSecret())
			if tc.setup != nil {
				tc.setup(ts.views)
			}
			want(t, ts.call("POST", "/view/unregister", tc.body), tc.status, tc.resp)
			calls := ts.views.callList()
			if tc.status == 200 && (len(calls) != 1 || calls[0] != (call{"unregister", "users_view"})) {
				t.Errorf("the views got %v", calls)
			}
		})
	}
}

func TestReset(t *testing.T) {
	ts := newTestServer(t, withSecret())
	want(t, ts.call("POST", "/reset", `{}`), 200, "")
	want(t, ts.call("POST", "/reset", ``), 200, "")
	if calls := ts.views.callList(); len(calls) != 2 || calls[0].method != "reset" {
		t.Errorf("the views got %v", calls)
	}
	// Reset is not gated on readiness, as in the original.
	ts.views.ready.Store(false)
	want(t, ts.call("POST", "/reset", ``), 200, "")
	ts.views.err = errors.New("gone")
	want(t, ts.call("POST", "/reset", ``), 503,
		`{"code":"SERVICE_UNAVAILABLE","message":"the views service cannot answer: gone"}`)
}
