package kv

import "github.com/troupe-run/troupe/messages"

// A kv.msetnx whose keys live on several shards runs in two phases. Each
// shard first reserves its keys (TXN_RESERVE), which succeeds only if none
// of them exists or is reserved; the router then commits on every shard if
// all reserved, else aborts. Between the phases any other command on a
// reserved key is answered KEY_BUSY, so no write can slip in between the
// existence check and the commit; the actor stashes such commands and
// replays them when the shard holds no reservation any more.

func (s *Shard) txnReserve(now int64, req *messages.DataRequest) *messages.DataReply {
	keys := req.GetKeys()
	for _, key := range keys {
		if txn, ok := s.reserved[key]; (ok && txn != req.GetTxn()) || s.lookup(key, now) != nil {
			return &messages.DataReply{}
		}
	}
	for _, key := range keys {
		if _, ok := s.reserved[key]; !ok {
			s.reserved[key] = req.GetTxn()
			s.txns[req.GetTxn()] = append(s.txns[req.GetTxn()], key)
		}
	}
	return &messages.DataReply{Ok: true}
}

// txnCommit writes the pairs and releases the reservation. The decision was
// taken when the keys were reserved, so the memory limit does not refuse a
// commit: a half-committed msetnx would be worse than a budget passed by
// one command. A commit whose reservation is gone (the shard restarted in
// between) still writes only if no key exists.
func (s *Shard) txnCommit(now int64, req *messages.DataRequest, j Journal) *messages.DataReply {
	txn := req.GetTxn()
	pairs, bad := lastWins(req.GetPairs(), "key")
	if bad != nil {
		return bad
	}
	for _, p := range pairs {
		owner, reserved := s.reserved[p.GetKey()]
		if reserved && owner != txn {
			return fail(messages.CodeKeyReserved, "key %q is held by another kv.msetnx in progress", p.GetKey())
		}
		if s.lookup(p.GetKey(), now) != nil {
			s.release(txn)
			return &messages.DataReply{}
		}
	}
	for _, p := range pairs {
		e := s.lookupForWrite(p.GetKey(), now, j) // nil; drops an expired entry
		n := stringGrowth(e, p.GetKey(), p.GetValue())
		s.admitAlways(n)
		s.putString(e, p.GetKey(), p.GetValue(), 0, n, j)
	}
	s.release(txn)
	return &messages.DataReply{Ok: true, Integer: int64(len(pairs))}
}

func (s *Shard) txnAbort(req *messages.DataRequest) *messages.DataReply {
	_, held := s.txns[req.GetTxn()]
	s.release(req.GetTxn())
	return &messages.DataReply{Ok: held}
}

func (s *Shard) release(txn uint64) {
	for _, key := range s.txns[txn] {
		delete(s.reserved, key)
	}
	delete(s.txns, txn)
}
