package ssp

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/troupe-run/troupe/messages"
)

// apiError is an error with the status it is answered with. As in the
// original SSP, a 503 carries a JSON body {"code", "message"}, the scheduler
// and clients read the code; every other error is a plain-text message that
// says what was wrong.
type apiError struct {
	status int
	code   string // the code of a 503's body
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, a ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, a...)}
}

// badRequest reports a body that is malformed or misses a field: 400.
func badRequest(format string, a ...any) *apiError {
	return errorf(http.StatusBadRequest, format, a...)
}

// unavailable reports a 503 with its code.
func unavailable(code, format string, a ...any) *apiError {
	return &apiError{status: http.StatusServiceUnavailable, code: code, msg: fmt.Sprintf(format, a...)}
}

func rebuilding() *apiError {
	return unavailable(messages.CodeSSPNotReady, "the views are being rebuilt from the store; retry when GET /health answers ready")
}

// backendError turns the error of a call on Views into an apiError: the
// call could not be executed, so the answer is 503 and the client may retry.
func backendError(err error) *apiError {
	if errors.Is(err, context.DeadlineExceeded) {
		return unavailable(messages.CodeTimeout, "the request timed out")
	}
	return unavailable(messages.CodeUnavailable, "the views service cannot answer: %v", err)
}

// replyError maps the error code of a reply to its status. A limit reached
// (views, memory) is 507, as on the data door: the server is out of room
// for what the request would add.
func replyError(code, msg string) *apiError {
	if msg == "" {
		msg = code
	}
	switch code {
	case messages.CodeInvalid:
		return badRequest("%s", msg)
	case messages.CodeNotFound:
		return errorf(http.StatusNotFound, "%s", msg)
	case messages.CodeLimit, messages.CodeMemoryLimit:
		return errorf(http.StatusInsufficientStorage, "%s", msg)
	case messages.CodeUnavailable, messages.CodeTimeout, messages.CodeSSPNotReady:
		return unavailable(code, "%s", msg)
	}
	return errorf(http.StatusInternalServerError, "%s", msg)
}
