package ivm

import (
	"fmt"
	"maps"
	"math"
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

// After every change, a range seek finds exactly the records whose value at
// the path is a number in the range or no number a range holds, with the
// column ordered before or part way through the changes, and enough
// distinct numbers to split its chunks of keys.
func TestSeekRangeFollowsChanges(t *testing.T) {
	for seed := range uint64(4) {
		rng := rand.New(rand.NewPCG(seed, 9))
		tables := NewTables()
		price := func() any {
			switch rng.IntN(20) {
			case 0:
				return "x" // strings rank after numbers
			case 1:
				return int64(1) << 60 // too large to range
			case 2:
				return 2.0
			case 3:
				return nil
			case 4:
				return float64(rng.IntN(100)) + 0.5
			}
			return int64(rng.IntN(1500) - 100)
		}
		ordered := seed%2 == 0
		for step := range 3000 {
			id := fmt.Sprint("t:", rng.IntN(1200))
			ch := Change{Op: []Op{Create, Update, Update, Update, Delete}[rng.IntN(5)], Table: "t", ID: id}
			if step < 1500 { // fill, then churn
				ch.Op = Create
			}
			if ch.Op != Delete {
				ch.Record = map[string]any{}
				if v := price(); v != nil {
					ch.Record["price"] = v
				}
			}
			if _, err := tables.Apply(ch); err != nil {
				t.Fatal(err)
			}
			if step == 700 {
				ordered = true
			}
			if !ordered || step%10 != 0 {
				continue
			}
			lo, hi := float64(rng.IntN(1600)-150), math.Inf(1)
			switch rng.IntN(3) {
			case 0:
				lo, hi = math.Inf(-1), lo
			case 1:
				hi = lo + float64(rng.IntN(40))
			}
			want := map[string]bool{}
			for id, rec := range tables.All("t") {
				f, ok := exactNumber(valueKey(lookup(rec, []string{"price"})))
				if !ok || f >= lo && f <= hi {
					want[id] = true
				}
			}
			got := map[string]bool{}
			for id := range tables.seekRange("t", []string{"price"}, lo, hi) {
				if got[id] {
					t.Fatalf("seed %d step %d: %s found twice", seed, step, id)
				}
				got[id] = true
			}
			if !maps.Equal(got, want) {
				t.Fatalf("seed %d step %d: seekRange [%v, %v]: got %d records, want %d", seed, step, lo, hi, len(got), len(want))
			}
		}
		if n := len(tables.tables["t"].columns[0].order.chunks); n < 2 {
			t.Errorf("seed %d: the keys fit in %d chunk", seed, n)
		}
	}
}
