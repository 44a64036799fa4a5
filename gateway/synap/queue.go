package synap

import (
	"context"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/messages"
)

var queueCommands = []commandSpec{
	{"queue.create", queueCreate},
	{"queue.delete", queueDelete},
	{"queue.publish", queuePublish},
	{"queue.consume", queueConsume},
	{"queue.ack", queueAck},
	{"queue.nack", queueNack},
	{"queue.purge", queuePurge},
	{"queue.stats", queueStats},
	{"queue.list", queueList},
	{"queue.dlq.list", queueDLQList},
	{"queue.dlq.requeue", queueDLQRequeue},
	{"queue.dlq.purge", queueDLQPurge},
	{"queue.subscribe", queueSubscribe},
	{"queue.unsubscribe", queueUnsubscribe},
}

// Priorities, as Synap has them: 0 to 9, higher first.
const (
	minPriority     = 0
	maxPriority     = 9
	defaultPriority = 5
)

// Bounds of the paged reads (queue.dlq.list, stream.history).
const (
	defaultPage = 100
	maxPage     = 10000
)

// doQueue sends req to the queue's actor and turns a failure into an
// apiError.
func (c *call) doQueue(ctx context.Context, req *messages.QueueRequest) (*messages.QueueReply, error) {
	var rep *messages.QueueReply
	var err error
	if p := c.pipe; p != nil {
		c.pipe = nil
		rep, err = p.send(ctx, req)
	} else {
		rep, err = c.s.queues.Do(ctx, req)
	}
	if ae := failure(rep, err); ae != nil {
		return nil, ae
	}
	return rep, nil
}

// queueArgs decodes the payload of a queue command and returns it with the
// queue's name, which every queue command but queue.list requires.
func (c *call) queueArgs() (*msgArgs, string, error) {
	a, err := c.margs()
	if err != nil {
		return nil, "", err
	}
	name := a.Queue
	if name == "" {
		name = a.Name
	}
	if name == "" {
		return nil, "", invalid("queue is required")
	}
	return a, name, nil
}

// queue.create {queue, config: {max_depth, ack_deadline, max_retries,
// dead_letter}} -> {success, queue}. A field left out keeps the server's
// default.
func queueCreate(c *call) error {
	a, name, err := c.queueArgs()
	if err != nil {
		return err
	}
	cfg, err := a.queueConfigArg()
	if err != nil {
		return err
	}
	if _, err := c.doQueue(c.ctx, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_CREATE, Queue: name, Config: cfg}); err != nil {
		return err
	}
	writeQueueDone(c.out, name)
	return nil
}

// queueConfigArg reads the config object, or, without one, the same fields
// at the top level.
func (a *msgArgs) queueConfigArg() (*messages.QueueConfig, error) {
	qc := &a.queueConfig
	if a.Config != nil {
		qc = a.Config
	}
	cfg := &messages.QueueConfig{DeadLetter: qc.DeadLetter}
	if n, ok, err := positiveArg("max_depth", qc.MaxDepth); err != nil {
		return nil, err
	} else if ok {
		cfg.MaxDepth = &n
	}
	deadline := qc.AckDeadline
	if absent(deadline) {
		deadline = qc.AckDeadlineSecs
	}
	if s, ok, err := positiveArg("ack_deadline", deadline); err != nil {
		return nil, err
	} else if ok {
		ms, err := secondsArg("ack_deadline", s)
		if err != nil {
			return nil, err
		}
		cfg.AckDeadlineMs = &ms
	}
	retries := qc.MaxRetries
	if absent(retries) {
		retries = qc.DefaultMaxRetries
	}
	if !absent(retries) {
		n, err := intArg("max_retries", retries, 0)
		if err != nil {
			return nil, err
		}
		if n < 0 || n > math.MaxInt32 {
			return nil, invalid("max_retries must be between 0 and %d, not %d", math.MaxInt32, n)
		}
		r := int32(n)
		cfg.MaxRetries = &r
	}
	return cfg, nil
}

// positiveArg parses an optional integer field that must be at least 1.
func positiveArg(name string, raw json.RawMessage) (int64, bool, error) {
	if absent(raw) {
		return 0, false, nil
	}
	n, err := countArg(name, raw, 0)
	return n, err == nil, err
}

// secondsArg converts a number of seconds to milliseconds.
func secondsArg(name string, s int64) (int64, error) {
	if s < 0 || s > math.MaxInt64/1000 {
		return 0, invalid("%s must be a number of seconds between 0 and %d, not %d", name, int64(math.MaxInt64/1000), s)
	}
	return s * 1000, nil
}

