package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
)

// Queue throughput side by side, in one run: durable work queues with 32
// publishers and 32 consumers, each message published, delivered to one
// consumer and acknowledged:
//
//   - Troupe over the WebSocket: publishers send queue.publish frames,
//     consumers get queue.subscribe pushes and send queue.ack frames;
//   - the same with the consumers on the original's endpoint
//     /queue/{name}/ws/{consumer_id}, where an ack is answered only when it
//     fails (a frame less per message);
//   - Troupe over HTTP: queue.publish, queue.consume (waiting) and queue.ack;
//   - NATS JetStream (Debian nats-server): a work-queue stream on file
//     storage, a shared durable pull consumer with explicit acks;
//   - Redis (Debian redis-server, appendonly with appendfsync everysec):
//     LPUSH, then BRPOPLPUSH to a processing list and LREM as the ack.
//
// Troupe runs with --fsync=batch (an fsync every 10 ms). A peer that is
// not installed is skipped, saying so. Publishers stay at most a window of
// messages ahead of the acks, so every queue's depth stays bounded.

const (
	queueWorkers = 32
	queueWindow  = 4096
)

// flow bounds the messages published and not yet acked, and counts acks.
type flow struct {
	tokens chan struct{}
	acked  atomic.Int64
	stop   atomic.Bool
}

func newFlow() *flow {
	f := &flow{tokens: make(chan struct{}, queueWindow)}
	for range queueWindow {
		f.tokens <- struct{}{}
	}
	return f
}

