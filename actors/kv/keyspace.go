package kv

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// shardCountKey records, in the store, how many shards wrote the data:
// keys are placed by hash modulo that count, so it cannot change later.
var shardCountKey = []byte("meta/kv/shards")

// Keyspace routes data commands to the shard owning each key, and fans
// multi-key commands out over the shards that own their keys.
type Keyspace struct {
	sys     *system.System
	shards  []*actor.PID // on one node; in cluster mode none (sys.Placement finds them by name)
	names   []string     // "data/shard-i"
	mem     *Memory
	nextTxn atomic.Uint64
	ops     atomic.Int64  // commands executed
	rate    atomic.Uint64 // commands per second over the last sweep interval, as float64 bits
	wakes   wakes         // blocked pops waiting for a push (wake.go)

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// Start spawns the shards under the "data" domain, rebuilds them from the
// store, and starts the sweeper that expires keys actively.
func Start(sys *system.System, mem *Memory) (*Keyspace, error) {
	n := sys.Config.Shards
	if err := checkShardCount(sys, n); err != nil {
		return nil, err
	}
	txnExpiry := 2 * sys.Config.RequestTimeout
	err := sys.Registry.Domain("data", func(name string) actor.Producer {
		i, _ := strconv.Atoi(name[len("shard-"):])
		prefix := shardPrefix(i)
		watch := newWatchers()
		return func() actor.Actor {
			return &shardActor{sys: sys, prefix: prefix, mem: mem, txnExpiry: txnExpiry,
				watch: watch, maxWatch: sys.Config.MaxSubscriptions}
		}
	}, system.CallerRuns(func(string) bool { return true }))
	if err != nil {
		return nil, err
	}
	k := &Keyspace{sys: sys, mem: mem, stop: make(chan struct{}), done: make(chan struct{})}
	for i := range n {
		k.names = append(k.names, fmt.Sprintf("data/shard-%d", i))
		if sys.Placement != nil {
			continue // the cluster activates each shard on one member, on its first request
		}
		pid, err := sys.Registry.Get(k.names[i])
		if err != nil {
			return nil, err
		}
		k.shards = append(k.shards, pid)
	}
	go k.sweep(sys.Config.SweepInterval)
	return k, nil
}

// Close stops the sweeper.
func (k *Keyspace) Close() {
	k.closeOnce.Do(func() { close(k.stop) })
	<-k.done
}

// OpsPerSec is the rate of commands over the last sweep interval.
func (k *Keyspace) OpsPerSec() float64 { return math.Float64frombits(k.rate.Load()) }

// Memory is the byte budget the shards share.
func (k *Keyspace) Memory() *Memory { return k.mem }

func (k *Keyspace) sweep(every time.Duration) {
	defer close(k.done)
	t := time.NewTicker(every)
	defer t.Stop()
	last, lastOps := time.Now(), int64(0)
	for {
		select {
		case <-k.stop:
			return
		case now := <-t.C:
			ops := k.ops.Load()
			k.rate.Store(math.Float64bits(float64(ops-lastOps) / now.Sub(last).Seconds()))
			last, lastOps = now, ops
			for _, pid := range k.shards {
				k.sys.Root.Send(pid, &messages.Tick{})
			}
			if k.sys.Placement != nil { // the shards this member holds now
				for _, name := range k.names {
					if pid, ok := k.sys.Registry.Lookup(name); ok {
						k.sys.Root.Send(pid, &messages.Tick{})
					}
				}
			}
		}
	}
}

func checkShardCount(sys *system.System, n int) error {
	v, found, err := sys.Store.Get(shardCountKey)
	if err != nil {
		return err
	}
	if found {
		if had, _ := strconv.Atoi(string(v)); had != n {
			return fmt.Errorf("the data dir was written with --shards=%d; start with that value (not %d)", had, n)
		}
		return nil
	}
	if !sys.Store.Durable() {
		return nil
	}
	b := sys.Store.NewBatch()
	b.Set(shardCountKey, []byte(strconv.Itoa(n)))
	errc := make(chan error, 1)
	sys.Store.Commit(b, func(err error) { errc <- err })
	return <-errc
}

// shardPrefix is the store key range of shard i: "d" and i in two bytes.
func shardPrefix(i int) []byte {
	return binary.BigEndian.AppendUint16([]byte{'d'}, uint16(i))
}

// shardOf hashes a key to its shard (FNV-1a: stable across restarts).
func (k *Keyspace) shardOf(key string) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(len(k.names)))
}

