package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	protocluster "github.com/asynkron/protoactor-go/cluster"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdTimeout bounds each call to etcd made outside the watch.
const etcdTimeout = 5 * time.Second

// membership is the cluster's membership in etcd (a ClusterProvider).
// Each member keeps a record under /troupe/<cluster>/members/<member id>
// bound to a lease it renews; a member that stops renewing it (killed, or
// cut off from etcd) is dropped by etcd when the lease expires. Every
// member watches the records and hands the cluster the members they list,
// from which the identity lookup places the actors.
//
// It is Troupe's own rather than Proto.Actor's etcd provider, which reads
// and writes its leadership state from two goroutines without a lock (the
// race detector stops the process). It is made when the cluster starts the
// member, after the remote has set grpc's logger, which grpc allows only
// before any connection runs.
type membership struct {
	endpoints []string
	lease     time.Duration
	name      string
	log       *slog.Logger

	client  *clientv3.Client
	cluster *protocluster.Cluster
	self    record
	key     string
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the keep-alive, watchdog and watch loops

	// lost and regained are called (from the watchdog) when this member
	// stops and starts again holding its lease; dropped when etcd answers
	// again and the lease has expired meanwhile.
	lost, regained func()
	dropped        func()
	// marks is told, before each topology, the addresses of the members
	// whose record says they are leaving, and of the others.
	marks func(leaving, staying []string)

	mu      sync.Mutex
	leaseID clientv3.LeaseID
	renewed time.Time // when the last renewal etcd confirmed was sent
	cut     bool      // lost was called last, not regained
}

var _ protocluster.ClusterProvider = (*membership)(nil)

// record is a member as etcd holds it.
type record struct {
	ID    string   `json:"id"`
	Host  string   `json:"host"`
	Port  int32    `json:"port"`
	Kinds []string `json:"kinds"`
	// Leaving is set by a member that leaves gracefully, just before it
	// removes its record: it has handed its actors over.
	Leaving bool `json:"leaving,omitempty"`
}

func (m *membership) prefix() string { return "/troupe/" + m.name + "/members/" }

// StartMember registers this member, then follows the membership.
func (m *membership) StartMember(c *protocluster.Cluster) error {
	host, portText, err := net.SplitHostPort(c.ActorSystem.Address())
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return err
	}
	m.self = record{ID: c.ActorSystem.ID, Host: host, Port: int32(port), Kinds: c.GetClusterKinds()}
	m.key = m.prefix() + m.self.ID
	if err := m.open(c); err != nil {
		return err
	}
	if err := m.register(); err != nil {
		m.client.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	members, rev, err := m.fetch(ctx)
	if err != nil {
		cancel()
		m.client.Close()
		return err
	}
	m.publish(members)
	m.wg.Add(3)
	go m.keepAlive(ctx)
	go m.watchdog(ctx)
	go m.watch(ctx, members, rev)
	return nil
}

// StartClient is not used: every Troupe node is a member.
func (m *membership) StartClient(*protocluster.Cluster) error {
	return errors.New("cluster: Troupe nodes join as members, not clients")
}

// open connects to etcd, and fails at once when it does not answer.
func (m *membership) open(c *protocluster.Cluster) error {
	client, err := clientv3.New(clientv3.Config{Endpoints: m.endpoints, DialTimeout: etcdTimeout})
	if err != nil {
		return fmt.Errorf("etcd %s: %w", strings.Join(m.endpoints, ","), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), etcdTimeout)
	_, err = client.Get(ctx, m.prefix(), clientv3.WithCountOnly())
	cancel()
	if err != nil {
		client.Close()
		return fmt.Errorf("etcd %s: %w", strings.Join(m.endpoints, ","), err)
	}
	m.client, m.cluster = client, c
	return nil
}

// register grants a lease and puts this member's record under it.
func (m *membership) register() error {
	ctx, cancel := context.WithTimeout(context.Background(), etcdTimeout)
	defer cancel()
	ttl := max(int64((m.lease+time.Second-1)/time.Second), 1)
	granted := time.Now() // the lease runs from after this
	lease, err := m.client.Grant(ctx, ttl)
	if err != nil {
		return fmt.Errorf("etcd: lease: %w", err)
	}
	value, _ := json.Marshal(m.self)
	if _, err := m.client.Put(ctx, m.key, string(value), clientv3.WithLease(lease.ID)); err != nil {
		return fmt.Errorf("etcd: registering %s: %w", m.key, err)
	}
	m.mu.Lock()
	m.leaseID = lease.ID
	m.renewed = granted
	m.mu.Unlock()
	return nil
}

// keepAlive renews the lease every third of its TTL until ctx ends. Each
// renewal counts from when it was sent, not when etcd answered it: etcd
// extends the lease to a TTL after it receives the renewal, which is after
// it was sent, so however late the answer comes (a busy machine), the
// member knows a time before which the lease cannot expire (see watchdog).
// When etcd answers that the lease is gone (it expired while this member
// could not reach etcd), the others have dropped this member: it calls
// dropped and returns. While etcd does not answer it keeps asking: etcd
// keeps leases through its own restarts.
func (m *membership) keepAlive(ctx context.Context) {
	defer m.wg.Done()
	every := m.lease / 3
	timer := time.NewTimer(every)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		m.mu.Lock()
		lease := m.leaseID
		m.mu.Unlock()
		sent := time.Now()
		askCtx, cancel := context.WithTimeout(ctx, m.lease)
		_, err := m.client.KeepAliveOnce(askCtx, lease)
		cancel()
		switch {
		case err == nil:
			m.mu.Lock()
			m.renewed = sent
			m.mu.Unlock()
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			m.dropped()
			return
		case ctx.Err() == nil:
			m.log.Warn("renewing the membership lease in etcd", "err", err)
		}
		timer.Reset(max(0, time.Until(sent.Add(every))))
	}
}

