package system

import (
	"math/bits"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// latencyBuckets are the upper bounds of a Latencies' buckets: 16 µs, then
// doubling up to about 17 s, and one bucket for anything longer.
const (
	latencyBase    = 16 * time.Microsecond
	latencyBuckets = 21
)

// LatencyBound is the upper bound of bucket i of a Latencies; the last
// bucket, which has none, reports twice the bound before it.
func LatencyBound(i int) time.Duration {
	return latencyBase << min(i, latencyBuckets-1)
}

// latencies counts durations in fixed buckets. The dashboard reads them
// (Prometheus' histograms are only readable through its exposition types).
type latencies struct {
	count   atomic.Int64
	sum     atomic.Int64 // nanoseconds
	buckets [latencyBuckets]atomic.Int64
}

func (l *latencies) observe(d time.Duration) {
	i := 0
	if d > latencyBase {
		i = min(bits.Len64(uint64((d-1)/latencyBase)), latencyBuckets-1)
	}
	l.buckets[i].Add(1)
	l.count.Add(1)
	l.sum.Add(int64(d))
}

// Latencies is a snapshot of counted durations since the start: their
// number, their sum and how many fell in each bucket (see LatencyBound).
type Latencies struct {
	Count   int64
	Sum     time.Duration
	Buckets [latencyBuckets]int64
}

func (l *latencies) snapshot() Latencies {
	s := Latencies{Count: l.count.Load(), Sum: time.Duration(l.sum.Load())}
	for i := range l.buckets {
		s.Buckets[i] = l.buckets[i].Load()
	}
	return s
}

// Since is what was counted between an earlier snapshot and this one.
func (l Latencies) Since(prev Latencies) Latencies {
	d := Latencies{Count: l.Count - prev.Count, Sum: l.Sum - prev.Sum}
	for i := range l.Buckets {
		d.Buckets[i] = l.Buckets[i] - prev.Buckets[i]
	}
	return d
}

// Quantile is the upper bound of the bucket holding the q-th quantile
// (0 < q <= 1), 0 when nothing was counted.
func (l Latencies) Quantile(q float64) time.Duration {
	if l.Count <= 0 {
		return 0
	}
	rank := int64(q*float64(l.Count) + 0.5)
	rank = max(rank, 1)
	var seen int64
	last := 0
	for i, n := range l.Buckets {
		if n > 0 {
			last = i
		}
		if seen += n; seen >= rank {
			return LatencyBound(i)
		}
	}
	// The count was read a moment apart from the buckets: the highest
	// bucket counted is the best answer.
	return LatencyBound(last)
}

// Mean is the average duration, 0 when nothing was counted.
func (l Latencies) Mean() time.Duration {
	if l.Count <= 0 {
		return 0
	}
	return l.Sum / time.Duration(l.Count)
}

// doorLatencies are the request latencies of each front door.
type doorLatencies struct{ m sync.Map } // door -> *latencies

func (d *doorLatencies) get(door string) *latencies {
	if l, ok := d.m.Load(door); ok {
		return l.(*latencies)
	}
	l, _ := d.m.LoadOrStore(door, &latencies{})
	return l.(*latencies)
}

// DoorLatencies returns, by front door, the latencies of the requests it
// answered since the start.
func (m *Metrics) DoorLatencies() map[string]Latencies {
	out := map[string]Latencies{}
	m.doors.m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*latencies).snapshot()
		return true
	})
	return out
}

// Doors lists the front doors that answered a request, sorted.
func (m *Metrics) Doors() []string {
	var out []string
	m.doors.m.Range(func(k, _ any) bool {
		out = append(out, k.(string))
		return true
	})
	sort.Strings(out)
	return out
}

// CommitLatencies returns the latencies of the store's group writes since
// the start (each synced, unless --fsync=none).
func (m *Metrics) CommitLatencies() Latencies { return m.commits.snapshot() }
