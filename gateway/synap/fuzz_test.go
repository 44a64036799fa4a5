package synap

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/troupe-run/troupe/messages"
)

// FuzzCommandDecode feeds arbitrary bodies to the command endpoint: the
// server must never panic, and must always answer a JSON envelope with a 2xx
// or 4xx status (the backend here always succeeds, so nothing else is due).
func FuzzCommandDecode(f *testing.F) {
	for _, seed := range []string{
		getA,
		`{"command":"kv.set","request_id":"r","payload":{"key":"a","value":{"x":[1,2.5e10,"s"]},"ttl":60,"nx":true}}`,
		`{"command":"kv.mset","payload":{"pairs":[["a",1],{"key":"b","value":null}]}}`,
		`{"command":"kv.msetnx","payload":{"pairs":{"a":1,"b":2}}}`,
		`{"command":"hash.mset","payload":{"key":"h","fields":[{"field":"f","value":1}]}}`,
		`{"command":"sortedset.zadd","payload":{"key":"z","members":["a"],"scores":[1]}}`,
		`{"command":"sortedset.zrangebyscore","payload":{"key":"z","min":"-inf","max":"(5"}}`,
		`{"command":"list.lpop","payload":{"key":"l","count":-3}}`,
		`{"command":"kv.scan","payload":{"cursor":"\u0000","count":1e3}}`,
		`{"type":"batch","request_id":"b","commands":[{"command":"kv.get","payload":{"key":"a"}},{"command":"x"}]}`,
		`{"command":"admin.stats"}`,
		`{"command":"kv.get","payload":[]}`,
		`[1,2,3]`, `null`, `"kv.get"`, `{`, ``, "\xff\xfe",
	} {
		f.Add(seed)
	}
	admin := &fakeAdmin{config: map[string]any{"a": 1}}
	s := New(insecure(), okKeyspace{}, admin, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("POST", commandPath, strings.NewReader(body)))
		if rec.Code >= 500 || rec.Code < 200 || rec.Code >= 300 && rec.Code < 400 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		var r reply
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("invalid JSON reply for %q: %v\n%s", body, err, rec.Body)
		}
		switch {
		case r.Type != "response" && r.Type != "batch_response":
			t.Fatalf("reply type %q for %q", r.Type, body)
		case r.RequestID == nil:
			t.Fatalf("no request_id for %q: %s", body, rec.Body)
		case r.Type == "response" && r.Status != "success" && r.Status != "error":
			t.Fatalf("reply status %q for %q", r.Status, body)
		case r.Status == "error" && (r.Error == nil || r.Error.Code == "" || r.Error.Message == ""):
			t.Fatalf("error without code or message for %q: %s", body, rec.Body)
		}
	})
}

// okKeyspace answers every request with an empty success, and keeps nothing.
type okKeyspace struct{}

func (okKeyspace) Do(context.Context, *messages.DataRequest) (*messages.DataReply, error) {
	return &messages.DataReply{}, nil
}
