package view

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/systemtest"
)

// BenchmarkIngest is the latency of one ingest through the service and its
// actors with M views over 20,000 records, as cmd/troupe-bench --views
// measures it, without the from-scratch baseline:
//
//	go test -run '^$' -bench Ingest ./actors/view
func BenchmarkIngest(b *testing.B) {
	queries := []string{
		"SELECT * FROM product WHERE owner = $owner",
		"SELECT * FROM product WHERE category = $category AND status = 'open' ORDER BY price DESC LIMIT 10",
		"SELECT * FROM product WHERE owner IN $owners ORDER BY price DESC, id LIMIT 5",
	}
	for _, m := range []int{10, 100, 1000, 5000} {
		b.Run(fmt.Sprintf("views=%d", m), func(b *testing.B) {
			const records = 20000
			sys := systemtest.Boot(b)
			svc, err := Start(sys, Options{TTLInterval: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			for !svc.Ready() {
				time.Sleep(time.Millisecond)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			record := func() []byte {
				return fmt.Appendf(nil, `{"owner":"user:%d","category":"c%d","status":%q,"price":%d}`,
					rng.IntN(1000), rng.IntN(20), []string{"open", "closed"}[rng.IntN(2)], rng.IntN(100000))
			}
			ingest := func(id string, rec []byte) {
				r, err := svc.Ingest(bg, &messages.IngestRequest{Table: "product", Op: "UPDATE", Id: id, Record: rec})
				if err != nil || r.ErrorCode != "" {
					b.Fatal(err, r)
				}
			}
			for i := range records {
				ingest(fmt.Sprint("product:", i), record())
			}
			for i := range m {
				params := fmt.Appendf(nil, `{"owner":"user:%d","category":"c%d","owners":["user:%d","user:%d"]}`,
					i%1000, i%20, i%1000, (i+1)%1000)
				r, err := svc.Register(bg, &messages.RegisterView{Id: strconv.Itoa(i), Surql: queries[i%len(queries)], Params: params})
				if err != nil || r.ErrorCode != "" {
					b.Fatal(err, r)
				}
			}
			type change struct {
				id  string
				rec []byte
			}
			changes := make([]change, 4096)
			for i := range changes {
				changes[i] = change{fmt.Sprint("product:", rng.IntN(records)), record()}
			}
			n := 0
			// The label tells the ingests from the set-up in a profile
			// (go tool pprof -tagfocus phase=ingest); the engine's mailbox
			// goroutines, started by the sender, inherit it.
			cpu := cpuTime()
			pprof.Do(bg, pprof.Labels("phase", "ingest"), func(context.Context) {
				for b.Loop() {
					c := changes[n%len(changes)]
					ingest(c.id, c.rec)
					n++
				}
			})
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "µs/ingest")
			// The process's CPU time (every goroutine, GC included) per
			// ingest: steadier than the latency on a busy machine.
			b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/1e3/float64(b.N), "cpu-µs/ingest")
		})
	}
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIngestMixed is BenchmarkIngest with troupe-bench --views-http's
// mix of views (equality on a param, a price range, ORDER BY + LIMIT, a
// subquery through $parent, GROUP BY with count), in process, so that a
// profile shows the engine without HTTP:
//
//	go test -run '^$' -bench IngestMixed -cpuprofile cpu.out ./actors/view
func BenchmarkIngestMixed(b *testing.B) {
	for _, m := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("views=%d", m), func(b *testing.B) {
			mx := newMixed(b)
			for i := range m {
				mx.register(i, i%5)
			}
			changes := make([][]byte, 4096)
			for i := range changes {
				changes[i] = mx.record()
			}
			n := 0
			cpu := cpuTime()
			pprof.Do(bg, pprof.Labels("phase", "ingest"), func(context.Context) {
				for b.Loop() {
					mx.ingest("product", fmt.Sprint("product:", mx.rng.IntN(mixedRecords)), changes[n%len(changes)])
					n++
				}
			})
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "µs/ingest")
			b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/1e3/float64(b.N), "cpu-µs/ingest")
		})
	}
}

// BenchmarkIngestCold is BenchmarkIngestMixed at 5,000 views with the
// caches cold, as a server's ingests find them: between two ingests over
// HTTP the network stack, the client and every other process on the
// machine run, and the engine's tables, index and views are out of the
// cache. Every other ingest follows a write over 16 MiB (outside the
// timing); the CPU time of those ingests is set against that of the ones
// in between, in the same run:
//
//	go test -run '^$' -bench IngestCold -benchtime 4000x ./actors/view
func BenchmarkIngestCold(b *testing.B) {
	mx := newMixed(b)
	for i := range 5000 {
		mx.register(i, i%5)
	}
	changes := make([][]byte, 4096)
	for i := range changes {
		changes[i] = mx.record()
	}
	flush := make([]byte, 16<<20)
	var spent [2]time.Duration // warm, cold
	n := 0
	for b.Loop() {
		cold := n % 2
		if cold == 1 {
			for i := 0; i < len(flush); i += 64 {
				flush[i]++
			}
		}
		cpu := cpuTime()
		mx.ingest("product", fmt.Sprint("product:", mx.rng.IntN(mixedRecords)), changes[n%len(changes)])
		spent[cold] += cpuTime() - cpu
		n++
	}
	if n < 2 {
		return // no cold ingest to compare
	}
	warm, cold := float64(spent[0].Nanoseconds())/1e3/float64((n+1)/2), float64(spent[1].Nanoseconds())/1e3/float64(n/2)
	b.ReportMetric(warm, "warm-cpu-µs/ingest")
	b.ReportMetric(cold, "cold-cpu-µs/ingest")
	b.ReportMetric(cold/warm, "cold/warm")
}

