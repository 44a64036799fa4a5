// Package cluster runs Troupe as a member of a cluster (--cluster-name):
// Proto.Actor's cluster places the KV shards, queues and rooms over the
// members as virtual actors, etcd holds the membership, and the shared
// PostgreSQL journal holds their state, so an actor activated on another
// member (after a failure, a join or a leave) recovers what its previous
// place acknowledged.
//
// The cluster identities are kv/shard-N, queues/<name> and rooms/<name>.
// Each is a host actor that, on activation, starts the domain's own actor
// of that name through the registry (which recovers it from the journal)
// and forwards it every request; when the cluster moves the identity
// elsewhere, the host stops it, after it has answered what it holds. The
// front doors reach them through system.Placement, which this package
// implements; on one node Placement is nil and nothing here runs.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// kinds maps each placed domain to its cluster kind.
var kinds = map[string]string{"data": "kv", "queues": "queues", "rooms": "rooms"}

// domains is kinds the other way round.
var domains = map[string]string{"kv": "data", "queues": "queues", "rooms": "rooms"}

// gossipIdle is the gossip interval: long enough that it never runs.
const gossipIdle = 365 * 24 * time.Hour

// leaveQuiet is how long no request must have reached a leaving member's
// hosts before it stops them.
const leaveQuiet = 250 * time.Millisecond

// leaveGrace is how long a leaving member keeps answering the others
// after its record is gone from etcd: they learn of it through their watch
// of etcd, within milliseconds unless etcd or they are slow.
const leaveGrace = time.Second

// Retry delays of a request that reached no actor (its member died and
// the cluster has not yet placed it elsewhere).
const (
	retryFirst = 20 * time.Millisecond
	retryMax   = 500 * time.Millisecond
)

// Node is this process as a member of the cluster. It is the system's
// Placement from New on; Join makes it a member.
type Node struct {
	sys      *system.System
	log      *slog.Logger
	cluster  *protocluster.Cluster
	provider *membership
	self     string // this member's address, host:port

	mu     sync.Mutex
	joined bool
	left   bool
	// leaving is set as Leave starts: from then on no host activates its
	// actor here, and hosts holds the ones active, which Leave hands over.
	leaving bool
	hosts   map[*actor.PID]*protocluster.ClusterIdentity
	// welcomed is set once the other members have answered this one's
	// Welcome (see welcome): until then it activates no actor.
	welcomed bool
	// cut is set while this member cannot count on its lease in etcd
	// (cut off from it): the others may hold its actors by now, so it
	// serves none (see membership.watchdog).
	cut bool
	// refused is when a host here last answered "not here" (unix ns).
	refused atomic.Int64
	// owners maps each actor name to the host (its id) that last
	// activated it here; releasing holds a channel, closed once done, for
	// each actor a host is handing over.
	owners    map[string]string
	releasing map[string]chan struct{}
	// topology is closed, and replaced, when the members change; addrs
	// are the members' addresses then.
	topology chan struct{}
	addrs    map[string]bool
	// rdv places each identity on one of the members (see lookup).
	rdv *protocluster.Rendezvous
	// graceful holds the addresses whose member said it was leaving
	// gracefully (until a member at that address stays again).
	graceful map[string]bool
}

// errCut is the answer to every request while this member is cut off
// from etcd: the data door answers it 503 UNAVAILABLE.
var errCut = errors.New("this member has lost its membership lease in etcd: it serves no data until it holds one again; ask another member")

var _ system.Placement = (*Node)(nil)

