package integration

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The behaviours Skip's own runtime tests check (map, size, slices and
// take, lazy, mapReduce with Sum, reduce with Count, merge, JSON params,
// jsonExtract, external services, mapper exceptions), end to end through
// the binary, on services of this project's own. jsonExtract is in
// skip_jsonextract_test.go.

func TestSkipRuntimeOperators(t *testing.T) {
	_, d := startSkipTroupe(t, skipService(t, "stats.mjs"))
	d.patch("scores", `[["p1",[1,2]],["p2",[5]],["p3",[7]],["x",[10]]]`)
	d.patch("bonus", `[["p1",[100]],["z",[3]]]`)
	for _, c := range []struct{ resource, params, want string }{
		{"stats", `{"kind":"sum"}`, `[["all",[25]]]`},
		{"stats", `{"kind":"count"}`, `[["all",[5]]]`},
		{"stats", `{"kind":"min"}`, `[["all",[1]]]`},
		{"stats", `{"kind":"max"}`, `[["all",[10]]]`},
		{"perPlayer", `{}`, `[["p1",[3]],["p2",[5]],["p3",[7]],["x",[10]]]`},
		{"range", `{"lo":"p1","hi":"p2"}`, `[["p1",[1,2]],["p2",[5]]]`},
		{"slices", `{"ranges":[["p1","p1"],["p3","x"]]}`, `[["p1",[1,2]],["p3",[7]],["x",[10]]]`},
		{"top", `{"n":2}`, `[["p1",[1,2]]]`},
		{"top", `{"n":3}`, `[["p1",[1,2]],["p2",[5]]]`},
		{"merged", `{}`, `[["p1",[1,2,100]],["p2",[5]],["p3",[7]],["x",[10]],["z",[3]]]`},
		{"size", `{}`, `[["p1",[2]],["p2",[2]],["p3",[2]],["x",[2]]]`},
		{"lazy", `{}`, `[["p1",[3]],["p2",[8]],["p3",[15]]]`},
		{"params", `{"a":[1,true,null],"b":{"c":"d"}}`, `[["p1",[{"a":[1,true,null],"b":{"c":"d"}}]],["p2",[{"a":[1,true,null],"b":{"c":"d"}}]],["p3",[{"a":[1,true,null],"b":{"c":"d"}}]],["x",[{"a":[1,true,null],"b":{"c":"d"}}]]]`},
	} {
		if got := d.snapshot(c.resource, c.params); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.resource, c.params, got, c.want)
		}
	}

	// Incremental: streams of the reducers, the lazy collection and the
	// merge follow the writes.
	sum := d.subscribe(d.createStream("stats", `{"kind":"sum"}`), "")
	count := d.subscribe(d.createStream("stats", `{"kind":"count"}`), "")
	lazy := d.subscribe(d.createStream("lazy", `{}`), "")
	merged := d.subscribe(d.createStream("merged", `{}`), "")
	for _, s := range []*sseStream{sum, count, lazy, merged} {
		if ev := s.next(); ev.Event != "init" {
			t.Fatalf("first event %+v", ev)
		}
	}
	d.patch("scores", `[["p2",[]],["p1",[4]]]`)
	if ev := sum.next(); ev.Data != `[["all",[21]]]` {
		t.Errorf("sum after the write: %+v", ev)
	}
	if ev := count.next(); ev.Data != `[["all",[3]]]` {
		t.Errorf("count after the write: %+v", ev)
	}
	if got := foldSnapshot(t, lazy.next().Data, false).String(); got != `"p1"=[4] "p3"=[11] ` {
		t.Errorf("lazy after the write: %s", got)
	}
	if got := d.snapshot("lazy", `{}`); got != `[["p1",[4]],["p3",[11]]]` {
		t.Errorf("lazy snapshot after the write: %s", got)
	}
	if got := foldSnapshot(t, merged.next().Data, false).String(); got != `"p1"=[100 4] ` {
		t.Errorf("merged after the write: %s", got)
	}
	d.patch("bonus", `[["z",[]]]`)
	if ev := merged.next(); ev.Data != `[["z",[]]]` {
		t.Errorf("merged after deleting a bonus: %+v", ev)
	}
}

