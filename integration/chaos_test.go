package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestChaosShardPanicsLoseNothing: writers run while every shard is made to
// panic again and again. Every acknowledged write is readable afterwards,
// and every request was answered (success or an error) within its deadline.
func TestChaosShardPanicsLoseNothing(t *testing.T) {
	s := startServer(t, "--chaos", "--fsync=batch", "--request-timeout=2s", "--restart-max=1000")

	// The client gives up well after the server's own deadline: if it ever
	// has to, a request hung inside the server.
	client := &http.Client{Timeout: 10 * time.Second}
	var (
		mu       sync.Mutex
		acked    = map[string]string{}
		incrs    = map[string][2]int{} // counter -> acknowledged, attempted
		failures atomic.Int64
		hung     atomic.Int64
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counter := fmt.Sprint("counter:", w)
			for i := 0; !stop.Load(); i++ {
				key, value := fmt.Sprintf("c:%d:%d", w, i), fmt.Sprint("v", i)
				switch ok, err := postErr(client, s.data, "kv.set", map[string]any{"key": key, "value": value}); {
				case ok:
					mu.Lock()
					acked[key] = value
					mu.Unlock()
				case isTimeout(err):
					hung.Add(1)
				default:
					failures.Add(1)
				}
				ok, err := postErr(client, s.data, "kv.incr", map[string]any{"key": counter, "amount": 1})
				if isTimeout(err) {
					hung.Add(1)
				}
				mu.Lock()
				c := incrs[counter]
				c[1]++
				if ok {
					c[0]++
				}
				incrs[counter] = c
				mu.Unlock()
			}
		}()
	}
	injected := 0
	for round := 0; round < 30; round++ {
		target := "data/*"
		if round%2 == 1 {
			target = fmt.Sprintf("data/shard-%d", round%16)
		}
		status, raw := s.do("POST", "/admin/chaos", []byte(fmt.Sprintf(`{"target":%q,"fault":"panic"}`, target)))
		if status != http.StatusOK {
			t.Fatalf("chaos %s: %d %s", target, status, raw)
		}
		injected++
		time.Sleep(30 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()

	if hung.Load() > 0 {
		t.Fatalf("%d requests got no answer within the client's 10s (server deadline 2s)", hung.Load())
	}
	for key, value := range acked {
		var got struct {
			Found bool   `json:"found"`
			Value string `json:"value"`
		}
		s.okRetry("kv.get", map[string]any{"key": key}, &got)
		if !got.Found || got.Value != value {
			t.Fatalf("acknowledged %s=%s lost to a shard panic: %+v", key, value, got)
		}
	}
	for counter, c := range incrs {
		var got struct {
			Found bool `json:"found"`
			Value int  `json:"value"`
		}
		s.okRetry("kv.get", map[string]any{"key": counter}, &got)
		if got.Value < c[0] || got.Value > c[1] {
			t.Fatalf("%s = %d: %d increments acknowledged of %d attempted", counter, got.Value, c[0], c[1])
		}
	}
	_, metrics := s.do("GET", "/metrics", nil)
	if !containsMetric(string(metrics), `troupe_actor_restarts_total{kind="data",outcome="restarted"}`) {
		t.Fatalf("no restart counted in /metrics after %d injections", injected)
	}
	t.Logf("%d writes acknowledged, %d answered with an error, through %d fault injections", len(acked), failures.Load(), injected)
}

// okRetry is ok for a shard that may still be armed: a request that meets
// an injected panic gets 503 at once, and the client tries again.
func (s *server) okRetry(name string, payload any, out any) {
	s.t.Helper()
	for attempt := 0; attempt < 3; attempt++ {
		status, r := s.command(name, payload)
		if status == http.StatusServiceUnavailable {
			continue
		}
		if status != http.StatusOK || r.Status != "success" {
			s.t.Fatalf("%s %v: status %d %+v", name, payload, status, r.Error)
		}
		if err := json.Unmarshal(r.Payload, out); err != nil {
			s.t.Fatal(err)
		}
		return
	}
	s.t.Fatalf("%s %v: 503 three times in a row", name, payload)
}

func postErr(c *http.Client, base, name string, payload any) (bool, error) {
	body, _ := json.Marshal(map[string]any{"command": name, "payload": payload})
	resp, err := c.Post(base+"/api/v1/command", "application/json", bytesReader(body))
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var r reply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return false, err
	}
	return resp.StatusCode == http.StatusOK && r.Status == "success", nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
