package hub

import (
	"net/http"

	"github.com/troupe-run/troupe/gateway/internal/access"
)

// refusal returns why r may not be served, or "".
func (s *Server) refusal(r *http.Request) string {
	switch _, v := s.gate.Check(r, ""); v {
	case access.NoKey:
		return "an API key is required: send it as X-API-Key: <key> or Authorization: Bearer <key>"
	case access.WrongKey:
		return "the API key is not valid"
	case access.Protected:
		return "protected mode: no API key is configured, so only loopback clients are served; " +
			"start the server with --api-keys, or with --insecure to serve every client"
	}
	return ""
}