// watchdog tells the member when it can no longer count on its lease, and
// when it can again. etcd drops the record a TTL after it received the
// last renewal, so no sooner than a TTL after that renewal was sent; the
// member gives up on the lease a sixth of the TTL before that (the margin
// covers the watchdog's tick and the clocks), while the others still route
// nothing of its to themselves. A member cut off from etcd thus stops
// serving its actors before the others take them over.
func (m *membership) watchdog(ctx context.Context) {
	defer m.wg.Done()
	limit := 5 * m.lease / 6
	tick := time.NewTicker(max(m.lease/12, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		m.mu.Lock()
		stale := time.Since(m.renewed) > limit
		change := stale != m.cut
		m.cut = stale
		m.mu.Unlock()
		switch {
		case change && stale:
			m.log.Error("no renewal of the membership lease from etcd: serving nothing until it renews or this member registers again", "for", limit)
			m.lost()
		case change:
			m.log.Info("the membership lease in etcd is renewed: serving again")
			m.regained()
		}
	}
}

// fetch reads every member's record.
func (m *membership) fetch(ctx context.Context) (map[string]record, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, etcdTimeout)
	defer cancel()
	resp, err := m.client.Get(ctx, m.prefix(), clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("etcd: members: %w", err)
	}
	members := map[string]record{}
	for _, kv := range resp.Kvs {
		var r record
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			m.log.Warn("a member record that is not one", "key", string(kv.Key), "err", err)
			continue
		}
		members[string(kv.Key)] = r
	}
	return members, resp.Header.Revision, nil
}

// watch follows changes to the records from rev on, handing the cluster
// each new membership, until ctx ends. A watch that fails (compaction,
// etcd restarted) starts over from a fresh read.
func (m *membership) watch(ctx context.Context, members map[string]record, rev int64) {
	defer m.wg.Done()
	for ctx.Err() == nil {
		for resp := range m.client.Watch(clientv3.WithRequireLeader(ctx), m.prefix(), clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
			if resp.Err() != nil {
				m.log.Warn("watching the members in etcd", "err", resp.Err())
				break
			}
			// A leaving member's mark and its record's removal may come
			// in one response: the mark still counts (see publish).
			var marked []string
			for _, ev := range resp.Events {
				key := string(ev.Kv.Key)
				switch ev.Type {
				case clientv3.EventTypePut:
					var r record
					if err := json.Unmarshal(ev.Kv.Value, &r); err != nil {
						continue
					}
					members[key] = r
					if r.Leaving {
						marked = append(marked, net.JoinHostPort(r.Host, strconv.Itoa(int(r.Port))))
					}
				case clientv3.EventTypeDelete:
					delete(members, key)
				}
			}
			rev = resp.Header.Revision
			m.publish(members, marked...)
		}
		for ctx.Err() == nil {
			fresh, r, err := m.fetch(ctx)
			if err == nil {
				members, rev = fresh, r
				m.publish(members)
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(m.lease / 3):
			}
		}
	}
}

// publish hands the cluster the members, after telling marks which of
// them are leaving, with the addresses of members marked leaving whose
// records are already gone.
func (m *membership) publish(members map[string]record, marked ...string) {
	var list []*protocluster.Member
	leaving := marked
	var staying []string
	for _, r := range members {
		member := &protocluster.Member{Id: r.ID, Host: r.Host, Port: r.Port, Kinds: r.Kinds}
		list = append(list, member)
		if r.Leaving {
			leaving = append(leaving, member.Address())
		} else {
			staying = append(staying, member.Address())
		}
	}
	if m.marks != nil {
		m.marks(leaving, staying)
	}
	m.cluster.MemberList.UpdateClusterTopology(list)
}

// Shutdown stops following the membership, then removes this member's
// record (the others place its actors at once, rather than when its lease
// expires). In that order, this member never sees itself leave: Proto.Actor
// would tear down the connections to its own address on every member,
// losing the requests still on their way to it.
func (m *membership) Shutdown(bool) error {
	if m.client == nil {
		return nil
	}
	m.cancel()
	m.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), etcdTimeout)
	defer cancel()
	m.mu.Lock()
	lease := m.leaseID
	m.mu.Unlock()
	// First say so: the others then know that a request of theirs still
	// on its way here when the record goes was not handled, and resend it.
	leaving := m.self
	leaving.Leaving = true
	value, _ := json.Marshal(leaving)
	if _, err := m.client.Put(ctx, m.key, string(value), clientv3.WithLease(lease)); err != nil {
		m.log.Warn("marking this member as leaving in etcd", "err", err)
	}
	_, err := m.client.Revoke(ctx, lease) // deletes the record with the lease
	return errors.Join(err, m.client.Close())
}
