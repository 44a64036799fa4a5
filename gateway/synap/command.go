package synap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/messages"
)

// A command runs one named command of the data service: it reads its
// arguments from c, asks the backend, and writes its reply payload to c.out.
// An error it returns is answered in the spec's error shape instead.
type command func(c *call) error

// A commandSpec names a command. Each domain's file lists its commands in a
// table; New gathers the tables into one map, so a new domain (queue.*,
// stream.*, pubsub.*) adds a file with its table and one line to New.
type commandSpec struct {
	name string
	run  command
}

// call is one command being executed.
type call struct {
	ctx context.Context // bounded by the request timeout
	// base is ctx without its deadline, for a command that may wait longer
	// (queue.consume with a timeout).
	base    context.Context
	s       *Server
	payload []byte   // the raw JSON payload, when a or m is nil
	a       *args    // set directly by REST routes
	m       *msgArgs // set directly by REST routes
	out     *jsonw.Writer
	// txn is the id of the transaction.exec running the command (0: none):
	// its requests pass the transaction's hold on their keys.
	txn uint64
	// rest is set for a REST route's call: the route, not a payload, gave
	// its arguments, and it answers in the spec's shapes.
	rest bool
	// sess is the WebSocket session running the command; nil over HTTP,
	// where the subscription commands cannot run.
	sess *wsRunner
	// orig asks for the original server's shapes whatever the door's mode
	// (another door's call: Exec).
	orig bool
	// pipe, on a WebSocket session's pipelined command, sends its queue
	// request without waiting for the reply before the session's next
	// command may go (pipe.go).
	pipe *pipeSlot
}

// original tells whether the reply is encoded in the original server's
// shapes rather than the spec's.
func (c *call) original() bool { return c.orig || c.s.cfg.Original }

// args decodes the payload of a data command on first use.
func (c *call) args() (*args, error) {
	if c.a == nil {
		a, err := decodeArgs[args](c.payload)
		if err != nil {
			return nil, err
		}
		c.a = a
	}
	return c.a, nil
}

// margs decodes the payload of a messaging command on first use.
func (c *call) margs() (*msgArgs, error) {
	if c.m == nil && c.pipe != nil && len(c.payload) > 0 && c.pipe.args.decodeFast(c.payload) {
		// A pipelined command's arguments live in its slot, which is
		// reused (pipe.go): a msgArgs made per queue command was a
		// twentieth of the server's time.
		c.m = &c.pipe.args
	}
	if c.m == nil {
		m, err := decodeArgs[msgArgs](c.payload)
		if err != nil {
			return nil, err
		}
		c.m = m
	}
	return c.m, nil
}

// do sends req to the keyspace and turns a failure into an apiError.
func (c *call) do(req *messages.DataRequest) (*messages.DataReply, error) {
	if c.txn != 0 {
		req.Txn = c.txn
	}
	rep, err := c.s.ks.Do(c.ctx, req)
	if ae := failure(rep, err); ae != nil {
		return nil, ae
	}
	return rep, nil
}

// envelope is a request to /api/v1/command: one command, or a batch.
type envelope struct {
	Type      string  `json:"type"`
	Command   string  `json:"command"`
	RequestID rawJSON `json:"request_id"`
	Payload   rawJSON `json:"payload"`
	Commands  []struct {
		Command string  `json:"command"`
		Payload rawJSON `json:"payload"`
	} `json:"commands"`
}

// rawJSON is a JSON value left undecoded, like json.RawMessage, but kept as
// a slice of the request body rather than a copy: the body outlives every
// use of the envelope.
type rawJSON []byte

func (r *rawJSON) UnmarshalJSON(b []byte) error {
	*r = b
	return nil
}

const commandPath = "/api/v1/command"

