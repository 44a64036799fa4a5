// Package recovery turns a panic in a front door's handler into a logged
// 500, so that one bad request cannot take the server down.
package recovery

import (
	"log/slog"
	"net/http"
	"runtime/debug"
)

// Recover is deferred by a handler serving r. On a panic it logs the
// panic with its stack, as "<service>: panic serving request", and calls
// answer, which writes the door's 500. http.ErrAbortHandler, net/http's own
// way to abort a response, goes on up.
//
// It must be the deferred function itself, not called from one: recover
// works only there.
func Recover(log *slog.Logger, service string, r *http.Request, answer func()) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	log.Error(service+": panic serving request", "method", r.Method, "path", r.URL.Path,
		"panic", v, "stack", string(debug.Stack()))
	answer()
}
