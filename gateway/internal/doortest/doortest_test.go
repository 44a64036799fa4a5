package doortest

import (
	"fmt"
	"sync"
	"testing"
)

func TestMetrics(t *testing.T) {
	var m Metrics
	if m.Last() != (Observation{}) || m.Dropped() != 0 {
		t.Fatal("a fresh Metrics holds something")
	}
	m.ObserveRequest("data", "kv.get", 200, 0)
	m.ObserveRequest("data", "kv.set", 422, 0)
	m.SubscriberDropped("data")
	if got := m.Last(); got != (Observation{Door: "data", Command: "kv.set", Status: 422}) || m.Dropped() != 1 {
		t.Errorf("Last = %+v, Dropped = %d", got, m.Dropped())
	}
}

func TestLogBufferTakesConcurrentWrites(t *testing.T) {
	var b LogBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d\n", i) })
	}
	wg.Wait()
	if n := len(b.String()); n != 8*len("line 0\n") {
		t.Errorf("%d bytes logged", n)
	}
}