// optSecondsArg parses an optional number of seconds into milliseconds; 0
// when absent.
func optSecondsArg(name string, raw json.RawMessage) (int64, error) {
	s, err := intArg(name, raw, 0)
	if err != nil {
		return 0, err
	}
	return secondsArg(name, s)
}

// writeQueueDone writes the reply of a command that only succeeds.
func writeQueueDone(w *jsonw.Writer, name string) {
	w.Obj()
	w.Key("success")
	w.Bool(true)
	w.Key("queue")
	w.Str(name)
	w.EndObj()
}

// queue.delete {queue} -> {success, queue, deleted}
func queueDelete(c *call) error {
	_, name, err := c.queueArgs()
	if err != nil {
		return err
	}
	if _, err := c.doQueue(c.ctx, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_DELETE, Queue: name}); err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("success")
	w.Bool(true)
	w.Key("queue")
	w.Str(name)
	w.Key("deleted")
	w.Bool(true)
	w.EndObj()
	return nil
}

// queue.publish {queue, message, priority?, headers?} -> {message_id,
// position}. Publishing to a queue that does not exist creates it with the
// server's defaults. Synap's SDKs send the message as payload.
func queuePublish(c *call) error {
	a, name, err := c.queueArgs()
	if err != nil {
		return err
	}
	req := &messages.QueueRequest{Op: messages.QueueOp_QUEUE_PUBLISH, Queue: name, Create: true}
	if req.Message, err = a.messageArg("message", a.Message, a.Payload); err != nil {
		return err
	}
	p, err := intArg("priority", a.Priority, defaultPriority)
	if err != nil {
		return err
	}
	if p < minPriority || p > maxPriority {
		return invalid("priority must be from %d to %d, not %d", minPriority, maxPriority, p)
	}
	req.Priority = int32(p)
	if req.Headers, err = headersArg(a.Headers); err != nil {
		return err
	}
	rep, err := c.doQueue(c.ctx, req)
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("message_id")
	w.Str(rep.MessageId)
	w.Key("position")
	w.Int(rep.Position)
	w.EndObj()
	return nil
}

// messageArg returns the first of the raw values given, compacted: the
// message of a publish, under any of the names clients give it.
func (a *msgArgs) messageArg(name string, raws ...json.RawMessage) ([]byte, error) {
	for _, raw := range raws {
		if len(raw) > 0 {
			return compact(raw), nil
		}
	}
	return nil, invalid("%s is required", name)
}

// headersArg decodes an object of string headers.
func headersArg(raw json.RawMessage) (map[string]string, error) {
	if absent(raw) {
		return nil, nil
	}
	var h map[string]string
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, invalid("headers must be an object of strings")
	}
	return h, nil
}

// queue.consume {queue, timeout?, ack_deadline?, consumer_id?} -> the
// message {message_id, message, priority, retry_count, headers}, or
// {"message": null} when none came within timeout seconds (0: do not wait).
// The wait may outlast the request timeout, by design.
func queueConsume(c *call) error {
	a, name, err := c.queueArgs()
	if err != nil {
		return err
	}
	req := &messages.QueueRequest{Op: messages.QueueOp_QUEUE_CONSUME, Queue: name, Consumer: a.ConsumerID}
	if req.TimeoutMs, err = optSecondsArg("timeout", a.Timeout); err != nil {
		return err
	}
	if req.AckDeadlineMs, err = optSecondsArg("ack_deadline", a.AckDeadline); err != nil {
		return err
	}
	ctx := c.ctx
	if req.TimeoutMs > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(c.base, time.Duration(req.TimeoutMs)*time.Millisecond+c.s.cfg.RequestTimeout)
		defer cancel()
	}
	rep, err := c.doQueue(ctx, req)
	if err != nil {
		return err
	}
	if rep.Message == nil {
		c.out.Literal(`{"message":null}`)
		return nil
	}
	if a.ConsumerID != "" && !c.rest {
		// A consumer id is what the original's SDKs send: they read its
		// shape, whatever the reply mode.
		writeConsumerMessage(c.out, rep.Message)
		return nil
	}
	writeQueueMessage(c.out, rep.Message)
	return nil
}

