package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// benchMessaging measures the data door's messaging in one run:
//
//   - durable work queues side by side with NATS JetStream and Redis
//     (queues.go);
//   - queues: messages/s through publish -> consume -> ack over HTTP, with
//     --fsync=batch and with --fsync=none;
//   - pub/sub fan-out: deliveries/s from one WebSocket publisher to 1, 10
//     and 100 WebSocket subscribers of a topic, against, as the baseline, a
//     bare coder/websocket server (this program started again with
//     --bare-ws) that broadcasts the same frames to the same clients, driven
//     by the same load generator.
//
// With peers (a comma-separated list of queue peers' keys), only those
// peers are compared, and nothing else runs.
func benchMessaging(troupeBin string, conns int, d time.Duration, rounds int, peers string) error {
	fmt.Printf("messaging: %s per run\n", d)
	if err := benchQueuePeers(troupeBin, d, rounds, peers); err != nil || peers != "" {
		return err
	}
	for _, fsync := range []string{"batch", "none"} {
		rate, err := benchQueue(troupeBin, fsync, conns, d)
		if err != nil {
			return fmt.Errorf("queue, fsync=%s: %w", fsync, err)
		}
		fmt.Printf("queue   fsync=%-5s publish -> consume -> ack %9.0f messages/s (%d publishers, %d consumers over HTTP)\n",
			fsync, rate, conns/2, conns/2)
	}
	return benchFanout(troupeBin, d)
}

// startTroupe starts troupe with only the data door, on a fresh data dir.
func startTroupe(troupeBin string, args ...string) (base string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "troupe-bench")
	if err != nil {
		return "", nil, err
	}
	addr := freeAddr()
	args = append([]string{"--data-addr=" + addr, "--data-dir=" + dir, "--ssp-addr=off", "--hub-addr=off", "--resp-addr=off", "--synap-rpc-addr=off",
		"--admin-addr=off", "--skip-control-addr=off", "--skip-streaming-addr=off", "--log-level=warn"}, args...)
	stopProc, err := startProcess(troupeBin, args...)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	stop = func() { stopProc(); os.RemoveAll(dir) }
	base = "http://" + addr
	if err := waitHealthy(base); err != nil {
		stop()
		return "", nil, err
	}
	return base, stop, nil
}