// Do executes one command. The error is a timeout or a crashed shard
// (system.ErrFailed); command errors are in the reply's error_code.
func (k *Keyspace) Do(ctx context.Context, req *messages.DataRequest) (*messages.DataReply, error) {
	rep, err := k.do(ctx, req)
	if err == nil {
		k.Wrote(req, rep)
	}
	return rep, err
}

func (k *Keyspace) do(ctx context.Context, req *messages.DataRequest) (*messages.DataReply, error) {
	k.ops.Add(1)
	switch req.Op {
	case messages.DataOp_KV_DEL, messages.DataOp_KV_EXISTS, messages.DataOp_KV_MGET:
		if len(req.Keys) > 0 {
			return k.fanOut(ctx, req)
		}
	case messages.DataOp_KV_MSET, messages.DataOp_KV_MSETNX:
		return k.multiSet(ctx, req)
	case messages.DataOp_KV_SCAN:
		return k.scan(ctx, req)
	case messages.DataOp_KV_COUNT:
		return k.count(ctx, req)
	case messages.DataOp_TXN_HOLD, messages.DataOp_TXN_WATCH, messages.DataOp_TXN_UNWATCH, messages.DataOp_TXN_ABORT:
		if len(req.Keys) > 0 || len(req.Fields) > 0 {
			return k.txnFan(ctx, req)
		}
	}
	return k.ask(ctx, k.shardOf(req.Key), req)
}

// Watch registers patterns (kv.keys globs) for subscriber with every shard:
// each change to a matching string key is pushed to it as a
// *messages.KeyChange. At most --max-subscriptions patterns per subscriber.
// A refusal is a reply with its error code; the error is a timeout or a
// crashed shard.
func (k *Keyspace) Watch(ctx context.Context, subscriber *actor.PID, patterns []string) (*messages.DataReply, error) {
	return k.watchAll(ctx, &messages.KeyWatch{Subscriber: subscriber, Patterns: patterns})
}

// Unwatch drops patterns of subscriber (every one when none is named).
// Shards also forget a subscriber that stops.
func (k *Keyspace) Unwatch(ctx context.Context, subscriber *actor.PID, patterns []string) (*messages.DataReply, error) {
	return k.watchAll(ctx, &messages.KeyWatch{Subscriber: subscriber, Patterns: patterns, Remove: true})
}

func (k *Keyspace) watchAll(ctx context.Context, msg *messages.KeyWatch) (*messages.DataReply, error) {
	msgs := make(map[int]*messages.KeyWatch, len(k.names))
	for i := range k.names {
		msgs[i] = msg
	}
	replies, err := askAll(ctx, k, msgs)
	if err != nil {
		return nil, err
	}
	out := &messages.DataReply{Ok: true}
	for _, r := range replies {
		if r.ErrorCode != "" {
			out = r
		} else if out.ErrorCode == "" {
			out.Integer = r.Integer // the same on every shard
		}
	}
	return out, nil
}

// ask sends shard i a request and waits for its reply until ctx ends (at
// most --request-timeout without a deadline): a client that went away
// frees its wait at once, and a command the shard holds back (behind an
// msetnx's reservation) is withdrawn from it, not applied later. In cluster
// mode the shard may be on another member: sys.Placement takes it there.
func (k *Keyspace) ask(ctx context.Context, i int, req any) (*messages.DataReply, error) {
	var res any
	var err error
	if k.sys.Placement != nil {
		res, err = k.sys.Placement.Ask(ctx, k.names[i], req)
	} else {
		res, err = k.sys.AskOrWithdraw(ctx, k.shards[i], req)
	}
	if err != nil {
		return nil, err
	}
	rep, ok := res.(*messages.DataReply)
	if !ok {
		return nil, fmt.Errorf("%s: unexpected reply %T", k.names[i], res)
	}
	return rep, nil
}