// BenchmarkViewMemory is the heap that registered views hold, per view,
// for each kind of BenchmarkIngestMixed's mix, for the mix itself, and for
// views of about ten rows that share nothing (each with a query of its
// own), over its 20,000 records (the live heap after a collection, less
// that before the views were registered; no subscriber, so no view actor):
//
//	go test -run '^$' -bench ViewMemory -benchtime 1x ./actors/view
func BenchmarkViewMemory(b *testing.B) {
	kinds := []string{"equality", "range", "order-limit", "subquery", "group", "ten-rows", "mixed"}
	for kind, name := range kinds {
		b.Run(name, func(b *testing.B) {
			const m = 2000
			for b.Loop() {
				mx := newMixed(b)
				before := liveHeap()
				rows := 0
				for i := range m {
					if name == "mixed" {
						rows += mx.register(i, i%5)
					} else {
						rows += mx.register(i, kind)
					}
				}
				b.ReportMetric(float64(liveHeap()-before)/m, "B/view")
				b.ReportMetric(float64(rows)/m, "rows/view")
			}
		})
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

const mixedRecords = 20000

// mixed is the views service with BenchmarkIngestMixed's tables: 1,000
// users and 20,000 products.
type mixed struct {
	b   *testing.B
	svc *Service
	rng *rand.Rand
}

func newMixed(b *testing.B) *mixed {
	sys := systemtest.Boot(b)
	svc, err := Start(sys, Options{TTLInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	systemtest.Eventually(b, "the views engine to be ready", svc.Ready)
	mx := &mixed{b: b, svc: svc, rng: rand.New(rand.NewPCG(1, 2))}
	for i := range 1000 {
		mx.ingest("user", fmt.Sprint("user:", i), fmt.Appendf(nil, `{"name":"u%d"}`, i))
	}
	for i := range mixedRecords {
		mx.ingest("product", fmt.Sprint("product:", i), mx.record())
	}
	return mx
}

func (mx *mixed) ingest(table, id string, rec []byte) {
	r, err := mx.svc.Ingest(bg, &messages.IngestRequest{Table: table, Op: "UPDATE", Id: id, Record: rec})
	if err != nil || r.ErrorCode != "" {
		mx.b.Fatal(err, r)
	}
}

func (mx *mixed) record() []byte {
	return fmt.Appendf(nil, `{"price":%d,"category":"c%d","owner":"user:%d","status":"open"}`,
		mx.rng.IntN(1000), mx.rng.IntN(50), mx.rng.IntN(1000))
}

// register registers view i of a kind: 0 equality on a param, 1 a narrow
// price range, 2 ORDER BY + LIMIT over a category, 3 a subquery through
// $parent, 4 GROUP BY over a range, 5 one owner's products under a price
// (about 10 rows; no two views of this kind with the same query). It
// returns the rows of the view's result.
func (mx *mixed) register(i, kind int) int {
	rng := mx.rng
	var q string
	var params []byte
	switch kind {
	case 0:
		q, params = "SELECT * FROM product WHERE owner = $owner", fmt.Appendf(nil, `{"owner":"user:%d"}`, rng.IntN(1000))
	case 1:
		lo := rng.IntN(990)
		q = fmt.Sprintf("SELECT * FROM product WHERE price > %d AND price < %d", lo, lo+3)
	case 2:
		q = fmt.Sprintf("SELECT * FROM product WHERE category = 'c%d' ORDER BY price DESC, id LIMIT 10", rng.IntN(50))
	case 3:
		q = fmt.Sprintf("SELECT *, (SELECT name FROM user WHERE id = $parent.owner) AS who FROM product WHERE owner = user:%d", rng.IntN(1000))
	case 4:
		q = fmt.Sprintf("SELECT category, count() AS n FROM product WHERE price > %d GROUP BY category", 990+rng.IntN(10))
	case 5:
		q = fmt.Sprintf("SELECT * FROM product WHERE owner = user:%d AND price < %d", i%1000, 500+i/1000)
	}
	r, err := mx.svc.Register(bg, &messages.RegisterView{Id: strconv.Itoa(i), Surql: q, Params: params})
	if err != nil || r.ErrorCode != "" {
		mx.b.Fatal(err, r)
	}
	return len(r.Records)
}
