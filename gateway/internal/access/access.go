// Package access holds how the front doors decide whom they serve: API keys
// compared in constant time, and protected mode, in which a door with no key
// configured serves loopback clients only unless it is told to be insecure.
// What a refused client is told is each door's own wire format, not this
// package's.
package access

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Verdict is what a Gate decides about a request.
type Verdict int

const (
	// Allowed: the request may be served.
	Allowed Verdict = iota
	// NoKey: keys are configured and the request presents none.
	NoKey
	// WrongKey: the key the request presents matches none.
	WrongKey
	// Protected: no key is configured, the door is not insecure, and the
	// client is not on loopback.
	Protected
)

// Gate holds a door's keys and whether it serves every client without one.
type Gate struct {
	// sums holds the SHA-256 of each accepted key: comparing digests of
	// equal length keeps the comparison's time independent of the keys'.
	sums     [][sha256.Size]byte
	insecure bool
}

// NewGate returns a Gate accepting keys (empty ones are ignored); with none,
// it serves loopback clients only unless insecure.
func NewGate(keys []string, insecure bool) Gate {
	g := Gate{insecure: insecure}
	for _, k := range keys {
		if k != "" {
			g.sums = append(g.sums, sha256.Sum256([]byte(k)))
		}
	}
	return g
}

// Keyed reports whether keys are configured.
func (g *Gate) Keyed() bool { return len(g.sums) > 0 }

// Match compares key with every accepted key, in constant time, and without
// stopping at a match. It returns the index of the key matched, or -1.
func (g *Gate) Match(key string) int {
	sum := sha256.Sum256([]byte(key))
	found := -1
	for i := range g.sums {
		found = subtle.ConstantTimeSelect(subtle.ConstantTimeCompare(sum[:], g.sums[i][:]), i, found)
	}
	return found
}

// Protects reports whether protected mode refuses a client at remoteAddr:
// no key is configured, the door is not insecure, and the client is not on
// loopback.
func (g *Gate) Protects(remoteAddr string) bool {
	return !g.Keyed() && !g.insecure && !Loopback(remoteAddr)
}

// Check decides whether r may be served, by the key it presents (see
// Presented for param) or, with no key configured, by protected mode. It
// also returns the index of the key matched, -1 when none is configured.
func (g *Gate) Check(r *http.Request, param string) (int, Verdict) {
	if !g.Keyed() {
		if g.Protects(r.RemoteAddr) {
			return -1, Protected
		}
		return -1, Allowed
	}
	key := Presented(r, param)
	if key == "" {
		return -1, NoKey
	}
	i := g.Match(key)
	if i < 0 {
		return -1, WrongKey
	}
	return i, Allowed
}

// Presented returns the key r presents as X-API-Key, or else as a bearer
// token (the scheme in any case), or else, when param is not empty, as the
// query parameter param. A door passes a param only on a route that needs
// one, a WebSocket handshake (browsers cannot set its headers): a key in a
// URL may end up in proxies' logs.
func Presented(r *http.Request, param string) string {
	if k := r.Header.Get("X-API-Key"); k != "" {
		return strings.TrimSpace(k)
	}
	auth := r.Header.Get("Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "Bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	if param != "" {
		return strings.TrimSpace(r.URL.Query().Get(param))
	}
	return ""
}

// RemoteIP returns the host part of an address such as
// http.Request.RemoteAddr, or the address itself when it has no port.
func RemoteIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// Loopback reports whether remoteAddr is a loopback address, IPv4-mapped
// ones included.
func Loopback(remoteAddr string) bool {
	ip, err := netip.ParseAddr(RemoteIP(remoteAddr))
	return err == nil && ip.Unmap().IsLoopback()
}
