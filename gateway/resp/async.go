package resp

import (
	"context"
	"math"
	"sync"

	"github.com/troupe-run/troupe/actors/kv"
	"github.com/troupe-run/troupe/messages"
)

// Pipelining. A client that sends many commands before reading (redis-
// benchmark -P 16, a client library's pipeline) would wait for each
// command's round trip to its shard, and under durable writes for each
// commit, one after the other. Instead, the simple single-key commands of
// a pipeline are sent to their shards at once (Sender), and their replies
// collected in order. Commands sent by one connection reach each shard in
// the order sent, so each key sees them in the client's order; replies go
// out in the client's order. Any other command first waits for those in
// flight, then runs alone. An unpipelined command goes through the pipe too
// (serve drains it at once, as nothing follows it in what was read): the
// pipe's batches keep their PID values, whose process protoactor caches,
// while a request through Keyspace.Do has a fresh one per request that the
// shard's reply looks up in the process registry, which made the
// unpipelined SET, INCR and GET cost about 8% more CPU per request.

// Pipe starts single-key commands without waiting (kv.Pipe): each Send's
// Pending waits for its reply, in the order of the sends.
type Pipe interface {
	Send(ctx context.Context, req *messages.DataRequest) kv.Pending
	Close()
}

// finish writes a command's reply from its keyspace reply (or error).
type finish func(c *conn, rep *messages.DataReply, err error)

// asyncFn builds a command's one keyspace request and the finish that
// answers it. A nil request with a finish answers without the keyspace
// (a bad argument); nil and nil: the command needs its full handler.
type asyncFn func(c *conn, a [][]byte) (*messages.DataRequest, finish)

type pending struct {
	req  *messages.DataRequest // sent through the pipe (nil: answered without): its waiters are signalled after
	wait kv.Pending
	fin  finish
}

// maxInFlight bounds the commands of one connection in flight at once.
const maxInFlight = 256

// runAsync sends a pipelined command, or runs it at once when nothing can
// go ahead of it anyway; false when the command needs its full handler.
func (c *conn) runAsync(f asyncFn, a [][]byte) bool {
	req, fin := f(c, a)
	switch {
	case req == nil && fin == nil:
		return false
	case req == nil:
		if len(c.pending) == 0 {
			fin(c, nil, nil)
			return true
		}
		c.pending = append(c.pending, pending{fin: fin})
	case c.s.b.Pipes == nil:
		rep, err := c.do(req)
		c.drain()
		fin(c, rep, err)
		c.recycle(req, err)
		return true
	default:
		if c.pipe == nil {
			c.pipe = c.s.b.Pipes()
		}
		c.pending = append(c.pending, pending{req: req, wait: c.pipe.Send(c.ctx, req), fin: fin})
	}
	if len(c.pending) >= maxInFlight {
		c.drain()
	}
	return true
}

// drain waits for the commands in flight and writes their replies, in
// order.
func (c *conn) drain() {
	for i, p := range c.pending {
		if p.req == nil {
			p.fin(c, nil, nil)
		} else {
			rep, err := p.wait.Wait()
			if err == nil {
				c.s.b.Keyspace.Wrote(p.req, rep)
			}
			p.fin(c, rep, err)
			c.recycle(p.req, err)
		}
		c.pending[i] = pending{}
	}
	c.pending = c.pending[:0]
}

// keep copies a command's argument list for its finish, into a list the
// connection reuses once what it read is answered (serve empties it): one
// allocation per read rather than one per command.
func (c *conn) keep(a [][]byte) [][]byte {
	start := len(c.kept)
	c.kept = append(c.kept, a...)
	return c.kept[start:len(c.kept):len(c.kept)]
}

