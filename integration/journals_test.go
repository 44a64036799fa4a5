package integration

import (
	"testing"

	"github.com/troupe-run/troupe/system/store/pgtest"
)

// eachJournal runs a durability test once per journal: Pebble under
// --fsync=always (every acknowledged write synced) and PostgreSQL (a
// server of the test's own, which outlives a kill -9 of troupe). The
// test gets the flag that selects the journal.
func eachJournal(t *testing.T, test func(t *testing.T, journal string)) {
	t.Run("pebble", func(t *testing.T) { test(t, "--fsync=always") })
	t.Run("postgres", func(t *testing.T) { test(t, "--journal="+pgtest.Start(t)) })
}
