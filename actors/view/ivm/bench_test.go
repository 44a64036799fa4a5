package ivm

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troupe-run/troupe/actors/view/surql"
)

// BenchmarkIngest ingests updates into a table of 20,000 records that M
// views read (filters with parameters, ORDER BY with LIMIT): an Index finds
// the views each update can change and each of them applies it. In the
// same run it measures the cost of re-evaluating every view from scratch
// instead, and reports both per ingest and their ratio:
//
//	go test -run '^$' -bench Ingest ./actors/view/ivm
func BenchmarkIngest(b *testing.B) {
	for _, m := range []int{10, 100, 1000, 5000} {
		b.Run(fmt.Sprintf("views=%d", m), func(b *testing.B) {
			const records = 20000
			rng := rand.New(rand.NewPCG(1, 2))
			tables := NewTables()
			changes := make([]Change, 4096)
			for i := range changes {
				changes[i] = Change{Op: Update, Table: "product", ID: fmt.Sprintf("product:%d", rng.IntN(records)),
					Record: map[string]any{
						"owner":    fmt.Sprintf("user:%d", rng.IntN(1000)),
						"category": fmt.Sprintf("c%d", rng.IntN(20)),
						"status":   []string{"open", "closed"}[rng.IntN(2)],
						"price":    rng.IntN(100000),
					}}
			}
			next := 0
			update := func() Event {
				ev, err := tables.Apply(changes[next%len(changes)])
				if err != nil {
					b.Fatal(err)
				}
				next++
				return ev
			}
			for i := range records {
				ch := changes[i%len(changes)]
				ch.ID = fmt.Sprintf("product:%d", i)
				if _, err := tables.Apply(ch); err != nil {
					b.Fatal(err)
				}
			}
			queries := []string{
				"SELECT * FROM product WHERE owner = $owner",
				"SELECT * FROM product WHERE category = $category AND status = 'open' ORDER BY price DESC LIMIT 10",
				"SELECT * FROM product WHERE owner IN $owners ORDER BY price DESC, id LIMIT 5",
			}
			type benchView struct {
				view   *View
				sel    *surql.Select
				params map[string]any
			}
			views := make([]benchView, m)
			index := NewIndex()
			for i := range views {
				params := map[string]any{
					"owner":    fmt.Sprintf("user:%d", i%1000),
					"category": fmt.Sprintf("c%d", i%20),
					"owners":   []any{fmt.Sprintf("user:%d", i%1000), fmt.Sprintf("user:%d", (i+1)%1000)},
				}
				sel := surql.MustParse(queries[i%len(queries)])
				v, err := Compile(sel, params)
				if err != nil {
					b.Fatal(err)
				}
				v.Load(tables)
				views[i] = benchView{v, sel, params}
				index.Add(strconv.Itoa(i), v)
			}

			for b.Loop() {
				ev := update()
				for _, id := range index.Match(ev) {
					i, _ := strconv.Atoi(id)
					views[i].view.Apply(tables, ev)
				}
			}
			incremental := b.Elapsed() / time.Duration(b.N)

			// Evaluating a view costs the same whichever view it is, so
			// a sample of evaluations, scaled to m views, is the cost of
			// re-evaluating all of them.
			const samples = 30
			start := time.Now()
			for i := range samples {
				update()
				v := views[i%m]
				if _, err := Evaluate(tables, v.sel, v.params); err != nil {
					b.Fatal(err)
				}
			}
			scratch := time.Since(start) / samples * time.Duration(m)
			b.ReportMetric(float64(incremental.Nanoseconds())/1e3, "µs/ingest")
			b.ReportMetric(float64(scratch.Nanoseconds())/1e3, "µs/ingest-from-scratch")
			b.ReportMetric(float64(scratch)/float64(incremental), "x-faster")
		})
	}
}

