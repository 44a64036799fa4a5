package synap

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/gateway/internal/wsconn"
	"github.com/troupe-run/troupe/messages"
)

// The WebSocket API: GET /api/v1/ws. Each connection (gateway/internal/wsconn) has
//
//   - a reader, the handler's own goroutine, which decodes frames and hands
//     them to the runner;
//   - the session actor (session.go), which queues the pushes of what the
//     session subscribed to;
//   - the runner (runner.go), a goroutine that runs the commands in order;
//   - a writer, the one goroutine that writes data frames, from a queue of
//     WSBuffer of them, and a pinger.
//
// The connection lives until the client closes it, a write or a ping fails,
// the client falls behind its pushes (1008), or the server drains (1001);
// never tied to the request's context, which ends with the handler.
const wsPath = "/api/v1/ws"

// wsMaxPending bounds the commands of one connection that are read but not
// yet answered: past it the reader stops reading, and TCP pushes back on
// the client. It keeps the session's mailbox and its goroutines bounded.
const wsMaxPending = 64

// serveWS upgrades a request to a WebSocket session. Auth and rate limiting
// have been applied to the handshake by ServeHTTP.
//
// Origins: with API keys configured, a page from any origin may connect (it
// needs a key anyway); without, only a same-origin page may (wsconn.Options).
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c, err := s.conns.Accept(w, r)
	if errors.Is(err, wsconn.ErrFull) {
		ae := errorf(http.StatusServiceUnavailable, messages.CodeUnavailable,
			"there are %d WebSocket connections, the limit; try again later", s.cfg.MaxSessions)
		s.reject(w, ae, "ws")
		return
	}
	if err != nil { // the handshake failed, and has answered
		s.metrics.ObserveRequest(door, "ws", http.StatusBadRequest, time.Since(start))
		return
	}
	s.metrics.ObserveRequest(door, "ws", http.StatusSwitchingProtocols, time.Since(start))
	defer s.conns.Release(c)

	key, _ := s.authorize(r)
	client := clientOf(r, key)
	name := "ws-" + strconv.FormatUint(s.wsSeq.Add(1), 10)
	ctx, cancel := context.WithCancel(context.Background())
	run := &wsRunner{s: s, conn: c, ctx: ctx, jobs: make(chan *wsFrame, wsMaxPending), work: make(chan *pipeSlot),
		slots: make(chan struct{}, wsMaxPending), rooms: map[string]bool{}, queues: map[string]bool{}}
	sess := &session{s: s, conn: c, run: run, cancel: cancel}
	pid, err := s.sessions.Spawn(name, func() actor.Actor { return sess })
	if err != nil {
		cancel()
		s.log.Warn("data service: cannot start a WebSocket session", "err", err)
		c.Close(websocket.StatusTryAgainLater, "the server cannot start a session now")
		return
	}
	s.readLoop(run, client)
	c.Close(websocket.StatusNormalClosure, "")
	close(run.jobs)
	s.sessions.Stop(pid)
}

// readLoop reads frames until the connection ends, and hands each, decoded,
// to the session's runner.
func (s *Server) readLoop(run *wsRunner, client string) {
	for {
		data, err := run.conn.Read()
		if err != nil || !run.acquire() {
			return
		}
		run.jobs <- s.decodeFrame(data, client) // never waits: the slots bound the jobs
	}
}

// wsFrame is one command frame, decoded by the connection's reader.
type wsFrame struct {
	env envelope
	id  []byte // the request_id to echo, as JSON
	// err, when set, is the answer: the frame is malformed or over the
	// client's rate limit. errLabel names it in metrics.
	err      *apiError
	errLabel string
	// holds: the frame subscribes, so the session holds its pushes until
	// the frame's reply (and replay) is written.
	holds bool
	// detach: a queue.consume, which may wait for a message, runs beside
	// the commands after it rather than before them.
	detach bool
	// welcome, on the subscription a per-resource endpoint makes for its
	// client, turns the command's reply into the frame the client gets,
	// and says whether the subscription was made (wsorig.go).
	welcome func(reply []byte) (*jsonw.Writer, bool)
	// quiet: the reply is written only when the command failed.
	quiet bool
}

// subscribeCommands are the commands after which pushes may come.
var subscribeCommands = map[string]bool{"stream.subscribe": true, "pubsub.subscribe": true, "queue.subscribe": true}

// decodeFrame decodes a frame. Like a request body, its envelope is a
// command or a batch; a frame over the client's rate limit is refused.
func (s *Server) decodeFrame(data []byte, client string) *wsFrame {
	f := &wsFrame{}
	err := decodeEnvelope(data, &f.env)
	f.id = requestID(f.env.RequestID)
	if err != nil {
		f.err, f.errLabel = asAPIError(err), "invalid"
		return f
	}
	if s.limiter != nil {
		if v := s.limiter.take(client); !v.ok {
			f.err, f.errLabel = v.err(), "rate_limited"
			return f
		}
	}
	f.holds = subscribeCommands[f.env.Command]
	for _, sub := range f.env.Commands {
		f.holds = f.holds || subscribeCommands[sub.Command]
	}
	f.detach = f.env.Type != "batch" && f.env.Command == "queue.consume"
	return f
}
