package systemtest

import (
	"testing"
	"time"
)

// Patience is how long a test waits for something the system does
// asynchronously before it calls that a failure. It is long because CI runs
// the whole suite with the race detector on two busy cores: a wait that ends
// early costs nothing, and one that gives up early is a flaky test.
const Patience = 30 * time.Second

// Eventually polls cond until it holds and fails the test if it still does
// not after Patience. what names the awaited condition in the failure. It
// must be called from the test's goroutine.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting, after %v, for %s", Patience, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
