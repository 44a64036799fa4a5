package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// kill -9 in the middle of a stream of PATCHes, under --fsync=always: after
// the restart every PATCH that was answered is in the inputs, and the
// service's initialData is not applied again over them.
func TestSkipKill9DuringPatches(t *testing.T) {
	s, d := startSkipTroupe(t, skipService(t, "throws.mjs"), "--fsync=always")
	// initialData wrote a: [1]; deleting it must stick.
	d.patch("input", `[["a",[]]]`)

	var (
		mu       sync.Mutex
		answered []int
		wg       sync.WaitGroup
	)
	enough := make(chan struct{})
	var once sync.Once
	client := &http.Client{}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i += 4 {
				body := fmt.Sprintf(`[["k%d",[%d]]]`, i, i)
				req, _ := http.NewRequest("PATCH", d.control+"/v1/inputs/input", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return
				}
				mu.Lock()
				answered = append(answered, i)
				if len(answered) >= 200 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		}()
	}
	<-enough
	s.kill9()
	wg.Wait()

	s.restart()
	d.waitHealthy(func() error { return nil })
	var got skipEntries
	if err := json.Unmarshal([]byte(d.snapshot("checked", `{}`)), &got); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range got {
		have[fmt.Sprint(e.Key)] = true
		if e.Key == "a" {
			t.Errorf("initialData was applied again: %v", e)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, i := range answered {
		if !have[fmt.Sprintf("k%d", i)] {
			t.Errorf("the answered PATCH of k%d is lost (%d answered, %d keys after the restart)", i, len(answered), len(got))
		}
	}
	// The service goes on.
	d.patch("input", `[["after",[1]]]`)
	if got := d.lookup("checked", `{}`, `"after"`); got != `[1]` {
		t.Errorf("a write after the restart: %s", got)
	}
}

// A resource actor panics (--chaos): its stream resumes with an init of
// the current state, and no later update is lost.
func TestSkipChaosResourceActor(t *testing.T) {
	s, d := startSkipTroupe(t, skipService(t, "sum.mjs"), "--chaos", "--restart-max=1000")
	d.patch("input", `[["a",[1]],["b",[2]]]`)
	st := d.subscribe(d.createStream("doubled", `{}`), "text/event-stream")
	if ev := st.next(); ev.Event != "init" || ev.Data != `[["a",[2]],["b",[4]]]` {
		t.Fatalf("init %+v", ev)
	}
	status, raw := s.do("POST", "/admin/chaos", []byte(`{"target":"reactive/sum.*","fault":"panic"}`))
	if status != 200 {
		t.Fatalf("chaos: %d %s", status, raw)
	}
	// The write the actor panics on.
	if st, body := d.do("PATCH", "/v1/inputs/input", `[["c",[3]]]`); st != 200 {
		t.Logf("the PATCH the resource actor panicked on: %d %s", st, body)
	}
	want := d.snapshot("doubled", `{}`)
	f := folded{}
	for {
		ev := st.next()
		if ev.Event == "init" {
			f = folded{}
		}
		if err := f.apply(ev.Data, false); err != nil {
			t.Fatal(err)
		}
		if ev.Event == "init" && f.String() == foldSnapshot(t, want, false).String() {
			break
		}
	}
	// Later writes: every one reaches the stream, in order.
	for i := range 20 {
		d.patch("input", fmt.Sprintf(`[["n%d",[%d]]]`, i, i))
		if ev := st.next(); ev.Event != "update" || ev.Data != fmt.Sprintf(`[["n%d",[%d]]]`, i, 2*i) {
			t.Fatalf("update %d after the restart: %+v", i, ev)
		}
	}
}
