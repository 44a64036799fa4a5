package synap

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/troupe-run/troupe/messages"
)

// Error codes the gateway itself produces, beside those of messages/errors.go
// that the shards produce.
const (
	codeBadRequest     = "BAD_REQUEST"
	codeUnknownCommand = "UNKNOWN_COMMAND"
	codeUnauthorized   = "UNAUTHORIZED"
	codeForbidden      = "FORBIDDEN"
	codeNotFound       = "NOT_FOUND"
	codeTooLarge       = "PAYLOAD_TOO_LARGE"
	codeInternal       = "INTERNAL_ERROR"
	codeRateLimited    = "RATE_LIMIT_EXCEEDED"
)

// apiError is an error with the HTTP status and code it is answered with.
type apiError struct {
	status  int
	code    string
	msg     string
	details []detail // the members of error.details
}

// detail is a member of an error's details: every one the door reports is
// a number (oldest_offset, retry_after_secs).
type detail struct {
	key string
	n   int64
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, code, format string, a ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, a...)}
}

// invalid reports valid JSON carrying invalid data: 422.
func invalid(format string, a ...any) *apiError {
	return errorf(http.StatusUnprocessableEntity, messages.CodeInvalid, format, a...)
}

// malformed reports a request that cannot be understood at all: 400.
func malformed(format string, a ...any) *apiError {
	return errorf(http.StatusBadRequest, codeBadRequest, format, a...)
}

// asAPIError turns any error met while serving a request into an apiError.
// Errors that are not apiErrors come from the backend.
func asAPIError(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, context.DeadlineExceeded):
		return errorf(http.StatusServiceUnavailable, messages.CodeTimeout, "the request timed out")
	default:
		return errorf(http.StatusServiceUnavailable, messages.CodeUnavailable, "%v", err)
	}
}

// errorReply is what every backend's reply carries when the backend
// refused the request.
type errorReply interface {
	GetErrorCode() string
	GetErrorMessage() string
}

// failure returns why a call on a backend failed: the call's own error, or
// the error its reply carries; nil when it succeeded.
func failure(rep errorReply, err error) *apiError {
	switch {
	case err != nil:
		return asAPIError(err)
	case rep.GetErrorCode() != "":
		return replyError(rep.GetErrorCode(), rep.GetErrorMessage())
	}
	return nil
}

// replyError maps an actor's error code to its status code. WRONG_TYPE and
// NOT_AN_INTEGER are 400, as in Synap: the request is well formed but cannot
// apply to the value the key holds. A full queue is 507, as in Synap, and so
// is any other limit reached (queues, rooms, subscriptions): the server is
// out of room for what the request would add.
func replyError(code, msg string) *apiError {
	status := http.StatusInternalServerError
	switch code {
	case messages.CodeWrongType, messages.CodeNotInteger, messages.CodeNotFloat,
		messages.CodeOverflow, messages.CodeOutOfRange, messages.CodeOffsetTrimmed:
		status = http.StatusBadRequest
	case messages.CodeNoSuchKey, messages.CodeQueueNotFound, messages.CodeMessageNotFound, messages.CodeNotFound:
		status = http.StatusNotFound
	case messages.CodeInvalid:
		status = http.StatusUnprocessableEntity
	case messages.CodeKeyReserved, messages.CodeQueueExists:
		status = http.StatusConflict
	case messages.CodeMemoryLimit, messages.CodeQueueFull, messages.CodeLimit:
		status = http.StatusInsufficientStorage
	case messages.CodeUnavailable, messages.CodeTimeout:
		status = http.StatusServiceUnavailable
	}
	if msg == "" {
		msg = code
	}
	return &apiError{status: status, code: code, msg: msg}
}
