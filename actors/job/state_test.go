package job

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		strategy string
		n        int
		want     time.Duration
	}{
		{Linear, 0, 200 * ms}, {Linear, 1, 400 * ms}, {Linear, 2, 600 * ms}, {Linear, 149, BackoffMax}, {Linear, 1000, BackoffMax},
		{Exponential, 0, 200 * ms}, {Exponential, 1, 400 * ms}, {Exponential, 2, 800 * ms}, {Exponential, 3, 1600 * ms},
		{Exponential, 7, 25600 * ms}, {Exponential, 8, BackoffMax}, {Exponential, 5000, BackoffMax},
		{"", 1, 400 * ms}, {"fibonacci", 2, 600 * ms}, {Linear, -1, 200 * ms},
	}
	for _, tc := range tests {
		if got := Backoff(tc.strategy, tc.n); got != tc.want {
			t.Errorf("Backoff(%q, %d) = %v, want %v", tc.strategy, tc.n, got, tc.want)
		}
	}
}

func row(t *testing.T, j *Job) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(j.Record(), &m); err != nil {
		t.Fatalf("the record %s: %v", j.Record(), err)
	}
	return m
}

func TestParseDefaults(t *testing.T) {
	j, err := Parse("job", "job:1", []byte(`{"status":"pending","owner":"ann"}`))
	if err != nil {
		t.Fatal(err)
	}
	if j.Path != "" || string(j.Payload) != "null" || j.Retries != 0 || j.MaxRetries != 3 || j.Strategy != Linear ||
		j.Errors != nil || j.TimeoutSecs != 0 || j.Status != Pending {
		t.Errorf("defaults: %+v", j)
	}
	m := row(t, j)
	want := map[string]any{"status": "pending", "owner": "ann", "retries": 0.0, "errors": []any{}, "_00_rv": 1.0}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("row %v, want %v", m, want)
	}
}

func TestParseFields(t *testing.T) {
	j, err := Parse("job", "job:1", []byte(`{"path":"/spookify","payload":{"a":[1,2]},"retries":1,"max_retries":5,
		"retry_strategy":"exponential","status":"pending","errors":[{"code":500,"reason":"x"}],"timeout":2,"_00_rv":4}`))
	if err != nil {
		t.Fatal(err)
	}
	if j.Path != "/spookify" || string(j.Payload) != `{"a":[1,2]}` || j.Retries != 1 || j.MaxRetries != 5 ||
		j.Strategy != Exponential || len(j.Errors) != 1 || j.Errors[0] != (CallError{500, "x"}) || j.TimeoutSecs != 2 || j.version != 4 {
		t.Errorf("fields: %+v", j)
	}
}

