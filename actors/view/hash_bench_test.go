package view

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/troupe-run/troupe/actors/view/ivm"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/systemtest"
)

// BenchmarkIngestHashes is the cost of keeping the table hashes (scheduler
// mode): the latency of one ingest through the service, 100 views over
// 20,000 records, without the hashes and with them. The two services run
// in the same process and take turns, rounds of 1000 ingests each, so
// that the load of a shared machine falls on both alike:
//
//	go test -run '^$' -bench IngestHashes -benchtime=20x ./actors/view
//
// It reports ns/ingest of each and their ratio.
func BenchmarkIngestHashes(b *testing.B) {
	const records, round = 20000, 1000
	rng := rand.New(rand.NewPCG(1, 2))
	record := func() []byte {
		return fmt.Appendf(nil, `{"owner":"user:%d","category":"c%d","status":%q,"price":%d,"title":"item %d"}`,
			rng.IntN(1000), rng.IntN(20), []string{"open", "closed"}[rng.IntN(2)], rng.IntN(100000), rng.IntN(1e6))
	}
	var svcs [2]*Service
	for i, keep := range []bool{false, true} {
		sys := systemtest.Boot(b)
		svc, err := Start(sys, Options{TTLInterval: time.Hour, KeepHashes: keep})
		if err != nil {
			b.Fatal(err)
		}
		for !svc.Ready() {
			time.Sleep(time.Millisecond)
		}
		svcs[i] = svc
	}
	ingest := func(svc *Service, id string, rec []byte) {
		r, err := svc.Ingest(bg, &messages.IngestRequest{Table: "product", Op: "UPDATE", Id: id, Record: rec})
		if err != nil || r.ErrorCode != "" {
			b.Fatal(err, r)
		}
	}
	for _, svc := range svcs {
		for i := range records {
			ingest(svc, fmt.Sprint("product:", i), record())
		}
		for i := range 100 {
			r, err := svc.Register(bg, &messages.RegisterView{Id: strconv.Itoa(i),
				Surql: "SELECT * FROM product WHERE owner = $owner", Params: fmt.Appendf(nil, `{"owner":"user:%d"}`, i)})
			if err != nil || r.ErrorCode != "" {
				b.Fatal(err, r)
			}
		}
	}
	recs := make([][]byte, round)
	ids := make([]string, round)
	for i := range recs {
		recs[i], ids[i] = record(), fmt.Sprint("product:", rng.IntN(records))
	}
	var spent [2]time.Duration
	n := 0
	for b.Loop() {
		for s, svc := range svcs {
			start := time.Now()
			for i := range round {
				ingest(svc, ids[i], recs[i])
			}
			spent[s] += time.Since(start)
		}
		n += round
	}
	without, with := float64(spent[0].Nanoseconds())/float64(n), float64(spent[1].Nanoseconds())/float64(n)
	b.ReportMetric(without, "ns/ingest-plain")
	b.ReportMetric(with, "ns/ingest-hashed")
	b.ReportMetric(with/without, "ratio")
}

// BenchmarkHashRow is what keeping the hashes adds to one ingest: the
// canonical JSON of the record, kept for its table.
func BenchmarkHashRow(b *testing.B) {
	rec, _ := ivm.DecodeRecord([]byte(`{"id":"product:1","owner":"user:7","category":"c3","status":"open","price":4521,"title":"item 77","score":0.25}`))
	h := newTableHashes()
	b.ReportAllocs()
	for b.Loop() {
		h.set("product", "product:1", rec)
	}
}

// BenchmarkTableHash is the hash of a table of 20,000 rows after one of
// them changed, kept (one blake3 pass over the encoded rows) and from
// scratch (encode, sort, hash), as /info computes it without scheduler
// mode.
func BenchmarkTableHash(b *testing.B) {
	tables, kept := ivm.NewTables(), newTableHashes()
	for i := range 20000 {
		rec, _ := ivm.DecodeRecord(fmt.Appendf(nil, `{"owner":"user:%d","price":%d,"title":"item %d"}`, i%1000, i, i))
		ev, _ := tables.Apply(ivm.Change{Op: ivm.Create, Table: "product", ID: fmt.Sprint("product:", i), Record: rec, Normalized: true})
		kept.set("product", ev.ID, ev.New)
	}
	rec, _ := tables.Get("product", "product:5")
	b.Run("kept", func(b *testing.B) {
		for b.Loop() {
			kept.set("product", "product:5", rec)
			kept.sum("product")
		}
	})
	b.Run("scratch", func(b *testing.B) {
		for b.Loop() {
			hashTable(tables, "product")
		}
	})
}