// New prepares the membership from sys.Config and sets sys.Placement, so
// that the domains started after it route through the cluster. It must be
// called before the domains start, and Join after.
func New(sys *system.System) (*Node, error) {
	c := sys.Config
	bindHost, portText, err := net.SplitHostPort(c.ClusterBind)
	if err != nil {
		return nil, fmt.Errorf("--cluster-bind: %w", err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("--cluster-bind: port %q: %w", portText, err)
	}
	provider := &membership{endpoints: c.ClusterEtcd, lease: c.ClusterLease, name: c.ClusterName,
		log: sys.Log.With("component", "cluster")}
	n := &Node{sys: sys, log: sys.Log.With("component", "cluster"), provider: provider,
		self: net.JoinHostPort(bindHost, portText), hosts: map[*actor.PID]*protocluster.ClusterIdentity{}, topology: make(chan struct{}),
		owners: map[string]string{}, releasing: map[string]chan struct{}{}, graceful: map[string]bool{}}
	sys.Actors.EventStream.Subscribe(n.onTopology)
	if _, err := sys.Root.SpawnNamed(actor.PropsFromFunc(n.receiveWelcome), welcomeName); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	var ks []*protocluster.Kind
	for kind := range domains {
		ks = append(ks, protocluster.NewKind(kind, actor.PropsFromProducer(func() actor.Actor { return &host{node: n} },
			actor.WithReceiverMiddleware(retireOnPoison))))
	}
	cfg := protocluster.Configure(c.ClusterName, provider, disthash.New(), remote.Configure(bindHost, port),
		protocluster.WithKinds(ks...), protocluster.WithRequestTimeout(c.RequestTimeout))
	// Membership comes from etcd, not gossip, and the identity lookup
	// needs none of gossip's state. Gossip is left idle: its loop hands
	// its state to the remote by reference and goes on changing it, a
	// data race that stops the process under the race detector.
	cfg.GossipInterval = gossipIdle
	cfg.HeartbeatExpiration = gossipIdle
	n.cluster = protocluster.New(sys.Actors, cfg)
	provider.lost, provider.regained, provider.dropped = n.suspend, n.resume, n.dropped
	provider.marks = n.mark
	if err := n.registerMetrics(); err != nil {
		return nil, err
	}
	sys.Placement = n
	return n, nil
}

// Join starts the actor traffic between members and registers this member
// in etcd; from then on the cluster places actors on it.
func (n *Node) Join() (err error) {
	// Proto.Actor's cluster panics when its provider cannot start (etcd
	// unreachable): that is a failed start, not a crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cluster: joining %q through etcd %s: %v", n.sys.Config.ClusterName,
				strings.Join(n.sys.Config.ClusterEtcd, ","), r)
		}
	}()
	n.cluster.StartMember()
	n.mu.Lock()
	n.joined = true
	n.mu.Unlock()
	n.welcome()
	n.log.Info("joined the cluster", "cluster", n.sys.Config.ClusterName, "address", n.self,
		"members", len(n.cluster.MemberList.Members().Members()))
	return nil
}

// welcomeName is the name of each member's actor that answers Welcome.
const welcomeName = "troupe-welcome"

// welcome asks every other member to see this one and hand over the actors
// it now holds, and waits for their answers before this member activates
// any actor. Without it, a member that has not yet seen the joiner goes on
// serving (and activating) an identity that the joiner, which sees both,
// activates too, and writes acknowledged by one are missing from the
// other's state. A member that does not answer within --request-timeout is
// dead or cut off from etcd (and then stops its actors by itself).
func (n *Node) welcome() {
	self := n.sys.Actors.Address()
	var futures []actor.Future
	for _, addr := range n.Members() {
		if addr != self {
			futures = append(futures, n.sys.Root.RequestFuture(actor.NewPID(addr, welcomeName),
				&messages.Welcome{Member: self}, n.sys.Config.RequestTimeout))
		}
	}
	for _, f := range futures {
		if _, err := f.Result(); err != nil {
			n.log.Warn("a member did not welcome this one", "err", err)
		}
	}
	n.mu.Lock()
	n.welcomed = true
	n.mu.Unlock()
}

// receiveWelcome answers a joiner's Welcome (see welcome) once this member
// sees the joiner, and has handed over every actor that the topology now
// places elsewhere (from then on it activates none of them: see ownsLocked). A
// member that is leaving or cut off holds nothing and answers at once. It
// waits in a goroutine of its own, which ends by --request-timeout.
func (n *Node) receiveWelcome(ctx actor.Context) {
	msg, ok := ctx.Message().(*messages.Welcome)
	if !ok {
		return
	}
	sender, joiner := ctx.Sender(), msg.Member
	go func() {
		deadline := time.NewTimer(n.sys.Config.RequestTimeout)
		defer deadline.Stop()
		for {
			changed, members := n.topologyChanged()
			n.mu.Lock()
			idle := n.leaving || n.cut
			n.mu.Unlock()
			if members[joiner] || idle {
				break
			}
			select {
			case <-changed:
			case <-deadline.C:
				n.log.Warn("a joining member never appeared in etcd", "member", joiner)
				return
			}
		}
		var moved []*actor.PID
		n.mu.Lock()
		for pid, ci := range n.hosts {
			if !n.ownsLocked(ci) {
				moved = append(moved, pid)
			}
		}
		n.mu.Unlock()
		n.handOver(moved)
		n.sys.Root.Send(sender, &messages.Welcomed{})
	}()
}