// tell sends shard i a message without waiting.
func (k *Keyspace) tell(i int, msg any) {
	if k.sys.Placement != nil {
		k.sys.Placement.Tell(k.names[i], msg)
		return
	}
	k.sys.Root.Send(k.shards[i], msg)
}

// askAll sends each shard its part at once and waits for every reply; the
// error is the first one met.
func askAll[M any](ctx context.Context, k *Keyspace, parts map[int]M) (map[int]*messages.DataReply, error) {
	type answer struct {
		shard int
		rep   *messages.DataReply
		err   error
	}
	answers := make(chan answer, len(parts))
	for i, part := range parts {
		go func() {
			rep, err := k.ask(ctx, i, part)
			answers <- answer{i, rep, err}
		}()
	}
	replies := make(map[int]*messages.DataReply, len(parts))
	var firstErr error
	for range parts {
		a := <-answers
		if a.err != nil {
			if firstErr == nil {
				firstErr = a.err
			}
			continue
		}
		replies[a.shard] = a.rep
	}
	return replies, firstErr
}

// askEvery sends req to every shard and waits for every reply.
func (k *Keyspace) askEvery(ctx context.Context, req *messages.DataRequest) (map[int]*messages.DataReply, error) {
	parts := make(map[int]*messages.DataRequest, len(k.names))
	for i := range k.names {
		parts[i] = req
	}
	return askAll(ctx, k, parts)
}

// bounded gives ctx the --request-timeout deadline when it has none, for
// the commands that take several steps.
func (k *Keyspace) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, k.sys.Config.RequestTimeout)
}

// fanOut splits a multi-key read or delete by shard. KV_DEL and KV_EXISTS
// sum the counts; KV_MGET puts the values back in request order.
func (k *Keyspace) fanOut(ctx context.Context, req *messages.DataRequest) (*messages.DataReply, error) {
	parts := map[int]*messages.DataRequest{}
	where := make([]int, 0, len(req.Keys)) // shard of each requested key, for KV_MGET
	part := func(i int) *messages.DataRequest {
		p := parts[i]
		if p == nil {
			p = &messages.DataRequest{Op: req.Op, Txn: req.Txn}
			parts[i] = p
		}
		return p
	}
	for _, key := range req.Keys {
		i := k.shardOf(key)
		p := part(i)
		p.Keys = append(p.Keys, key)
		where = append(where, i)
	}
	if len(parts) == 1 {
		for i, p := range parts {
			return k.ask(ctx, i, p)
		}
	}
	replies, err := askAll(ctx, k, parts)
	if err != nil {
		return nil, err
	}
	out := &messages.DataReply{Ok: true}
	for _, r := range replies {
		if r.ErrorCode != "" {
			return r, nil
		}
		out.Integer += r.Integer
	}
	if req.Op == messages.DataOp_KV_MGET {
		next := map[int]int{}
		for _, i := range where {
			r := replies[i]
			j := next[i]
			next[i]++
			out.Values = append(out.Values, r.Values[j])
			out.Flags = append(out.Flags, r.Flags[j])
		}
	}
	return out, nil
}

