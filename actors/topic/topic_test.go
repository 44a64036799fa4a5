package topic

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/systemtest"
)

func startOn(t *testing.T, sys *system.System, o Options) *Service {
	t.Helper()
	s, err := Start(sys, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func start(t *testing.T, o Options) *Service {
	t.Helper()
	return startOn(t, systemtest.Boot(t), o)
}

func produce(t *testing.T, s *Service, name, ct string) *Producer {
	t.Helper()
	p, err := s.Produce(context.Background(), name, ct)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func consume(t *testing.T, s *Service, name string, from From) *Consumer {
	t.Helper()
	c, _, err := s.ConsumeFrom(context.Background(), name, "", from)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func next(t *testing.T, c *Consumer) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := c.Next(ctx)
	return string(b), err
}

func send(t *testing.T, p *Producer, chunks ...string) {
	t.Helper()
	for _, ch := range chunks {
		if err := p.Publish(context.Background(), []byte(ch)); err != nil {
			t.Fatal(err)
		}
	}
}

func expect(t *testing.T, c *Consumer, want ...string) {
	t.Helper()
	for _, w := range want {
		if got, err := next(t, c); got != w {
			t.Fatalf("consumer got %q %v, want %q", got, err, w)
		}
	}
}

// Every consumer gets every chunk in order from where it joined; what is
// published before anyone reads waits for the first reader; ?from= reads
// from an offset.
func TestEveryConsumerGetsEveryChunkInOrder(t *testing.T) {
	s := start(t, Options{})
	p := produce(t, s, "t", "application/octet-stream")
	send(t, p, "a", "b")
	first := consume(t, s, "t", From{Offset: -1})
	expect(t, first, "a", "b")
	second := consume(t, s, "t", From{Offset: -1})
	if second.Start() != 2 {
		t.Errorf("second consumer starts at %d, want 2 (where it joined)", second.Start())
	}
	send(t, p, "c")
	expect(t, first, "c")
	expect(t, second, "c")
	replay := consume(t, s, "t", From{Offset: 1})
	expect(t, replay, "b", "c")
}

// A slow consumer loses nothing: when the journal is full of chunks it has
// not read, the producer waits for it.
func TestSlowConsumerHoldsProducersBack(t *testing.T) {
	s := start(t, Options{Retention: 8})
	s.Create(context.Background(), "t", "application/octet-stream", false)
	fast := consume(t, s, "t", From{Offset: -1})
	slow := consume(t, s, "t", From{Offset: -1})
	p := produce(t, s, "t", "application/octet-stream")
	chunks := []string{"aaaa", "bbbb", "cccc", "dddd", "eeee"}
	published := make(chan error, 1)
	go func() {
		for _, ch := range chunks {
			if err := p.Publish(context.Background(), []byte(ch)); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()
	// The fast one reads what fits, then waits with the producer for the
	// slow one, which reads on its own.
	expect(t, fast, chunks[:2]...)
	slowGot := make(chan []string, 1)
	go func() {
		var got []string
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for range chunks {
			b, err := slow.Next(ctx)
			if err != nil {
				break
			}
			got = append(got, string(b))
		}
		slowGot <- got
	}()
	expect(t, fast, chunks[2:]...)
	if got := <-slowGot; strings.Join(got, ",") != strings.Join(chunks, ",") {
		t.Errorf("slow consumer got %v, want %v", got, chunks)
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
}

// Several producers publishing partial lines at once: every line arrives
// whole, and each producer's lines in its order.
func TestProducersInterleaveWholeLines(t *testing.T) {
	s := start(t, Options{})
	s.Create(context.Background(), "t", "text/plain", false)
	c := consume(t, s, "t", From{Offset: -1})
	const producers, lines = 4, 200
	var wg sync.WaitGroup
	for i := range producers {
		p := produce(t, s, "t", "text/plain")
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for n := range lines {
				line := fmt.Sprintf("producer %d line %d\n", i, n)
				// Cut each line in two writes: the halves must not mix.
				if p.Write(ctx, []byte(line[:7])) != nil || p.Write(ctx, []byte(line[7:])) != nil {
					t.Error("write failed")
					return
				}
			}
		}()
	}
	wg.Wait()
	seen := make([]int, producers)
	got := 0
	var rest string
	for got < producers*lines {
		b, err := next(t, c)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(b, "\n") {
			t.Fatalf("chunk %q does not end a line", b)
		}
		for _, line := range strings.Split(strings.TrimSuffix(rest+b, "\n"), "\n") {
			var i, n int
			if _, err := fmt.Sscanf(line, "producer %d line %d", &i, &n); err != nil || n != seen[i] {
				t.Fatalf("line %q: want line %d of producer %d (%v)", line, seen[i], i, err)
			}
			seen[i]++
			got++
		}
	}
}

// A consumer with an id resumes after what it acknowledged, also when the
// others have read on.
func TestConsumerIDResumes(t *testing.T) {
	s := start(t, Options{})
	p := produce(t, s, "t", "application/octet-stream")
	send(t, p, "1", "2", "3")
	c := consume(t, s, "t", From{Offset: -1, ConsumerID: "reader-1"})
	expect(t, c, "1", "2")
	c.Ack(2)
	c.Close()
	again := consume(t, s, "t", From{Offset: -1, ConsumerID: "reader-1"})
	if again.Start() != 2 {
		t.Errorf("resumed at %d, want 2", again.Start())
	}
	expect(t, again, "3")
	if _, _, err := s.ConsumeFrom(context.Background(), "t", "", From{Offset: -1, ConsumerID: "bad id"}); err == nil {
		t.Error("a bad consumer id was accepted")
	}
}

// The consumer ids a topic remembers are the clients' to choose: past the
// bound a new id is refused (507), while ids it knows and consumers
// without an id are still served.
func TestConsumerIDsAreBounded(t *testing.T) {
	s := start(t, Options{ConsumerIDs: 2})
	p := produce(t, s, "t", "application/octet-stream")
	send(t, p, "1")
	for _, id := range []string{"a", "b"} {
		c := consume(t, s, "t", From{Offset: 0, ConsumerID: id})
		expect(t, c, "1")
		c.Ack(1)
		c.Close()
	}
	_, _, err := s.ConsumeFrom(context.Background(), "t", "", From{Offset: -1, ConsumerID: "c"})
	var e *Error
	if !errors.As(err, &e) || e.Code != messages.CodeLimit {
		t.Fatalf("a third consumer id = %v, want %s", err, messages.CodeLimit)
	}
	if again := consume(t, s, "t", From{Offset: -1, ConsumerID: "a"}); again.Start() != 1 {
		t.Errorf("known id a resumed at %d, want 1", again.Start())
	}
	consume(t, s, "t", From{Offset: 0})
}

// A topic, its chunks and its consumers' positions survive a restart.
func TestTopicSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	sys := systemtest.Boot(t, "--data-dir="+dir)
	s := startOn(t, sys, Options{})
	p, err := s.Produce(context.Background(), "kept", "application/x-ndjson")
	if err != nil {
		t.Fatal(err)
	}
	send(t, p, "{\"n\":1}\n", "{\"n\":2}\n", "{\"n\":3}\n")
	c, _, err := s.ConsumeFrom(context.Background(), "kept", "", From{Offset: -1, ConsumerID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, c, "{\"n\":1}\n")
	c.Ack(1)
	c.Close()
	p.Close()
	// The ack is written by the topic's actor: wait for it to be stored.
	if err := sys.Store.Barrier(); err != nil {
		t.Fatal(err)
	}
	sys.Close()

	s = startOn(t, systemtest.Boot(t, "--data-dir="+dir), Options{})
	if list := s.List(); len(list) != 1 || list[0].Name != "kept" || list[0].ContentType != "application/x-ndjson" {
		t.Fatalf("topics after restart %+v", list)
	}
	resumed := consume(t, s, "kept", From{Offset: -1, ConsumerID: "r"})
	expect(t, resumed, "{\"n\":2}\n", "{\"n\":3}\n")
	all := consume(t, s, "kept", From{Offset: 0})
	expect(t, all, "{\"n\":1}\n")
	p2 := produce(t, s, "kept", "application/x-ndjson")
	send(t, p2, "{\"n\":4}\n")
	expect(t, resumed, "{\"n\":4}\n")
}

// Chunks older than MaxAge leave the journal, read or not.
func TestAgeTrims(t *testing.T) {
	s := start(t, Options{MaxAge: time.Millisecond})
	p := produce(t, s, "t", "application/octet-stream")
	send(t, p, "old")
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := s.journalOf("t")
		if err != nil {
			t.Fatal(err)
		}
		j.mu.Lock()
		base := j.base
		j.mu.Unlock()
		if base == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the old chunk was never trimmed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := consume(t, s, "t", From{Offset: 0})
	send(t, p, "new")
	expect(t, c, "new")
}

func TestTypesAreFixedAndDeleteEndsReaders(t *testing.T) {
	s := start(t, Options{MaxTopics: 2})
	ctx := context.Background()
	produce(t, s, "t", "application/x-ndjson")
	if _, err := s.Produce(ctx, "t", "text/plain"); err == nil || err.(*Error).Code != messages.CodeContentType {
		t.Errorf("producer of another type = %v, want %s", err, messages.CodeContentType)
	}
	if _, _, err := s.Consume(ctx, "bad name", ""); err == nil {
		t.Errorf("a bad topic name was accepted")
	}
	s.Create(ctx, "u", "text/plain", false)
	if _, err := s.Create(ctx, "v", "text/plain", false); err == nil || err.(*Error).Code != "LIMIT_EXCEEDED" {
		t.Errorf("a topic past the limit = %v", err)
	}
	c := consume(t, s, "t", From{Offset: -1})
	if err := s.Delete(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := next(t, c); !errors.Is(err, ErrDeleted) {
		t.Errorf("consumer of a deleted topic: %v", err)
	}
}

// An ndjson source that ends without a line end gets one, as in the
// original hub: values sent one request each ("Bonnie", then "Rosa")
// arrive as lines, not run together. A text topic keeps its bytes as
// they were sent.
func TestNDJSONSourceEndsItsLastLine(t *testing.T) {
	s := start(t, Options{ConsumerBuffer: 8})
	c := consume(t, s, "pets", From{Offset: -1})
	for _, v := range []string{"Bonnie", "Rosa\n", "a value longer than the buffer"} {
		p := produce(t, s, "pets", "application/x-ndjson")
		if err := p.Write(context.Background(), []byte(v)); err != nil {
			t.Fatal(err)
		}
		if err := p.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		p.Close()
	}
	var got string
	for got != "Bonnie\nRosa\na value longer than the buffer\n" {
		b, err := next(t, c)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got += b
		if len(got) > 64 {
			t.Fatalf("got %q", got)
		}
	}

	p := produce(t, s, "notes", "text/plain")
	c = consume(t, s, "notes", From{Offset: -1})
	p.Write(context.Background(), []byte("no end"))
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	expect(t, c, "no end")
}

// A reader that names no type (si topic get) may come before the first
// producer (si topic send -t text/plain): the producer's type is taken,
// while the topic never held a chunk; after that the type holds.
func TestReaderFirstTakesTheProducersType(t *testing.T) {
	s := start(t, Options{})
	c := consume(t, s, "cities", From{Offset: -1})
	p := produce(t, s, "cities", "text/plain")
	send(t, p, "New York\n")
	expect(t, c, "New York\n")
	if list := s.List(); len(list) != 1 || list[0].ContentType != "text/plain" {
		t.Errorf("topics %+v, want cities as text/plain", list)
	}
	var refused *Error
	if _, err := s.Produce(context.Background(), "cities", "application/octet-stream"); !errors.As(err, &refused) {
		t.Errorf("a producer of another type after the first: %v", err)
	}
}

// Producers writing at once, in pieces that cut lines anywhere, while
// consumers read, through a journal small enough that producers wait for
// the consumers: each consumer gets every line whole, each producer's in
// its order.
func TestConcurrentProducersAndConsumers(t *testing.T) {
	s := start(t, Options{Retention: 4096})
	s.Create(context.Background(), "t", "text/plain", false)
	const producers, consumers, lines = 4, 4, 500
	cs := make([]*Consumer, consumers)
	for i := range cs {
		cs[i] = consume(t, s, "t", From{Offset: -1})
	}
	var wg sync.WaitGroup
	for i := range producers {
		p := produce(t, s, "t", "text/plain")
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			var body strings.Builder
			for n := range lines {
				fmt.Fprintf(&body, "producer %d line %d %s\n", i, n, strings.Repeat("y", (n*7+i)%50))
			}
			b := []byte(body.String())
			for cut := 0; len(b) > 0; cut++ {
				k := min(len(b), 1+(cut*37+i*11)%300)
				if err := p.Write(ctx, b[:k]); err != nil {
					t.Error(err)
					return
				}
				b = b[k:]
			}
			p.Flush(ctx)
		}()
	}
	for ci, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := make([]int, producers)
			got := 0
			for got < producers*lines {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				b, err := c.Next(ctx)
				cancel()
				if err != nil {
					t.Error(err)
					return
				}
				for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
					var i, n int
					if _, err := fmt.Sscanf(line, "producer %d line %d", &i, &n); err != nil || n != seen[i] {
						t.Errorf("consumer %d line %q: want line %d of producer %d (%v)", ci, line, seen[i], i, err)
						return
					}
					seen[i]++
					got++
				}
			}
		}()
	}
	wg.Wait()
}