// writeConsumerMessage writes a consumed message in the original's shape:
// {message: {id, payload, priority, retry_count, max_retries, headers}},
// the payload as it was published (an SDK's array of bytes stays one).
func writeConsumerMessage(w *jsonw.Writer, m *messages.QueueMessage) {
	w.Obj()
	w.Key("message")
	w.Obj()
	w.Key("id")
	w.Str(m.GetMessageId())
	w.Key("payload")
	w.Raw(m.GetMessage())
	w.Key("priority")
	w.Int(int64(m.GetPriority()))
	w.Key("retry_count")
	w.Int(int64(m.GetRetryCount()))
	w.Key("max_retries")
	w.Int(int64(m.GetMaxRetries()))
	w.Key("headers")
	writeHeaders(w, m.GetHeaders())
	w.EndObj()
	w.EndObj()
}

// writeHeaders writes headers as an object, in key order.
func writeHeaders(w *jsonw.Writer, headers map[string]string) {
	w.Obj()
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		w.StrKey(k)
		w.Str(headers[k])
	}
	w.EndObj()
}

// writeQueueMessage writes a message as queue.consume returns it.
func writeQueueMessage(w *jsonw.Writer, m *messages.QueueMessage) {
	w.Obj()
	writeQueueMessageFields(w, m)
	w.EndObj()
}

func writeQueueMessageFields(w *jsonw.Writer, m *messages.QueueMessage) {
	w.Key("message_id")
	w.Str(m.GetMessageId())
	w.Key("message")
	w.Raw(m.GetMessage())
	w.Key("priority")
	w.Int(int64(m.GetPriority()))
	w.Key("retry_count")
	w.Int(int64(m.GetRetryCount()))
	w.Key("headers")
	w.Obj()
	headers := m.GetHeaders()
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		w.StrKey(k)
		w.Str(headers[k])
	}
	w.EndObj()
}

// queue.ack {queue, message_id} -> {success}
func queueAck(c *call) error {
	a, name, err := c.queueArgs()
	if err != nil {
		return err
	}
	if a.MessageID == "" {
		return invalid("message_id is required")
	}
	if _, err := c.doQueue(c.ctx, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_ACK, Queue: name, MessageId: a.MessageID}); err != nil {
		return err
	}
	c.out.Literal(`{"success":true}`)
	return nil
}

// queue.nack {queue, message_id, requeue? (default true)} -> {success,
// action}: requeued, dead_lettered or discarded.
func queueNack(c *call) error {
	a, name, err := c.queueArgs()
	if err != nil {
		return err
	}
	if a.MessageID == "" {
		return invalid("message_id is required")
	}
	req := &messages.QueueRequest{Op: messages.QueueOp_QUEUE_NACK, Queue: name, MessageId: a.MessageID, Requeue: true}
	if a.Requeue != nil {
		req.Requeue = *a.Requeue
	}
	rep, err := c.doQueue(c.ctx, req)
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("success")
	w.Bool(true)
	w.Key("action")
	w.Str(rep.Action)
	w.EndObj()
	return nil
}

// queue.purge {queue} -> {success, purged}
func queuePurge(c *call) error {
	_, name, err := c.queueArgs()
	if err != nil {
		return err
	}
	rep, err := c.doQueue(c.ctx, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_PURGE, Queue: name})
	if err != nil {
		return err
	}
	writeCount(c.out, "purged", rep.Count)
	return nil
}

// writeCount writes {success: true, <name>: n}.
func writeCount(w *jsonw.Writer, name string, n int64) {
	w.Obj()
	w.Key("success")
	w.Bool(true)
	w.Key(name)
	w.Int(n)
	w.EndObj()
}

// queue.stats {queue} -> the spec's figures, plus in_flight, nacked_total
// and dead_lettered, and the names Synap's SDKs read (published, consumed,
// acked, nacked).
func queueStats(c *call) error {
	_, name, err := c.queueArgs()
	if err != nil {
		return err
	}
	rep, err := c.doQueue(c.ctx, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_STATS, Queue: name})
	if err != nil {
		return err
	}
	st := rep.GetStats()
	w := c.out
	w.Obj()
	w.Key("queue")
	w.Str(name)
	writeFigures(w, []figure{
		{"depth", st.GetDepth()},
		{"consumers", st.GetConsumers()},
		{"published_total", st.GetPublishedTotal()},
		{"consumed_total", st.GetConsumedTotal()},
		{"acked_total", st.GetAckedTotal()},
		{"nacked_total", st.GetNackedTotal()},
		{"oldest_message_age_secs", st.GetOldestMessageAgeSecs()},
		{"in_flight", st.GetInFlight()},
		{"dead_lettered", st.GetDeadLettered()},
		{"published", st.GetPublishedTotal()},
		{"consumed", st.GetConsumedTotal()},
		{"acked", st.GetAckedTotal()},
		{"nacked", st.GetNackedTotal()},
	})
	w.EndObj()
	return nil
}

