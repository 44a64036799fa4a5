package resp

import (
	"math/rand/v2"

	"github.com/troupe-run/troupe/messages"
)

func init() {
	register(
		&cmdSpec{name: "multi", arity: 1, flags: fFast | fNoMulti, run: cmdMulti},
		&cmdSpec{name: "exec", arity: 1, flags: fNoMulti, run: cmdExec},
		&cmdSpec{name: "discard", arity: 1, flags: fFast | fNoMulti, run: cmdDiscard},
		&cmdSpec{name: "watch", arity: -2, flags: fFast | fNoScript, first: 1, last: -1, ste: 1, run: cmdWatch},
		&cmdSpec{name: "unwatch", arity: 1, flags: fFast, run: func(c *conn, _ [][]byte) { c.unwatch(); c.w.ok() }},
	)
}

func cmdMulti(c *conn, _ [][]byte) {
	if c.multi {
		c.w.err("ERR MULTI calls can not be nested")
		return
	}
	c.multi, c.multiBad, c.queued = true, false, nil
	c.w.ok()
}

func cmdDiscard(c *conn, _ [][]byte) {
	if !c.multi {
		c.w.err("ERR DISCARD without MULTI")
		return
	}
	c.multi, c.multiBad, c.queued = false, false, nil
	c.unwatch()
	c.w.ok()
}

func cmdWatch(c *conn, a [][]byte) {
	if c.multi {
		c.w.err("ERR WATCH inside MULTI is not allowed")
		return
	}
	var keys []string
	for _, k := range a[1:] {
		if _, ok := c.watched[string(k)]; !ok {
			keys = append(keys, string(k))
		}
	}
	if len(keys) == 0 {
		c.w.ok()
		return
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_TXN_WATCH, Keys: keys})
	if c.failed(rep, err) {
		return
	}
	if c.watched == nil {
		c.watched = map[string]string{}
	}
	for _, k := range keys {
		if _, ok := c.watched[k]; !ok {
			c.watched[k] = "" // the shard's version, when it gave one
		}
	}
	for _, p := range rep.Pairs {
		if _, seen := c.watched[p.Key]; seen && c.watched[p.Key] == "" {
			c.watched[p.Key] = string(p.Value)
		}
	}
	c.w.ok()
}

// unwatch forgets the watched keys, on their shards too.
func (c *conn) unwatch() {
	if len(c.watched) == 0 {
		return
	}
	keys := make([]string, 0, len(c.watched))
	for k := range c.watched {
		keys = append(keys, k)
	}
	c.watched = nil
	_, _ = c.s.b.Keyspace.Do(c.ctx, &messages.DataRequest{Op: messages.DataOp_TXN_UNWATCH, Keys: keys})
}

// cmdExec runs the queued commands with every key they name held on its
// shard, so that nothing runs in between, after checking that no watched
// key was written since WATCH. As in Redis, a command that fails does
// not undo the ones before it.
func cmdExec(c *conn, _ [][]byte) {
	if !c.multi {
		c.w.err("ERR EXEC without MULTI")
		return
	}
	queued, bad := c.queued, c.multiBad
	c.multi, c.multiBad, c.queued = false, false, nil
	watched := c.watched
	defer c.unwatch()
	if bad {
		c.w.err("EXECABORT Transaction discarded because of previous errors.")
		return
	}
	seen := map[string]bool{}
	var keys []string
	for _, args := range queued {
		cs := commands[string(lower(args[0], make([]byte, 24)))]
		for _, k := range cs.keysOf(args) {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	var fields []string
	for k := range watched {
		fields = append(fields, k)
	}
	txn := 1<<63 | rand.Uint64()
	rep, err := c.hold(&messages.DataRequest{Op: messages.DataOp_TXN_HOLD, Txn: txn, Keys: keys, Fields: fields})
	defer c.s.b.Keyspace.Do(c.ctx, &messages.DataRequest{Op: messages.DataOp_TXN_ABORT, Txn: txn, Keys: keys, Fields: fields})
	if c.failed(rep, err) {
		return
	}
	now := map[string]string{}
	for _, p := range rep.Pairs {
		now[p.Key] = string(p.Value)
	}
	for k, v := range watched {
		if v == "" || now[k] != v {
			c.w.nullArray()
			return
		}
	}
	c.txn = txn
	defer func() { c.txn = 0 }()
	c.w.array(len(queued))
	for _, args := range queued {
		cs := commands[string(lower(args[0], make([]byte, 24)))]
		cs.run(c, args)
	}
}
