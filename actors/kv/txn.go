package kv

import (
	"strconv"

	"github.com/troupe-run/troupe/messages"
)

// A kv.mset or kv.msetnx whose keys live on several shards runs in two
// phases. Each shard first reserves its pairs (TXN_RESERVE): it checks them
// (msetnx: no key exists; mset: every key is absent or a string) and
// charges the memory they need, so that nothing can refuse the commit; the
// router then commits on every shard if all reserved, else aborts. Between
// the phases any other command on a reserved key is answered KEY_BUSY, so
// no write slips in between the check and the commit; the actor stashes
// such commands (a reserve of another transaction among them) and replays
// them when the reservation ends. Routers reserve shards in shard order,
// so two transactions never wait on each other in a cycle.

// txn is one transaction's hold on this shard.
type txn struct {
	keys  []string
	bytes int64 // charged at reserve, given back at commit or abort
}

func (s *Shard) txnReserve(now int64, req *messages.DataRequest) *messages.DataReply {
	pairs, bad := lastWins(req.GetPairs(), "key")
	if bad != nil {
		return bad
	}
	id := req.GetTxn()
	if _, held := s.txns[id]; held {
		return &messages.DataReply{Ok: true}
	}
	for _, p := range pairs {
		if owner, ok := s.reserved[p.GetKey()]; ok && owner != id {
			return fail(messages.CodeKeyReserved, "key %q is held by another kv.mset or kv.msetnx in progress", p.GetKey())
		}
	}
	var n int64
	for _, p := range pairs {
		e := s.lookup(p.GetKey(), now)
		switch {
		case e != nil && req.GetNx():
			return &messages.DataReply{}
		case e != nil && e.kind != kindString:
			return wrongType(e, kindString)
		}
		n += stringGrowth(e, p.GetKey(), p.GetValue())
	}
	if !s.mem.add(n) {
		return memoryFull(s, n)
	}
	s.held += n
	t := &txn{bytes: n}
	for _, p := range pairs {
		s.reserved[p.GetKey()] = id
		t.keys = append(t.keys, p.GetKey())
	}
	s.txns[id] = t
	return &messages.DataReply{Ok: true}
}

// txnCommit writes the pairs reserved. A commit whose reservation is gone
// (the shard restarted in between) checks and admits them anew, so it can
// still be refused.
func (s *Shard) txnCommit(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	id := req.GetTxn()
	for _, p := range req.GetPairs() {
		if owner, ok := s.reserved[p.GetKey()]; ok && owner != id {
			return fail(messages.CodeKeyReserved, "key %q is held by another kv.mset or kv.msetnx in progress", p.GetKey())
		}
	}
	t, held := s.txns[id]
	if !held {
		if req.GetNx() {
			return s.kvMSetNX(now, req, j)
		}
		return s.kvMSet(now, req, j)
	}
	pairs, bad := lastWins(req.GetPairs(), "key")
	if bad != nil {
		s.release(id)
		return bad
	}
	for _, p := range pairs {
		if s.reserved[p.GetKey()] != id {
			s.release(id)
			return fail(messages.CodeInvalid, "key %q was not reserved by transaction %d", p.GetKey(), id)
		}
	}
	s.unhold(t)
	for _, p := range pairs {
		e := s.lookupForWrite(p.GetKey(), now, j) // a string or nil: checked at reserve
		n := stringGrowth(e, p.GetKey(), p.GetValue())
		s.admitAlways(n)
		s.putString(e, p.GetKey(), p.GetValue(), 0, n, j)
	}
	s.release(id)
	return &messages.DataReply{Ok: true, Integer: int64(len(pairs))}
}

func (s *Shard) txnAbort(req *messages.DataRequest) *messages.DataReply {
	_, held := s.txns[req.GetTxn()]
	s.release(req.GetTxn())
	return &messages.DataReply{Ok: held}
}

