package synap

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/messages"
)

// Transactions, as the original serves them: a client names itself with a
// client_id; transaction.multi opens its transaction, and every data
// command carrying that client_id is queued (answered {success, queued})
// until transaction.exec runs them or transaction.discard drops them.
// transaction.watch before exec makes exec abort when a watched key was
// written meanwhile.
//
// exec holds every key its commands name on their shards (others' commands
// on those keys wait), checks the watched keys' versions, runs the commands
// in order, then releases the keys: no other command interleaves with them,
// across shards. As in Redis, a command that fails does not undo the ones
// before it. Commands over the whole keyspace (kv.keys, kv.scan, kv.dbsize)
// hold nothing.
//
// Open transactions live in memory, at most --max-txns of them, each with
// at most the batch limit (--max-batch) of commands and of watched keys;
// one untouched for txnIdle is dropped.

var txnCommands = []commandSpec{
	{"transaction.multi", txnMulti},
	{"transaction.exec", txnExec},
	{"transaction.discard", txnDiscard},
	{"transaction.watch", txnWatch},
	{"transaction.unwatch", txnUnwatch},
}

const txnIdle = 5 * time.Minute

// queuedCmd is a command queued in a transaction.
type queuedCmd struct {
	name    string
	payload []byte
}

// clientTxn is one client's transaction state.
type clientTxn struct {
	multi   bool
	queued  []queuedCmd
	watched map[string]string // key -> version when watched ("" none)
	used    time.Time
}

// txnTable holds the clients' transactions, at most max of them.
type txnTable struct {
	max     int
	mu      sync.Mutex
	clients map[string]*clientTxn
}

// get returns a client's state, creating it when create is set; it also
// forgets idle ones (whose watches the caller must drop: returned).
func (t *txnTable) get(id string, create bool, now time.Time) (*clientTxn, []string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.clients == nil {
		t.clients = map[string]*clientTxn{}
	}
	var stale []string
	if create {
		for cid, ct := range t.clients {
			if now.Sub(ct.used) > txnIdle {
				for k := range ct.watched {
					stale = append(stale, k)
				}
				delete(t.clients, cid)
			}
		}
	}
	ct := t.clients[id]
	if ct == nil && create {
		if len(t.clients) >= t.max {
			return nil, stale, errorf(http.StatusInsufficientStorage, messages.CodeLimit,
				"%d transactions are open; the limit is %d (--max-txns)", len(t.clients), t.max)
		}
		ct = &clientTxn{watched: map[string]string{}}
		t.clients[id] = ct
	}
	if ct != nil {
		ct.used = now
	}
	return ct, stale, nil
}

// take removes and returns a client's state.
func (t *txnTable) take(id string) *clientTxn {
	t.mu.Lock()
	defer t.mu.Unlock()
	ct := t.clients[id]
	delete(t.clients, id)
	return ct
}

func clientID(c *call) (string, error) {
	var p struct {
		ClientID string `json:"client_id"`
	}
	if err := payloadInto(c, &p); err != nil {
		return "", err
	}
	if p.ClientID == "" {
		return "", invalid("client_id is required")
	}
	return p.ClientID, nil
}