func TestSkipRuntimeGroupsJoin(t *testing.T) {
	_, d := startSkipTroupe(t, skipService(t, "groups.mjs"))
	// initialData: ada (1) is friends with bob (2) and cy (3); cy is not
	// active.
	if got := d.snapshot("activeFriends", `{"uid":1}`); got != `[[100,[2]]]` {
		t.Errorf("ada's active friends: %s", got)
	}
	if got := d.snapshot("activeFriends", `{"uid":2}`); got != `[[100,[1]]]` {
		t.Errorf("bob's active friends: %s", got)
	}
	if got := d.snapshot("groupCount", `{}`); got != `[[1,[1]],[2,[1]],[3,[1]]]` {
		t.Errorf("group count: %s", got)
	}
	s := d.subscribe(d.createStream("activeFriends", `{"uid":1}`), "")
	if ev := s.next(); ev.Event != "init" || ev.Data != `[[100,[2]]]` {
		t.Fatalf("init %+v", ev)
	}
	// cy becomes active: a change of the users collection, read through
	// getArray, recomputes the group.
	d.patch("users", `[[3,[{"name":"cy","active":true,"friends":[1,2]}]]]`)
	if got := foldSnapshot(t, s.next().Data, false).String(); got != `100=[2 3] ` {
		t.Errorf("after cy is active: %s", got)
	}
	d.patch("groups", `[[200,[{"name":"pair","members":[1,3]}]]]`)
	if ev := s.next(); ev.Data != `[[200,[3]]]` {
		t.Errorf("a new group: %+v", ev)
	}
	if got := d.snapshot("groupCount", `{}`); got != `[[1,[2]],[2,[1]],[3,[2]]]` {
		t.Errorf("group count after the new group: %s", got)
	}
	if got := d.snapshot("names", `{}`); got != `[["ada",[1]],["bob",[2]],["cy",[3]]]` {
		t.Errorf("names: %s", got)
	}
}

func TestSkipRuntimeMapperExceptions(t *testing.T) {
	_, d := startSkipTroupe(t, skipService(t, "throws.mjs"))
	s := d.subscribe(d.createStream("checked", `{}`), "")
	if ev := s.next(); ev.Data != `[["a",[1]]]` {
		t.Fatalf("init %+v", ev)
	}
	// A PATCH that makes the mapper throw is refused, all of it.
	st, body := d.do("PATCH", "/v1/inputs/input", `[["b",[2]],["c",[-1]]]`)
	wantSkipError(t, "a throwing mapper", st, body, 422, "negative value -1 for key c")
	if got := d.snapshot("checked", `{}`); got != `[["a",[1]]]` {
		t.Errorf("after the refused write: %s", got)
	}
	// The next write goes through, and it is the next event: the refused
	// one sent none.
	d.patch("input", `[["b",[2]]]`)
	if ev := s.next(); ev.Data != `[["b",[2]]]` {
		t.Errorf("the event after a refused write: %+v", ev)
	}
	if got := d.snapshot("checked", `{}`); got != `[["a",[1]],["b",[2]]]` {
		t.Errorf("after the accepted write: %s", got)
	}
}

// externalMarket serves GET /prices?symbol=S as {"symbol": S, "price": n}
// with the prices the test sets.
type externalMarket struct {
	mu     sync.Mutex
	prices map[string]float64
}

func (m *externalMarket) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sym := r.URL.Query().Get("symbol")
	fmt.Fprintf(w, `{"symbol":%q,"price":%v}`, sym, m.prices[sym])
}

func (m *externalMarket) set(sym string, price float64) {
	m.mu.Lock()
	m.prices[sym] = price
	m.mu.Unlock()
}

// externalServiceFile writes external.mjs with the market's URL in it.
func externalServiceFile(t *testing.T, url string) string {
	t.Helper()
	src, err := os.ReadFile(skipService(t, "external.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "external.mjs")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(string(src), "__EXTERNAL_URL__", url)), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestSkipRuntimeExternalService(t *testing.T) {
	market := &externalMarket{prices: map[string]float64{"ACME": 10, "INIT": 1}}
	srv := httptest.NewServer(market)
	defer srv.Close()
	_, d := startSkipTroupe(t, externalServiceFile(t, srv.URL))
	d.patch("watch", `[["alice",["ACME"]],["bob",["OTHER"]]]`)
	s := d.subscribe(d.createStream("quotes", `{"symbol":"ACME"}`), "")
	// The first poll may land before or after the init: fold until the
	// price is there.
	f := folded{}
	for f.String() != `"alice"=[10] ` {
		if err := f.apply(s.next().Data, false); err != nil {
			t.Fatal(err)
		}
	}
	// A new price reaches the stream through the polling.
	market.set("ACME", 12.5)
	for f.String() != `"alice"=[12.5] ` {
		if err := f.apply(s.next().Data, false); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.snapshot("quotes", `{"symbol":"ACME"}`); got != `[["alice",[12.5]]]` {
		t.Errorf("snapshot: %s", got)
	}
}

func TestSkipTypeScriptService(t *testing.T) {
	_, d := startSkipTroupe(t, skipService(t, "typed.ts"))
	d.patch("input", `[["a",[1,2]],["b",[3]]]`)
	if got := d.snapshot("scaled", `{"factor":10}`); got != `[["a",[10,20]],["b",[30]]]` {
		t.Errorf("scaled: %s", got)
	}
	if got := d.snapshot("sum", `{}`); got != `[["total",[6]]]` {
		t.Errorf("sum: %s", got)
	}
}