// ownsLocked reports whether the current topology places the identity on
// this member; n.mu is held.
func (n *Node) ownsLocked(ci *protocluster.ClusterIdentity) bool {
	return n.rdv != nil && n.rdv.GetByClusterIdentity(ci) == n.sys.Actors.Address()
}

// Leave hands this member's actors over to the others and removes its
// record from etcd. It is called as the process shuts down, and answers
// every request that reaches it meanwhile, so that no client waits on it:
//
//  1. Each host stops its actor after the actor has answered every request
//     forwarded to it (its acknowledged writes are in the journal); from
//     then on a host answers each request with a dead letter, which the
//     sender takes as "not here" and sends again once it has looked the
//     actor up afresh. No host activates an actor here any more.
//  2. The record goes from etcd: the others place the actors among
//     themselves, activating them from the journal.
//  3. For leaveGrace the hosts and the placement go on answering (with
//     dead letters) what the others sent before they learnt of the leave;
//     then they stop.
//
// The other way round (leaving etcd first), for a moment two members
// would hold the same actor, and a write acknowledged by this one could
// miss the state the other recovered.
func (n *Node) Leave() {
	n.mu.Lock()
	joined, left := n.joined, n.left
	n.left, n.leaving = true, true
	hosts := slices.Collect(maps.Keys(n.hosts))
	n.mu.Unlock()
	if !joined || left {
		return
	}
	start := time.Now()
	n.handOver(hosts)
	if err := n.provider.Shutdown(true); err != nil {
		n.log.Warn("leaving etcd", "err", err)
	}
	// Wait for the others to learn of the leave: at least leaveGrace, and
	// until no request has reached a host here for leaveQuiet (one that
	// is still sent here is answered "not here" rather than lost as the
	// process ends), at most --request-timeout.
	deadline := time.Now().Add(n.sys.Config.RequestTimeout)
	time.Sleep(leaveGrace)
	for time.Now().Before(deadline) {
		quiet := time.Since(time.Unix(0, n.refused.Load()))
		if quiet >= leaveQuiet {
			break
		}
		time.Sleep(leaveQuiet - quiet)
	}
	n.cluster.IdentityLookup.Shutdown()
	// The remote's server is left to end with the process: protoactor's
	// Remote.Shutdown writes its readers' state unsynchronised with the
	// goroutines reading it (a race the race detector stops it for).
	n.log.Info("left the cluster", "actors", len(hosts), "took", time.Since(start))
}

// handOver sends handOver to the hosts and waits until each has released its
// actor.
func (n *Node) handOver(hosts []*actor.PID) {
	futures := make([]actor.Future, 0, len(hosts))
	for _, pid := range hosts {
		futures = append(futures, n.sys.Root.RequestFuture(pid, handOver{}, n.sys.Config.RequestTimeout))
	}
	for _, f := range futures {
		if _, err := f.Result(); err != nil && !errors.Is(err, actor.ErrDeadLetter) {
			n.log.Warn("handing over", "err", err)
		}
	}
}

// suspend stops this member's actors when it can no longer count on its
// lease: the others are about to place them among themselves, and a write
// taken here after that would be one they do not see. Until resume, every
// request through this member is refused.
func (n *Node) suspend() {
	n.mu.Lock()
	n.cut = true
	hosts := slices.Collect(maps.Keys(n.hosts))
	n.mu.Unlock()
	n.handOver(hosts)
	n.log.Warn("cut off from etcd: stopped this member's actors", "actors", len(hosts))
}