// figure is one named count of a stats reply.
type figure struct {
	key string
	n   int64
}

// writeFigures writes figures as members of the object being written.
func writeFigures(w *jsonw.Writer, figures []figure) {
	for _, f := range figures {
		w.Key(f.key)
		w.Int(f.n)
	}
}

// queue.list {} -> {queues}
func queueList(c *call) error {
	names, err := c.s.queues.List(c.ctx)
	if err != nil {
		return asAPIError(err)
	}
	slices.Sort(names)
	c.out.Obj()
	c.out.Key("queues")
	c.out.Strs(names)
	c.out.EndObj()
	return nil
}

// pageArgs reads offset (default 0) and limit (default 100, at most 10,000).
func (a *msgArgs) pageArgs(offsetName string, offsetRaw json.RawMessage) (offset, limit int64, err error) {
	if offset, err = intArg(offsetName, offsetRaw, 0); err != nil {
		return 0, 0, err
	}
	if offset < 0 {
		return 0, 0, invalid("%s must not be negative, not %d", offsetName, offset)
	}
	if limit, err = countArg("limit", a.Limit, defaultPage); err != nil {
		return 0, 0, err
	}
	if limit > maxPage {
		return 0, 0, invalid("limit must be at most %d, not %d", maxPage, limit)
	}
	return offset, limit, nil
}

// queue.dlq.list {queue, offset?, limit?} -> {queue, messages, total}: the
// dead-lettered messages, oldest first, and how many the DLQ holds.
func queueDLQList(c *call) error {
	a, name, err := c.queueArgs()
	if err != nil {
		return err
	}
	offset, limit, err := a.pageArgs("offset", a.Offset)
	if err != nil {
		return err
	}
	rep, err := c.doQueue(c.ctx, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_DLQ_LIST, Queue: name,
		Offset: offset, Limit: limit})
	if err != nil {
		return err
	}
	w := c.out
	w.Obj()
	w.Key("queue")
	w.Str(name)
	w.Key("messages")
	w.Arr()
	for _, m := range rep.Messages {
		writeQueueMessage(w, m)
	}
	w.EndArr()
	w.Key("total")
	w.Int(rep.Count)
	w.EndObj()
	return nil
}

// queue.dlq.requeue {queue, message_ids?} -> {success, requeued}: moves the
// named dead-lettered messages (all of them when none is named) back into
// the queue, with their retries reset.
func queueDLQRequeue(c *call) error {
	a, name, err := c.queueArgs()
	if err != nil {
		return err
	}
	for i, id := range a.MessageIDs {
		if id == "" {
			return invalid("message_ids[%d] must not be empty", i)
		}
	}
	rep, err := c.doQueue(c.ctx, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_DLQ_REQUEUE, Queue: name, Ids: a.MessageIDs})
	if err != nil {
		return err
	}
	writeCount(c.out, "requeued", rep.Count)
	return nil
}

// queue.dlq.purge {queue} -> {success, purged}
func queueDLQPurge(c *call) error {
	_, name, err := c.queueArgs()
	if err != nil {
		return err
	}
	rep, err := c.doQueue(c.ctx, &messages.QueueRequest{Op: messages.QueueOp_QUEUE_DLQ_PURGE, Queue: name})
	if err != nil {
		return err
	}
	writeCount(c.out, "purged", rep.Count)
	return nil
}

// queue.subscribe {queue, ack_deadline?} -> {success, queue}; then the
// queue pushes its messages to the session as queue_message frames, each in
// flight until the client acks or nacks it with the usual commands.
// WebSocket only.
func queueSubscribe(c *call) error {
	a, name, err := c.queueArgs()
	if err != nil {
		return err
	}
	if err := c.needSession(); err != nil {
		return err
	}
	req := &messages.QueueRequest{Op: messages.QueueOp_QUEUE_SUBSCRIBE, Queue: name, Consumer: a.ConsumerID,
		Subscriber: c.sess.self}
	if req.AckDeadlineMs, err = optSecondsArg("ack_deadline", a.AckDeadline); err != nil {
		return err
	}
	if err := c.sess.subscribeQueue(c, req); err != nil {
		return err
	}
	writeQueueDone(c.out, name)
	return nil
}

// queue.unsubscribe {queue} -> {success, queue}. WebSocket only.
func queueUnsubscribe(c *call) error {
	_, name, err := c.queueArgs()
	if err != nil {
		return err
	}
	if err := c.needSession(); err != nil {
		return err
	}
	if err := c.sess.unsubscribeQueue(c, name); err != nil {
		return err
	}
	writeQueueDone(c.out, name)
	return nil
}
