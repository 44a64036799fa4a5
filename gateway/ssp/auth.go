package ssp

import (
	"net/http"
	"strings"

	"github.com/troupe-run/troupe/gateway/internal/access"
)

// authorizer decides whether a request may be served.
//
// With a secret, a request needs the header Authorization: Bearer <secret>,
// exactly: the original compares the whole header, so "bearer <secret>" or
// extra spaces are refused. Without one, the original accepts any bearer
// token, and so does this door, but then it serves loopback clients only
// (protected mode) unless Insecure is set.
type authorizer struct {
	// gate's one key, when a secret is set, is the whole accepted header.
	gate access.Gate
}

func newAuthorizer(secret string, insecure bool) authorizer {
	var header []string
	if secret != "" {
		header = []string{"Bearer " + secret}
	}
	return authorizer{gate: access.NewGate(header, insecure)}
}

// local applies protected mode: without a secret and without Insecure,
// only loopback clients are served.
func (a *authorizer) local(r *http.Request) *apiError {
	if !a.gate.Protects(r.RemoteAddr) {
		return nil
	}
	return errorf(http.StatusForbidden, "protected mode: no SPKY_AUTH_SECRET is set, so only loopback clients are served; "+
		"set the secret, or start the server with --insecure to serve every client")
}

// bearer checks the Authorization header.
func (a *authorizer) bearer(r *http.Request) *apiError {
	header := presentedHeader(r)
	if header == "" {
		return errorf(http.StatusUnauthorized, "an Authorization: Bearer <token> header is required")
	}
	if !a.gate.Keyed() {
		if len(header) < 6 || !strings.EqualFold(header[:6], "Bearer") || len(header) > 6 && header[6] != ' ' {
			return errorf(http.StatusUnauthorized, "the Authorization header must be Bearer <token>")
		}
		return nil
	}
	if a.gate.Match(header) < 0 {
		return errorf(http.StatusUnauthorized, "the Authorization header is not Bearer <SPKY_AUTH_SECRET>")
	}
	return nil
}

// presentedHeader returns the Authorization header, or on the WebSocket
// route only, Bearer and the access_token query parameter: browsers cannot
// set headers on a WebSocket handshake. (A token in a URL may end up in
// proxies' logs, so no other route takes one.)
func presentedHeader(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		return h
	}
	if r.URL.Path == wsPath {
		if t := r.URL.Query().Get("access_token"); t != "" {
			return "Bearer " + t
		}
	}
	return ""
}
