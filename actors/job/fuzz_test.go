package job

import (
	"encoding/json"
	"testing"
)

// FuzzParse feeds the job row parser arbitrary rows: it never panics, and a
// job it accepts goes through its life with rows that stay JSON objects.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"status":"pending","path":"/x","payload":"{\"a\":1}","retries":1,"max_retries":2,"retry_strategy":"exponential","errors":[{"code":500,"reason":"x"}],"timeout":2,"_00_rv":3}`,
		`{}`, `[]`, `{"max_retries":1e308}`, `{"payload":"\"\\u00e9\""}`, `{"errors":null}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, rec string) {
		j, err := Parse("job", "job:1", []byte(rec))
		if err != nil {
			return
		}
		if !json.Valid(j.Payload) {
			t.Fatalf("payload %q of %q is not JSON", j.Payload, rec)
		}
		for step := 0; step < MaxMaxRetries+2; step++ {
			j.Start()
			if !json.Valid(j.Record()) {
				t.Fatalf("row %q of %q is not JSON", j.Record(), rec)
			}
			if j.Finish(Result{Code: 500, Reason: rec}).Final {
				break
			}
			j.Retry()
		}
		if j.Status != Failed || !json.Valid(j.Record()) {
			t.Fatalf("%q: the job did not fail within max_retries calls: %s", rec, j.Record())
		}
	})
}
