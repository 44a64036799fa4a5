package reactive

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand"
	"strconv"
	"testing"

	"github.com/troupe-run/troupe/gateway/skip"
	"github.com/troupe-run/troupe/system/systemtest"
)

// TestServiceIncrementalEqualsFromScratch sends random writes (some of
// which user code refuses) to a service whose instances live throughout,
// and checks every resource against a fresh service given the same inputs
// in one write; streams folded over their events must equal the snapshots.
func TestServiceIncrementalEqualsFromScratch(t *testing.T) {
	params := []string{`{"op":"map"}`, `{"op":"param","n":5}`, `{"op":"slice"}`, `{"op":"slices"}`, `{"op":"take","n":3}`,
		`{"op":"sum"}`, `{"op":"count"}`, `{"op":"min"}`, `{"op":"max"}`, `{"op":"product"}`, `{"op":"reduce"}`,
		`{"op":"merge"}`, `{"op":"size"}`, `{"op":"join"}`, `{"op":"lazy"}`}
	ctx := context.Background()
	sys := systemtest.Boot(t)
	s := startService(t, sys, "testdata/ops.ts", Options{})
	folded := make([]map[string]string, len(params))
	sinks := make([]*sink, len(params))
	for i, p := range params {
		id, err := s.CreateStream(ctx, "res", json.RawMessage(p))
		if err != nil {
			t.Fatal(err)
		}
		sinks[i] = newSink()
		if _, err := s.Subscribe(ctx, id, sinks[i]); err != nil {
			t.Fatal(err)
		}
	}
	model := map[string]map[string][]string{
		"nums":  {"1": {"10"}, "2": {"20"}, "3": {"30"}, "4": {"40"}, "5": {"50"}},
		"other": {"2": {"3"}, "9": {"1"}},
	}
	rng := rand.New(rand.NewSource(7))
	for step := 0; step < 40; step++ {
		coll := "nums"
		if rng.Intn(3) == 0 {
			coll = "other"
		}
		var es []skip.Entry
		next := map[string][]string{}
		for n := rng.Intn(3) + 1; n > 0; n-- {
			k := strconv.Itoa(rng.Intn(10))
			var vs []string
			for m := rng.Intn(5) / 2; m > 0; m-- {
				vs = append(vs, strconv.Itoa(rng.Intn(60)))
			}
			es = append(es, entry(k, vs...))
			next[k] = vs
		}
		err := s.Patch(ctx, coll, es)
		if err != nil && !errors.Is(err, skip.ErrRefused) {
			t.Fatalf("step %d: %v", step, err)
		}
		if err == nil {
			for k, vs := range next {
				if len(vs) == 0 {
					delete(model[coll], k)
				} else {
					model[coll][k] = vs
				}
			}
		}
		if step%10 != 9 {
			continue
		}
		fresh := systemtest.Boot(t)
		f := startService(t, fresh, "testdata/ops.ts", Options{})
		for _, c := range []string{"nums", "other"} {
			var all []skip.Entry
			for k := 0; k < 10; k++ {
				all = append(all, entry(strconv.Itoa(k), model[c][strconv.Itoa(k)]...))
			}
			patch(t, f, c, all...)
		}
		for i, p := range params {
			wantEs, err := f.Snapshot(ctx, "res", json.RawMessage(p))
			if err != nil {
				t.Fatal(err)
			}
			want := render(wantEs)
			if got := render(withoutVanished(snapshotEntries(t, s, p), wantEs, p)); got != want {
				t.Fatalf("step %d %s: incremental %s, from scratch %s", step, p, got, want)
			}
			folded[i] = fold(sinks[i].all())
			if got := render(withoutVanished(fromFolded(folded[i]), wantEs, p)); got != want {
				t.Fatalf("step %d %s: stream folds to %s, from scratch %s", step, p, got, want)
			}
		}
		fresh.Close()
	}
}

// fold applies a stream's events: an init replaces everything, an update
// replaces the keys it names (none: deleted).
func fold(us []skip.Update) map[string]string {
	state := map[string]string{}
	for _, u := range us {
		if u.Init {
			state = map[string]string{}
		}
		for _, e := range u.Entries {
			if len(e.Values) == 0 {
				delete(state, string(e.Key))
			} else {
				state[string(e.Key)] = render([]skip.Entry{e})
			}
		}
	}
	return state
}

// fromFolded orders a folded state as a snapshot (keys are integers or
// strings here).
func fromFolded(state map[string]string) []skip.Entry {
	var out []skip.Entry
	for _, one := range state {
		var es [][2]json.RawMessage
		_ = json.Unmarshal([]byte(one), &es)
		var vals []json.RawMessage
		_ = json.Unmarshal(es[0][1], &vals)
		out = append(out, skip.Entry{Key: es[0][0], Values: vals})
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if keyLess(out[j].Key, out[i].Key) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func keyLess(a, b json.RawMessage) bool {
	na, ea := strconv.ParseFloat(string(a), 64)
	nb, eb := strconv.ParseFloat(string(b), 64)
	switch {
	case ea == nil && eb == nil:
		return na < nb
	case ea == nil:
		return true
	case eb == nil:
		return false
	}
	return string(a) < string(b)
}

func snapshotEntries(t *testing.T, s *Service, params string) []skip.Entry {
	t.Helper()
	es, err := s.Snapshot(context.Background(), "res", json.RawMessage(params))
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// reducedInitial is the initial value of the reducer behind each reducing
// resource of testdata/ops.ts.
var reducedInitial = map[string]string{`{"op":"sum"}`: "0", `{"op":"count"}`: "0", `{"op":"reduce"}`: "0", `{"op":"product"}`: "1"}

// withoutVanished drops the keys of a reducing resource that a fresh
// service lacks because their values went: a live instance keeps them at
// the reducer's initial value, as Skip does.
func withoutVanished(got, fresh []skip.Entry, params string) []skip.Entry {
	init, ok := reducedInitial[params]
	if !ok {
		return got
	}
	have := map[string]bool{}
	for _, e := range fresh {
		have[string(e.Key)] = true
	}
	var out []skip.Entry
	for _, e := range got {
		if !have[string(e.Key)] && len(e.Values) == 1 && string(e.Values[0]) == init {
			continue
		}
		out = append(out, e)
	}
	return out
}
