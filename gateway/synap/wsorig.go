package synap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/gateway/internal/wsconn"
	"github.com/troupe-run/troupe/messages"
)

// The original server's per-resource WebSocket endpoints, beside
// /api/v1/ws:
//
//	GET /pubsub/ws?topics=a.*,b      {"type":"connected","subscriber_id","topics","subscription_count"},
//	                                 then {"type":"message","message_id","topic","payload","metadata","timestamp"}
//	GET /stream/{room}/ws/{id}?from_offset=N
//	                                 {"type":"connected","room","subscriber_id","from_offset"},
//	                                 then {"type":"event","offset","event","data","timestamp"}
//	GET /queue/{name}/ws/{consumer}  {"type":"connected","queue","consumer_id"},
//	                                 then {"type":"message","message_id","payload","priority","retry_count","created_at","headers"};
//	                                 the client sends {"command":"ack"|"nack","message_id","requeue"?}
//	GET /kv/ws?keys=user:1,session:*  as /pubsub/ws, on the keys' channels "__watch@0__:<key>" (watch.go)
//
// Each runs on the same session machinery as /api/v1/ws (bounded buffers,
// write deadlines, 1008 for a client too slow): the handler makes the
// subscription as the session's first command, whose reply becomes the
// welcome frame; a refused subscription gets {"type":"error","error"} and
// the connection is closed.

type endpoint int

const (
	pubsubEndpoint endpoint = iota
	streamEndpoint
	queueEndpoint
	kvEndpoint
)

// serveResourceWS serves one of the per-resource endpoints.
func (s *Server) serveResourceWS(kind endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sub, err := subscription(kind, r)
		if err != nil {
			s.reject(w, asAPIError(err), "ws")
			return
		}
		start := time.Now()
		c, err := s.conns.Accept(w, r)
		if errors.Is(err, wsconn.ErrFull) {
			s.reject(w, errorf(http.StatusServiceUnavailable, messages.CodeUnavailable,
				"there are %d WebSocket connections, the limit; try again later", s.cfg.MaxSessions), "ws")
			return
		}
		if err != nil {
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
		sess := &session{s: s, conn: c, run: run, cancel: cancel, original: true}
		pid, err := s.sessions.Spawn(name, func() actor.Actor { return sess })
		if err != nil {
			cancel()
			c.Close(websocket.StatusTryAgainLater, "the server cannot start a session now")
			return
		}
		if run.acquire() {
			run.jobs <- &wsFrame{env: sub.env, id: []byte(`"welcome"`), holds: true, welcome: sub.welcome}
		}
		s.resourceReadLoop(kind, run, client, sub)
		c.Close(websocket.StatusNormalClosure, "")
		close(run.jobs)
		s.sessions.Stop(pid)
	}
}

// resourceSub is the subscription an endpoint makes for its client.
type resourceSub struct {
	env     envelope
	welcome func(reply []byte) (*jsonw.Writer, bool)
	queue   string
}

// subscription builds an endpoint's subscribing command from its request.
func subscription(kind endpoint, r *http.Request) (*resourceSub, error) {
	q := r.URL.Query()
	cmd := func(name string, payload any) envelope {
		raw, _ := json.Marshal(payload)
		return envelope{Command: name, Payload: raw}
	}
	switch kind {
	case pubsubEndpoint:
		var topics []string
		for _, t := range strings.Split(q.Get("topics"), ",") {
			if t = strings.TrimSpace(t); t != "" {
				topics = append(topics, t)
			}
		}
		if len(topics) == 0 {
			return nil, malformed("at least one topic is required: ?topics=a.*,b")
		}
		return &resourceSub{env: cmd("pubsub.subscribe", map[string]any{"topics": topics}),
			welcome: welcomeFrame(func(w *jsonw.Writer, p map[string]json.RawMessage) {
				w.Key("subscriber_id")
				w.Raw(p["subscriber_id"])
				w.Key("topics")
				w.Raw(p["topics"])
				w.Key("subscription_count")
				w.Raw(p["subscription_count"])
			})}, nil
	case streamEndpoint:
		room, id := r.PathValue("room"), r.PathValue("subscriber_id")
		payload := map[string]any{"room": room}
		if v := q.Get("from_offset"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, malformed("from_offset must be an offset, not %q", v)
			}
			payload["from_offset"] = n
		}
		return &resourceSub{env: cmd("stream.subscribe", payload),
			welcome: welcomeFrame(func(w *jsonw.Writer, p map[string]json.RawMessage) {
				w.Key("room")
				w.Str(room)
				w.Key("subscriber_id")
				w.Str(id)
				w.Key("from_offset")
				if v, ok := payload["from_offset"]; ok {
					w.Int(v.(int64))
				} else {
					// Live events only: the next offset.
					var newest int64 = -1
					json.Unmarshal(p["newest_offset"], &newest)
					w.Int(newest + 1)
				}
			})}, nil
	case kvEndpoint:
		var keys []string
		for _, k := range strings.Split(q.Get("keys"), ",") {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			return nil, malformed("at least one key is required: ?keys=user:1,session:*")
		}
		return &resourceSub{env: cmd("kv.watch", map[string]any{"keys": keys}),
			welcome: welcomeFrame(func(w *jsonw.Writer, p map[string]json.RawMessage) {
				w.Key("subscriber_id")
				w.Raw(p["subscriber_id"])
				w.Key("topics")
				w.Raw(p["topics"])
				w.Key("subscription_count")
				w.Raw(p["subscription_count"])
			})}, nil
	case queueEndpoint:
		queue, consumer := r.PathValue("queue"), r.PathValue("consumer_id")
		return &resourceSub{queue: queue,
			env: cmd("queue.subscribe", map[string]any{"queue": queue, "consumer_id": consumer}),
			welcome: welcomeFrame(func(w *jsonw.Writer, _ map[string]json.RawMessage) {
				w.Key("queue")
				w.Str(queue)
				w.Key("consumer_id")
				w.Str(consumer)
			})}, nil
	}
	return nil, malformed("unknown endpoint")
}

