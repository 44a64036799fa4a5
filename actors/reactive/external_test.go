package reactive

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/troupe-run/troupe/system/systemtest"
)

// TestSkipExternalService follows another Skip service's stream (a fake
// here, speaking the wire format) into the graph.
func TestSkipExternalService(t *testing.T) {
	events := make(chan string, 10)
	events <- "event: init\nid: x/0\ndata: [[\"a\",[1]],[\"b\",[2]]]\n\n"
	gotParams := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "POST" && r.URL.Path == "/v1/streams/numbers":
			body, _ := io.ReadAll(r.Body)
			select {
			case gotParams <- string(body):
			default:
			}
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, "the-uuid")
		case r.Method == "GET" && r.URL.Path == "/v1/streams/the-uuid":
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			for {
				select {
				case <-r.Context().Done():
					return
				case ev := <-events:
					fmt.Fprint(w, ev)
					w.(http.Flusher).Flush()
				}
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	t.Setenv("TROUPE_TEST_URL", srv.URL)

	sys := systemtest.Boot(t)
	s := startService(t, sys, "testdata/follower.ts", Options{})
	defer srv.CloseClientConnections()
	if p := <-gotParams; p != `{"from":1}` {
		t.Fatalf("params sent: %s", p)
	}
	systemtest.Eventually(t, "the init event", func() bool { return snapshot(t, s, "times", "{}") == `[["a",[10]],["b",[20]]]` })
	events <- "event: update\nid: x/1\ndata: [[\"a\",[]],[\"c\",[3]]]\n\n"
	systemtest.Eventually(t, "the update event", func() bool { return snapshot(t, s, "times", "{}") == `[["b",[20]],["c",[30]]]` })
}

// TestFetchJSONAndBroker: fetchJSON and SkipServiceBroker (Go HTTP
// underneath) awaited at the top level of a module.
func TestFetchJSONAndBroker(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/seed":
			fmt.Fprint(w, `[["a",1],["b",{"c":true}]]`)
		case r.Method == "POST" && r.URL.Path == "/v1/snapshot/remote":
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, `[["params",[%s]]]`, body)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	t.Setenv("TROUPE_TEST_URL", srv.URL)
	sys := systemtest.Boot(t)
	s := startService(t, sys, "testdata/fetching.ts", Options{})
	want := `[["a",[1]],["b",[{"c":true}]],["content-type",["application/json"]],["params",[{"x":1}]]]`
	if got := snapshot(t, s, "all", "{}"); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// TestCustomExternalService runs a user-written ExternalService driven by
// setInterval in the resource instance's runtime.
func TestCustomExternalService(t *testing.T) {
	sys := systemtest.Boot(t)
	s := startService(t, sys, "testdata/custom.ts", Options{})
	ctx := context.Background()
	id, err := s.CreateStream(ctx, "ticks", json.RawMessage(`{"step":2}`))
	if err != nil {
		t.Fatal(err)
	}
	k := newSink()
	if _, err := s.Subscribe(ctx, id, k); err != nil {
		t.Fatal(err)
	}
	systemtest.Eventually(t, "three ticks", func() bool {
		n := 0
		for _, u := range k.all() {
			if !u.Init && len(u.Entries) == 1 && string(u.Entries[0].Key) == `"ticks"` {
				n++
			}
		}
		return n >= 3
	})
}
