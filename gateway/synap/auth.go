package synap

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strconv"
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

// check returns nil when r may be served, or the error to answer it with,
// and the index of the API key r presented (-1 when no key is configured).
func (a *authorizer) check(r *http.Request) (int, *apiError) {
	if len(a.keys) > 0 {
		key := presentedKey(r)
		if key == "" {
			return -1, errorf(http.StatusUnauthorized, codeUnauthorized,
				"an API key is required: send it as X-API-Key: <key> or Authorization: Bearer <key>"+
					" (or, for the WebSocket API, as the api_key query parameter)")
		}
		i := a.match(key)
		if i < 0 {
			return -1, errorf(http.StatusUnauthorized, codeUnauthorized, "the API key is not valid")
		}
		return i, nil
	}
	if a.insecure || isLoopback(r.RemoteAddr) {
		return -1, nil
	}
	return -1, errorf(http.StatusForbidden, codeForbidden,
		"protected mode: no API key is configured, so only loopback clients are served; "+
			"start the server with --api-keys, or with --insecure to serve every client")
}

// clientOf names the client of a request that check let through, for rate
// limiting: by the API key it presented (its index, so that no secret is
// kept beside the digests), or by its IP address when no key is configured.
func clientOf(r *http.Request, key int) string {
	if key >= 0 {
		return "key:" + strconv.Itoa(key)
	}
	return "ip:" + remoteIP(r.RemoteAddr)
}

// match compares key with every accepted key, in constant time, and without
// stopping at a match. It returns the index of the key matched, or -1.
func (a *authorizer) match(key string) int {
	sum := sha256.Sum256([]byte(key))
	found := -1
	for i := range a.keys {
		found = subtle.ConstantTimeSelect(subtle.ConstantTimeCompare(sum[:], a.keys[i][:]), i, found)
	}
	return found
}

// presentedKey returns the key sent as X-API-Key, or as a bearer token, or,
// on the WebSocket route only, as the api_key query parameter: browsers
// cannot set headers on a WebSocket handshake. (A key in a URL may end up in
// proxies' logs, so no other route takes one.)
func presentedKey(r *http.Request) string {
	if k := r.Header.Get("X-API-Key"); k != "" {
		return strings.TrimSpace(k)
	}
	auth := r.Header.Get("Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "Bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	if r.URL.Path == wsPath {
		return strings.TrimSpace(r.URL.Query().Get("api_key"))
	}
	return ""
}

// remoteIP returns the host part of an address.
func remoteIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

func isLoopback(remoteAddr string) bool {
	ip, err := netip.ParseAddr(remoteIP(remoteAddr))
	return err == nil && ip.Unmap().IsLoopback()
}
