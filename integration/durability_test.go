package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-run/troupe/system/store/pgtest"
	"github.com/troupe-run/troupe/system/systemtest"
)

// TestKill9KeepsAcknowledgedWrites: under --fsync=always every write the
// server acknowledged before a kill -9 is readable after a restart.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	kill9KeepsAcknowledgedWrites(t, "--fsync=always")
}

// TestKill9KeepsAcknowledgedWritesOnPostgres: the same with the journal in
// a PostgreSQL server (of the test's own), which outlives the kill.
func TestKill9KeepsAcknowledgedWritesOnPostgres(t *testing.T) {
	kill9KeepsAcknowledgedWrites(t, "--journal="+pgtest.Start(t))
}

func kill9KeepsAcknowledgedWrites(t *testing.T, args ...string) {
	s := startServer(t, args...)

	var (
		mu       sync.Mutex
		acked    = map[string]string{} // kv key -> value
		pushed   = map[string]int{}    // list key -> acknowledged pushes
		stopping atomic.Bool
		wg       sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			list := fmt.Sprintf("list:%d", w)
			for i := 0; !stopping.Load(); i++ {
				key, value := fmt.Sprintf("k:%d:%d", w, i), fmt.Sprintf("v%d-%d", w, i)
				if post(client, s.data, "kv.set", map[string]any{"key": key, "value": value}) {
					mu.Lock()
					acked[key] = value
					mu.Unlock()
				}
				if post(client, s.data, "list.rpush", map[string]any{"key": list, "values": []any{i}}) {
					mu.Lock()
					pushed[list]++
					mu.Unlock()
				}
			}
		}()
	}
	// Let the writers get going, then pull the plug mid-stream.
	systemtest.Eventually(t, "400 acknowledged writes", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 400
	})
	s.kill9()
	stopping.Store(true)
	wg.Wait()

	s.restart()
	for key, value := range acked {
		var got struct {
			Found bool            `json:"found"`
			Value json.RawMessage `json:"value"`
		}
		s.ok("kv.get", map[string]any{"key": key}, &got)
		if !got.Found || string(got.Value) != fmt.Sprintf("%q", value) {
			t.Fatalf("acknowledged %s=%q lost after kill -9: got %+v", key, value, got)
		}
	}
	for list, n := range pushed {
		var got struct {
			Length int `json:"length"`
		}
		s.ok("list.len", map[string]any{"key": list}, &got)
		if got.Length < n {
			t.Fatalf("%s: %d pushes acknowledged, %d elements after kill -9", list, n, got.Length)
		}
	}
	t.Logf("%d acknowledged sets and %d lists survived kill -9", len(acked), len(pushed))
}

// TestGracefulStopFlushes: SIGTERM under --fsync=none exits 0 and loses
// nothing, because shutdown drains the pipeline and syncs the store.
func TestGracefulStopFlushes(t *testing.T) {
	s := startServer(t, "--fsync=none")
	for i := 0; i < 200; i++ {
		s.ok("kv.set", map[string]any{"key": fmt.Sprint("g", i), "value": i}, nil)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("SIGTERM: exit %v, want 0\n%s", err, s.log)
	}
	s.restart()
	var got struct {
		Found bool `json:"found"`
		Value int  `json:"value"`
	}
	for i := 0; i < 200; i++ {
		s.ok("kv.get", map[string]any{"key": fmt.Sprint("g", i)}, &got)
		if !got.Found || got.Value != i {
			t.Fatalf("g%d after graceful stop: %+v", i, got)
		}
	}
}

// post runs a command and reports whether the server acknowledged it.
func post(c *http.Client, base, name string, payload any) bool {
	body, _ := json.Marshal(map[string]any{"command": name, "payload": payload})
	resp, err := c.Post(base+"/api/v1/command", "application/json", bytesReader(body))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var r reply
	if json.NewDecoder(resp.Body).Decode(&r) != nil {
		return false
	}
	return resp.StatusCode == http.StatusOK && r.Status == "success"
}