// take waits for room to publish; false once the run is over.
func (f *flow) take() bool {
	for !f.stop.Load() {
		select {
		case <-f.tokens:
			return true
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

func (f *flow) ack() {
	f.acked.Add(1)
	select {
	case f.tokens <- struct{}{}:
	default:
	}
}

// measure runs for d after a warm-up and returns acks per second.
func (f *flow) measure(d time.Duration) float64 {
	time.Sleep(d / 5)
	pid := int(lastServer.Load())
	start, n0, cpu0 := time.Now(), f.acked.Load(), cpuTime(pid)
	time.Sleep(d)
	n := f.acked.Load() - n0
	rate := float64(n) / time.Since(start).Seconds()
	if cpu := cpuTime(pid) - cpu0; n > 0 && cpu > 0 {
		lastCPUPerMessage.Store(int64(cpu / time.Duration(n)))
	}
	f.stop.Store(true)
	return rate
}

// lastServer is the process of the server being measured (the last one
// started), lastCPUPerMessage the CPU time it spent per message acked in
// the last measurement: a figure that another process's load on a shared
// machine moves much less than the rate.
var lastServer, lastCPUPerMessage atomic.Int64

// cpuTime returns the user and system time pid has used, from
// /proc/<pid>/stat (0 when unreadable).
func cpuTime(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces, in parentheses):
	// utime and stime are the 12th and 13th, in clock ticks (100 a second).
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(raw[i+1:]))
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// benchQueuePeers measures each peer rounds times, taking turns (so that
// a spell of load from elsewhere on a shared machine falls on all of them),
// and compares the medians.
// only, when not empty, names the peers to measure by their keys.
func benchQueuePeers(troupeBin string, d time.Duration, rounds int, only string) error {
	fmt.Printf("durable work queue, %d publishers and %d consumers, %s per run, %d rounds taking turns\n",
		queueWorkers, queueWorkers, d, rounds)
	type peer struct {
		key, name string
		f         func(time.Duration) (float64, error)
	}
	all := []peer{
		{"ws", "troupe queue over WebSocket", func(d time.Duration) (float64, error) { return troupeQueueWS(troupeBin, d, false) }},
		{"ws-original", "troupe queue over WS, original ack", func(d time.Duration) (float64, error) { return troupeQueueWS(troupeBin, d, true) }},
		{"http", "troupe queue over HTTP", func(d time.Duration) (float64, error) { return troupeQueueHTTP(troupeBin, d) }},
		{"nats", "NATS JetStream (work queue, file)", natsQueue},
		{"redis", "Redis (LPUSH/BRPOPLPUSH+LREM, AOF)", redisQueue},
	}
	peers := all
	if only != "" {
		keys := strings.Split(only, ",")
		peers = slices.DeleteFunc(slices.Clone(all), func(p peer) bool { return !slices.Contains(keys, p.key) })
		if len(peers) != len(keys) {
			return fmt.Errorf("--queue-peers %q: the peers are ws, ws-original, http, nats and redis", only)
		}
	}
	rates := make([][]float64, len(peers))
	cpus := make([][]float64, len(peers)) // µs of server CPU per message
	failed := make([]bool, len(peers))
	for r := range rounds {
		for i, p := range peers {
			if failed[i] {
				continue
			}
			lastCPUPerMessage.Store(0)
			rate, err := p.f(d)
			switch {
			case errors.Is(err, errSkipped):
				fmt.Printf("%-34s skipped: %v\n", p.name, err)
				failed[i] = true
			case err != nil:
				fmt.Printf("%-34s failed: %v\n", p.name, err)
				failed[i] = true
			default:
				cpu := time.Duration(lastCPUPerMessage.Load())
				fmt.Printf("round %d  %-34s %10.0f messages/s  %6.1f µs of server CPU per message\n", r+1, p.name, rate,
					float64(cpu)/float64(time.Microsecond))
				rates[i] = append(rates[i], rate)
				cpus[i] = append(cpus[i], float64(cpu)/float64(time.Microsecond))
			}
		}
	}
	type result struct {
		name string
		rate float64
		cpu  float64
	}
	var results []result
	for i, p := range peers {
		if len(rates[i]) > 0 {
			slices.Sort(rates[i])
			slices.Sort(cpus[i])
			results = append(results, result{p.name, rates[i][len(rates[i])/2], cpus[i][len(cpus[i])/2]})
		}
	}
	fmt.Println("medians:")
	for _, r := range results {
		fmt.Printf("%-34s %10.0f messages/s  %6.1f µs of server CPU per message\n", r.name, r.rate, r.cpu)
	}
	if len(results) > 1 {
		fmt.Println("ratios of the medians (row / column):")
		for _, a := range results {
			var parts []string
			for _, b := range results {
				if a.name != b.name {
					parts = append(parts, fmt.Sprintf("%.2f vs %s", a.rate/b.rate, b.name))
				}
			}
			fmt.Printf("  %s: %s\n", a.name, strings.Join(parts, "; "))
		}
	}
	return nil
}

var errSkipped = errors.New("not installed")

var (
	queuePushPrefix = []byte(`{"type":"queue_message"`)
	messageIDKey    = []byte(`"message_id":"`)
	ackHead         = []byte(`{"command":"queue.ack","payload":{"queue":"bench","message_id":"`)
	ackTail         = []byte(`"}}`)
	// The original's consumer endpoint's push and ack.
	origPushPrefix = []byte(`{"type":"message"`)
	origAckHead    = []byte(`{"command":"ack","message_id":"`)
	origAckTail    = []byte(`"}`)
)

// messageID finds the message_id of a pushed queue message; nil if none.
func messageID(frame []byte) []byte {
	i := bytes.Index(frame, messageIDKey)
	if i < 0 {
		return nil
	}
	rest := frame[i+len(messageIDKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return nil
	}
	return rest[:j]
}

// wsSend writes one command frame.
func wsSend(ctx context.Context, c *websocket.Conn, command string, payload any) error {
	raw, _ := json.Marshal(map[string]any{"command": command, "payload": payload})
	return c.Write(ctx, websocket.MessageText, raw)
}

// troupeQueueWS measures the queue over WebSockets: publishers on
// /api/v1/ws, consumers there too (queue.subscribe, queue.ack answered) or,
// with original, on /queue/bench/ws/{consumer} (acks answered only when
// they fail).
func troupeQueueWS(troupeBin string, d time.Duration, original bool) (float64, error) {
	// A connection's queue is made at its full --ws-buffer: 100,000 frames
	// for each of the 64 made the server's heap 100 MB, so that a run's
	// garbage was all fresh memory (page faults). No client here can have
	// more than queueWindow frames queued.
	base, stop, err := startTroupe(troupeBin, "--fsync=batch", "--ws-buffer=8192", "--max-sessions=1000")
	if err != nil {
		return 0, err
	}
	defer stop()
	if _, err := call(newClient(1), base, []byte(`{"command":"queue.create","payload":{"queue":"bench","config":{"max_depth":1000000}}}`)); err != nil {
		return 0, err
	}
	url := "ws" + strings.TrimPrefix(base, "http") + "/api/v1/ws"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFlow()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	pushPrefix, head, tail := queuePushPrefix, ackHead, ackTail
	if original {
		pushPrefix, head, tail = origPushPrefix, origAckHead, origAckTail
	}
	for i := range queueWorkers {
		consURL := url
		if original {
			consURL = "ws" + strings.TrimPrefix(base, "http") + "/queue/bench/ws/c" + strconv.Itoa(i)
		}
		cons, _, err := websocket.Dial(ctx, consURL, nil)
		if err != nil {
			return 0, err
		}
		cons.SetReadLimit(-1)
		defer cons.CloseNow()
		if !original {
			if err := wsSend(ctx, cons, "queue.subscribe", map[string]any{"queue": "bench", "consumer_id": "c" + strconv.Itoa(i)}); err != nil {
				return 0, err
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ack []byte
			for {
				_, data, err := cons.Read(ctx)
				if err != nil {
					return
				}
				// Frames are read and written by hand, as the NATS and Redis
				// clients parse and encode their protocols: a push starts
				// {"type":"queue_message", and its message_id (of the
				// server's own making) needs no unescaping. The replies to
				// the acks are skipped unread.
				if !bytes.HasPrefix(data, pushPrefix) {
					continue
				}
				id := messageID(data)
				if id == nil {
					return
				}
				ack := append(append(append(ack[:0], head...), id...), tail...)
				if cons.Write(ctx, websocket.MessageText, ack) != nil {
					return
				}
				f.ack()
			}
		}()
		pub, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			return 0, err
		}
		pub.SetReadLimit(-1)
		defer pub.CloseNow()
		wg.Add(2)
		go func() { // the publisher's replies, read so that its socket flows
			defer wg.Done()
			for {
				if _, _, err := pub.Read(ctx); err != nil {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			publish := []byte(`{"command":"queue.publish","payload":{"queue":"bench","message":"job"}}`)
			for f.take() {
				if pub.Write(ctx, websocket.MessageText, publish) != nil {
					return
				}
			}
		}()
	}
	return f.measure(d), nil
}

func troupeQueueHTTP(troupeBin string, d time.Duration) (float64, error) {
	base, stop, err := startTroupe(troupeBin, "--fsync=batch")
	if err != nil {
		return 0, err
	}
	defer stop()
	client := newClient(2 * queueWorkers)
	if _, err := call(client, base, []byte(`{"command":"queue.create","payload":{"queue":"bench","config":{"max_depth":1000000}}}`)); err != nil {
		return 0, err
	}
	f := newFlow()
	var wg sync.WaitGroup
	publish := []byte(`{"command":"queue.publish","payload":{"queue":"bench","message":"job"}}`)
	consume := []byte(`{"command":"queue.consume","payload":{"queue":"bench","timeout":1}}`)
	for range queueWorkers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for f.take() {
				if _, err := call(client, base, publish); err != nil {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for !f.stop.Load() {
				id, err := consumeID(client, base, consume)
				if err != nil || id == "" {
					continue
				}
				ack := fmt.Appendf(nil, `{"command":"queue.ack","payload":{"queue":"bench","message_id":%q}}`, id)
				if _, err := call(client, base, ack); err == nil {
					f.ack()
				}
			}
		}()
	}
	rate := f.measure(d)
	wg.Wait()
	return rate, nil
}

// startPeer starts a peer server and waits until its port answers.
func startPeer(bin string, addr string, args ...string) (func(), error) {
	if _, err := exec.LookPath(bin); err != nil {
		return nil, fmt.Errorf("%w: %s (apt-get install %s)", errSkipped, bin, bin)
	}
	stop, err := startProcess(bin, args...)
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return stop, nil
		}
	}
	stop()
	return nil, fmt.Errorf("%s did not listen on %s", bin, addr)
}

func natsQueue(d time.Duration) (float64, error) {
	dir, err := os.MkdirTemp("", "bench-nats")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	addr := freeAddr()
	_, port, _ := net.SplitHostPort(addr)
	stop, err := startPeer("nats-server", addr, "-a", "127.0.0.1", "-p", port, "-js", "-sd", dir)
	if err != nil {
		return 0, err
	}
	defer stop()
	nc, err := nats.Connect("nats://" + addr)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return 0, err
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "BENCH", Subjects: []string{"bench"},
		Retention: nats.WorkQueuePolicy, Storage: nats.FileStorage}); err != nil {
		return 0, err
	}
	f := newFlow()
	var wg sync.WaitGroup
	for range queueWorkers {
		// Each worker has its own connection, as Troupe's clients do.
		conn, err := nats.Connect("nats://" + addr)
		if err != nil {
			return 0, err
		}
		defer conn.Close()
		wjs, _ := conn.JetStream()
		sub, err := wjs.PullSubscribe("bench", "workers", nats.AckExplicit())
		if err != nil {
			return 0, err
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			for f.take() {
				if _, err := wjs.Publish("bench", []byte("job")); err != nil {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for !f.stop.Load() {
				msgs, err := sub.Fetch(64, nats.MaxWait(200*time.Millisecond))
				if err != nil && !errors.Is(err, nats.ErrTimeout) {
					continue
				}
				for _, m := range msgs {
					if m.Ack() == nil {
						f.ack()
					}
				}
			}
		}()
	}
	rate := f.measure(d)
	wg.Wait()
	return rate, nil
}

func redisQueue(d time.Duration) (float64, error) {
	dir, err := os.MkdirTemp("", "bench-redis")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	addr := freeAddr()
	_, port, _ := net.SplitHostPort(addr)
	stop, err := startPeer("redis-server", addr, "--bind", "127.0.0.1", "--port", port, "--dir", dir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "")
	if err != nil {
		return 0, err
	}
	defer stop()
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 2*queueWorkers + 4})
	defer rdb.Close()
	ctx := context.Background()
	f := newFlow()
	var wg sync.WaitGroup
	for i := range queueWorkers {
		processing := "bench:processing:" + strconv.Itoa(i)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for f.take() {
				if rdb.LPush(ctx, "bench", "job").Err() != nil {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for !f.stop.Load() {
				// BLMOVE RIGHT LEFT is BRPOPLPUSH under its current name.
				v, err := rdb.BLMove(ctx, "bench", processing, "RIGHT", "LEFT", time.Second).Result()
				if err != nil {
					continue
				}
				if rdb.LRem(ctx, processing, 1, v).Err() == nil {
					f.ack()
				}
			}
		}()
	}
	rate := f.measure(d)
	wg.Wait()
	return rate, nil
}
