package topic

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/troupe-run/troupe/system/systemtest"
)

func start(t *testing.T, buffer int) *Service {
	t.Helper()
	s, err := Start(systemtest.Boot(t), Options{ConsumerBuffer: buffer, MaxTopics: 2})
	if err != nil {
		t.Fatal(err)
	}
	return s
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

func next(t *testing.T, c *Consumer) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := c.Next(ctx)
	return string(b), err
}

func TestSlowConsumerIsDroppedNotWaitedFor(t *testing.T) {
	s := start(t, 8)
	ctx := context.Background()
	fast, _, err := s.Consume(ctx, "t", "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	slow, _, _ := s.Consume(ctx, "t", "")
	p := produce(t, s, "t", "text/plain")
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []string{"aaaa", "bbbb", "cccc"} {
		if err := p.Publish(ctx, []byte(chunk)); err != nil {
			t.Fatal(err)
		}
		if got, err := next(t, fast); got != chunk || err != nil {
			t.Fatalf("fast consumer got %q %v, want %q", got, err, chunk)
		}
	}
	// slow read nothing: 4+4 fit its 8 bytes, the third chunk did not.
	for _, want := range []string{"aaaa", "bbbb"} {
		if got, _ := next(t, slow); got != want {
			t.Errorf("slow consumer got %q, want %q", got, want)
		}
	}
	if _, err := next(t, slow); !errors.Is(err, ErrTooSlow) {
		t.Errorf("slow consumer ended with %v, want ErrTooSlow", err)
	}
}

func TestProducersTakeTurnsAndTypesAreFixed(t *testing.T) {
	s := start(t, 1<<10)
	ctx := context.Background()
	first := produce(t, s, "t", "application/x-ndjson")
	second := produce(t, s, "t", "application/x-ndjson")
	if err := first.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := second.Publish(ctx, []byte("x")); !errors.Is(err, ErrNotProducing) {
		t.Errorf("publish out of turn = %v", err)
	}
	first.Close()
	if err := second.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Produce(ctx, "t", "text/plain"); err == nil || err.(*Error).Code != CodeContentType {
		t.Errorf("producer of another type = %v, want %s", err, CodeContentType)
	}
	if _, _, err := s.Consume(ctx, "bad name", ""); err == nil {
		t.Errorf("a bad topic name was accepted")
	}
	s.Create(ctx, "u", "text/plain", false)
	if _, err := s.Create(ctx, "v", "text/plain", false); err == nil || err.(*Error).Code != "LIMIT_EXCEEDED" {
		t.Errorf("a topic past the limit = %v", err)
	}
}

func TestBacklogWaitsForTheFirstConsumer(t *testing.T) {
	s := start(t, 4)
	ctx := context.Background()
	p := produce(t, s, "t", "text/plain")
	p.Wait(ctx)
	if err := p.Publish(ctx, []byte("abcd")); err != nil {
		t.Fatal(err)
	}
	// The backlog is full: the next chunk waits for a consumer.
	published := make(chan error, 1)
	go func() { published <- p.Publish(ctx, []byte("efgh")) }()
	c, _, _ := s.Consume(ctx, "t", "")
	for _, want := range []string{"abcd", "efgh"} {
		if got, err := next(t, c); got != want {
			t.Errorf("consumer got %q %v, want %q", got, err, want)
		}
	}
	if err := <-published; err != nil {
		t.Errorf("held-back publish = %v", err)
	}
	if err := s.Delete(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := next(t, c); !errors.Is(err, ErrDeleted) {
		t.Errorf("consumer of a deleted topic: %v", err)
	}
}