// welcomeFrame turns a subscribing command's reply into the original's
// {"type":"connected", ...} frame, whose other members fill writes from
// the reply's payload; a failed reply becomes {"type":"error","error"}.
func welcomeFrame(fill func(w *jsonw.Writer, payload map[string]json.RawMessage)) func([]byte) (*jsonw.Writer, bool) {
	return func(reply []byte) (*jsonw.Writer, bool) {
		if w := errorFrameOf(reply); w != nil {
			return w, false
		}
		var env struct {
			Payload map[string]json.RawMessage `json:"payload"`
		}
		json.Unmarshal(reply, &env)
		w := jsonw.Get()
		w.Literal(`{"type":"connected"`)
		fill(w, env.Payload)
		w.EndObj()
		return w, true
	}
}

// errorFrameOf returns {"type":"error","error"} for a failed reply, nil for
// one that succeeded.
func errorFrameOf(reply []byte) *jsonw.Writer {
	var env struct {
		Success bool `json:"success"`
		Error   *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(reply, &env) != nil || env.Success {
		return nil
	}
	msg := "the command failed"
	if env.Error != nil {
		msg = env.Error.Message
	}
	w := jsonw.Get()
	w.Literal(`{"type":"error","error":`)
	w.Str(msg)
	w.EndObj()
	return w
}

// resourceReadLoop reads the client's frames until the connection ends. On
// a queue endpoint {"command":"ack"|"nack","message_id","requeue"?} acks or
// nacks a message; anything else is ignored, as the original does (the
// reading itself keeps pings and the close handshake working).
func (s *Server) resourceReadLoop(kind endpoint, run *wsRunner, client string, sub *resourceSub) {
	for {
		data, err := run.conn.Read()
		if err != nil {
			return
		}
		if kind != queueEndpoint {
			continue
		}
		var cmd struct {
			Command   string `json:"command"`
			MessageID string `json:"message_id"`
			Requeue   *bool  `json:"requeue"`
		}
		if json.Unmarshal(data, &cmd) != nil || (cmd.Command != "ack" && cmd.Command != "nack") {
			continue
		}
		if !run.acquire() {
			return
		}
		run.jobs <- s.ackFrame(sub.queue, cmd.Command, cmd.MessageID, cmd.Requeue, client)
	}
}

// ackFrame is the command frame of an endpoint's ack or nack, made as the
// command runner takes it rather than encoded and decoded again: one per
// message a consumer handles. Its reply is written only when it fails.
func (s *Server) ackFrame(queue, command, messageID string, requeue *bool, client string) *wsFrame {
	w := jsonw.Get()
	w.Literal(`{"queue":`)
	w.Str(queue)
	w.Key("message_id")
	w.Str(messageID)
	if requeue != nil {
		w.Key("requeue")
		w.Bool(*requeue)
	}
	w.EndObj()
	f := &wsFrame{env: envelope{Command: "queue." + command, Payload: bytes.Clone(w.Bytes())}, id: []byte("null"), quiet: true}
	jsonw.Put(w)
	if s.limiter != nil {
		if v := s.limiter.take(client); !v.ok {
			f.err, f.errLabel = v.err(), "rate_limited"
		}
	}
	return f
}

// originalEventFrame: {"type":"event","offset","event","data","timestamp"}
func originalEventFrame(e *messages.RoomEvent) *jsonw.Writer {
	w := jsonw.Get()
	w.Literal(`{"type":"event","offset":`)
	w.Int(e.Offset)
	w.Key("event")
	w.Str(e.EventType)
	w.Key("data")
	w.Raw(e.Data)
	w.Key("timestamp")
	w.Int(e.TimestampMs / 1000)
	w.EndObj()
	return w
}

// originalMessageFrame: {"type":"message","message_id","topic","payload",
// "metadata","timestamp"}
func originalMessageFrame(m *messages.PubSubMessage) *jsonw.Writer {
	w := jsonw.Get()
	w.Literal(`{"type":"message","message_id":`)
	w.Str(m.MessageId)
	w.Key("topic")
	w.Str(m.Topic)
	w.Key("payload")
	w.Raw(m.Message)
	w.Key("metadata")
	w.Raw(m.Metadata)
	w.Key("timestamp")
	w.Int(m.TimestampMs / 1000)
	w.EndObj()
	return w
}

// originalDeliveryFrame: {"type":"message","message_id","payload",
// "priority","retry_count","created_at","headers"}
func originalDeliveryFrame(d *messages.QueueDelivery) *jsonw.Writer {
	m := d.GetMessage()
	w := jsonw.Get()
	w.Literal(`{"type":"message","message_id":`)
	w.Str(m.GetMessageId())
	w.Key("payload")
	w.Raw(m.GetMessage())
	w.Key("priority")
	w.Int(int64(m.GetPriority()))
	w.Key("retry_count")
	w.Int(int64(m.GetRetryCount()))
	w.Key("created_at")
	w.Int(m.GetPublishedAtMs() / 1000)
	w.Key("headers")
	writeHeaders(w, m.GetHeaders())
	w.EndObj()
	return w
}