// release frees a transaction's keys and gives back the bytes it still holds.
func (s *Shard) release(id uint64) {
	t := s.txns[id]
	if t == nil {
		return
	}
	for _, key := range t.keys {
		delete(s.reserved, key)
	}
	s.unhold(t)
	delete(s.txns, id)
}

// unhold gives back the memory a transaction reserved.
func (s *Shard) unhold(t *txn) {
	s.mem.add(-t.bytes)
	s.held -= t.bytes
	t.bytes = 0
}

// A transaction.exec holds every key its commands name (TXN_HOLD, shard by
// shard in shard order, as reservations are taken) so that no other command
// on those keys runs between its commands: others wait in the actor's stash
// as they do for a reservation. Its own commands carry its id and pass.
// TXN_ABORT releases the hold. A hold charges no memory: the commands admit
// their own bytes as they run.

// heldFrom reports whether key is held by a transaction other than req's.
func (s *Shard) heldFrom(key string, req *messages.DataRequest) bool {
	owner, ok := s.reserved[key]
	return ok && (req.GetTxn() == 0 || owner != req.GetTxn())
}

func (s *Shard) txnHold(req *messages.DataRequest) *messages.DataReply {
	id := req.GetTxn()
	if id == 0 {
		return fail(messages.CodeInvalid, "a hold needs a transaction id")
	}
	for _, key := range req.GetKeys() {
		if owner, ok := s.reserved[key]; ok && owner != id {
			return fail(messages.CodeKeyReserved, "key %q is held by another transaction in progress", key)
		}
	}
	t := s.txns[id]
	if t == nil {
		t = &txn{}
		s.txns[id] = t
	}
	for _, key := range req.GetKeys() {
		if _, ok := s.reserved[key]; !ok {
			s.reserved[key] = id
			t.keys = append(t.keys, key)
		}
	}
	return &messages.DataReply{Ok: true, Pairs: s.versions(req.GetFields())}
}

// watch is a watched key's version and how many watches hold it.
type watch struct {
	version uint64
	refs    int
}

func (s *Shard) txnWatch(req *messages.DataRequest) *messages.DataReply {
	for _, key := range req.GetKeys() {
		w := s.watched[key]
		if w == nil {
			w = &watch{}
			s.watched[key] = w
		}
		w.refs++
	}
	return &messages.DataReply{Ok: true, Pairs: s.versions(req.GetKeys())}
}

func (s *Shard) txnUnwatch(req *messages.DataRequest) *messages.DataReply {
	for _, key := range req.GetKeys() {
		if w := s.watched[key]; w != nil {
			if w.refs--; w.refs <= 0 {
				delete(s.watched, key)
			}
		}
	}
	return &messages.DataReply{Ok: true}
}

// versions answers the versions of keys; a key nobody watches has none
// (empty value), so a watch that was lost (the shard restarted) never
// matches and the transaction aborts rather than miss a write.
func (s *Shard) versions(keys []string) []*messages.Pair {
	out := make([]*messages.Pair, 0, len(keys))
	for _, key := range keys {
		p := &messages.Pair{Key: key}
		if w := s.watched[key]; w != nil {
			p.Value = strconv.AppendUint(nil, w.version, 10)
		}
		out = append(out, p)
	}
	return out
}

// touch bumps the versions of the watched keys a write names.
func (s *Shard) touch(req *messages.DataRequest) {
	bump := func(key string) {
		if w := s.watched[key]; w != nil {
			s.wseq++
			w.version = s.wseq
		}
	}
	bump(req.GetKey())
	for _, key := range req.GetKeys() {
		bump(key)
	}
	for _, p := range req.GetPairs() {
		bump(p.GetKey())
	}
}

// countingJournal counts the writes handed to a journal.
type countingJournal struct {
	Journal
	n int
}

func (c *countingJournal) Set(key, value []byte) { c.n++; c.Journal.Set(key, value) }
func (c *countingJournal) Delete(key []byte)     { c.n++; c.Journal.Delete(key) }
func (c *countingJournal) DeleteRange(start, end []byte) {
	c.n++
	c.Journal.DeleteRange(start, end)
}