// queueable tells whether a command may be queued: the data commands. The
// two-phase kv.mset and kv.msetnx would wait on the transaction's own hold.
func queueable(name string) bool {
	if name == "kv.mset" || name == "kv.msetnx" {
		return false
	}
	for _, p := range []string{"kv.", "key.", "hash.", "list.", "set.", "sortedset.", "hyperloglog.", "bitmap.", "geospatial.", "geo."} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// maybeQueue queues a command that names the client_id of an open
// transaction, and answers {success, queued}. It reports whether it did.
func (s *Server) maybeQueue(c *call, name string, payload []byte) (bool, error) {
	if c.txn != 0 || !bytes.Contains(payload, []byte(`"client_id"`)) || !queueable(name) {
		return false, nil
	}
	var p struct {
		ClientID string `json:"client_id"`
	}
	if json.Unmarshal(payload, &p) != nil || p.ClientID == "" {
		return false, nil
	}
	ct, _, _ := s.txns.get(p.ClientID, false, time.Now())
	if ct == nil {
		return false, nil
	}
	s.txns.mu.Lock()
	defer s.txns.mu.Unlock()
	if !ct.multi {
		return false, nil
	}
	if len(ct.queued) >= s.cfg.MaxBatch {
		return true, invalid("the transaction has %d commands queued; the limit is %d (--max-batch)", len(ct.queued), s.cfg.MaxBatch)
	}
	ct.queued = append(ct.queued, queuedCmd{name: name, payload: bytes.Clone(payload)})
	c.out.Literal(`{"success":true,"queued":true}`)
	return true, nil
}

func okMessage(c *call, msg string) error {
	c.out.Obj()
	c.out.Key("success")
	c.out.Bool(true)
	c.out.Key("message")
	c.out.Str(msg)
	c.out.EndObj()
	return nil
}

// transaction.multi {client_id} -> {success, message}
func txnMulti(c *call) error {
	id, err := clientID(c)
	if err != nil {
		return err
	}
	ct, stale, err := c.s.txns.get(id, true, time.Now())
	c.unwatch(stale)
	if err != nil {
		return err
	}
	c.s.txns.mu.Lock()
	nested := ct.multi
	ct.multi = true
	c.s.txns.mu.Unlock()
	if nested {
		return invalid("client %q already has a transaction open (MULTI cannot be nested)", id)
	}
	return okMessage(c, "Transaction started")
}

// unwatch drops watches at the shards; failures are harmless (a watch left
// behind only costs a map entry, and restarts drop them all).
func (c *call) unwatch(keys []string) {
	if len(keys) > 0 {
		c.s.ks.Do(c.ctx, &messages.DataRequest{Op: messages.DataOp_TXN_UNWATCH, Keys: keys})
	}
}

// transaction.discard {client_id} -> {success, message}
func txnDiscard(c *call) error {
	id, err := clientID(c)
	if err != nil {
		return err
	}
	ct := c.s.txns.take(id)
	if ct == nil || !ct.multi {
		return invalid("client %q has no transaction open", id)
	}
	c.unwatch(watchedKeys(ct))
	return okMessage(c, "Transaction discarded")
}

func watchedKeys(ct *clientTxn) []string {
	keys := make([]string, 0, len(ct.watched))
	for k := range ct.watched {
		keys = append(keys, k)
	}
	return keys
}

// transaction.watch {client_id, keys} -> {success, message}
func txnWatch(c *call) error {
	var p struct {
		ClientID string   `json:"client_id"`
		Keys     []string `json:"keys"`
	}
	if err := payloadInto(c, &p); err != nil {
		return err
	}
	if p.ClientID == "" {
		return invalid("client_id is required")
	}
	if len(p.Keys) == 0 {
		return invalid("keys is required")
	}
	ct, stale, err := c.s.txns.get(p.ClientID, true, time.Now())
	c.unwatch(stale)
	if err != nil {
		return err
	}
	c.s.txns.mu.Lock()
	var fresh []string
	for _, k := range p.Keys {
		if _, ok := ct.watched[k]; !ok && !slices.Contains(fresh, k) {
			fresh = append(fresh, k)
		}
	}
	over := len(ct.watched)+len(fresh) > c.s.cfg.MaxBatch
	watching := len(ct.watched)
	c.s.txns.mu.Unlock()
	if over {
		return errorf(http.StatusInsufficientStorage, messages.CodeLimit,
			"a transaction watches %d keys; %d more would pass the limit of %d (--max-batch)", watching, len(fresh), c.s.cfg.MaxBatch)
	}
	if len(fresh) == 0 {
		return okMessage(c, "Keys watched")
	}
	rep, err := c.do(&messages.DataRequest{Op: messages.DataOp_TXN_WATCH, Keys: fresh})
	if err != nil {
		return err
	}
	c.s.txns.mu.Lock()
	for _, pr := range rep.Pairs {
		ct.watched[pr.Key] = string(pr.Value)
	}
	c.s.txns.mu.Unlock()
	return okMessage(c, "Keys watched")
}

// transaction.unwatch {client_id} -> {success, message}
func txnUnwatch(c *call) error {
	id, err := clientID(c)
	if err != nil {
		return err
	}
	ct, _, _ := c.s.txns.get(id, false, time.Now())
	if ct != nil {
		c.s.txns.mu.Lock()
		keys := watchedKeys(ct)
		ct.watched = map[string]string{}
		c.s.txns.mu.Unlock()
		c.unwatch(keys)
	}
	return okMessage(c, "Keys unwatched")
}

// keysNamed gathers the keys a queued command names, for its hold.
func keysNamed(payload []byte) []string {
	var p struct {
		Key         string          `json:"key"`
		Keys        []string        `json:"keys"`
		Destination string          `json:"destination"`
		Source      string          `json:"source"`
		Sources     []string        `json:"sources"`
		SourceKeys  []string        `json:"source_keys"`
		Pairs       json.RawMessage `json:"pairs"`
	}
	json.Unmarshal(payload, &p)
	keys := append(append(append(p.Keys, p.Sources...), p.SourceKeys...), p.Key, p.Destination, p.Source)
	if pairs, err := pairList("pairs", "key", p.Pairs); err == nil {
		for _, pr := range pairs {
			keys = append(keys, pr.Key)
		}
	}
	out := keys[:0]
	for _, k := range keys {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}

// transaction.exec {client_id} -> {success, results} with one result per
// queued command (its payload, or {error}); {aborted, message} when a
// watched key changed.
func txnExec(c *call) error {
	id, err := clientID(c)
	if err != nil {
		return err
	}
	ct := c.s.txns.take(id)
	if ct == nil || !ct.multi {
		return invalid("client %q has no transaction open (send transaction.multi first)", id)
	}
	watched := watchedKeys(ct)
	defer c.unwatch(watched)
	held := map[string]bool{}
	var keys []string
	for _, q := range ct.queued {
		for _, k := range keysNamed(q.payload) {
			if !held[k] {
				held[k] = true
				keys = append(keys, k)
			}
		}
	}
	txn := 1<<63 | rand.Uint64()
	rep, err := c.s.ks.Do(c.ctx, &messages.DataRequest{Op: messages.DataOp_TXN_HOLD, Txn: txn, Keys: keys, Fields: watched})
	// Release whatever was held, whatever happens next; a release that
	// fails is left to the shards' expiry of abandoned holds.
	defer c.s.ks.Do(c.base, &messages.DataRequest{Op: messages.DataOp_TXN_ABORT, Txn: txn, Keys: keys, Fields: watched})
	if ae := failure(rep, err); ae != nil {
		return ae
	}
	for _, pr := range rep.Pairs {
		if v, ok := ct.watched[pr.Key]; ok && (v == "" || v != string(pr.Value)) {
			c.out.Literal(`{"aborted":true,"message":"Transaction aborted: watched keys changed"}`)
			return nil
		}
	}
	w := c.out
	w.Obj()
	w.Key("success")
	w.Bool(true)
	w.Key("results")
	w.Arr()
	for _, q := range ct.queued {
		out := jsonw.Get()
		sub := call{ctx: c.ctx, base: c.base, s: c.s, out: out, txn: txn}
		if _, err := c.s.run(&sub, q.name, q.payload); err != nil {
			out.Truncate(0)
			out.Obj()
			out.Key("error")
			out.Str(asAPIError(err).msg)
			out.EndObj()
		}
		w.Raw(out.Bytes())
		jsonw.Put(out)
	}
	w.EndArr()
	w.EndObj()
	return nil
}
