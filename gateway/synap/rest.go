package synap

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
)

// A restRoute exposes a command at a REST path of Synap's. The command's
// arguments come from the JSON body, then the query string, then the path's
// wildcards, each overriding the one before; the reply is the command's
// payload, without the envelope.
type restRoute struct {
	pattern string
	command string
	// arrayBody names the field a JSON array body stands for, in the
	// routes whose spec accepts one (hash mset, kv msetnx).
	arrayBody string
}

var restRoutes = []restRoute{
	{pattern: "POST /kv/set", command: "kv.set"},
	{pattern: "GET /kv/get/{key}", command: "kv.get"},
	{pattern: "DELETE /kv/del/{key}", command: "kv.del"},
	{pattern: "GET /kv/stats", command: "kv.stats"},
	{pattern: "POST /kv/msetnx", command: "kv.msetnx", arrayBody: "pairs"},
	{pattern: "GET /key/{key}/type", command: "kv.type"},
	{pattern: "GET /key/{key}/exists", command: "kv.exists"},
	{pattern: "GET /memory/{key}/usage", command: "memory.usage"},

	{pattern: "POST /hash/{key}/set", command: "hash.set"},
	{pattern: "GET /hash/{key}/getall", command: "hash.getall"},
	{pattern: "GET /hash/{key}/keys", command: "hash.keys"},
	{pattern: "GET /hash/{key}/vals", command: "hash.vals"},
	{pattern: "GET /hash/{key}/len", command: "hash.len"},
	{pattern: "POST /hash/{key}/mset", command: "hash.mset", arrayBody: "fields"},
	{pattern: "POST /hash/{key}/mget", command: "hash.mget"},
	{pattern: "DELETE /hash/{key}/del", command: "hash.del"},
	{pattern: "POST /hash/{key}/incrby", command: "hash.incrby"},
	{pattern: "GET /hash/{key}/{field}", command: "hash.get"},
	{pattern: "GET /hash/{key}/{field}/exists", command: "hash.exists"},

	{pattern: "POST /list/{key}/lpush", command: "list.lpush"},
	{pattern: "POST /list/{key}/rpush", command: "list.rpush"},
	{pattern: "POST /list/{key}/lpop", command: "list.lpop"},
	{pattern: "POST /list/{key}/rpop", command: "list.rpop"},
	{pattern: "GET /list/{key}/range", command: "list.range"},
	{pattern: "GET /list/{key}/len", command: "list.len"},
	{pattern: "GET /list/{key}/index/{index}", command: "list.index"},
	{pattern: "POST /list/{key}/set", command: "list.set"},
	{pattern: "POST /list/{key}/trim", command: "list.trim"},
	{pattern: "POST /list/{key}/rem", command: "list.rem"},

	{pattern: "POST /set/{key}/add", command: "set.add"},
	{pattern: "POST /set/{key}/rem", command: "set.rem"},
	{pattern: "POST /set/{key}/ismember", command: "set.ismember"},
	{pattern: "GET /set/{key}/members", command: "set.members"},
	{pattern: "GET /set/{key}/card", command: "set.card"},
	{pattern: "POST /set/{key}/pop", command: "set.pop"},
	{pattern: "GET /set/{key}/randmember", command: "set.randmember"},

	{pattern: "POST /sortedset/{key}/zadd", command: "sortedset.zadd"},
	{pattern: "POST /sortedset/{key}/zrem", command: "sortedset.zrem"},
	{pattern: "GET /sortedset/{key}/{member}/zscore", command: "sortedset.zscore"},
	{pattern: "GET /sortedset/{key}/zcard", command: "sortedset.zcard"},
	{pattern: "POST /sortedset/{key}/zincrby", command: "sortedset.zincrby"},
	{pattern: "GET /sortedset/{key}/zrange", command: "sortedset.zrange"},
	{pattern: "GET /sortedset/{key}/zrevrange", command: "sortedset.zrevrange"},
	{pattern: "GET /sortedset/{key}/zrangebyscore", command: "sortedset.zrangebyscore"},
	{pattern: "GET /sortedset/{key}/{member}/zrank", command: "sortedset.zrank"},
	{pattern: "GET /sortedset/{key}/{member}/zrevrank", command: "sortedset.zrevrank"},
	{pattern: "GET /sortedset/{key}/zcount", command: "sortedset.zcount"},
}

// messagingRoutes are the REST routes of the messaging commands, whose
// arguments are msgArgs.
var messagingRoutes = []restRoute{
	// Synap's queue routes, and Troupe's for the dead-letter queue.
	{pattern: "POST /queue/{queue}", command: "queue.create"},
	{pattern: "DELETE /queue/{queue}", command: "queue.delete"},
	{pattern: "POST /queue/{queue}/publish", command: "queue.publish"},
	{pattern: "GET /queue/{queue}/consume/{consumer_id}", command: "queue.consume"},
	{pattern: "POST /queue/{queue}/ack", command: "queue.ack"},
	{pattern: "POST /queue/{queue}/nack", command: "queue.nack"},
	{pattern: "GET /queue/{queue}/stats", command: "queue.stats"},
	{pattern: "POST /queue/{queue}/purge", command: "queue.purge"},
	{pattern: "GET /queue/list", command: "queue.list"},
	{pattern: "GET /queue/{queue}/dlq", command: "queue.dlq.list"},
	{pattern: "POST /queue/{queue}/dlq/requeue", command: "queue.dlq.requeue"},
	{pattern: "POST /queue/{queue}/dlq/purge", command: "queue.dlq.purge"},

	// Synap's event-stream routes, and Troupe's history route.
	{pattern: "POST /stream/{room}/publish", command: "stream.publish"},
	{pattern: "GET /stream/{room}/history", command: "stream.history"},
	{pattern: "GET /stream/{room}/consume/{subscriber_id}", command: "stream.consume"},
	{pattern: "GET /stream/{room}/stats", command: "stream.stats"},
	{pattern: "GET /stream/list", command: "stream.rooms"},

	{pattern: "POST /pubsub/{topic}/publish", command: "pubsub.publish"},
	{pattern: "GET /pubsub/stats", command: "pubsub.stats"},
	{pattern: "GET /pubsub/topics", command: "pubsub.topics"},
}

