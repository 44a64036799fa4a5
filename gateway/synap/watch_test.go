package synap

import (
	"strings"
	"testing"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/messages"
)

func TestWatchFrame(t *testing.T) {
	big := `"` + strings.Repeat("x", watchInlineMax+1) + `"`
	for _, tc := range []struct {
		name string
		ch   *messages.KeyChange
		want string
	}{
		{"a string as itself", &messages.KeyChange{Key: "k", Event: "set", Version: 1, Value: []byte(`"alice"`), HasValue: true, TimestampMs: 5000},
			`{"type":"message","message_id":"watch-7-k","topic":"__watch@0__:k","payload":{"key":"k","event":"set","version":1,"value":"alice"},"metadata":null,"timestamp":5}`},
		{"other JSON as its text", &messages.KeyChange{Key: "k", Event: "incrby", Version: 2, Value: []byte(`{"a":1}`), HasValue: true},
			`{"type":"message","message_id":"watch-7-k","topic":"__watch@0__:k","payload":{"key":"k","event":"incrby","version":2,"value":"{\"a\":1}"},"metadata":null,"timestamp":0}`},
		{"no value", &messages.KeyChange{Key: "k", Event: "del", Version: 3},
			`{"type":"message","message_id":"watch-7-k","topic":"__watch@0__:k","payload":{"key":"k","event":"del","version":3},"metadata":null,"timestamp":0}`},
		{"too large: withheld", &messages.KeyChange{Key: "k", Event: "set", Version: 4, Value: []byte(big), HasValue: true},
			`{"type":"message","message_id":"watch-7-k","topic":"__watch@0__:k","payload":{"key":"k","event":"set","version":4,"truncated":true},"metadata":null,"timestamp":0}`},
	} {
		w := watchFrame(tc.ch, 7)
		if got := string(w.Bytes()); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
		jsonw.Put(w)
	}
}

func TestWatchNeedsASession(t *testing.T) {
	ts := newTestServer(t, insecure())
	wantError(t, postCommand(ts, `{"command":"kv.watch","payload":{"keys":["a"]}}`), 400, codeBadRequest, "WebSocket")
}