func TestPayloadSent(t *testing.T) {
	tests := map[string]string{
		`{"payload":"{\"a\":1}"}`: `{"a":1}`, // a string holding JSON is sent parsed
		`{"payload":"[1, 2]"}`:    `[1, 2]`,
		`{"payload":"42"}`:        `42`,
		`{"payload":"hello"}`:     `"hello"`, // not JSON: sent as the string
		`{"payload":""}`:          `""`,
		`{"payload":{"b":"c"}}`:   `{"b":"c"}`,
		`{"payload":null}`:        `null`,
		`{}`:                      `null`,
	}
	for rec, want := range tests {
		j, err := Parse("job", "job:1", []byte(rec))
		if err != nil {
			t.Fatal(err)
		}
		if string(j.Payload) != want {
			t.Errorf("%s: sends %s, want %s", rec, j.Payload, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := map[string]string{
		`[]`:                        "the row is not a JSON object",
		`null`:                      "the row is not a JSON object",
		`{"path":3}`:                "path must be a string",
		`{"retry_strategy":true}`:   "retry_strategy must be a string",
		`{"retries":"1"}`:           "retries must be a number",
		`{"max_retries":[]}`:        "max_retries must be a number",
		`{"timeout":"10s"}`:         "timeout must be a number",
		`{"errors":"boom"}`:         "errors must be a list",
		`{"errors":[{"code":"x"}]}`: "errors must be a list",
	}
	for rec, want := range tests {
		if _, err := Parse("job", "job:1", []byte(rec)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", rec, err, want)
		}
	}
}

func TestParseBounds(t *testing.T) {
	j, err := Parse("job", "job:1", []byte(`{"retries":-2,"max_retries":1e9}`))
	if err != nil {
		t.Fatal(err)
	}
	if j.Retries != 0 || j.MaxRetries != MaxMaxRetries {
		t.Errorf("retries %d max_retries %d", j.Retries, j.MaxRetries)
	}
}

func TestSuccessFirstTime(t *testing.T) {
	j, _ := Parse("job", "job:1", []byte(`{"status":"pending","path":"/x"}`))
	j.Start()
	if m := row(t, j); m["status"] != "processing" || m["_00_rv"] != 2.0 {
		t.Errorf("after Start: %v", m)
	}
	if st := j.Finish(Result{OK: true, Code: 200}); !st.Final {
		t.Errorf("a 2xx is final: %+v", st)
	}
	if m := row(t, j); m["status"] != "success" || m["retries"] != 0.0 || len(m["errors"].([]any)) != 0 || m["_00_rv"] != 3.0 {
		t.Errorf("after success: %v", m)
	}
}

// TestRetriesThenFailed walks a job through every failure: each call's
// error is kept, the backoff follows the strategy, and the job fails after
// max_retries calls.
func TestRetriesThenFailed(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		backoffs []time.Duration
	}{
		{Linear, []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 600 * time.Millisecond}},
		{Exponential, []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			j, _ := Parse("job", "job:1", []byte(`{"status":"pending","max_retries":4,"retry_strategy":"`+tc.strategy+`"}`))
			var calls int
			var statuses []Status
			for {
				j.Start()
				statuses = append(statuses, j.Status)
				calls++
				res := Result{Code: 500 + calls, Reason: "boom"}
				if calls%2 == 0 {
					res = Result{Code: 0, Reason: "timed out after 10s"}
				}
				st := j.Finish(res)
				statuses = append(statuses, j.Status)
				if st.Final {
					break
				}
				if st.Backoff != tc.backoffs[calls-1] {
					t.Errorf("backoff after call %d: %v, want %v", calls, st.Backoff, tc.backoffs[calls-1])
				}
				j.Retry()
				statuses = append(statuses, j.Status)
				if calls > 10 {
					t.Fatal("the job never ends")
				}
			}
			if calls != 4 {
				t.Errorf("%d calls, want max_retries = 4", calls)
			}
			want := []Status{Processing, Processing, Pending, Processing, Processing, Pending, Processing, Processing, Pending, Processing, Failed}
			if !reflect.DeepEqual(statuses, want) {
				t.Errorf("statuses %v\nwant %v", statuses, want)
			}
			m := row(t, j)
			wantErrs := []any{
				map[string]any{"code": 501.0, "reason": "boom"},
				map[string]any{"code": 0.0, "reason": "timed out after 10s"},
				map[string]any{"code": 503.0, "reason": "boom"},
				map[string]any{"code": 0.0, "reason": "timed out after 10s"},
			}
			if m["status"] != "failed" || m["retries"] != 4.0 || !reflect.DeepEqual(m["errors"], wantErrs) {
				t.Errorf("final row %v", m)
			}
			if m["_00_rv"] != float64(1+len(statuses)) {
				t.Errorf("_00_rv %v after %d changes", m["_00_rv"], len(statuses))
			}
		})
	}
}

func TestRetryThenSuccess(t *testing.T) {
	j, _ := Parse("job", "job:1", []byte(`{"status":"pending"}`))
	j.Start()
	if st := j.Finish(Result{Code: 502, Reason: "bad gateway"}); st.Final || st.Backoff != 200*time.Millisecond {
		t.Errorf("first failure: %+v", st)
	}
	j.Retry()
	j.Start()
	if st := j.Finish(Result{OK: true, Code: 201}); !st.Final {
		t.Errorf("success after a retry: %+v", st)
	}
	if m := row(t, j); m["status"] != "success" || m["retries"] != 1.0 || len(m["errors"].([]any)) != 1 {
		t.Errorf("row %v", m)
	}
}

func TestMaxRetriesZeroCallsOnce(t *testing.T) {
	j, _ := Parse("job", "job:1", []byte(`{"max_retries":0}`))
	j.Start()
	if st := j.Finish(Result{Code: 500}); !st.Final || j.Status != Failed {
		t.Errorf("max_retries 0: %+v %s", st, j.Status)
	}
}

// A job restored from its queue message goes on from the retries it had.
func TestResumeFromRecord(t *testing.T) {
	j, _ := Parse("job", "job:1", []byte(`{"status":"pending"}`))
	j.Start()
	j.Finish(Result{Code: 500, Reason: "a"})
	j.Retry()
	k, err := Parse("job", "job:1", j.Record())
	if err != nil {
		t.Fatal(err)
	}
	if k.Retries != 1 || len(k.Errors) != 1 || k.Status != Pending || k.version != j.version {
		t.Errorf("resumed %+v", k)
	}
	k.Start()
	k.Finish(Result{Code: 500, Reason: "b"})
	k.Retry()
	k.Start()
	if st := k.Finish(Result{Code: 500, Reason: "c"}); !st.Final || k.Retries != 3 {
		t.Errorf("the third failure over two lives ends the job: %+v, retries %d", st, k.Retries)
	}
}

func TestReasonTruncated(t *testing.T) {
	j, _ := Parse("job", "job:1", []byte(`{}`))
	j.Start()
	j.Finish(Result{Code: 500, Reason: strings.Repeat("é", MaxReason)})
	if r := j.Errors[0].Reason; len(r) > MaxReason || !strings.HasPrefix(strings.Repeat("é", MaxReason), r) || len(r) < MaxReason-1 {
		t.Errorf("reason of %d bytes", len(r))
	}
}
