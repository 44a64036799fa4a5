package hub

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

// check returns why r may not be served, or "".
func (a *authorizer) check(r *http.Request) string {
	if len(a.keys) > 0 {
		key := presentedKey(r)
		if key == "" {
			return "an API key is required: send it as X-API-Key: <key> or Authorization: Bearer <key>"
		}
		if !a.match(key) {
			return "the API key is not valid"
		}
		return ""
	}
	if a.insecure || isLoopback(r.RemoteAddr) {
		return ""
	}
	return "protected mode: no API key is configured, so only loopback clients are served; " +
		"start the server with --api-keys, or with --insecure to serve every client"
}

// match compares key with every accepted key in constant time.
func (a *authorizer) match(key string) bool {
	sum := sha256.Sum256([]byte(key))
	found := 0
	for i := range a.keys {
		found |= subtle.ConstantTimeCompare(sum[:], a.keys[i][:])
	}
	return found == 1
}

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
