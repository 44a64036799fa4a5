package synap

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// authorizer decides whether a request may be served.
type authorizer struct {
	// keys holds the SHA-256 of each accepted key: comparing digests of
	// equal length keeps the comparison's time independent of the key's.
	keys     [][sha256.Size]byte
	insecure bool
}

func newAuthorizer(keys []string, insecure bool) authorizer {
	a := authorizer{insecure: insecure}
	for _, k := range keys {
		if k != "" {
			a.keys = append(a.keys, sha256.Sum256([]byte(k)))
		}
	}
	return a
}

// check returns nil when r may be served, or the error to answer it with.
func (a *authorizer) check(r *http.Request) *apiError {
	if len(a.keys) > 0 {
		key := presentedKey(r)
		if key == "" {
			return errorf(http.StatusUnauthorized, codeUnauthorized,
				"an API key is required: send it as X-API-Key: <key> or Authorization: Bearer <key>")
		}
		if !a.valid(key) {
			return errorf(http.StatusUnauthorized, codeUnauthorized, "the API key is not valid")
		}
		return nil
	}
	if a.insecure || isLoopback(r.RemoteAddr) {
		return nil
	}
	return errorf(http.StatusForbidden, codeForbidden,
		"protected mode: no API key is configured, so only loopback clients are served; "+
			"start the server with --api-keys, or with --insecure to serve every client")
}

// valid compares key with every accepted key, in constant time, and without
// stopping at a match.
func (a *authorizer) valid(key string) bool {
	sum := sha256.Sum256([]byte(key))
	ok := 0
	for i := range a.keys {
		ok |= subtle.ConstantTimeCompare(sum[:], a.keys[i][:])
	}
	return ok == 1
}

// presentedKey returns the key sent as X-API-Key, or as a bearer token.
func presentedKey(r *http.Request) string {
	if k := r.Header.Get("X-API-Key"); k != "" {
		return strings.TrimSpace(k)
	}
	auth := r.Header.Get("Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "Bearer ") {
		return strings.TrimSpace(auth[7:])
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