// dropped ends the process once etcd has dropped this member (its lease
// expired while it was cut off): the others have blocked its member id,
// which Proto.Actor's cluster never lets back in, so only a new process
// (restarted by its supervisor) can join again. Until the process ends it
// goes on refusing requests.
func (n *Node) dropped() {
	n.log.Error("etcd dropped this member while it was cut off; ending the process")
	n.sys.Fail(errors.New("cluster: etcd dropped this member while it was cut off (its lease expired); " +
		"the others will not take it back: restart it to rejoin"))
}

// resume serves again once the lease is renewed (or a new one granted).
func (n *Node) resume() {
	n.mu.Lock()
	n.cut = false
	n.mu.Unlock()
}

// registerMetrics adds the membership to /metrics.
func (n *Node) registerMetrics() error {
	reg := n.sys.Metrics.Registry()
	members := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "troupe_cluster_members", Help: "Members of the cluster this node sees in etcd.",
	}, func() float64 { return float64(len(n.Members())) })
	if err := reg.Register(members); err != nil {
		return err
	}
	for kind := range domains {
		held := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "troupe_cluster_actors", Help: "Cluster actors (KV shards, queues, rooms) active on this member, by kind.",
			ConstLabels: prometheus.Labels{"kind": kind},
		}, func() float64 { return float64(n.cluster.GetClusterKind(kind).Count()) })
		if err := reg.Register(held); err != nil {
			return err
		}
	}
	return nil
}

// Members returns the addresses of the members this node knows of.
func (n *Node) Members() []string {
	var out []string
	for _, m := range n.cluster.MemberList.Members().Members() {
		out = append(out, m.Address())
	}
	return out
}

// Status implements system.Placement.
func (n *Node) Status() string {
	n.mu.Lock()
	joined, left := n.joined, n.left
	n.mu.Unlock()
	switch {
	case left:
		return "degraded: left the cluster"
	case !joined:
		return "degraded: not joined yet"
	case n.isCut():
		return "degraded: " + errCut.Error()
	}
	members := n.Members()
	if !slices.Contains(members, n.self) {
		return fmt.Sprintf("degraded: this member (%s) is not among the %d in etcd", n.self, len(members))
	}
	var held []string
	total := 0
	for _, kind := range slices.Sorted(maps.Keys(domains)) {
		c := int(n.cluster.GetClusterKind(kind).Count())
		total += c
		held = append(held, fmt.Sprintf("%s %d", kind, c))
	}
	return fmt.Sprintf("operational: %d members (%s); %d actors here (%s)", len(members),
		strings.Join(members, ", "), total, strings.Join(held, ", "))
}

// serving is true while this member may hold actors: joined, not
// leaving, not cut off from etcd.
func (n *Node) serving() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.joined && n.welcomed && !n.leaving && !n.cut
}

func (n *Node) isCut() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cut
}

// Ask implements system.Placement.
func (n *Node) Ask(ctx context.Context, name string, msg any) (any, error) {
	identity, kind, err := split(name)
	if err != nil {
		return nil, err
	}
	if n.isCut() {
		return nil, fmt.Errorf("%s: %w", name, errCut)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.sys.Config.RequestTimeout)
		defer cancel()
	}
	wait := retryFirst
	var timer *time.Timer
	refusedBy := "" // the member that last answered "not here"
	for {
		if n.isCut() {
			return nil, fmt.Errorf("%s: %w", name, errCut)
		}
		pid := n.pid(ctx, identity, kind)
		if pid != nil {
			res, err := n.request(ctx, pid, msg, pid.Address == refusedBy)
			if !errors.Is(err, actor.ErrDeadLetter) {
				return res, err
			}
			// Nobody received it: the actor stopped (handed over) or
			// its member is gone. Ask the cluster where it is now.
			n.cluster.PidCache.RemoveByValue(identity, kind, pid)
			refusedBy = pid.Address
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: no member holds it yet: %w", name, ctx.Err())
		case <-timer.C:
		}
		wait = min(2*wait, retryMax)
	}
}

// Tell implements system.Placement.
func (n *Node) Tell(name string, msg any) {
	identity, kind, err := split(name)
	if err != nil {
		n.log.Warn("tell", "err", err)
		return
	}
	if n.isCut() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.sys.Config.RequestTimeout)
	defer cancel()
	if pid := n.pid(ctx, identity, kind); pid != nil {
		n.sys.Root.Send(pid, msg)
	}
}