// syncOf is the handler of a command that has an asyncFn: it runs the
// request at once, or the full handler when the asyncFn declines.
func syncOf(f asyncFn, full func(c *conn, a [][]byte)) func(c *conn, a [][]byte) {
	return func(c *conn, a [][]byte) {
		req, fin := f(c, a)
		switch {
		case req == nil && fin == nil:
			full(c, a)
		case req == nil:
			fin(c, nil, nil)
		default:
			rep, err := c.do(req)
			fin(c, rep, err)
			c.recycle(req, err)
		}
	}
}

// request is a data request for a pipelined command: one the connection
// used before when it has one (recycle), so that a pipeline does not
// allocate a request per command.
func (c *conn) request(op messages.DataOp, key string) *messages.DataRequest {
	if n := len(c.free); n > 0 {
		req := c.free[n-1]
		c.free = c.free[:n-1]
		req.Op, req.Key = op, key
		return req
	}
	return &messages.DataRequest{Op: op, Key: key}
}

// recycle keeps req for the connection's next command once its shard has
// answered (err nil): the shard keeps nothing of the request itself, only
// the value bytes it stored, which the next command does not reuse. A
// request whose answer did not come may still be read by its shard and
// is left alone. The request keeps its lists of pairs and scored members,
// emptied, for the next HSET or ZADD (pairs and scored).
func (c *conn) recycle(req *messages.DataRequest, err error) {
	if err != nil || len(c.free) >= maxInFlight {
		return
	}
	pairs, scored := req.Pairs[:0], req.Scored[:0]
	// Zeroed in place rather than by Reset, whose atomic store of the
	// message's type information (a locked instruction) cost 2% of a
	// pipelined command's CPU in perf; protobuf stores it again when the
	// request is ever reflected on (marshalled).
	*req = messages.DataRequest{}
	req.Pairs, req.Scored = pairs, scored
	c.free = append(c.free, req)
}

// pair appends a field and value to req's pairs, in a Pair the request
// had before when it has one.
func pair(req *messages.DataRequest, key string, value []byte) {
	n := len(req.Pairs)
	if n < cap(req.Pairs) && req.Pairs[:n+1][n] != nil {
		req.Pairs = req.Pairs[:n+1]
		req.Pairs[n].Key, req.Pairs[n].Value = key, value
		return
	}
	req.Pairs = append(req.Pairs, &messages.Pair{Key: key, Value: value})
}

// scored appends a member and score to req's scored members, as pair does.
func scored(req *messages.DataRequest, member string, score float64) {
	n := len(req.Scored)
	if n < cap(req.Scored) && req.Scored[:n+1][n] != nil {
		req.Scored = req.Scored[:n+1]
		req.Scored[n].Member, req.Scored[n].Score = member, score
		return
	}
	req.Scored = append(req.Scored, &messages.ScoredMember{Member: member, Score: score})
}

func errFin(msg string) finish { return func(c *conn, _ *messages.DataReply, _ error) { c.w.err(msg) } }

func bulkFin(c *conn, rep *messages.DataReply, err error) {
	if c.failed(rep, err) {
		return
	}
	if !rep.Found {
		c.w.null()
		return
	}
	c.w.bulk(decode(rep.Value))
}

func intFin(c *conn, rep *messages.DataReply, err error) {
	if !c.failed(rep, err) {
		c.w.int(rep.Integer)
	}
}

func asyncGet(c *conn, a [][]byte) (*messages.DataRequest, finish) {
	key := string(a[1])
	return c.request(messages.DataOp_KV_GET, key), func(c *conn, rep *messages.DataReply, err error) {
		if err == nil && rep.ErrorCode == messages.CodeWrongType {
			if v, found, ok := c.getString(key); ok {
				c.bulkOrNull(v, found)
			}
			return
		}
		bulkFin(c, rep, err)
	}
}