// multiSet runs kv.mset and kv.msetnx all or nothing. Within one shard
// that is one command; across shards it is two-phase: each shard reserves
// its pairs in shard order (checking them and charging their memory; a
// reserved key makes other commands on it wait), then every shard commits,
// or every shard that reserved aborts.
func (k *Keyspace) multiSet(ctx context.Context, req *messages.DataRequest) (*messages.DataReply, error) {
	parts := map[int][]*messages.Pair{}
	for _, p := range req.Pairs {
		i := k.shardOf(p.Key)
		parts[i] = append(parts[i], p)
	}
	if len(parts) <= 1 {
		for i := range parts {
			return k.ask(ctx, i, req)
		}
		return &messages.DataReply{Ok: true}, nil
	}
	nx := req.Op == messages.DataOp_KV_MSETNX
	order := make([]int, 0, len(parts))
	for i := range parts {
		order = append(order, i)
	}
	slices.Sort(order)
	txn := k.nextTxn.Add(1)
	ctx, cancel := k.bounded(ctx)
	defer cancel()
	var reserved []int
	abort := func() {
		for _, i := range reserved {
			k.tell(i, &messages.DataRequest{Op: messages.DataOp_TXN_ABORT, Txn: txn})
		}
	}
	for _, i := range order {
		r, err := k.ask(ctx, i, &messages.DataRequest{Op: messages.DataOp_TXN_RESERVE, Txn: txn, Nx: nx,
			Pairs: parts[i]})
		if err != nil || r.ErrorCode != "" || !r.Ok {
			// A shard that timed out may still reserve later: abort it
			// too (an abort of nothing is harmless; abandoned
			// reservations also expire).
			if err != nil {
				reserved = append(reserved, i)
			}
			abort()
			return r, err
		}
		reserved = append(reserved, i)
	}
	commits := make(map[int]*messages.DataRequest, len(parts))
	for i, pairs := range parts {
		commits[i] = &messages.DataRequest{Op: messages.DataOp_TXN_COMMIT, Txn: txn, Nx: nx, Pairs: pairs}
	}
	replies, err := askAll(ctx, k, commits)
	if err != nil {
		return nil, err
	}
	out := &messages.DataReply{Ok: true}
	for _, r := range replies {
		if r.ErrorCode != "" || !r.Ok {
			return r, nil
		}
		out.Integer += r.Integer
	}
	return out, nil
}

// scan merges the shards' pages: each returns its first count keys after
// the cursor, so the first count of their union is the true next page.
func (k *Keyspace) scan(ctx context.Context, req *messages.DataRequest) (*messages.DataReply, error) {
	replies, err := k.askEvery(ctx, req)
	if err != nil {
		return nil, err
	}
	var keys []string
	more := false
	for _, r := range replies {
		if r.ErrorCode != "" {
			return r, nil
		}
		keys = append(keys, r.Keys...)
		more = more || r.HasMore
	}
	slices.Sort(keys)
	if req.Count > 0 && int64(len(keys)) > req.Count {
		keys, more = keys[:req.Count], true
	}
	return &messages.DataReply{Keys: keys, HasMore: more}, nil
}

func (k *Keyspace) count(ctx context.Context, req *messages.DataRequest) (*messages.DataReply, error) {
	replies, err := k.askEvery(ctx, req)
	if err != nil {
		return nil, err
	}
	out := &messages.DataReply{}
	for _, r := range replies {
		out.Integer += r.Integer
		out.Elements += r.Elements
		out.Bytes += r.Bytes
	}
	return out, nil
}

// txnFan runs a transaction's hold, watch, unwatch or release on the shards
// owning its keys (keys and fields), merging their pairs. Holds are taken
// one shard at a time in shard order, as reservations are, so that two
// transactions never wait on each other in a cycle.
func (k *Keyspace) txnFan(ctx context.Context, req *messages.DataRequest) (*messages.DataReply, error) {
	parts := map[int]*messages.DataRequest{}
	part := func(key string) *messages.DataRequest {
		i := k.shardOf(key)
		p := parts[i]
		if p == nil {
			p = &messages.DataRequest{Op: req.Op, Txn: req.Txn}
			parts[i] = p
		}
		return p
	}
	for _, key := range req.Keys {
		p := part(key)
		p.Keys = append(p.Keys, key)
	}
	for _, key := range req.Fields {
		p := part(key)
		p.Fields = append(p.Fields, key)
	}
	out := &messages.DataReply{Ok: true}
	if req.Op != messages.DataOp_TXN_HOLD {
		replies, err := askAll(ctx, k, parts)
		if err != nil {
			return nil, err
		}
		for _, r := range replies {
			out.Pairs = append(out.Pairs, r.Pairs...)
		}
		return out, nil
	}
	order := slices.Sorted(maps.Keys(parts))
	ctx, cancel := k.bounded(ctx)
	defer cancel()
	for _, i := range order {
		r, err := k.ask(ctx, i, parts[i])
		if err != nil {
			return nil, err
		}
		if r.ErrorCode != "" {
			return r, nil
		}
		out.Pairs = append(out.Pairs, r.Pairs...)
	}
	return out, nil
}
