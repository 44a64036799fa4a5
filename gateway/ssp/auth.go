package ssp

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// authorizer decides whether a request may be served.
//
// With a secret, a request needs the header Authorization: Bearer <secret>,
// exactly: the original compares the whole header, so "bearer <secret>" or
// extra spaces are refused. Without one, the original accepts any bearer
// token, and so does this door, but then it serves loopback clients only
// (protected mode) unless Insecure is set.
type authorizer struct {
	// want is the SHA-256 of the one accepted header: comparing digests of
	// equal length keeps the comparison's time independent of the secret.
	want     [sha256.Size]byte
	secret   bool
	insecure bool
}

func newAuthorizer(secret string, insecure bool) authorizer {
	a := authorizer{secret: secret != "", insecure: insecure}
	if a.secret {
		a.want = sha256.Sum256([]byte("Bearer " + secret))
	}
	return a
}

// local applies protected mode: without a secret and without Insecure,
// only loopback clients are served.
func (a *authorizer) local(r *http.Request) *apiError {
	if a.secret || a.insecure || isLoopback(r.RemoteAddr) {
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
	if !a.secret {
		if len(header) < 6 || !strings.EqualFold(header[:6], "Bearer") || len(header) > 6 && header[6] != ' ' {
			return errorf(http.StatusUnauthorized, "the Authorization header must be Bearer <token>")
		}
		return nil
	}
	sum := sha256.Sum256([]byte(header))
	if subtle.ConstantTimeCompare(sum[:], a.want[:]) != 1 {
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

func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
