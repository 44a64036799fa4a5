package reactive

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/troupe-run/troupe/gateway/skip"
	"github.com/troupe-run/troupe/system/systemtest"
)

// TestOperators checks the behaviours Skip's own runtime tests check, each
// through a resource of testdata/ops.ts, before and after a write.
func TestOperators(t *testing.T) {
	var served atomic.Value
	served.Store(`[["x",1],["y",2]]`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("n") != "7" {
			http.Error(w, "want n=7, got "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(served.Load().(string)))
	}))
	defer srv.Close()
	t.Setenv("TROUPE_TEST_URL", srv.URL)

	sys := systemtest.Boot(t)
	s := startService(t, sys, "testdata/ops.ts", Options{})
	cases := []struct {
		params, before, after string
	}{
		{`{"op":"map"}`, `[[1,[10]],[2,[20]],[3,[30]],[4,[40]],[5,[50]]]`, `[[2,[20]],[3,[30]],[4,[40]],[5,[50]],[6,[1]]]`},
		{`{"op":"param","n":5}`, `[[1,[15]],[2,[25]],[3,[35]],[4,[45]],[5,[55]]]`, `[[2,[25]],[3,[35]],[4,[45]],[5,[55]],[6,[6]]]`},
		{`{"op":"slice"}`, `[[2,[20]],[3,[30]],[4,[40]]]`, `[[2,[20]],[3,[30]],[4,[40]]]`},
		{`{"op":"slices"}`, `[[1,[10]],[3,[30]],[4,[40]],[5,[50]]]`, `[[3,[30]],[4,[40]],[5,[50]]]`},
		{`{"op":"take","n":2}`, `[[1,[10]],[2,[20]]]`, `[[2,[20]],[3,[30]]]`},
		{`{"op":"sum"}`, `[["even",[60]],["odd",[90]]]`, `[["even",[61]],["odd",[80]]]`},
		{`{"op":"count"}`, `[["even",[2]],["odd",[3]]]`, `[["even",[3]],["odd",[2]]]`},
		{`{"op":"min"}`, `[["even",[20]],["odd",[10]]]`, `[["even",[1]],["odd",[30]]]`},
		{`{"op":"max"}`, `[["even",[40]],["odd",[50]]]`, `[["even",[40]],["odd",[50]]]`},
		{`{"op":"product"}`, `[["even",[800]],["odd",[15000]]]`, `[["even",[800]],["odd",[1500]]]`},
		{`{"op":"reduce"}`, `[[1,[1]],[2,[1]],[3,[1]],[4,[1]],[5,[1]]]`, `[[1,[0]],[2,[1]],[3,[1]],[4,[1]],[5,[1]],[6,[1]]]`}, // 1 stays at Count's 0, as in Skip
		{`{"op":"merge"}`, `[[1,[10]],[2,[20,3]],[3,[30]],[4,[40]],[5,[50]],[9,[1]]]`, `[[2,[20,3]],[3,[30]],[4,[40]],[5,[50]],[6,[1]],[9,[1]],[100,[5]]]`},
		{`{"op":"size"}`, `[[1,[2]],[2,[2]],[3,[2]],[4,[2]],[5,[2]]]`, `[[2,[3]],[3,[3]],[4,[3]],[5,[3]],[6,[3]]]`},
		{`{"op":"join"}`, `[[1,[0]],[2,[60]],[3,[0]],[4,[0]],[5,[0]]]`, `[[2,[60]],[3,[0]],[4,[0]],[5,[0]],[6,[0]]]`},
		{`{"op":"lazy"}`, `[[1,[10]],[2,[30]],[3,[60]],[4,[100]],[5,[150]]]`, `[[2,[20]],[3,[50]],[4,[90]],[5,[140]],[6,[141]]]`},
	}
	ctx := context.Background()
	for _, c := range cases {
		if got := snapshot(t, s, "res", c.params); got != c.before {
			t.Errorf("%s before: %s, want %s", c.params, got, c.before)
		}
	}
	// A mapper exception refuses the whole write: JoinOther's getUnique
	// throws on a key with two values.
	err := s.Patch(ctx, "nums", []skip.Entry{entry(`1`), entry(`6`, "1", "2")})
	if !errors.Is(err, skip.ErrRefused) || !strings.Contains(err.Error(), "SkipNonUniqueValueError") {
		t.Fatalf("patch with two values: %v", err)
	}
	patch(t, s, "nums", entry(`1`), entry(`6`, "1"))
	patch(t, s, "other", entry(`100`, "5"))
	for _, c := range cases {
		got := snapshot(t, s, "res", c.params)
		if got != c.after {
			t.Errorf("%s after: %s, want %s", c.params, got, c.after)
		}
	}

	// jsonExtract inside instantiate: the error carries its result.
	_, err = s.Snapshot(ctx, "extracted", json.RawMessage(`{}`))
	if !errors.Is(err, skip.ErrRefused) || !strings.Contains(err.Error(), `[[{"x":[1,2]}]]`) {
		t.Errorf("extracted: %v", err)
	}
	// A resource whose instantiate throws is refused with its message.
	_, err = s.Snapshot(ctx, "res", json.RawMessage(`{"op":"nope"}`))
	if !errors.Is(err, skip.ErrRefused) || !strings.Contains(err.Error(), "unknown op nope") {
		t.Errorf("throwing instantiate: %v", err)
	}

	// An external polled resource: Go polls, conv runs in the instance.
	systemtest.Eventually(t, "the external resource's first poll", func() bool {
		es, err := s.Snapshot(ctx, "res", json.RawMessage(`{"op":"external","n":7}`))
		return err == nil && render(es) == `[["x",[1]],["y",[2]]]`
	})
	served.Store(`[["y",3]]`)
	systemtest.Eventually(t, "the external resource's next poll", func() bool {
		es, err := s.Snapshot(ctx, "res", json.RawMessage(`{"op":"external","n":7}`))
		return err == nil && render(es) == `[["y",[3]]]`
	})
}
