package synap

import (
	"net/http"
	"strconv"

	"github.com/troupe-run/troupe/gateway/internal/access"
)

// authorize returns nil when r may be served, or the error to answer it
// with, and the index of the API key r presented (-1 when no key is
// configured).
func (s *Server) authorize(r *http.Request) (int, *apiError) {
	key, v := s.gate.Check(r, keyParam(r))
	switch v {
	case access.NoKey:
		return -1, errorf(http.StatusUnauthorized, codeUnauthorized,
			"an API key is required: send it as X-API-Key: <key> or Authorization: Bearer <key>"+
				" (or, for the WebSocket API, as the api_key query parameter)")
	case access.WrongKey:
		return -1, errorf(http.StatusUnauthorized, codeUnauthorized, "the API key is not valid")
	case access.Protected:
		return -1, errorf(http.StatusForbidden, codeForbidden,
			"protected mode: no API key is configured, so only loopback clients are served; "+
				"start the server with --api-keys, or with --insecure to serve every client")
	}
	return key, nil
}

// keyParam names the query parameter that may carry the API key: api_key,
// on the WebSocket route only, as browsers cannot set headers on a
// WebSocket handshake.
func keyParam(r *http.Request) string {
	if r.URL.Path == wsPath {
		return "api_key"
	}
	return ""
}

// clientOf names the client of a request that authorize let through, for
// rate limiting: by the API key it presented (its index, so that no secret
// is kept beside the digests), or by its IP address when no key is
// configured.
func clientOf(r *http.Request, key int) string {
	if key >= 0 {
		return "key:" + strconv.Itoa(key)
	}
	return "ip:" + access.RemoteIP(r.RemoteAddr)
}