// serveCommand answers POST /api/v1/command.
func (s *Server) serveCommand(w http.ResponseWriter, r *http.Request) (string, int) {
	out := jsonw.Get()
	defer jsonw.Put(out)

	body, err := s.readBody(w, r)
	defer body.Release()
	var env envelope
	if err == nil {
		err = decodeEnvelope(body.Bytes(), &env)
	}
	id := requestID(env.RequestID)
	if err != nil {
		ae := asAPIError(err)
		s.writeErrorEnvelope(out, "response", id, ae)
		return "invalid", out.Respond(w, ae.status)
	}

	ctx, cancel := s.requestContext(r)
	defer cancel()
	c := call{ctx: ctx, base: r.Context(), s: s, out: out}
	name, status := s.execute(&c, &env, id)
	return name, out.Respond(w, status)
}

// execute runs a decoded envelope, a command or a batch, and writes the
// whole reply document to c.out. It returns the name the request is counted
// under in metrics, and the HTTP status of the reply.
func (s *Server) execute(c *call, env *envelope, id []byte) (string, int) {
	if env.Type == "batch" {
		return "batch", s.runBatch(c, id, env)
	}
	if s.cfg.Original {
		return s.executeOriginal(c, env, id)
	}
	out := c.out
	out.Literal(`{"type":"response","request_id":`)
	out.Raw(id)
	mark := out.Len()
	out.Literal(`,"status":"success","success":true,"payload":`)
	name, err := s.run(c, env.Command, env.Payload)
	if err != nil {
		ae := asAPIError(err)
		out.Truncate(mark)
		writeErrorBody(out, ae)
		out.EndObj()
		return name, ae.status
	}
	out.EndObj()
	return name, http.StatusOK
}

// executeOriginal runs a command and answers in the original server's
// envelope: {success, request_id, payload, error}. A command that fails is
// HTTP 200 with success false and the error as text, as the original
// answers it; its SDKs read the error from the body, not the status. The
// metrics still count the status the spec would have given.
func (s *Server) executeOriginal(c *call, env *envelope, id []byte) (string, int) {
	out := c.out
	out.Literal(`{"success":true,"request_id":`)
	out.Raw(id)
	out.Literal(`,"payload":`)
	name, err := s.run(c, env.Command, env.Payload)
	if err != nil {
		out.Truncate(0)
		writeOriginalError(out, id, asAPIError(err))
		return name, http.StatusOK
	}
	out.Literal(`,"error":null}`)
	return name, http.StatusOK
}

// writeOriginalError writes a whole failed reply in the original's shape.
func writeOriginalError(out *jsonw.Writer, id []byte, ae *apiError) {
	out.Literal(`{"success":false,"request_id":`)
	out.Raw(id)
	out.Literal(`,"payload":null,"error":`)
	out.Str(ae.msg)
	out.EndObj()
}

// decodeEnvelope decodes a request body; every problem with it is a 400.
func decodeEnvelope(body []byte, env *envelope) error {
	if len(body) == 0 {
		return malformed("the request body is empty; send {\"command\": ..., \"payload\": {...}}")
	}
	if !decodeEnvelopeFast(body, env) { // fastjson.go
		if err := json.Unmarshal(body, env); err != nil {
			return envelopeError(err)
		}
	}
	switch {
	case len(env.RequestID) > 0 && env.RequestID[0] != '"' && string(env.RequestID) != "null":
		return malformed("request_id must be a string")
	case env.Type == "batch" && env.Commands == nil:
		return malformed("a batch needs commands: [{\"command\": ..., \"payload\": {...}}, ...]")
	case env.Type != "batch" && env.Command == "":
		return malformed("command is required")
	}
	return nil
}

// envelopeError describes why encoding/json could not decode a request.
func envelopeError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return malformed("malformed JSON at offset %d: %v", se.Offset, err)
	case errors.As(err, &te) && te.Field == "":
		return malformed("the request must be a JSON object, not %s", te.Value)
	case errors.As(err, &te):
		return malformed("%s must be %s, not %s", te.Field, jsonKind(te.Field, te.Type.Kind()), te.Value)
	}
	return malformed("malformed JSON: %v", err)
}