// Others implements system.Placement.
func (n *Node) Others(ctx context.Context, name string, msg any) []any {
	local, ok := n.sys.Registry.Lookup(name)
	if !ok {
		return nil
	}
	timeout := n.patience(ctx)
	var futures []actor.Future
	for _, m := range n.cluster.MemberList.Members().Members() {
		if addr := m.Address(); addr != n.self {
			futures = append(futures, n.sys.Root.RequestFuture(actor.NewPID(addr, local.Id), msg, timeout))
		}
	}
	var replies []any
	for _, f := range futures {
		if res, err := f.Result(); err == nil {
			replies = append(replies, res)
		}
	}
	return replies
}

// pid returns the host actor of the identity, activating it on its member
// when needed; nil while no member can take it.
func (n *Node) pid(ctx context.Context, identity, kind string) *actor.PID {
	if pid, ok := n.cluster.PidCache.Get(identity, kind); ok {
		return pid
	}
	n.mu.Lock()
	joined := n.joined && !n.left
	n.mu.Unlock()
	if !joined {
		return nil
	}
	pid := n.lookup(ctx, protocluster.NewClusterIdentity(identity, kind))
	if pid != nil {
		n.cluster.PidCache.Set(identity, kind, pid)
	}
	return pid
}

// lookup asks the member that owns the identity in the current topology
// (by the same rendezvous hash as Proto.Actor's disthash lookup, whose
// placement actors answer the request) to activate it, and returns its
// host. It is this package's own rather than disthash's Get, which holds
// its topology lock for as long as the owner takes to answer, up to a fixed
// 5 s: when the owner leaves meanwhile and the request is lost with its
// connection, every lookup and the topology update itself wait behind it.
// Here the request is given up as soon as its owner leaves the topology
// (an activation is safe to ask again), and the caller looks again.
func (n *Node) lookup(ctx context.Context, ci *protocluster.ClusterIdentity) *actor.PID {
	n.mu.Lock()
	rdv := n.rdv
	n.mu.Unlock()
	if rdv == nil {
		return nil
	}
	owner := rdv.GetByClusterIdentity(ci)
	if owner == "" {
		return nil
	}
	activator := actor.NewPID(owner, disthash.PartitionActivatorActorName)
	f := n.sys.Root.RequestFuture(activator, &protocluster.ActivationRequest{ClusterIdentity: ci}, n.patience(ctx))
	res, err := n.unlessGone(f, owner, true)
	if err != nil {
		return nil
	}
	if r, ok := res.(*protocluster.ActivationResponse); ok && !r.Failed {
		return r.Pid
	}
	return nil
}

// request sends msg to a host actor and waits for the reply. A host on
// this member is asked through the system's reusable inboxes; one on
// another member through a future, whose reply comes over the network.
//
// When the host's member leaves the topology while the request is on its
// way, Proto.Actor tears down the connection to it, and what was still
// queued there is lost, its sender left waiting to its deadline. If that
// member had already answered this request "not here" (refused), or said
// in etcd that it was leaving gracefully (having handed its actors over
// before), it handles nothing more, so the request is answered "not here"
// at once and sent again. A member that died may have handled it: that
// request waits for its reply, or its deadline, as before.
func (n *Node) request(ctx context.Context, pid *actor.PID, msg any, refused bool) (any, error) {
	if pid.Address == n.sys.Actors.Address() {
		return n.sys.Ask(ctx, pid, msg)
	}
	f := n.sys.Root.RequestFuture(pid, msg, n.patience(ctx))
	res, err := n.unlessGone(f, pid.Address, refused)
	if errors.Is(err, actor.ErrTimeout) {
		return nil, fmt.Errorf("%s at %s did not answer in time: %w", pid.Id, pid.Address, context.DeadlineExceeded)
	}
	if err != nil {
		return nil, err
	}
	if f, ok := res.(*messages.Failure); ok {
		return nil, fmt.Errorf("%w: %s: %s", system.ErrFailed, f.Actor, f.Reason)
	}
	return res, nil
}

