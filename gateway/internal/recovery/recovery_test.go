package recovery

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// serve runs h as a door's handler would, Recover deferred, and returns
// whether answer was called and what was logged.
func serve(t *testing.T, h func()) (answered bool, logged string) {
	t.Helper()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	r := httptest.NewRequest("POST", "/api/v1/command", nil)
	func() {
		defer Recover(log, "data service", r, func() { answered = true })
		h()
	}()
	return answered, logs.String()
}

func TestPanicAnswered(t *testing.T) {
	answered, logged := serve(t, func() { panic("boom") })
	if !answered {
		t.Error("a panic was not answered")
	}
	for _, want := range []string{"data service: panic serving request", "method=POST", "path=/api/v1/command", "panic=boom", "recovery_test.go"} {
		if !strings.Contains(logged, want) {
			t.Errorf("the log lacks %q: %s", want, logged)
		}
	}
}

func TestNoPanic(t *testing.T) {
	if answered, logged := serve(t, func() {}); answered || logged != "" {
		t.Errorf("without a panic: answered %v, logged %q", answered, logged)
	}
}

func TestAbortHandlerGoesOn(t *testing.T) {
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	serve(t, func() { panic(http.ErrAbortHandler) })
	t.Error("http.ErrAbortHandler was swallowed")
}
