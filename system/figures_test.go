package system

import (
	"testing"
	"time"
)

func TestLatencies(t *testing.T) {
	var l latencies
	for _, d := range []time.Duration{time.Microsecond, 16 * time.Microsecond, 17 * time.Microsecond, 32 * time.Microsecond, 33 * time.Microsecond, time.Hour} {
		l.observe(d)
	}
	s := l.snapshot()
	if s.Buckets[0] != 2 || s.Buckets[1] != 2 || s.Buckets[2] != 1 || s.Buckets[latencyBuckets-1] != 1 || s.Count != 6 {
		t.Fatalf("buckets %v count %d", s.Buckets, s.Count)
	}
	if q := s.Quantile(0.5); q != 32*time.Microsecond {
		t.Fatalf("median %v, want 32µs", q)
	}
	for range 94 {
		l.observe(10 * time.Millisecond)
	}
	d := l.snapshot().Since(s)
	if d.Count != 94 || d.Quantile(0.99) != LatencyBound(10) || d.Mean() != 10*time.Millisecond {
		t.Fatalf("since: count %d p99 %v mean %v", d.Count, d.Quantile(0.99), d.Mean())
	}
	if (Latencies{}).Quantile(0.99) != 0 || (Latencies{}).Mean() != 0 {
		t.Fatal("an empty snapshot has a latency")
	}
}
