// Package job runs the jobs of job tables: a row created in a job table with
// status "pending" is a call to a backend (POST base_url + path with the
// row's payload), retried with backoff until it succeeds or runs out of
// retries, and every change of its status is written back to the row.
//
// The jobs live in durable queues of the messaging service, one per job
// table ("_jobs.<table>"), so that a crash loses none: a job is acked only
// when it reaches a final status. One runner actor per job table
// ("jobs/<table>") consumes its queue with a bounded number of jobs at once
// and bridges the blocking HTTP calls through goroutines it owns.
//
// Delivery is at least once: a job whose call was in flight when the
// process died is called again after the restart.
package job

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// Status is a job row's status field.
type Status string

const (
	Pending    Status = "pending"
	Processing Status = "processing"
	Success    Status = "success"
	Failed     Status = "failed"
)

// Defaults and bounds of a row's fields.
const (
	DefaultMaxRetries = 3
	// MaxMaxRetries bounds max_retries: each failure appends an error to
	// the row, which must stay under the record size limit.
	MaxMaxRetries = 100
	// BackoffBase is the unit of both strategies (the original's 200 ms).
	BackoffBase = 200 * time.Millisecond
	// BackoffMax caps a backoff: exponential growth past it would park a
	// job for hours.
	BackoffMax = 30 * time.Second
	// MaxReason bounds the reason of one error kept in the row.
	MaxReason = 512
)

// Strategies of retry_strategy.
const (
	Linear      = "linear"
	Exponential = "exponential"
)

// Backoff is the wait before retry number n+1 (n = the retries made so
// far): linear 200 ms x (n+1), exponential 200 ms x 2^n, at most BackoffMax.
// An unknown strategy is linear, as in the original.
func Backoff(strategy string, n int) time.Duration {
	n = max(n, 0)
	var d float64
	if strategy == Exponential {
		d = float64(BackoffBase) * math.Pow(2, float64(n))
	} else {
		d = float64(BackoffBase) * float64(n+1)
	}
	if d >= float64(BackoffMax) {
		return BackoffMax
	}
	return time.Duration(d)
}

// CallError is one failed call, as the row's errors list holds it: the HTTP
// status, or 0 for a transport error or a timeout.
type CallError struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// Result is how one call ended.
type Result struct {
	OK     bool // a 2xx answer
	Code   int  // the HTTP status; 0 when no answer came (transport error, timeout)
	Reason string
}

// Job is one job: its row as last written, and the fields the runner reads
// from it. It is a plain value owned by one runner.
type Job struct {
	Table, ID string

	Path        string
	Payload     json.RawMessage // what is sent: the row's payload, parsed when it is a string holding JSON
	Retries     int
	MaxRetries  int
	Strategy    string
	Errors      []CallError
	TimeoutSecs float64 // the row's timeout, 0 when none
	Status      Status

	fields  map[string]json.RawMessage // the whole row
	version int64                      // its _00_rv
}

// Parse reads a job from its row. Missing fields take the original's
// defaults (path "", payload null, retries 0, max_retries 3, linear); a
// field of the wrong type is an error that names it.
func Parse(table, id string, record []byte) (*Job, error) {
	j := &Job{Table: table, ID: id, MaxRetries: DefaultMaxRetries, Strategy: Linear, Payload: json.RawMessage("null"), version: 1}
	dec := json.NewDecoder(bytes.NewReader(record))
	dec.UseNumber()
	if err := dec.Decode(&j.fields); err != nil || j.fields == nil {
		return nil, fmt.Errorf("job %s: the row is not a JSON object", id)
	}
	var err error
	str := func(name string, dst *string) {
		if raw, ok := j.fields[name]; ok && err == nil && !isNull(raw) {
			if json.Unmarshal(raw, dst) != nil {
				err = fmt.Errorf("job %s: %s must be a string", id, name)
			}
		}
	}
	num := func(name string, dst *float64) {
		if raw, ok := j.fields[name]; ok && err == nil && !isNull(raw) {
			if json.Unmarshal(raw, dst) != nil {
				err = fmt.Errorf("job %s: %s must be a number", id, name)
			}
		}
	}
	var status string
	str("path", &j.Path)
	str("retry_strategy", &j.Strategy)
	str("status", &status)
	j.Status = Status(status)
	var retries, maxRetries, rv float64 = 0, DefaultMaxRetries, 1
	num("retries", &retries)
	num("max_retries", &maxRetries)
	num("timeout", &j.TimeoutSecs)
	num("_00_rv", &rv)
	if err != nil {
		return nil, err
	}
	j.Retries = int(min(max(retries, 0), MaxMaxRetries))
	j.MaxRetries = int(min(max(maxRetries, 0), MaxMaxRetries))
	j.version = int64(max(rv, 1))
	if raw, ok := j.fields["errors"]; ok && !isNull(raw) {
		if json.Unmarshal(raw, &j.Errors) != nil {
			return nil, fmt.Errorf("job %s: errors must be a list of {code, reason}", id)
		}
	}
	if raw, ok := j.fields["payload"]; ok {
		j.Payload = sendable(raw)
	}
	return j, nil
}

// sendable is the body sent for a payload: a string that holds JSON is sent
// as that JSON, as the original does; anything else as it is.
func sendable(raw json.RawMessage) json.RawMessage {
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil && json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	return raw
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// Start marks the job as being called.
func (j *Job) Start() { j.set(Processing) }

// Step is what the runner does after a call.
type Step struct {
	// Final: the job is over (Status success or failed); else it is retried
	// after Backoff, and its row stays processing (with the new error)
	// until the retry makes it pending again.
	Final   bool
	Backoff time.Duration
}

// Finish applies the result of a call: success ends the job; a failure is
// appended to errors and counted in retries, and the job is retried while
// retries < max_retries, else it has failed. So a job is called at most
// max_retries times (at least once), as in the original.
func (j *Job) Finish(r Result) Step {
	if r.OK {
		j.set(Success)
		return Step{Final: true}
	}
	reason := r.Reason
	if len(reason) > MaxReason {
		reason = truncate(reason, MaxReason)
	}
	j.Errors = append(j.Errors, CallError{Code: r.Code, Reason: reason})
	n := j.Retries
	j.Retries++
	if j.Retries < j.MaxRetries {
		j.set(Processing) // the row gets the error and the count now
		return Step{Backoff: Backoff(j.Strategy, n)}
	}
	j.set(Failed)
	return Step{Final: true}
}

// Retry makes the job pending again, after its backoff.
func (j *Job) Retry() { j.set(Pending) }

// set changes the status and bumps the row's version, so that views over
// the job table see the change.
func (j *Job) set(s Status) {
	j.Status = s
	j.version++
}

// Record is the row as it is now: the ingested row with status, retries,
// errors and _00_rv updated.
func (j *Job) Record() []byte {
	out := maps.Clone(j.fields)
	out["status"], _ = json.Marshal(j.Status)
	out["retries"], _ = json.Marshal(j.Retries)
	errs := j.Errors
	if errs == nil {
		errs = []CallError{}
	}
	out["errors"], _ = json.Marshal(errs)
	out["_00_rv"], _ = json.Marshal(j.version)
	// Keys in order, so that equal rows are equal bytes.
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(out)) {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(out[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