// asyncSet takes SET without EXAT/PXAT (a past time needs the full path).
func asyncSet(c *conn, a [][]byte) (*messages.DataRequest, finish) {
	req := c.request(messages.DataOp_KV_SET, string(a[1]))
	get, expSet := false, false
	for i := 3; i < len(a); i++ {
		var buf [8]byte
		opt := string(lower(a[i], buf[:]))
		switch {
		case opt == "nx" && !req.Xx:
			req.Nx = true
		case opt == "xx" && !req.Nx:
			req.Xx = true
		case opt == "get":
			get = true
		case opt == "keepttl" && !expSet:
			req.KeepTtl, expSet = true, true
		case (opt == "ex" || opt == "px") && !expSet && i+1 < len(a):
			ms, msg := expiry(opt, a[i+1], "set")
			if msg != "" {
				return nil, errFin(msg)
			}
			req.TtlMs, expSet = ms, true
			i++
		default:
			return nil, nil
		}
	}
	req.Value = encode(a[2])
	// The arguments' bytes stay valid until the replies are written (the
	// read buffer moves only then); the list of them does not.
	args := c.keep(a)
	return req, func(c *conn, rep *messages.DataReply, err error) {
		if err == nil && rep.ErrorCode == messages.CodeWrongType && !get {
			// A key of another type: the full SET replaces it.
			cmdSet(c, args)
			return
		}
		if c.failed(rep, err) {
			return
		}
		switch {
		case get && len(rep.Previous) == 0:
			c.w.null()
		case get:
			c.w.bulk(decode(rep.Previous))
		case !rep.Ok:
			c.w.null()
		default:
			c.w.ok()
		}
	}
}

func asyncIncr(sign int64, withArg bool) asyncFn {
	return func(c *conn, a [][]byte) (*messages.DataRequest, finish) {
		n := int64(1)
		if withArg {
			var ok bool
			if n, ok = argInt(a[2]); !ok {
				return nil, errFin(notInteger)
			}
			if sign < 0 && n == math.MinInt64 {
				return nil, errFin("ERR decrement would overflow")
			}
		}
		req := c.request(messages.DataOp_KV_INCR, string(a[1]))
		req.Amount = sign * n
		return req, intFin
	}
}

func asyncPush(op messages.DataOp) asyncFn {
	return func(c *conn, a [][]byte) (*messages.DataRequest, finish) {
		req := c.request(op, string(a[1]))
		req.Values = values(a[2:])
		return req, intFin
	}
}

// asyncPop takes LPOP/RPOP without a count.
func asyncPop(op messages.DataOp) asyncFn {
	return func(c *conn, a [][]byte) (*messages.DataRequest, finish) {
		if len(a) != 2 {
			return nil, nil
		}
		return c.request(op, string(a[1])), func(c *conn, rep *messages.DataReply, err error) {
			if c.failed(rep, err) {
				return
			}
			if len(rep.Values) == 0 {
				c.w.null()
				return
			}
			c.w.bulk(decode(rep.Values[0]))
		}
	}
}

func asyncHSet(c *conn, a [][]byte) (*messages.DataRequest, finish) {
	if len(a)%2 != 0 {
		return nil, errFin(wrongArity("hset"))
	}
	req := c.request(messages.DataOp_HASH_SET, string(a[1]))
	for i := 2; i < len(a); i += 2 {
		pair(req, string(a[i]), encode(a[i+1]))
	}
	return req, intFin
}

func asyncHGet(c *conn, a [][]byte) (*messages.DataRequest, finish) {
	req := c.request(messages.DataOp_HASH_GET, string(a[1]))
	req.Field = string(a[2])
	return req, bulkFin
}

func asyncSAdd(op messages.DataOp) asyncFn {
	return func(c *conn, a [][]byte) (*messages.DataRequest, finish) {
		req := c.request(op, string(a[1]))
		req.Members = strs(a[2:])
		return req, intFin
	}
}

