package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Several si topic send at once into one text topic, read by si topic get
// and by HTTP readers (one from offset 0, one with a consumer id) while the
// producers write: every reader gets every line, whole, and each
// producer's lines in the order it sent them.
func TestHubSITopicConcurrentProducers(t *testing.T) {
	t.Parallel()
	npm := hubNpmDir(t)
	s := hubServer(t)
	h := hubOf(s)
	si := newHubSI(t, npm, s.hub)

	// si topic get makes the topic (provisionally NDJSON: it names no
	// type); the first send, text/plain, sets its type.
	siReader, _ := si.background("topic", "get", "lines")
	waitFor(t, hubPatience, "si topic get to reach the hub (topic lines listed alone)", func() bool {
		var topics []struct{ TopicName string }
		h.json("GET", "/topics", "", http.StatusOK, &topics)
		return len(topics) == 1 && topics[0].TopicName == "lines"
	})
	readers := map[string]io.Reader{
		"si topic get":  siReader,
		"from=0":        h.open("/topic/lines?from=0"),
		"x-consumer-id": h.open("/topic/lines?from=0", "X-Consumer-Id", "checker"),
	}

	// Lines of different lengths, so that the hub's reads cut them at
	// different places in each body.
	const producers, lines = 4, 2000
	files := make([]string, producers)
	for p := range producers {
		var body strings.Builder
		for n := range lines {
			fmt.Fprintf(&body, "p%d-%d %s\n", p, n, strings.Repeat("x", 10+(n*7+p*13)%90))
		}
		files[p] = si.file(fmt.Sprintf("p%d.txt", p), []byte(body.String()))
	}
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), hubPatience)
			defer cancel()
			out, err := si.command(ctx, "topic", "send", "lines", files[p], "-t", "text/plain").CombinedOutput()
			if err != nil || strings.Contains(string(out), `"error":true`) {
				t.Errorf("si topic send of producer %d: %v %s", p, err, out)
			}
		}()
	}

	for name, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := checkInterleaved(r, producers, lines); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}()
	}
	wg.Wait()
}

// checkInterleaved reads producers*lines lines of the form "p<P>-<N> x..."
// from r within hubPatience: each whole, each producer's N counting up
// from 0.
func checkInterleaved(r io.Reader, producers, lines int) error {
	type line struct {
		s   string
		err error
	}
	c := make(chan line)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		br := bufio.NewReader(r)
		for {
			s, err := br.ReadString('\n')
			select {
			case c <- line{s, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	deadline := time.After(hubPatience)
	seen := make([]int, producers)
	for got := 0; got < producers*lines; got++ {
		var l line
		select {
		case l = <-c:
		case <-deadline:
			return fmt.Errorf("%d of %d lines within %v (per producer %v)", got, producers*lines, hubPatience, seen)
		}
		if l.err != nil {
			return fmt.Errorf("after %d lines: %v (%q)", got, l.err, l.s)
		}
		var p, n int
		var pad string
		if _, err := fmt.Sscanf(l.s, "p%d-%d %s\n", &p, &n, &pad); err != nil || p < 0 || p >= producers {
			return fmt.Errorf("line %d torn: %q", got, l.s)
		}
		if n != seen[p] || pad != strings.Repeat("x", 10+(n*7+p*13)%90) {
			return fmt.Errorf("line %d is %q: want line %d of producer %d, whole", got, l.s, seen[p], p)
		}
		seen[p]++
	}
	return nil
}