// requestID returns the request's id to echo, as JSON; a request without one
// gets a fresh UUID so that every reply can be correlated.
func requestID(raw rawJSON) []byte {
	if len(raw) > 0 && raw[0] == '"' {
		return raw
	}
	u := make([]byte, 16)
	rand.Read(u)
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	id := make([]byte, 0, 38)
	id = append(id, '"')
	for i := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			id = append(id, '-')
		}
		id = hex.AppendEncode(id, u[i:i+1])
	}
	return append(id, '"')
}

// run executes the named command and writes its reply payload to c.out. It
// returns the name under which the command is counted in metrics: its own
// when known, so that clients cannot grow the label set.
func (s *Server) run(c *call, name string, payload rawJSON) (string, error) {
	cmd, ok := s.commands[name]
	if !ok {
		return "unknown", errorf(http.StatusBadRequest, codeUnknownCommand, "unknown command %q", name)
	}
	if string(payload) == "null" {
		payload = nil
	}
	c.payload, c.a, c.m = payload, nil, nil
	s.calls.add(name)
	if queued, err := s.maybeQueue(c, name, payload); queued || err != nil {
		return name, err
	}
	return name, cmd(c)
}

// runBatch executes a batch's commands in order and writes one result per
// command. A failed command does not stop the batch; its result says why.
func (s *Server) runBatch(c *call, id []byte, env *envelope) int {
	out := c.out
	if n := len(env.Commands); n > s.cfg.MaxBatch {
		ae := invalid("the batch has %d commands; the limit is %d", n, s.cfg.MaxBatch)
		s.writeErrorEnvelope(out, "batch_response", id, ae)
		return ae.status
	}
	out.Literal(`{"type":"batch_response","request_id":`)
	out.Raw(id)
	out.Key("results")
	out.Arr()
	for _, sub := range env.Commands {
		out.Sep()
		mark := out.Len()
		if s.cfg.Original {
			out.Literal(`{"success":true,"payload":`)
		} else {
			out.Literal(`{"status":"success","success":true,"payload":`)
		}
		var err error
		if sub.Command == "" {
			err = malformed("command is required")
		} else if sub.Command == "batch" {
			err = malformed("a batch cannot contain a batch")
		} else {
			_, err = s.run(c, sub.Command, sub.Payload)
		}
		switch {
		case err != nil && s.cfg.Original:
			out.Truncate(mark)
			out.Literal(`{"success":false,"payload":null,"error":`)
			out.Str(asAPIError(err).msg)
		case err != nil:
			out.Truncate(mark)
			out.Literal("{")
			writeErrorBody(out, asAPIError(err))
		case s.cfg.Original:
			out.Literal(`,"error":null`)
		}
		out.EndObj()
	}
	out.EndArr()
	out.EndObj()
	return http.StatusOK
}

// writeErrorBody writes the members of an error result after an opening
// brace: status, success and error.
func writeErrorBody(out *jsonw.Writer, ae *apiError) {
	out.Key("status")
	out.Str("error")
	out.Key("success")
	out.Bool(false)
	out.Key("error")
	out.Obj()
	out.Key("code")
	out.Str(ae.code)
	out.Key("message")
	out.Str(ae.msg)
	out.Key("details")
	out.Obj()
	for _, d := range ae.details {
		out.Key(d.key)
		out.Int(d.n)
	}
	out.EndObj()
	out.EndObj()
}

// writeErrorEnvelope writes a complete error reply of the given type, in
// the shape of the reply mode.
func (s *Server) writeErrorEnvelope(out *jsonw.Writer, typ string, id []byte, ae *apiError) {
	if s.cfg.Original {
		out.Truncate(0)
		writeOriginalError(out, id, ae)
		return
	}
	writeErrorEnvelope(out, typ, id, ae)
}

// writeErrorEnvelope writes a complete error reply of the given type.
func writeErrorEnvelope(out *jsonw.Writer, typ string, id []byte, ae *apiError) {
	out.Truncate(0)
	out.Obj()
	out.Key("type")
	out.Str(typ)
	out.Key("request_id")
	out.Raw(id)
	writeErrorBody(out, ae)
	out.EndObj()
}