// benchQueue runs conns/2 publishers and conns/2 consumers (consume with a
// wait, then ack) on one queue for d and returns acked messages per
// second. Publishers stay at most window messages ahead of the acks, so
// the queue's depth stays bounded.
func benchQueue(troupeBin, fsync string, conns int, d time.Duration) (float64, error) {
	base, stop, err := startTroupe(troupeBin, "--fsync="+fsync)
	if err != nil {
		return 0, err
	}
	defer stop()
	client := newClient(conns)
	if _, err := call(client, base, []byte(`{"command":"queue.create","payload":{"queue":"bench"}}`)); err != nil {
		return 0, err
	}
	const window = 2000
	tokens := make(chan struct{}, window)
	for range window {
		tokens <- struct{}{}
	}
	publish := []byte(`{"command":"queue.publish","payload":{"queue":"bench","message":{"type":"process_video","video_id":"vid_123","body":"` +
		strings.Repeat("x", 64) + `"}}}`)
	consume := []byte(`{"command":"queue.consume","payload":{"queue":"bench","timeout":1}}`)

	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var acked, failed atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, err)
	}
	var wg sync.WaitGroup
	start := time.Now()
	for range max(conns/2, 1) {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-tokens:
				}
				if _, err := call(client, base, publish); err != nil {
					fail(err)
					tokens <- struct{}{}
				}
			}
		})
		wg.Go(func() {
			for ctx.Err() == nil {
				id, err := consumeID(client, base, consume)
				if err != nil {
					fail(err)
					continue
				}
				if id == "" {
					continue
				}
				ack := fmt.Appendf(nil, `{"command":"queue.ack","payload":{"queue":"bench","message_id":%q}}`, id)
				if _, err := call(client, base, ack); err != nil {
					fail(err)
					continue
				}
				if ctx.Err() == nil {
					acked.Add(1)
				}
				select {
				case tokens <- struct{}{}:
				default:
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if n := failed.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "troupe-bench: %d queue requests failed, first: %v\n", n, firstErr.Load())
	}
	return float64(acked.Load()) / elapsed.Seconds(), nil
}

// consumeID runs a queue.consume and returns the message's id ("" for none).
func consumeID(client *http.Client, base string, body []byte) (string, error) {
	resp, err := client.Post(base+"/api/v1/command", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r struct {
		Payload struct {
			MessageID string `json:"message_id"`
		} `json:"payload"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return r.Payload.MessageID, nil
}

// fanoutTopic is the topic of the fan-out benchmark; fanoutWindow bounds
// the messages the publisher may be ahead of the slowest subscriber, well
// under troupe's --ws-buffer (1024), so that no subscriber is dropped.
const (
	fanoutTopic  = "bench.fanout"
	fanoutWindow = 256
)

// benchFanout measures deliveries/s to 1, 10 and 100 subscribers, bare
// server first, then troupe, for each count.
func benchFanout(troupeBin string, d time.Duration) error {
	base, stop, err := startTroupe(troupeBin, "--fsync=none")
	if err != nil {
		return err
	}
	defer stop()
	bareAddr := freeAddr()
	self, _ := os.Executable()
	stopBare, err := startProcess(self, "--bare-ws="+bareAddr)
	if err != nil {
		return err
	}
	defer stopBare()
	if err := waitHealthy("http://" + bareAddr); err != nil {
		return err
	}
	troupeURL := "ws" + strings.TrimPrefix(base, "http") + "/api/v1/ws"
	bareURL := "ws://" + bareAddr + "/ws"

	message := fmt.Sprintf(`{"type":"price","symbol":"TRP","price":123.45,"note":"%s"}`, strings.Repeat("x", 64))
	publish := fmt.Appendf(nil, `{"request_id":"p","command":"pubsub.publish","payload":{"topic":%q,"message":%s}}`, fanoutTopic, message)
	// Both servers must send the very same frame.
	want := fmt.Sprintf(`{"type":"message","topic":%q,"message":%s,"metadata":null}`, fanoutTopic, message)
	fmt.Printf("fan-out: 1 publisher and N subscribers over WebSocket, frame %d B, window %d; bare coder/websocket broadcast vs troupe pub/sub\n",
		len(want), fanoutWindow)
	for _, n := range []int{1, 10, 100} {
		bare, err := fanout(bareURL, n, publish, want, d)
		if err != nil {
			return fmt.Errorf("bare server, %d subscribers: %w", n, err)
		}
		got, err := fanout(troupeURL, n, publish, want, d)
		if err != nil {
			return fmt.Errorf("troupe, %d subscribers: %w", n, err)
		}
		fmt.Printf("subscribers=%-4d bare coder/websocket %10.0f deliveries/s   troupe %10.0f deliveries/s   ratio %.2f\n",
			n, bare, got, got/bare)
	}
	return nil
}

// fanout connects n subscribers and a publisher to url, publishes for d,
// waits for every subscriber to have every message, and returns
// deliveries per second.
func fanout(url string, n int, publish []byte, want string, d time.Duration) (float64, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subscribe := fmt.Appendf(nil, `{"request_id":"s","command":"pubsub.subscribe","payload":{"topics":[%q]}}`, fanoutTopic)
	type sub struct {
		conn *websocket.Conn
		got  atomic.Int64
		err  atomic.Value
		bad  atomic.Value // a frame other than want
	}
	subs := make([]*sub, n)
	for i := range subs {
		conn, err := dialWS(ctx, url)
		if err != nil {
			return 0, err
		}
		defer conn.CloseNow()
		if err := conn.Write(ctx, websocket.MessageText, subscribe); err != nil {
			return 0, err
		}
		if _, reply, err := conn.Read(ctx); err != nil || !bytes.Contains(reply, []byte(`"status":"success"`)) {
			return 0, fmt.Errorf("subscribe: %s %v", reply, err)
		}
		s := &sub{conn: conn}
		subs[i] = s
		go func() {
			for {
				_, frame, err := s.conn.Read(ctx)
				if err != nil {
					s.err.Store(err)
					return
				}
				if s.got.Add(1) == 1 && string(frame) != want {
					s.bad.Store(string(frame))
				}
			}
		}()
	}
	pub, err := dialWS(ctx, url)
	if err != nil {
		return 0, err
	}
	defer pub.CloseNow()
	var replies atomic.Int64
	go func() {
		for {
			if _, _, err := pub.Read(ctx); err != nil {
				return
			}
			replies.Add(1)
		}
	}()
	slowest := func() int64 {
		m := subs[0].got.Load()
		for _, s := range subs[1:] {
			m = min(m, s.got.Load())
		}
		return m
	}

	start := time.Now()
	var sent int64
	for time.Since(start) < d {
		if sent-slowest() >= fanoutWindow {
			time.Sleep(20 * time.Microsecond)
			continue
		}
		if err := pub.Write(ctx, websocket.MessageText, publish); err != nil {
			return 0, fmt.Errorf("publish: %w", err)
		}
		sent++
	}
	for deadline := time.Now().Add(30 * time.Second); slowest() < sent; time.Sleep(20 * time.Microsecond) {
		if time.Now().After(deadline) {
			for i, s := range subs {
				if got := s.got.Load(); got < sent {
					return 0, fmt.Errorf("subscriber %d got %d of %d messages (%v)", i, got, sent, s.err.Load())
				}
			}
		}
	}
	elapsed := time.Since(start)
	for i, s := range subs {
		if bad := s.bad.Load(); bad != nil {
			return 0, fmt.Errorf("subscriber %d got the frame %s, want %s", i, bad, want)
		}
	}
	return float64(sent) * float64(n) / elapsed.Seconds(), nil
}

func dialWS(ctx context.Context, url string) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, url, nil)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	return conn, nil
}

// serveBareWS is the baseline of the fan-out: the least a coder/websocket
// server does to broadcast. A pubsub.subscribe frame makes the connection a
// subscriber, with a writer and a buffer of 1024 frames (dropped when full,
// as troupe does); a pubsub.publish frame is decoded, its message framed
// once as troupe frames it and queued for every subscriber, and answered.
func serveBareWS(addr string) {
	var (
		mu   sync.Mutex
		subs = map[chan []byte]struct{}{}
	)
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"healthy"}`)) })
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		conn.SetReadLimit(1 << 20)
		ctx := context.Background()
		var out chan []byte
		defer func() {
			mu.Lock()
			if _, ok := subs[out]; ok {
				delete(subs, out)
				close(out)
			}
			mu.Unlock()
		}()
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var env struct {
				RequestID json.RawMessage `json:"request_id"`
				Command   string          `json:"command"`
				Payload   struct {
					Topic   string          `json:"topic"`
					Message json.RawMessage `json:"message"`
				} `json:"payload"`
			}
			if err := json.Unmarshal(data, &env); err != nil {
				return
			}
			switch env.Command {
			case "pubsub.subscribe":
				if out == nil {
					out = make(chan []byte, 1024)
					go func(out chan []byte) {
						for frame := range out {
							if err := conn.Write(ctx, websocket.MessageText, frame); err != nil {
								conn.CloseNow()
								return
							}
						}
					}(out)
					mu.Lock()
					subs[out] = struct{}{}
					mu.Unlock()
				}
				conn.Write(ctx, websocket.MessageText, fmt.Appendf(nil,
					`{"type":"response","request_id":%s,"status":"success","payload":{"success":true}}`, env.RequestID))
			case "pubsub.publish":
				frame := fmt.Appendf(nil, `{"type":"message","topic":%q,"message":%s,"metadata":null}`, env.Payload.Topic, env.Payload.Message)
				n := 0
				mu.Lock()
				for s := range subs {
					select {
					case s <- frame:
						n++
					default:
						delete(subs, s)
						close(s)
					}
				}
				mu.Unlock()
				conn.Write(ctx, websocket.MessageText, fmt.Appendf(nil,
					`{"type":"response","request_id":%s,"status":"success","payload":{"subscribers_notified":%d}}`, env.RequestID, n))
			}
		}
	})
	err := http.ListenAndServe(addr, mux)
	if !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "bare websocket server:", err)
	}
}
