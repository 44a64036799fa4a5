package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestClientRegister(t *testing.T) {
	var status int
	var body string
	var got Registration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ssp/register" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "wrong request", http.StatusTeapot)
			return
		}
		json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	defer srv.Close()
	c := NewClient(srv.URL+"/", 1<<20)
	reg := Registration{SSPID: "ssp-1", URL: "http://box:8667", Version: "1.0", Env: map[string]string{"SPKY_SSP_ID": "ssp-1"}}
	ctx := context.Background()

	status, body = 202, `{"snapshot_seq":42,"table_hashes":{"user":"b3:aa"}}`
	res, err := c.Register(ctx, reg)
	if err != nil || res.SnapshotSeq != 42 || res.TableHashes["user"] != "b3:aa" || got.SSPID != "ssp-1" || got.Env["SPKY_SSP_ID"] != "ssp-1" {
		t.Fatalf("202: %+v %v (sent %+v)", res, err, got)
	}
	for _, tc := range []struct {
		status int
		body   string
		fatal  bool
		in     string
	}{
		{400, "SSP URL must start with http://", true, "SSP URL must start"},
		{409, "no", true, "HTTP 409"},
		{500, "boom", false, "HTTP 500"},
		{503, "Scheduler is still cloning database", false, "cloning"},
		{202, "not json", false, "does not parse"},
	} {
		status, body = tc.status, tc.body
		_, err := c.Register(ctx, reg)
		var re *RegisterError
		if !errors.As(err, &re) || re.Fatal != tc.fatal || !strings.Contains(err.Error(), tc.in) {
			t.Errorf("%d %q: %v, want fatal=%v containing %q", tc.status, tc.body, err, tc.fatal, tc.in)
		}
	}
	srv.Close()
	if _, err := c.Register(ctx, reg); err == nil || err.(*RegisterError).Fatal {
		t.Errorf("a transport error: %v, want a retryable error", err)
	}
}

// Every call has its deadline: a scheduler that never answers does not
// hold the caller past it.
func TestClientDeadline(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	c := NewClient(srv.URL, 1<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Query(ctx, "INFO FOR DB"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("query past its deadline: %v", err)
	}
}

func TestClientLimits(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `[`+strings.Repeat(`{"id":"t:1"},`, 100)+`{"id":"t:2"}]`)
	}))
	defer srv.Close()
	if _, err := NewClient(srv.URL, 100).Query(context.Background(), "SELECT * FROM t ORDER BY id LIMIT 1000"); !errors.Is(err, errTooLarge) {
		t.Fatalf("an answer past the limit: %v", err)
	}
	if raw, err := NewClient(srv.URL, 1<<20).Query(context.Background(), "x"); err != nil || len(raw) == 0 {
		t.Fatalf("an answer within the limit: %v", err)
	}
}