// patience is how long a request may wait for its reply: until ctx's
// deadline, and never less than a millisecond (Proto.Actor's future with a
// negative timeout, as a deadline just passed gives, waits for ever).
func (n *Node) patience(ctx context.Context) time.Duration {
	d, ok := ctx.Deadline()
	if !ok {
		return n.sys.Config.RequestTimeout
	}
	return max(time.Until(d), time.Millisecond)
}

// unlessGone waits for f's result, or answers a dead letter as soon as the
// member at addr is no longer in the topology, if it refused or left
// gracefully (see request). The goroutine that waits
// for the future ends with it, at its deadline at the latest.
func (n *Node) unlessGone(f actor.Future, addr string, refused bool) (any, error) {
	type result struct {
		res any
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := f.Result()
		done <- result{res, err}
	}()
	for {
		changed, members := n.topologyChanged()
		if !members[addr] && (refused || n.leftGracefully(addr)) {
			return nil, actor.ErrDeadLetter
		}
		select {
		case r := <-done:
			return r.res, r.err
		case <-changed:
		}
	}
}

// mark records which members' records say they are leaving.
func (n *Node) mark(leaving, staying []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range leaving {
		n.graceful[a] = true
	}
	for _, a := range staying {
		delete(n.graceful, a)
	}
}

// topologyChanged returns the members' addresses and a channel closed at
// their next change.
func (n *Node) topologyChanged() (<-chan struct{}, map[string]bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.topology, n.addrs
}

func (n *Node) leftGracefully(addr string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.graceful[addr]
}

// onTopology records the members of a new topology and wakes the requests
// waiting on topologyChanged.
func (n *Node) onTopology(ev any) {
	t, ok := ev.(*protocluster.ClusterTopology)
	if !ok {
		return
	}
	addrs := make(map[string]bool, len(t.Members))
	for _, m := range t.Members {
		addrs[m.Address()] = true
	}
	rdv := protocluster.NewRendezvous()
	rdv.UpdateMembers(t.Members)
	n.mu.Lock()
	close(n.topology)
	n.topology, n.addrs, n.rdv = make(chan struct{}), addrs, rdv
	n.mu.Unlock()
}

// split turns a registry name into a cluster identity and kind.
func split(name string) (identity, kind string, err error) {
	domain, identity, _ := strings.Cut(name, "/")
	kind, ok := kinds[domain]
	if !ok || identity == "" {
		return "", "", fmt.Errorf("%w: %q is not placed by the cluster", system.ErrUnknownDomain, name)
	}
	return identity, kind, nil
}

// host is a cluster identity's actor on the member the cluster placed it
// on: it starts the domain's actor of the same name, forwards it every
// request (the reply goes straight back to the sender, wherever it is) and
// stops it when the identity moves.
type host struct {
	node    *Node
	ci      *protocluster.ClusterIdentity
	name    string
	local   *actor.PID
	retired bool // moved elsewhere: stopping soon, never active again
}

// handOver tells a host that its member is leaving, or cut off from
// etcd: it stops its actor and answers every later request with a dead
// letter, until its member serves again (a cut that ended with the lease
// still held).
type handOver struct{}

func (h *host) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		h.ci = protocluster.GetClusterIdentity(ctx)
		h.name = domains[h.ci.Kind] + "/" + h.ci.Identity
		n := h.node
		n.mu.Lock()
		n.hosts[ctx.Self()] = h.ci
		n.mu.Unlock()
		if n.serving() {
			h.activate(ctx)
		}
	case retire:
		// The identity moved to another member (or the placement is
		// stopping). The members that have not yet seen the new topology
		// send here for a moment more: answer them "not here" for
		// leaveGrace before stopping, since a request left in a stopped
		// actor's mailbox is never answered. Holding nothing from now
		// on, it leaves the hosts that a leave or a joiner's welcome
		// hands over: a hand-over asked of it as it stops would never be
		// answered, and would wait out its timeout.
		h.retired = true
		h.release(ctx)
		self := ctx.Self()
		h.node.mu.Lock()
		delete(h.node.hosts, self)
		h.node.mu.Unlock()
		time.AfterFunc(leaveGrace, func() { h.node.sys.Root.Stop(self) })
	case handOver:
		h.release(ctx)
		ctx.Respond(handOver{})
	case *actor.Stopping:
		h.release(ctx)
		h.node.mu.Lock()
		delete(h.node.hosts, ctx.Self())
		h.node.mu.Unlock()
	case *protocluster.ClusterInit, *actor.Stopped, *actor.Restarting, *actor.ReceiveTimeout:
	case actor.SystemMessage, actor.AutoReceiveMessage:
	default:
		if h.local == nil && !h.retired && h.node.serving() {
			h.activate(ctx) // after a cut from etcd, once the lease is renewed
		}
		if h.local == nil {
			// Not held here (handed over, or not activated): the sender
			// takes a dead letter as "look it up again and resend".
			h.node.refused.Store(time.Now().UnixNano())
			ctx.Respond(&actor.DeadLetterResponse{Target: ctx.Self()})
			return
		}
		ctx.Forward(h.local)
	}
}

