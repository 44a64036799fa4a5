package synap

import (
	"encoding/json"
	"reflect"
	"testing"
)

// fastJSONSeeds are documents the fast decoders take, and ones they must
// leave to encoding/json.
var fastJSONSeeds = []string{
	`{"command":"queue.publish","payload":{"queue":"q","message":"job"}}`,
	` { "command" : "queue.ack" , "request_id" : "r-1" , "payload" : { "queue" : "q" , "message_id" : "m1" } } `,
	`{"type":"command","command":"queue.nack","payload":{"queue":"q","message_id":"m1","requeue":false}}`,
	`{"command":"queue.publish","payload":{"queue":"q","message":{"a":[1,2,{"b":"}]\"x"}],"c":null},"priority":9,"headers":{"k":"v"}}}`,
	`{"command":"queue.consume","payload":{"queue":"q","consumer_id":"c1","requeue":true}}`,
	`{"command":"queue.publish","payload":{"queue":"q","message":[1, 2 ,3],"priority":-1.5e3}}`,
	`{"command":"queue.publish","payload":{"queue":"q","message":"caf\u00e9 \"x\""}}`,
	`{"command":"queue.publish","payload":{"queue":"héllo","message":true}}`,
	`{"command":"queue.publish","payload":null}`,
	`{"command":"queue.publish","payload":[]}`,
	`{"command":"queue.publish","request_id":null,"payload":{}}`,
	`{"command":"queue.publish","request_id":7,"payload":{}}`,
	// Left to encoding/json: another field, case, duplicates, escapes,
	// nulls and wrong types where strings go, invalid UTF-8, bad JSON.
	`{"command":"queue.publish","payload":{"queue":"q","message":"m","extra":1}}`,
	`{"Command":"queue.publish","payload":{"Queue":"q"}}`,
	`{"command":"a","command":"b"}`,
	`{"command":"queue.publish","payload":{"queue":"a","queue":"b"}}`,
	`{"command":"queue.\u0070ublish","payload":{"queue":"q\n"}}`,
	`{"comm\u0061nd":"x"}`,
	`{"command":null,"payload":{"queue":null,"message_id":null}}`,
	`{"command":1,"payload":{"queue":2}}`,
	`{"command":"x","payload":{"requeue":"yes"}}`,
	`{"command":"x","payload":{"requeue":null}}`,
	"{\"command\":\"x\xff\",\"payload\":{\"queue\":\"\xfe\"}}",
	`{"type":"batch","commands":[{"command":"kv.get","payload":{"key":"a"}}]}`,
	`{"command":"x",}`,
	`{"command":"x"`,
	`[1,2]`,
	`"command"`,
	`null`,
	``,
	` `,
}

// TestFastJSONMatchesEncodingJSON checks that whatever the fast decoders
// take, they decode as encoding/json does.
func TestFastJSONMatchesEncodingJSON(t *testing.T) {
	taken := 0
	for _, doc := range fastJSONSeeds {
		if checkFastJSON(t, []byte(doc)) {
			taken++
		}
	}
	if taken < 10 {
		t.Errorf("the fast decoders took %d of the documents, want at least 10", taken)
	}
}

func FuzzFastJSON(f *testing.F) {
	for _, doc := range fastJSONSeeds {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) { checkFastJSON(t, doc) })
}

// checkFastJSON decodes doc, and its payload, both ways; true if the fast
// envelope decoder took it.
func checkFastJSON(t *testing.T, doc []byte) bool {
	t.Helper()
	var fast envelope
	took := decodeEnvelopeFast(doc, &fast)
	var slow envelope
	err := json.Unmarshal(doc, &slow)
	switch {
	case !took && !reflect.DeepEqual(fast, envelope{}):
		t.Errorf("%s: the fast decoder refused it but changed the envelope: %+v", doc, fast)
	case took && err != nil:
		t.Errorf("%s: the fast decoder took what encoding/json refuses (%v)", doc, err)
	case took && !reflect.DeepEqual(fast, slow):
		t.Errorf("%s: fast %+v, encoding/json %+v", doc, fast, slow)
	}
	payload := []byte(slow.Payload)
	if err != nil || len(payload) == 0 {
		payload = doc
	}
	var fm msgArgs
	if !fm.decodeFast(payload) {
		if !reflect.DeepEqual(fm, msgArgs{}) {
			t.Errorf("%s: the fast decoder refused the payload but changed it: %+v", payload, fm)
		}
		return took
	}
	var sm msgArgs
	if err := json.Unmarshal(payload, &sm); err != nil {
		t.Errorf("%s: the fast decoder took a payload encoding/json refuses (%v)", payload, err)
	} else if !reflect.DeepEqual(fm, sm) {
		t.Errorf("%s: fast %+v, encoding/json %+v", payload, fm, sm)
	}
	return took
}
