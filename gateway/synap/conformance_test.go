package synap

import (
	"context"
	"testing"

	"github.com/troupe-run/troupe/actors/kv"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/systemtest"
)

// The door's tests run over mapKeyspace, a fake; they prove something about
// the server only as far as the fake answers as the real keyspace does.
// This suite runs the same commands through the door over each Keyspace
// and holds both to the same replies, byte for byte: a change to the real
// shards that the fake does not follow fails here, not in production.

// keyspaceImpls are the Keyspace implementations the suite covers.
var keyspaceImpls = map[string]func(t *testing.T) Keyspace{
	"fake": func(*testing.T) Keyspace { return &mapKeyspace{m: map[string][]byte{}} },
	"real": func(t *testing.T) Keyspace {
		ks, err := kv.Start(systemtest.Boot(t), kv.NewMemory(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ks.Close)
		return ks
	},
}

// step is one command posted and the status and reply payload (or error
// code, or a batch's payloads in a JSON array) it must answer.
type step struct {
	command string
	status  int
	body    string
}

// conformance holds the scripts: steps posted in order.
var conformance = []struct {
	name  string
	steps []step
}{
	{"set, get, overwrite, delete", []step{
		{`{"command":"kv.get","payload":{"key":"a"}}`, 200, `{"found":false,"value":null,"ttl":null}`},
		{`{"command":"kv.set","payload":{"key":"a","value":"one"}}`, 200, `{"key":"a","success":true,"previous":null}`},
		{`{"command":"kv.get","payload":{"key":"a"}}`, 200, `{"found":true,"value":"one","ttl":null}`},
		{`{"command":"kv.set","payload":{"key":"a","value":{"n":[1,2]}}}`, 200, `{"key":"a","success":true,"previous":"one"}`},
		{`{"command":"kv.get","payload":{"key":"a"}}`, 200, `{"found":true,"value":{"n":[1,2]},"ttl":null}`},
		{`{"command":"kv.del","payload":{"keys":["a","b"]}}`, 200, `{"deleted":1}`},
		{`{"command":"kv.del","payload":{"keys":["a"]}}`, 200, `{"deleted":0}`},
		{`{"command":"kv.get","payload":{"key":"a"}}`, 200, `{"found":false,"value":null,"ttl":null}`},
	}},
	{"incr of a value that is no integer", []step{
		{`{"command":"kv.set","payload":{"key":"s","value":"text"}}`, 200, `{"key":"s","success":true,"previous":null}`},
		{`{"command":"kv.incr","payload":{"key":"s"}}`, 400, `NOT_AN_INTEGER`},
		{`{"command":"kv.get","payload":{"key":"s"}}`, 200, `{"found":true,"value":"text","ttl":null}`},
	}},
	{"a batch in order", []step{
		{`{"type":"batch","commands":[{"command":"kv.set","payload":{"key":"k","value":1}},` +
			`{"command":"kv.get","payload":{"key":"k"}},{"command":"kv.del","payload":{"keys":["k"]}}]}`, 200,
			`[{"key":"k","success":true,"previous":null},{"found":true,"value":1,"ttl":null},{"deleted":1}]`},
	}},
}

func TestKeyspaceConformance(t *testing.T) {
	for name, open := range keyspaceImpls {
		t.Run(name, func(t *testing.T) {
			for _, script := range conformance {
				t.Run(script.name, func(t *testing.T) {
					ts := newTestServer(t, insecure())
					ks := open(t)
					ts.ks.reply = func(req *messages.DataRequest) (*messages.DataReply, error) {
						return ks.Do(context.Background(), req)
					}
					for i, step := range script.steps {
						rec := postCommand(ts, step.command)
						if rec.Code != step.status {
							t.Fatalf("step %d %s: status %d, want %d; body %s", i, step.command, rec.Code, step.status, rec.Body)
						}
						r := decodeReply(t, rec)
						got := string(r.Payload)
						switch {
						case r.Error != nil:
							got = r.Error.Code
						case r.Results != nil:
							got = "["
							for j, res := range r.Results {
								if j > 0 {
									got += ","
								}
								got += string(res.Payload)
							}
							got += "]"
						}
						if got != step.body {
							t.Errorf("step %d %s:\n got  %s\n want %s", i, step.command, got, step.body)
						}
					}
				})
			}
		})
	}
}
