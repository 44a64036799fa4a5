package ivm

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// After every change, a seek finds exactly the records whose value at the
// path equals the one sought, whichever changes moved them between values,
// and whether the column was built before or after them.
func TestSeekFollowsChanges(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		tables := NewTables()
		paths := [][]string{{"owner"}, {"meta", "kind"}}
		values := []any{"a", "b", "c", int64(1), nil}
		built := 0
		for step := range 400 {
			id := fmt.Sprint("t:", rng.IntN(30))
			ch := Change{Op: []Op{Create, Update, Update, Delete}[rng.IntN(4)], Table: "t", ID: id}
			if ch.Op != Delete {
				ch.Record = map[string]any{}
				if v := values[rng.IntN(len(values))]; v != nil {
					ch.Record["owner"] = v
				}
				if v := values[rng.IntN(len(values))]; v != nil {
					ch.Record["meta"] = map[string]any{"kind": v}
				}
			}
			if _, err := tables.Apply(ch); err != nil {
				t.Fatal(err)
			}
			if step == 50 || step == 200 { // columns appear part way through
				built++
			}
			for _, path := range paths[:built] {
				for _, v := range values[:4] {
					want := map[string]bool{}
					for id, rec := range tables.All("t") {
						if valueKey(lookup(rec, path)) == valueKey(v) {
							want[id] = true
						}
					}
					got := map[string]bool{}
					for id, rec := range tables.seek("t", path, v) {
						if got[id] {
							t.Fatalf("seed %d step %d: %s found twice", seed, step, id)
						}
						if r, _ := tables.Get("t", id); fmt.Sprint(r) != fmt.Sprint(rec) {
							t.Fatalf("seed %d step %d: seek gave %v for %s, the table has %v", seed, step, rec, id, r)
						}
						got[id] = true
					}
					if !maps.Equal(got, want) {
						t.Fatalf("seed %d step %d: seek %v = %v: got %v, want %v", seed, step, path, v,
							slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
					}
				}
			}
		}
	}
}
