package ivm

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// TestTree checks the treap against a sorted slice under random inserts,
// removes and replacements by an entry of the same key.
func TestTree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	byKey := func(a, b *entry) int { return cmp.Compare(a.version, b.version) }
	tr := tree{cmp: byKey}
	var want []*entry
	for step := range 3000 {
		if len(want) > 0 && rng.IntN(5) == 0 {
			i := rng.IntN(len(want))
			e := &entry{version: want[i].version}
			tr.replace(want[i], e)
			if want[i].parent != nil || want[i].left != nil || want[i].right != nil {
				t.Fatalf("step %d: a replaced entry keeps links", step)
			}
			want[i] = e
		} else if len(want) > 0 && rng.IntN(3) == 0 {
			i := rng.IntN(len(want))
			if r := tr.rank(want[i]); r != i {
				t.Fatalf("step %d: rank %d, want %d", step, r, i)
			}
			tr.remove(want[i])
			want = slices.Delete(want, i, i+1)
		} else {
			e := &entry{version: rng.Int64N(1 << 40)}
			if _, found := slices.BinarySearchFunc(want, e, byKey); found {
				continue // keys are unique
			}
			i, _ := slices.BinarySearchFunc(want, e, byKey)
			if r := tr.insert(e); r != i {
				t.Fatalf("step %d: insert returned rank %d, want %d", step, r, i)
			}
			want = slices.Insert(want, i, e)
		}
		if tr.len() != len(want) {
			t.Fatalf("step %d: len %d, want %d", step, tr.len(), len(want))
		}
		checkTreap(t, tr.root)
		if tr.root != nil && tr.root.parent != nil {
			t.Fatal("the root has a parent")
		}
		if len(want) == 0 {
			continue
		}
		i := rng.IntN(len(want))
		if got := tr.at(i); got != want[i] {
			t.Fatalf("step %d: at(%d) wrong", step, i)
		}
		if got := tr.rank(want[i]); got != i {
			t.Fatalf("step %d: rank = %d, want %d", step, got, i)
		}
		var got []*entry
		for e := range tr.from(i) {
			if len(got) == 5 {
				break
			}
			got = append(got, e)
		}
		if w := want[i:min(i+5, len(want))]; !slices.Equal(got, w) {
			t.Fatalf("step %d: from(%d) gives %d entries, want %d", step, i, len(got), len(w))
		}
	}
	var all []*entry
	for e := range tr.from(0) {
		all = append(all, e)
	}
	if !slices.Equal(all, want) {
		t.Fatal("from(0) does not give every entry in order")
	}
	for range tr.from(len(want)) {
		t.Fatal("from(len) gives an entry")
	}
}

// checkTreap checks the heap order, the parent links and the sizes of a
// subtree.
func checkTreap(t *testing.T, n *entry) int {
	if n == nil {
		return 0
	}
	for _, c := range []*entry{n.left, n.right} {
		if c != nil && c.prio > n.prio {
			t.Fatal("heap order broken")
		}
		if c != nil && c.parent != n {
			t.Fatal("a parent link is wrong")
		}
	}
	s := 1 + checkTreap(t, n.left) + checkTreap(t, n.right)
	if n.size != s {
		t.Fatalf("size %d, want %d", n.size, s)
	}
	return s
}

// Two fast keys of one view compare as surql.Compare compares their
// values, whenever they can compare at all: in a view of user, of post, and
// in a grouped view (no table of its own).
func TestFastKeyCompare(t *testing.T) {
	values := []surql.Value{int64(-3), int64(0), int64(2), int64(1) << 62, -1.5, 2.0, 2.5, math.Inf(1), "", "a", "ab", "b",
		surql.NewRecordID("user", "9"), surql.NewRecordID("user", "10"), surql.NewRecordID("user", "u1"),
		surql.NewRecordID("user", "9223372036854775807"), surql.NewRecordID("user", "010"), surql.NewRecordID("post", "1"),
		surql.NewRecordID("user", "u10"), surql.NewRecordID("user", "U2"), surql.NewRecordID("user", "a b"),
		surql.NewRecordID("post", "x"), surql.NewRecordID("users", "a"), surql.NewRecordID("use", "z"),
		surql.NewRecordID("users", "0"), true, surql.None, nil, []any{int64(1)}}
	compared := 0
	for _, own := range []string{"user", "post", ""} {
		for _, a := range values {
			for _, b := range values {
				ka, kb := makeFastKey(a, own), makeFastKey(b, own)
				c, ok := ka.compare(&kb)
				if !ok {
					continue
				}
				compared++
				if want := surql.Compare(a, b); c != want {
					t.Errorf("fast compare in a view of %q of %v and %v = %d, want %d", own, surql.Format(a), surql.Format(b), c, want)
				}
			}
		}
	}
	if k := makeFastKey(surql.NewRecordID("user", "9"), ""); k.kind != fastRecord || compared < 150 {
		t.Errorf("record ids compare slowly (%+v), %d pairs compared fast", k, compared)
	}
	if k := makeFastKey(surql.NewRecordID("user", "u1"), "user"); k.kind != fastOwnTable {
		t.Errorf("string keys of the own table compare slowly (%+v)", k)
	}
}