// routes registers every route on the mux.
func (s *Server) routes(metricsHandler http.Handler) {
	s.mux.HandleFunc("GET /health", s.observe(s.serveHealth))
	if metricsHandler != nil {
		s.mux.Handle("GET /metrics", metricsHandler)
	}
	if s.cfg.Chaos {
		s.mux.HandleFunc("POST /admin/chaos", s.observe(s.serveChaos))
	}
	s.mux.HandleFunc("GET "+wsPath, s.serveWS)
	s.mux.HandleFunc("GET /pubsub/ws", s.serveResourceWS(pubsubEndpoint))
	s.mux.HandleFunc("GET /stream/{room}/ws/{subscriber_id}", s.serveResourceWS(streamEndpoint))
	s.mux.HandleFunc("GET /queue/{queue}/ws/{consumer_id}", s.serveResourceWS(queueEndpoint))
	s.mux.HandleFunc("GET /kv/ws", s.serveResourceWS(kvEndpoint))
	for _, table := range []struct {
		routes    []restRoute
		messaging bool
	}{{restRoutes, false}, {messagingRoutes, true}} {
		for _, rt := range table.routes {
			cmd, ok := s.commands[rt.command]
			if !ok {
				panic("synap: route " + rt.pattern + " names an unknown command " + rt.command)
			}
			s.mux.HandleFunc(rt.pattern, s.observe(s.restHandler(rt, cmd, table.messaging)))
		}
	}
	s.mux.HandleFunc("/", s.observe(func(w http.ResponseWriter, r *http.Request) (string, int) {
		return "not_found", s.writeError(w, errorf(http.StatusNotFound, codeNotFound, "no route for %s %s", r.Method, r.URL.Path))
	}))
}

// restHandler serves one REST route by running its command.
func (s *Server) restHandler(rt restRoute, cmd command, messaging bool) handlerFunc {
	wildcards := patternWildcards(rt.pattern)
	return func(w http.ResponseWriter, r *http.Request) (string, int) {
		out := jsonw.Get()
		defer jsonw.Put(out)
		c := call{base: r.Context(), s: s, out: out, rest: true}
		var a argSetter
		if messaging {
			c.m = new(msgArgs)
			a = c.m
		} else {
			c.a = new(args)
			a = c.a
		}
		if err := s.restArgs(w, r, rt, wildcards, a); err != nil {
			return rt.command, s.writeError(w, asAPIError(err))
		}
		ctx, cancel := s.requestContext(r)
		defer cancel()
		c.ctx = ctx
		if err := cmd(&c); err != nil {
			return rt.command, s.writeError(w, asAPIError(err))
		}
		return rt.command, out.Respond(w, http.StatusOK)
	}
}

// argSetter is what a REST request's arguments are gathered into: args or
// msgArgs.
type argSetter interface {
	set(name, v string)
}

// restArgs gathers a REST request's arguments from its body, query string
// and path into a.
func (s *Server) restArgs(w http.ResponseWriter, r *http.Request, rt restRoute, wildcards []string, a argSetter) error {
	body, err := s.readBody(w, r)
	defer body.Release()
	if err != nil {
		return err
	}
	if doc := bytes.TrimSpace(body.Bytes()); len(doc) > 0 {
		if !json.Valid(doc) {
			return malformed("the request body is not valid JSON")
		}
		ra, isArgs := a.(*args)
		switch {
		case doc[0] == '{':
			if err := json.Unmarshal(doc, a); err != nil {
				return jsonError(err, "the body")
			}
		case doc[0] == '[' && rt.arrayBody != "" && isArgs:
			ra.setRaw(rt.arrayBody, bytes.Clone(doc))
		default:
			return invalid("the request body must be a JSON object")
		}
	}
	for name, vs := range r.URL.Query() {
		a.set(name, vs[0])
	}
	for _, name := range wildcards {
		a.set(name, r.PathValue(name))
	}
	return nil
}

// setRaw assigns the field an array body stands for.
func (a *args) setRaw(name string, raw json.RawMessage) {
	switch name {
	case "pairs":
		a.Pairs = raw
	case "fields":
		a.Fields = raw
	}
}

// patternWildcards lists the names of a mux pattern's {wildcards}.
func patternWildcards(pattern string) []string {
	var names []string
	for _, seg := range strings.Split(pattern, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			names = append(names, seg[1:len(seg)-1])
		}
	}
	return names
}
