package ssp

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestLog(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		level string // as slog's JSON handler writes it
		msg   string
		data  string // the "data" attribute, as JSON; "" for none
	}{
		{"spec example", `{"message":"User logged in","level":"info","data":{"user_id":"alice"}}`,
			"INFO", "User logged in", `{"user_id":"alice"}`},
		{"error", `{"message":"boom","level":"error"}`, "ERROR", "boom", ""},
		{"warn", `{"message":"careful","level":"warn"}`, "WARN", "careful", ""},
		{"debug", `{"message":"details","level":"debug"}`, "DEBUG", "details", ""},
		{"trace is debug", `{"message":"more details","level":"trace"}`, "DEBUG", "more details", ""},
		{"upper case", `{"message":"m","level":"ERROR"}`, "ERROR", "m", ""},
		{"no level is info", `{"message":"m"}`, "INFO", "m", ""},
		{"an unknown level is info", `{"message":"m","level":"fatal"}`, "INFO", "m", ""},
		{"empty message", `{"message":"","level":"info"}`, "INFO", "", ""},
		{"data with numbers and nesting", `{"message":"m","data":{"n":12345678901234567890,"nested":{"a":[1,true,null]},"b":"x"}}`,
			"INFO", "m", `{"b":"x","n":12345678901234567890,"nested":{"a":[1,true,null]}}`},
		{"data not an object", `{"message":"m","data":[1,"two"]}`, "INFO", "m", `[1,"two"]`},
		{"data null", `{"message":"m","data":null}`, "INFO", "m", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, withSecret())
			before := ts.logs.String()
			want(t, ts.call("POST", "/log", tc.body), 200, "")
			line := strings.TrimPrefix(ts.logs.String(), before)
			var got map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatalf("not one JSON log line: %q", line)
			}
			wantAttr := func(key, val string) {
				t.Helper()
				if string(got[key]) != val {
					t.Errorf("%s = %s, want %s (line %s)", key, got[key], val, line)
				}
			}
			wantAttr("level", `"`+tc.level+`"`)
			msg, _ := json.Marshal(tc.msg)
			wantAttr("msg", string(msg))
			wantAttr("remote", "true")
			wantAttr("data", tc.data)
		})
	}
}

func TestLogErrors(t *testing.T) {
	tests := []struct{ body, resp string }{
		{`{"level":"info"}`, plain("missing field 'message'")},
		{`{"message":null}`, plain("missing field 'message'")},
		{`{"message":5}`, plain("'message' must be a string, not number")},
		{`{"message":"m","level":3}`, plain("'level' must be a string, not number")},
		{`"m"`, plain("the body must be a JSON object, not string")},
	}
	for _, tc := range tests {
		ts := newTestServer(t, withSecret())
		want(t, ts.call("POST", "/log", tc.body), 400, tc.resp)
	}
}
