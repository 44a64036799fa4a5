package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/store/pgtest"
	"github.com/troupe-run/troupe/system/systemtest"
)

// tcpProxy forwards connections to a target until it is cut: then it
// closes every connection it carries and refuses new ones, until restored.
// A node given etcd through one loses etcd while the others keep it.
type tcpProxy struct {
	t      *testing.T
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{t: t, ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
		p.wg.Wait()
	})
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		go pipe(up, c)
		go pipe(c, up)
	}
}

// setCut cuts (closing what it carries) or restores the path.
func (p *tcpProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

// TestClusterPartitionedNode: a node whose path to etcd is cut while it
// runs loses its lease; the others take its actors, and it refuses every
// data request (503 SERVICE_UNAVAILABLE) rather than serve what it held or take
// writes the others would not see. Once the path is back it learns that
// etcd dropped it and ends; restarted, it joins again, and every
// acknowledged write reads back through every node.
func TestClusterPartitionedNode(t *testing.T) {
	c := &testCluster{t: t, etcd: startEtcd(t), pg: pgtest.Start(t)}
	proxy := startProxy(t, c.etcd)
	c.add()
	c.add()
	c.addVia(proxy.addr())
	c.waitMembers(3)
	others, cut := c.nodes[:2], c.nodes[2]
	const keys = 64 // 64 keys cover the 16 shards many times over
	acked := map[string]string{}
	for i := range keys {
		key, value := fmt.Sprintf("k%d", i), "before"
		c.nodes[i%3].ok("kv.set", map[string]any{"key": key, "value": value}, nil)
		acked[key] = value
	}
	// The cut node holds some shards.
	systemtest.Eventually(t, "the node to be cut to hold shards", func() bool {
		return strings.Contains(cut.log.String(), `"msg":"activated"`)
	})

	proxy.setCut(true)
	// The others drop it and take its shards: every key is written
	// through them.
	systemtest.Eventually(t, "the others to see 2 members", func() bool {
		return lastMemberCount(others[0].log.String()) == 2 && lastMemberCount(others[1].log.String()) == 2
	})
	client := &http.Client{Timeout: 20 * time.Second}
	for i := range keys {
		key, value := fmt.Sprintf("k%d", i), "during"
		s := others[i%2]
		systemtest.Eventually(t, "kv.set "+key+" through "+s.data, func() bool {
			return post(client, s.data, "kv.set", map[string]any{"key": key, "value": value})
		})
		acked[key] = value
	}
	// The cut node refuses: no write it would take, no read of what it
	// held before the cut.
	for i := range keys {
		key := fmt.Sprintf("k%d", i)
		for _, cmd := range []struct {
			name    string
			payload map[string]any
		}{
			{"kv.get", map[string]any{"key": key}},
			{"kv.set", map[string]any{"key": key, "value": "through the cut node"}},
		} {
			status, r, err := tryCommand(client, cut.data, cmd.name, cmd.payload)
			if err != nil || status != http.StatusServiceUnavailable || r.Error == nil || r.Error.Code != messages.CodeUnavailable {
				t.Fatalf("%s %s through the cut node: %d %v %+v (%s), want 503 %s", cmd.name, key, status, err, r.Error, r.Payload, messages.CodeUnavailable)
			}
		}
	}
	_, raw := cut.do("GET", "/health", nil)
	if !strings.Contains(string(raw), "lost its membership lease") {
		t.Fatalf("/health of the cut node: %s", raw)
	}

	proxy.setCut(false)
	// Once etcd answers it again, it learns that its lease expired: the
	// others have dropped it, and Proto.Actor's cluster never takes a
	// dropped member id back, so it ends (its supervisor restarts it).
	select {
	case err := <-cut.exited:
		cut.exited <- err
		if err == nil || !strings.Contains(cut.log.String(), "etcd dropped this member") {
			t.Fatalf("the cut node ended with %v, want a failure saying etcd dropped it:\n%s", err, tail(cut.log.String(), 4000))
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the cut node did not end within 60 s of etcd coming back:\n%s", tail(cut.log.String(), 4000))
	}
	if !strings.Contains(cut.log.String(), "cut off from etcd: stopped this member's actors") {
		t.Fatalf("the cut node did not log that it stopped its actors:\n%s", tail(cut.log.String(), 4000))
	}
	// Restarted, it joins again and serves: every acknowledged write reads
	// back through every node.
	cut.restart()
	c.waitMembers(3)
	for key, value := range acked {
		for j, s := range c.nodes {
			if got, found := getString(s, key); !found || got != value {
				t.Fatalf("after the cut node rejoined, %s through node %d: got %q found %v, want %q", key, j, got, found, value)
			}
		}
	}
	systemtest.Eventually(t, "the rejoined node to hold shards again", func() bool {
		return strings.Contains(cut.log.String(), `"msg":"activated"`)
	})
}