// activate starts the host's actor, which recovers from the journal. When
// that fails (the journal unreachable, say) the host stops, so that the
// next request activates it again.
func (h *host) activate(ctx actor.Context) {
	n, self := h.node, ctx.Self().Id
	for {
		n.mu.Lock()
		if !n.ownsLocked(h.ci) {
			// A member whose topology is not this one's sent for it:
			// the member this one's topology places it on may hold it,
			// so this one takes nothing (the sender looks again, and
			// the two agree once both have seen the same topology).
			n.mu.Unlock()
			return
		}
		wait := n.releasing[h.name]
		if wait == nil {
			n.owners[h.name] = self
		}
		n.mu.Unlock()
		if wait == nil {
			break
		}
		<-wait // a host here that held the actor before is handing it over
	}
	pid, err := n.sys.Registry.Get(h.name)
	if err != nil {
		n.log.Error("activating", "actor", h.name, "err", err)
		n.mu.Lock()
		if n.owners[h.name] == self {
			delete(n.owners, h.name)
		}
		n.mu.Unlock()
		ctx.Stop(ctx.Self())
		return
	}
	h.local = pid
	n.log.Debug("activated", "actor", h.name)
}

// retire is what the placement's poison pill becomes for a host (see
// retireOnPoison).
type retire struct{}

// retireOnPoison hands a host the poison pill the placement sends it when
// its identity moves (or the placement stops) as a retire message: a
// poison pill stops the actor at once, and the requests behind it in its
// mailbox would go unanswered, their senders waiting out their deadline.
func retireOnPoison(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
		if _, ok := env.Message.(*actor.PoisonPill); ok {
			env = &actor.MessageEnvelope{Header: env.Header, Message: retire{}, Sender: env.Sender}
		}
		next(c, env)
	}
}

// release stops the host's actor after it has answered every request
// forwarded to it before (a poison pill queues behind them, where a stop
// would pass them by and leave their senders waiting), waits for its
// writes to reach the journal, and forgets it.
func (h *host) release(ctx actor.Context) {
	if h.local == nil {
		return
	}
	// When the topology moves an identity away and back, the placement
	// starts a second host for it here while the first retires; they
	// share the registry's actor, which only the last to activate it
	// stops.
	n := h.node
	n.mu.Lock()
	if n.owners[h.name] != ctx.Self().Id {
		n.mu.Unlock()
		h.local = nil
		return
	}
	delete(n.owners, h.name)
	done := make(chan struct{})
	n.releasing[h.name] = done
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.releasing, h.name)
		n.mu.Unlock()
		close(done)
	}()
	if err := ctx.PoisonFuture(h.local).Wait(); err != nil {
		h.node.log.Warn("handing over", "actor", h.name, "err", err)
	}
	// The actor's last writes may still be on their way to the journal
	// (it answers each once written): the member that takes the actor
	// next must recover them, so wait for them. An empty batch's callback
	// runs after those of every batch committed before it.
	written := make(chan error, 1)
	st := h.node.sys.Store
	st.Commit(st.NewBatch(), func(err error) { written <- err })
	if err := <-written; err != nil {
		h.node.log.Warn("handing over: the journal", "actor", h.name, "err", err)
	}
	if err := h.node.sys.Registry.Forget(h.name); err != nil {
		h.node.log.Warn("handing over", "actor", h.name, "err", err)
	}
	h.local = nil
}
