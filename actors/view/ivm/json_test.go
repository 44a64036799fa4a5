package ivm

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// decodeReference is what DecodeRecord stands for: encoding/json with
// UseNumber, then surql.Normalize, for input that is valid JSON.
func decodeReference(raw []byte) (map[string]any, error) {
	raw = bytes.Trim(raw, " \t\r\n")
	if len(raw) == 0 {
		return nil, nil
	}
	var probe any
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, err
	}
	if probe == nil {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var rec map[string]any
	if err := d.Decode(&rec); err != nil {
		return nil, err
	}
	v, err := surql.Normalize(rec)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

var decodeSamples = []string{
	``, ` `, `null`, " null\n", `{}`, ` { } `, `{"a":1}`, `{"owner":"user:1","price":120,"tags":["x","y"],"n":null,"ok":true,"f":false}`,
	`{"a":-0}`, `{"a":-0.0}`, `{"a":1.0}`, `{"a":1e2}`, `{"a":1E+2}`, `{"a":1.5e-3}`, `{"a":9223372036854775807}`,
	`{"a":9223372036854775808}`, `{"a":-9223372036854775808}`, `{"a":-9223372036854775809}`, `{"a":123456789012345678}`,
	`{"a":1e400}`, `{"a":[1e400]}`, `{"a":{"b":{"c":[1,[2,{"d":3}]]}}}`, `{"a":1,"a":2}`,
	`{"s":"tab\tnew\nquote\"back\\slash\/uni\u00e9\ud83d\ude00"}`, `{"s":"\ud800"}`, "{\"s\":\"caf\xc3\xa9\"}", "{\"s\":\"bad\xff\"}",
	"{\"\xff\":1}", `{"s":"\u2028"}`,
	// invalid
	`[1]`, `"x"`, `1`, `true`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{a:1}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":+1}`,
	`{"a":-}`, `{"a":1e}`, `{"a":tru}`, `{"a":"x}`, "{\"a\":\"x\ny\"}", `{"a":"\x"}`, `{"a":1} x`, `{"a":1}{}`, `{"a":[1,]}`,
	`{"a":[1 2]}`, `nul`, `{"a":1`, `{"a":"\`,
}

func TestDecodeRecord(t *testing.T) {
	for _, in := range decodeSamples {
		checkDecode(t, []byte(in))
	}
}

// shared decodes every sample, so that it knows the names of the ones
// before.
var shared Decoder

func checkDecode(t *testing.T, in []byte) {
	t.Helper()
	want, wantErr := decodeReference(in)
	for _, decode := range []func([]byte) (map[string]any, error){DecodeRecord, shared.Decode} {
		got, err := decode(in)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("DecodeRecord(%q): error %v, want error %v", in, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeRecord(%q) = %#v, want %#v", in, got, want)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, in := range decodeSamples {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkDecode(t, in) })
}
