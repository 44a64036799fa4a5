package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client speaks to the scheduler: registration, heartbeats and the proxy
// the bootstrap queries, as the original SSP does (ssp-protocol's
// SspRegistration, SspHeartbeat; the proxy's {"query"} body). Every call
// has a deadline of its own.
type Client struct {
	base        string // the scheduler's URL, without a trailing /
	http        *http.Client
	maxResponse int64
}

// NewClient returns a client of the scheduler at url. maxResponse bounds
// the body of any answer, in bytes.
func NewClient(url string, maxResponse int64) *Client {
	return &Client{base: strings.TrimRight(url, "/"), http: &http.Client{}, maxResponse: maxResponse}
}

// Registration is the body of POST /ssp/register.
type Registration struct {
	SSPID   string            `json:"ssp_id"`
	URL     string            `json:"url"`
	Version string            `json:"version"`
	Env     map[string]string `json:"env,omitempty"`
}

// Registered is the scheduler's answer to a registration.
type RegisterResult struct {
	SnapshotSeq uint64            `json:"snapshot_seq"`
	TableHashes map[string]string `json:"table_hashes"`
}

// Heartbeat is the body of POST /ssp/heartbeat: cpu_usage in percent of
// one core, memory_usage in MiB, timestamp in Unix seconds.
type Heartbeat struct {
	SSPID       string  `json:"ssp_id"`
	Timestamp   int64   `json:"timestamp"`
	Views       int64   `json:"views"`
	CPUUsage    float64 `json:"cpu_usage"`
	MemoryUsage float64 `json:"memory_usage"`
	Version     string  `json:"version"`
}

// A RegisterError is a failed registration. Fatal when the scheduler
// refused it (4xx): trying again would be refused again.
type RegisterError struct {
	Fatal  bool
	Reason string
}

func (e *RegisterError) Error() string { return e.Reason }

// Register posts the registration. A 2xx with a body that does not parse,
// a 5xx and a transport error are retryable errors; a 4xx is a fatal one,
// whose reason holds the scheduler's body.
func (c *Client) Register(ctx context.Context, reg Registration) (RegisterResult, error) {
	var out RegisterResult
	status, body, err := c.post(ctx, "/ssp/register", reg)
	switch {
	case err != nil:
		return out, &RegisterError{Reason: err.Error()}
	case status >= 400 && status < 500:
		return out, &RegisterError{Fatal: true, Reason: fmt.Sprintf("HTTP %d: %s", status, clip(body))}
	case status < 200 || status >= 300:
		return out, &RegisterError{Reason: fmt.Sprintf("HTTP %d: %s", status, clip(body))}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return out, &RegisterError{Reason: fmt.Sprintf("the registration answer does not parse: %v: %s", err, clip(body))}
	}
	return out, nil
}

// SendHeartbeat posts a heartbeat and returns the scheduler's status and
// body; err is a transport error.
func (c *Client) SendHeartbeat(ctx context.Context, hb Heartbeat) (int, string, error) {
	status, body, err := c.post(ctx, "/ssp/heartbeat", hb)
	return status, clip(body), err
}

// Query runs one SurrealQL statement through the scheduler's proxy and
// returns its result, the first statement's, as JSON.
func (c *Client) Query(ctx context.Context, query string) (json.RawMessage, error) {
	status, body, err := c.post(ctx, "/proxy/query", map[string]string{"query": query})
	switch {
	case err != nil:
		return nil, fmt.Errorf("proxy query %q: %w", query, err)
	case status < 200 || status >= 300:
		return nil, fmt.Errorf("proxy query %q: HTTP %d: %s", query, status, clip(body))
	case !json.Valid(body):
		return nil, fmt.Errorf("proxy query %q: the answer is not JSON: %s", query, clip(body))
	}
	return body, nil
}

// errTooLarge is an answer past maxResponse.
var errTooLarge = errors.New("the answer is larger than the limit")

func (c *Client) post(ctx context.Context, path string, body any) (int, []byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, c.maxResponse+1))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the answer: %w", err)
	}
	if int64(len(out)) > c.maxResponse {
		return 0, nil, fmt.Errorf("%w of %d bytes", errTooLarge, c.maxResponse)
	}
	return resp.StatusCode, out, nil
}

// clip shortens a body for a log line or an error.
func clip(b []byte) string {
	const max = 512
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
