package ivm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/troupe-run/troupe/actors/view/surql"
)

func BenchmarkParts(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	raws := make([][]byte, 4096)
	for i := range raws {
		raws[i] = fmt.Appendf(nil, `{"owner":"user:%d","category":"c%d","status":%q,"price":%d}`,
			rng.IntN(1000), rng.IntN(20), []string{"open", "closed"}[rng.IntN(2)], rng.IntN(100000))
	}
	var dec Decoder
	b.Run("decode", func(b *testing.B) {
		n := 0
		for b.Loop() {
			dec.Decode(raws[n%len(raws)])
			n++
		}
	})
	setup := func(cols bool) *Tables {
		t := NewTables()
		for i := range 20000 {
			r, _ := dec.Decode(raws[i%len(raws)])
			t.Apply(Change{Op: Update, Table: "product", ID: fmt.Sprint("product:", i), Record: r, Normalized: true})
		}
		if cols {
			for range t.seek("product", []string{"owner"}, "user:1") {
			}
			for range t.seek("product", []string{"category"}, "c1") {
			}
		}
		return t
	}
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = fmt.Sprint("product:", rng.IntN(20000))
	}
	for _, cols := range []bool{false, true} {
		t := setup(cols)
		b.Run(fmt.Sprint("apply-cols=", cols), func(b *testing.B) {
			n := 0
			for b.Loop() {
				r, _ := dec.Decode(raws[n%len(raws)])
				t.Apply(Change{Op: Update, Table: "product", ID: ids[n%len(ids)], Record: r, Normalized: true})
				n++
			}
		})
	}
	t := setup(true)
	index := NewIndex()
	views := map[string]*View{}
	qs := []string{
		"SELECT * FROM product WHERE owner = $owner",
		"SELECT * FROM product WHERE category = $category AND status = 'open' ORDER BY price DESC LIMIT 10",
		"SELECT * FROM product WHERE owner IN $owners ORDER BY price DESC, id LIMIT 5",
	}
	for i := range 10 {
		params := map[string]any{"owner": fmt.Sprintf("user:%d", i), "category": fmt.Sprintf("c%d", i%20),
			"owners": []any{fmt.Sprintf("user:%d", i), fmt.Sprintf("user:%d", (i+1)%1000)}}
		v, _ := Compile(surql.MustParse(qs[i%3]), params)
		v.Load(t)
		views[fmt.Sprint(i)] = v
		index.Add(fmt.Sprint(i), v)
	}
	b.Run("apply+match+views", func(b *testing.B) {
		n := 0
		var matched []string
		for b.Loop() {
			r, _ := dec.Decode(raws[n%len(raws)])
			ev, _ := t.Apply(Change{Op: Update, Table: "product", ID: ids[n%len(ids)], Record: r, Normalized: true})
			matched = index.AppendMatch(matched[:0], ev)
			for _, id := range matched {
				views[id].Apply(t, ev)
			}
			n++
		}
	})
}
