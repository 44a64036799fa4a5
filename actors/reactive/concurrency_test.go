package reactive

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/troupe-run/troupe/gateway/skip"
	"github.com/troupe-run/troupe/system/systemtest"
)

// TestConcurrentWriters: many writers at once, streams attached; every
// write is answered and the sum is right.
func TestConcurrentWriters(t *testing.T) {
	sys := systemtest.Boot(t)
	s := startService(t, sys, "testdata/sum.ts", Options{})
	ctx := context.Background()
	id, err := s.CreateStream(ctx, "sum", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	k := newSink()
	if _, err := s.Subscribe(ctx, id, k); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				e := skip.Entry{Key: json.RawMessage(fmt.Sprintf(`"k%d-%d"`, w, i)), Values: []json.RawMessage{json.RawMessage("1")}}
				if err := s.Patch(ctx, "input", []skip.Entry{e}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := snapshot(t, s, "sum", "{}"); got != `[["total",[1600]]]` {
		t.Fatalf("sum: %s", got)
	}
}