// asyncZAdd takes ZADD with NX, XX or INCR (GT, LT and CH need the full
// handler).
func asyncZAdd(c *conn, a [][]byte) (*messages.DataRequest, finish) {
	req := c.request(messages.DataOp_ZSET_ADD, string(a[1]))
	i := 2
	for ; i < len(a); i++ {
		var buf [8]byte
		switch string(lower(a[i], buf[:])) {
		case "nx":
			req.Nx = true
		case "xx":
			req.Xx = true
		case "incr":
			req.Incr = true
		case "gt", "lt", "ch":
			return nil, nil
		default:
			goto members
		}
	}
members:
	rest := a[i:]
	switch {
	case len(rest) == 0 || len(rest)%2 != 0:
		return nil, errFin(syntaxErr)
	case req.Nx && req.Xx:
		return nil, errFin("ERR XX and NX options at the same time are not compatible")
	case req.Incr && len(rest) > 2:
		return nil, errFin("ERR INCR option supports a single increment-element pair")
	}
	for j := 0; j < len(rest); j += 2 {
		f, ok := argFloat(rest[j])
		if !ok {
			return nil, errFin(notFloat)
		}
		scored(req, string(rest[j+1]), f)
	}
	incr := req.Incr
	return req, func(c *conn, rep *messages.DataReply, err error) {
		if err == nil && rep.ErrorCode == messages.CodeNotFloat && incr {
			c.w.err("ERR resulting score is not a number (NaN)")
			return
		}
		if c.failed(rep, err) {
			return
		}
		switch {
		case incr && !rep.Ok:
			c.w.null()
		case incr:
			c.w.double(rep.Number)
		default:
			c.w.int(rep.Integer)
		}
	}
}

func asyncZScore(c *conn, a [][]byte) (*messages.DataRequest, finish) {
	req := c.request(messages.DataOp_ZSET_SCORE, string(a[1]))
	req.Member = string(a[2])
	return req,
		func(c *conn, rep *messages.DataReply, err error) {
			if c.failed(rep, err) {
				return
			}
			if !rep.Found {
				c.w.null()
				return
			}
			c.w.double(rep.Number)
		}
}

func asyncLRange(c *conn, a [][]byte) (*messages.DataRequest, finish) {
	start, ok1 := argInt(a[2])
	stop, ok2 := argInt(a[3])
	if !ok1 || !ok2 {
		return nil, errFin(notInteger)
	}
	req := c.request(messages.DataOp_LIST_RANGE, string(a[1]))
	req.Start, req.Stop = start, stop
	return req,
		func(c *conn, rep *messages.DataReply, err error) {
			if c.failed(rep, err) {
				return
			}
			c.w.array(len(rep.Values))
			for _, v := range rep.Values {
				c.w.bulk(decode(v))
			}
		}
}

// asyncs are the commands a pipeline runs side by side, with the handler
// they fall back to.
var asyncs = map[string]asyncFn{
	"get":    asyncGet,
	"set":    asyncSet,
	"incr":   asyncIncr(1, false),
	"decr":   asyncIncr(-1, false),
	"incrby": asyncIncr(1, true),
	"decrby": asyncIncr(-1, true),
	"lpush":  asyncPush(messages.DataOp_LIST_LPUSH),
	"rpush":  asyncPush(messages.DataOp_LIST_RPUSH),
	"lpop":   asyncPop(messages.DataOp_LIST_LPOP),
	"rpop":   asyncPop(messages.DataOp_LIST_RPOP),
	"hset":   asyncHSet,
	"hget":   asyncHGet,
	"sadd":   asyncSAdd(messages.DataOp_SET_ADD),
	"srem":   asyncSAdd(messages.DataOp_SET_REM),
	"zadd":   asyncZAdd,
	"zscore": asyncZScore,
	"lrange": asyncLRange,
}

var attachAsync sync.Once

// attach gives the pipelined commands their async path (once, after every
// file's commands are registered).
func attach() {
	for name, f := range asyncs {
		cs := commands[name]
		cs.async = f
		cs.run = syncOf(f, cs.run)
	}
}
