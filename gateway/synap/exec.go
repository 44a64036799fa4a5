package synap

import (
	"bytes"
	"context"
	"time"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/messages"
)

// Exec runs one data command for another front door (the SynapRPC door),
// through the same command table, transaction queue and call counters as
// POST /api/v1/command, and returns its reply payload as JSON in the
// original server's shapes, whatever --data-replies says: the other doors
// speak the original's protocols. The payload is the command's JSON object
// (nil: none). ctx bounds the command as the request timeout bounds an HTTP
// request. A failed command returns a *CommandError.
func (s *Server) Exec(ctx context.Context, name string, payload []byte) ([]byte, error) {
	if s.draining.Load() {
		return nil, &CommandError{Code: "UNAVAILABLE", Message: "the server is shutting down"}
	}
	out := jsonw.Get()
	defer jsonw.Put(out)
	c := call{ctx: ctx, base: ctx, s: s, out: out, orig: true}
	start := time.Now()
	cmd, err := s.run(&c, name, payload)
	status := 200
	if err != nil {
		ae := asAPIError(err)
		status = ae.status
		s.metrics.ObserveRequest(rpcDoor, cmd, status, time.Since(start))
		return nil, &CommandError{Code: ae.code, Message: ae.msg, Status: ae.status}
	}
	s.metrics.ObserveRequest(rpcDoor, cmd, status, time.Since(start))
	return append([]byte(nil), out.Bytes()...), nil
}

// rpcDoor names the SynapRPC door in metrics.
const rpcDoor = "synap-rpc"

// CommandError is a data command's failure, as Exec returns it.
type CommandError struct {
	Code    string // the spec's error code (WRONG_TYPE, NOT_FOUND ...)
	Message string
	Status  int // the HTTP status the data door would answer
}

func (e *CommandError) Error() string { return e.Message }

// Queue queues a data command into the open transaction of clientID, as a
// command carrying that client_id is queued over HTTP (the SynapRPC door's
// TXQUEUE). Without an open transaction it fails and runs nothing: a write
// the client meant for a transaction must not happen outside it.
func (s *Server) Queue(clientID, name string, payload []byte) error {
	if _, ok := s.commands[name]; !ok || !queueable(name) {
		return &CommandError{Code: codeBadRequest, Message: "'" + name + "' cannot be queued in a transaction", Status: 400}
	}
	ct, _, _ := s.txns.get(clientID, false, time.Now())
	s.txns.mu.Lock()
	defer s.txns.mu.Unlock()
	switch {
	case ct == nil || !ct.multi:
		return &CommandError{Code: codeBadRequest, Message: "no transaction in progress for client '" + clientID + "'; call MULTI first", Status: 400}
	case len(ct.queued) >= s.cfg.MaxBatch:
		return &CommandError{Code: messages.CodeInvalid, Message: "the transaction has too many commands queued (--max-batch)", Status: 422}
	}
	ct.queued = append(ct.queued, queuedCmd{name: name, payload: bytes.Clone(payload)})
	return nil
}
