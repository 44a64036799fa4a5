package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/troupe-run/troupe/actors/view"
	"github.com/troupe-run/troupe/actors/view/ivm"
	"github.com/troupe-run/troupe/actors/view/surql"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
)

// viewQueries are the views of the benchmark: filters with parameters,
// ORDER BY with LIMIT over a filter, and IN over parameters.
var viewQueries = []string{
	"SELECT * FROM product WHERE owner = $owner",
	"SELECT * FROM product WHERE category = $category AND status = 'open' ORDER BY price DESC LIMIT 10",
	"SELECT * FROM product WHERE owner IN $owners ORDER BY price DESC, id LIMIT 5",
}

// benchViews measures the views service in process, through its actors:
// the latency of one ingest with m views registered over 20,000 records,
// against, in the same run, recomputing from scratch the views that ingest
// can change.
func benchViews(ingests int, counts string) error {
	const records = 20000
	fmt.Printf("views: %d records, %d ingests per run; incremental through the actors vs from-scratch evaluation of the affected views\n", records, ingests)
	for _, field := range strings.Split(counts, ",") {
		m, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil {
			return fmt.Errorf("--view-counts: %q is not a number", field)
		}
		inc, scratch, err := benchViewsOnce(m, records, ingests)
		if err != nil {
			return err
		}
		fmt.Printf("views=%-5d incremental %8.1f µs/ingest   from scratch %10.1f µs/ingest   ratio %.3f\n",
			m, inc, scratch, inc/scratch)
	}
	return nil
}

func benchViewsOnce(m, records, ingests int) (incremental, scratch float64, err error) {
	cfg, err := system.LoadConfig([]string{"--data-dir=", "--log-level=error"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		return 0, 0, err
	}
	sys, err := system.Boot(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return 0, 0, err
	}
	defer sys.Close()
	svc, err := view.Start(sys, view.Options{TTLInterval: time.Hour})
	if err != nil {
		return 0, 0, err
	}
	for !svc.Ready() {
		time.Sleep(time.Millisecond)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	record := func() []byte {
		return fmt.Appendf(nil, `{"owner":"user:%d","category":"c%d","status":%q,"price":%d}`,
			rng.IntN(1000), rng.IntN(20), []string{"open", "closed"}[rng.IntN(2)], rng.IntN(100000))
	}
	// The same tables and views, evaluated from scratch, for the baseline.
	tables, index := ivm.NewTables(), ivm.NewIndex()
	type compiled struct {
		sel    *surql.Select
		params map[string]any
	}
	views := make([]compiled, m)
	ingest := func(id string, rec []byte) error {
		r, err := svc.Ingest(ctx, &messages.IngestRequest{Table: "product", Op: "UPDATE", Id: id, Record: rec})
		if err == nil && r.ErrorCode != "" {
			err = fmt.Errorf("%s: %s", r.ErrorCode, r.ErrorMessage)
		}
		return err
	}
	mirror := func(id string, rec []byte) (ivm.Event, error) {
		fields, _ := decodeJSON(rec)
		return tables.Apply(ivm.Change{Op: ivm.Update, Table: "product", ID: id, Record: fields})
	}
	for i := range records {
		id, rec := fmt.Sprint("product:", i), record()
		if err := ingest(id, rec); err != nil {
			return 0, 0, err
		}
		if _, err := mirror(id, rec); err != nil {
			return 0, 0, err
		}
	}
	for i := range views {
		params := fmt.Appendf(nil, `{"owner":"user:%d","category":"c%d","owners":["user:%d","user:%d"]}`,
			i%1000, i%20, i%1000, (i+1)%1000)
		q := viewQueries[i%len(viewQueries)]
		r, err := svc.Register(ctx, &messages.RegisterView{Id: strconv.Itoa(i), Surql: q, Params: params})
		if err != nil || r.ErrorCode != "" {
			return 0, 0, fmt.Errorf("register: %v %v", err, r)
		}
		sel, _ := surql.Parse(q)
		p, _ := decodeJSON(params)
		v, err := ivm.Compile(sel, p)
		if err != nil {
			return 0, 0, err
		}
		views[i] = compiled{sel, p}
		index.Add(strconv.Itoa(i), v)
	}

	type change struct {
		id  string
		rec []byte
	}
	changes := make([]change, ingests)
	for i := range changes {
		changes[i] = change{fmt.Sprint("product:", rng.IntN(records)), record()}
	}
	start := time.Now()
	for _, c := range changes {
		if err := ingest(c.id, c.rec); err != nil {
			return 0, 0, err
		}
	}
	incremental = float64(time.Since(start).Microseconds()) / float64(ingests)

	// From scratch is slow: time a sample of the same changes.
	var took time.Duration
	sample := changes[:min(len(changes), 50)]
	for _, c := range sample {
		ev, err := mirror(c.id, c.rec)
		if err != nil {
			return 0, 0, err
		}
		t := time.Now()
		for _, id := range index.Match(ev) {
			i, _ := strconv.Atoi(id)
			if _, err := ivm.Evaluate(tables, views[i].sel, views[i].params); err != nil {
				return 0, 0, err
			}
		}
		took += time.Since(t)
	}
	scratch = float64(took.Microseconds()) / float64(len(sample))
	return incremental, scratch, nil
}
