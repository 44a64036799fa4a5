package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

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
// can change. The ingests go one after the other, each waiting for its
// reply: the latency the issue asks for. The same ingests are then timed
// again with a subscriber on every view, so that every delta is also
// encoded and delivered through the view actors.
func benchViews(ingests int, counts string) error {
	const records = 20000
	fmt.Printf("views: %d records, %d ingests per run, one at a time; latency per ingest through the actors "+
		"(median of 10 rounds), vs evaluating the views it can change from scratch\n", records, ingests)
	for _, field := range strings.Split(counts, ",") {
		m, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil {
			return fmt.Errorf("--view-counts: %q is not a number", field)
		}
		r, err := benchViewsOnce(m, records, ingests)
		if err != nil {
			return err
		}
		fmt.Printf("views=%-5d incremental %8.1f µs/ingest   from scratch %10.1f µs/ingest (%d samples)   ratio %.4f   "+
			"| every view subscribed: %8.1f µs/ingest, %.1f deltas/ingest\n",
			m, r.incremental, r.scratch, r.samples, r.incremental/r.scratch, r.subscribed, r.deltas)
	}
	return nil
}

// viewsResult is one run of benchViewsOnce.
type viewsResult struct {
	incremental float64 // µs per ingest
	scratch     float64 // µs per ingest, from scratch
	samples     int     // ingests the from-scratch figure is the mean of
	subscribed  float64 // µs per ingest with a subscriber on every view
	deltas      float64 // deltas the subscriber got per ingest
}

func benchViewsOnce(m, records, ingests int) (res viewsResult, err error) {
	cfg, err := system.LoadConfig([]string{"--data-dir=", "--log-level=error"}, system.NoEnv, io.Discard)
	if err != nil {
		return res, err
	}
	sys, err := system.Boot(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return res, err
	}
	defer sys.Close()
	svc, err := view.Start(sys, view.Options{TTLInterval: time.Hour})
	if err != nil {
		return res, err
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
	loaded := make([][]byte, records)
	for i := range loaded {
		loaded[i] = record()
		if err := ingest(fmt.Sprint("product:", i), loaded[i]); err != nil {
			return res, err
		}
	}
	params := func(i int) []byte {
		return fmt.Appendf(nil, `{"owner":"user:%d","category":"c%d","owners":["user:%d","user:%d"]}`,
			i%1000, i%20, i%1000, (i+1)%1000)
	}
	for i := range views {
		r, err := svc.Register(ctx, &messages.RegisterView{Id: strconv.Itoa(i), Surql: viewQueries[i%len(viewQueries)], Params: params(i)})
		if err != nil || r.ErrorCode != "" {
			return res, fmt.Errorf("register: %v %v", err, r)
		}
	}

	type change struct {
		id  string
		rec []byte
	}
	newChanges := func() []change {
		changes := make([]change, ingests)
		for i := range changes {
			changes[i] = change{fmt.Sprint("product:", rng.IntN(records)), record()}
		}
		return changes
	}
	// The ingests are timed in ten rounds and the median round counts: a
	// burst of other work on a shared machine spoils a round, not the figure.
	timeIngests := func(changes []change) (float64, error) {
		const rounds = 10
		perRound := make([]float64, 0, rounds)
		for r := range rounds {
			part := changes[r*len(changes)/rounds : (r+1)*len(changes)/rounds]
			start := time.Now()
			for _, c := range part {
				if err := ingest(c.id, c.rec); err != nil {
					return 0, err
				}
			}
			perRound = append(perRound, float64(time.Since(start).Nanoseconds())/1e3/float64(max(len(part), 1)))
		}
		slices.Sort(perRound)
		return perRound[rounds/2], nil
	}
	changes := newChanges()
	if res.incremental, err = timeIngests(changes); err != nil {
		return res, err
	}

	// The baseline's own copy of the tables and views is built only now,
	// so that its memory does not slow the service's ingests above.
	for i, rec := range loaded {
		if _, err := mirror(fmt.Sprint("product:", i), rec); err != nil {
			return res, err
		}
	}
	for i := range views {
		q := viewQueries[i%len(viewQueries)]
		sel, _ := surql.Parse(q)
		p, _ := decodeJSON(params(i))
		v, err := ivm.Compile(sel, p)
		if err != nil {
			return res, err
		}
		views[i] = compiled{sel, p}
		index.Add(strconv.Itoa(i), v)
	}

	// From scratch is slow: time a sample of the same changes, 50 of them
	// or as many as 20 seconds allow (3 at least).
	var took time.Duration
	for _, c := range changes[:min(len(changes), 50)] {
		if res.samples >= 3 && took > 20*time.Second {
			break
		}
		ev, err := mirror(c.id, c.rec)
		if err != nil {
			return res, err
		}
		t := time.Now()
		for _, id := range index.Match(ev) {
			i, _ := strconv.Atoi(id)
			if _, err := ivm.Evaluate(tables, views[i].sel, views[i].params); err != nil {
				return res, err
			}
		}
		took += time.Since(t)
		res.samples++
	}
	res.scratch = float64(took.Nanoseconds()) / 1e3 / float64(res.samples)

	// Again with a subscriber on every view.
	var deltas, initial atomic.Int64
	sub := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if d, ok := ctx.Message().(*messages.ViewDelta); ok {
			if d.Initial {
				initial.Add(1)
			} else {
				deltas.Add(1)
			}
		}
	}))
	ids := make([]string, m)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	if _, err := svc.Subscribe(ctx, ids, sub); err != nil {
		return res, err
	}
	for initial.Load() < int64(m) { // every view actor has sent its result
		time.Sleep(time.Millisecond)
	}
	if res.subscribed, err = timeIngests(newChanges()); err != nil {
		return res, err
	}
	for n := int64(-1); n != deltas.Load(); time.Sleep(20 * time.Millisecond) {
		n = deltas.Load() // the last deltas may still be on their way
	}
	res.deltas = float64(deltas.Load()) / float64(ingests)
	return res, nil
}