// BenchmarkApply is the cost of one View.Apply for each kind of view of
// BenchmarkIngest, over the same 20,000 records: a filter without order,
// ORDER BY with LIMIT over ~500 rows, and IN with ORDER BY and LIMIT. Each
// event is one that the index matches to the view.
func BenchmarkApply(b *testing.B) {
	const records = 20000
	queries := []struct{ name, q string }{
		{"filter", "SELECT * FROM product WHERE owner = $owner"},
		{"top", "SELECT * FROM product WHERE category = $category AND status = 'open' ORDER BY price DESC LIMIT 10"},
		{"in", "SELECT * FROM product WHERE owner IN $owners ORDER BY price DESC, id LIMIT 5"},
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			rec := func() map[string]any {
				return map[string]any{"owner": fmt.Sprintf("user:%d", rng.IntN(100)), "category": fmt.Sprintf("c%d", rng.IntN(20)),
					"status": []string{"open", "closed"}[rng.IntN(2)], "price": int64(rng.IntN(100000))}
			}
			tables := NewTables()
			for i := range records {
				tables.Apply(Change{Op: Update, Table: "product", ID: fmt.Sprint("product:", i), Record: rec()})
			}
			index := NewIndex()
			views := map[string]*View{}
			for i := range 100 {
				params := map[string]any{"owner": fmt.Sprintf("user:%d", i), "category": fmt.Sprintf("c%d", i%20),
					"owners": []any{fmt.Sprintf("user:%d", i), fmt.Sprintf("user:%d", (i+1)%100)}}
				v, err := Compile(surql.MustParse(q.q), params)
				if err != nil {
					b.Fatal(err)
				}
				v.Load(tables)
				views[v.ParamsKey()] = v
				index.Add(v.ParamsKey(), v)
			}
			var matched []string
			applies := 0
			for b.Loop() {
				ev, err := tables.Apply(Change{Op: Update, Table: "product", ID: fmt.Sprint("product:", rng.IntN(records)), Record: rec()})
				if err != nil {
					b.Fatal(err)
				}
				matched = index.AppendMatch(matched[:0], ev)
				for _, id := range matched {
					views[id].Apply(tables, ev)
				}
				applies += len(matched)
			}
			b.ReportMetric(float64(applies)/float64(b.N), "applies/op")
		})
	}
}

// BenchmarkLoadRange is the cost of loading a view ranged on a number over
// 20,000 records, as registration and refills do: seeking the range in the
// ordered column against scanning the table (the same WHERE with OR false,
// which gives no range), in the same run.
func BenchmarkLoadRange(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	tables := NewTables()
	for i := range 20000 {
		tables.Apply(Change{Op: Create, Table: "product", ID: fmt.Sprint("product:", i),
			Record: map[string]any{"price": int64(rng.IntN(1000)), "category": fmt.Sprintf("c%d", rng.IntN(50))}})
	}
	for _, where := range []string{"price > $lo AND price < $hi", "(price > $lo AND price < $hi) OR false"} {
		b.Run(map[bool]string{true: "scan", false: "ranged"}[strings.Contains(where, "OR")], func(b *testing.B) {
			for b.Loop() {
				lo := int64(rng.IntN(990))
				v, err := Compile(surql.MustParse("SELECT * FROM product WHERE "+where), map[string]any{"lo": lo, "hi": lo + 3})
				if err != nil {
					b.Fatal(err)
				}
				v.Load(tables)
			}
		})
	}
}

// BenchmarkOrderByID is the ordered index of a view without ORDER BY (rows
// ordered by id alone) over 200 rows, with numeric record keys (product:17)
// and with string keys (product:p17): a row removed and inserted again,
// with the ids compared through their fast keys and, in the same run,
// through surql.Compare (fast keys cleared).
func BenchmarkOrderByID(b *testing.B) {
	p, err := compile(surql.MustParse("SELECT * FROM product"), nil, false, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, prefix := range []string{"", "p"} {
		for _, fast := range []bool{true, false} {
			name := map[string]string{"": "numeric", "p": "string"}[prefix] + "/" + map[bool]string{true: "fast", false: "compare"}[fast]
			b.Run(name, func(b *testing.B) {
				t := tree{cmp: p.compare}
				var entries []*entry
				for i := range 200 {
					key := prefix + strconv.Itoa(i*7919%1000)
					e := p.entry("product:"+key, map[string]any{"id": surql.NewRecordID("product", key)})
					if !fast {
						e.first = fastKey{}
					}
					entries = append(entries, e)
					t.insert(e)
				}
				i := 0
				for b.Loop() {
					e := entries[i%len(entries)]
					t.remove(e)
					t.insert(e)
					i++
				}
			})
		}
	}
}
