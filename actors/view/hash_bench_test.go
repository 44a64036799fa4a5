package view

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/systemtest"
)

// BenchmarkIngestHashes is the cost of keeping the table hashes (scheduler
// mode): the latency of one ingest through the service, 100 views over
// 20,000 records, with the hashes kept and without, in the same run:
//
//	go test -run '^$' -bench IngestHashes ./actors/view
//
// The /info sub-benchmark is the cost of reading every table's hash after
// one ingest changed it (one blake3 pass over the table's encoded rows).
func BenchmarkIngestHashes(b *testing.B) {
	for _, keep := range []bool{false, true} {
		b.Run(fmt.Sprintf("keep=%v", keep), func(b *testing.B) {
			const records = 20000
			sys := systemtest.Boot(b)
			svc, err := Start(sys, Options{TTLInterval: time.Hour, KeepHashes: keep})
			if err != nil {
				b.Fatal(err)
			}
			for !svc.Ready() {
				time.Sleep(time.Millisecond)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			record := func() []byte {
				return fmt.Appendf(nil, `{"owner":"user:%d","category":"c%d","status":%q,"price":%d,"title":"item %d"}`,
					rng.IntN(1000), rng.IntN(20), []string{"open", "closed"}[rng.IntN(2)], rng.IntN(100000), rng.IntN(1e6))
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
			for i := range 100 {
				r, err := svc.Register(bg, &messages.RegisterView{Id: strconv.Itoa(i),
					Surql: "SELECT * FROM product WHERE owner = $owner", Params: fmt.Appendf(nil, `{"owner":"user:%d"}`, i)})
				if err != nil || r.ErrorCode != "" {
					b.Fatal(err, r)
				}
			}
			recs := make([][]byte, 1024)
			for i := range recs {
				recs[i] = record()
			}
			b.Run("ingest", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					ingest(fmt.Sprint("product:", rng.IntN(records)), recs[i%len(recs)])
				}
			})
			b.Run("info-after-ingest", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					ingest(fmt.Sprint("product:", rng.IntN(records)), recs[i%len(recs)])
					if _, err := svc.TableHashes(bg); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
