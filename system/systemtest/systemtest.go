// Package systemtest holds what the tests of every package share: a real
// Troupe actor system booted the way httptest starts a real server, and
// waiting, with one patience, for what happens asynchronously.
package systemtest

import (
	"io"
	"log/slog"
	"testing"

	"github.com/troupe-run/troupe/system"
)

// Boot starts a system configured by args (flags as on the command line;
// the data dir is memory-only unless args set one) and closes it when the
// test ends. Tests that restart it call Close themselves (it is idempotent).
func Boot(t testing.TB, args ...string) *system.System {
	t.Helper()
	cfg, err := system.LoadConfig(append([]string{"--data-dir=", "--restart-backoff=1ms"}, args...),
		system.NoEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sys, err := system.Boot(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	return sys
}
