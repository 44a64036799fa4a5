package resp

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/troupe-run/troupe/messages"
)

// MULTI, EXEC, DISCARD and UNWATCH also take Synap's form, a client id as
// their one argument (Synap's SDKs over their RESP3 transport; Redis
// refuses an argument there): MULTI <id> opens a transaction of that id,
// TXQUEUE <id> <command> <args...> queues a command in it (answered
// QUEUED), EXEC <id> runs it as EXEC does and DISCARD <id> drops it. The
// queue is the server's, so any connection may add to it; WATCH stays
// Redis's (every argument a key, watched by the connection), and EXEC <id>
// aborts when a key the connection watches was written.
func init() {
	register(
		&cmdSpec{name: "multi", arity: -1, flags: fFast | fNoMulti, run: cmdMulti},
		&cmdSpec{name: "exec", arity: -1, flags: fNoMulti, run: cmdExec},
		&cmdSpec{name: "discard", arity: -1, flags: fFast | fNoMulti, run: cmdDiscard},
		&cmdSpec{name: "watch", arity: -2, flags: fFast | fNoScript, first: 1, last: -1, ste: 1, run: cmdWatch},
		&cmdSpec{name: "unwatch", arity: -1, flags: fFast, run: cmdUnwatch},
		&cmdSpec{name: "txqueue", arity: -3, flags: fFast | fNoScript, run: cmdTxQueue},
	)
}

// idForm reports whether a transaction command has Synap's client id
// argument, answering it when it cannot run: too many arguments, or
// inside the connection's own MULTI.
func idForm(c *conn, a [][]byte) (id string, form bool, ok bool) {
	switch {
	case len(a) == 1:
		return "", false, true
	case len(a) > 2:
		c.w.err(wrongArity(string(lower(a[0], make([]byte, 24)))))
		return "", false, false
	case c.multi:
		c.refuse("ERR Command not allowed inside a transaction")
		return "", false, false
	}
	return string(a[1]), true, true
}

func cmdMulti(c *conn, a [][]byte) {
	id, form, ok := idForm(c, a)
	if !ok {
		return
	}
	if form {
		if err := c.s.txns.open(id, c.s.cfg.MaxClients); err != "" {
			c.w.err(err)
			return
		}
		c.w.ok()
		return
	}
	if c.multi {
		c.w.err("ERR MULTI calls can not be nested")
		return
	}
	c.multi, c.multiBad, c.queued = true, false, nil
	c.w.ok()
}

func cmdDiscard(c *conn, a [][]byte) {
	id, form, ok := idForm(c, a)
	if !ok {
		return
	}
	if form {
		if _, open := c.s.txns.take(id); !open {
			c.w.err("ERR DISCARD without MULTI")
			return
		}
		c.unwatch()
		c.w.ok()
		return
	}
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
	_, _ = c.s.b.Keyspace.Do(c.cleanup(), &messages.DataRequest{Op: messages.DataOp_TXN_UNWATCH, Keys: keys})
}

// cmdExec runs the queued commands with every key they name held on its
// shard, so that nothing runs in between, after checking that no watched
// key was written since WATCH. As in Redis, a command that fails does
// not undo the ones before it.
func cmdExec(c *conn, a [][]byte) {
	id, form, ok := idForm(c, a)
	if !ok {
		return
	}
	var queued [][][]byte
	var bad bool
	if form {
		if queued, ok = c.s.txns.take(id); !ok {
			c.w.err("ERR EXEC without MULTI")
			return
		}
	} else {
		if !c.multi {
			c.w.err("ERR EXEC without MULTI")
			return
		}
		queued, bad = c.queued, c.multiBad
		c.multi, c.multiBad, c.queued = false, false, nil
	}
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
	defer c.s.b.Keyspace.Do(c.cleanup(), &messages.DataRequest{Op: messages.DataOp_TXN_ABORT, Txn: txn, Keys: keys, Fields: fields})
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

func cmdUnwatch(c *conn, a [][]byte) {
	if len(a) > 2 {
		c.w.err(wrongArity("unwatch"))
		return
	}
	c.unwatch()
	c.w.ok()
}

// cmdTxQueue queues a command in a client id's transaction, checked as
// MULTI checks what it queues.
func cmdTxQueue(c *conn, a [][]byte) {
	id, args := string(a[1]), a[2:]
	cs := commands[string(lower(args[0], make([]byte, 24)))]
	switch {
	case cs == nil:
		c.w.err(unknownCommand(args))
		return
	case (cs.arity > 0 && len(args) != cs.arity) || (cs.arity < 0 && len(args) < -cs.arity):
		c.w.err(wrongArity(cs.name))
		return
	case cs.flags&(fNoMulti|fNoScript|fPubSub) != 0:
		c.w.err("ERR Command not allowed inside a transaction")
		return
	}
	cp := make([][]byte, len(args))
	for i, b := range args {
		cp[i] = append([]byte(nil), b...)
	}
	if err := c.s.txns.queue(id, cp, c.s.cfg.MaxBatch); err != "" {
		c.w.err(err)
		return
	}
	c.w.simple("QUEUED")
}

// idTxns are the transactions opened by client id (MULTI <id>): at most
// the door's connection bound of them, each of at most --max-batch
// commands; one untouched for idTxnIdle is forgotten when room is needed.
type idTxns struct {
	mu   sync.Mutex
	byID map[string]*idTxn
}

type idTxn struct {
	queued [][][]byte
	used   time.Time
}

const idTxnIdle = 5 * time.Minute

// open starts id's transaction; the error text when it cannot.
func (t *idTxns) open(id string, bound int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byID == nil {
		t.byID = map[string]*idTxn{}
	}
	if _, ok := t.byID[id]; ok {
		return "ERR MULTI calls can not be nested"
	}
	now := time.Now()
	if len(t.byID) >= bound {
		for k, tx := range t.byID {
			if now.Sub(tx.used) > idTxnIdle {
				delete(t.byID, k)
			}
		}
	}
	if len(t.byID) >= bound {
		return "ERR too many open transactions (at most " + strconv.Itoa(bound) + ", --max-sessions)"
	}
	t.byID[id] = &idTxn{used: now}
	return ""
}

func (t *idTxns) queue(id string, args [][]byte, bound int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	tx, ok := t.byID[id]
	if !ok {
		return "ERR TXQUEUE without MULTI for client id '" + id + "'"
	}
	if len(tx.queued) >= bound {
		return "ERR MULTI holds at most " + strconv.Itoa(bound) + " commands (--max-batch)"
	}
	tx.queued = append(tx.queued, args)
	tx.used = time.Now()
	return ""
}

// take ends id's transaction and returns what it queued.
func (t *idTxns) take(id string) ([][][]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tx, ok := t.byID[id]
	if !ok {
		return nil, false
	}
	delete(t.byID, id)
	return tx.queued, true
}
