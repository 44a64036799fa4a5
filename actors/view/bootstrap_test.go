package view

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/systemtest"
)

func rows(table string, ids ...int) []*messages.BootstrapRow {
	var out []*messages.BootstrapRow
	for _, i := range ids {
		id := fmt.Sprintf("%s:%d", table, i)
		out = append(out, &messages.BootstrapRow{Id: id, Record: fmt.Appendf(nil, `{"id":%q,"n":%d,"f":2.0}`, id, i)})
	}
	return out
}

// A bootstrap stages beside the live tables (reads see the old contents
// until the commit), then replaces tables and views whole: no old row
// stays, a view of the snapshot keeps its actor and subscribers, who get
// the difference; views the snapshot lacks go.
func TestBootstrapReplaces(t *testing.T) {
	dir := t.TempDir()
	sys, svc := startKeeping(t, "--data-dir="+dir, "--fsync=always")
	ingest(t, svc, "CREATE", "item", "item:1", `{"n": 1}`)
	ingest(t, svc, "CREATE", "item", "item:2", `{"n": 2}`)
	ingest(t, svc, "CREATE", "old", "old:1", `{"n": 1}`)
	register(t, svc, "big", "SELECT * FROM item WHERE n > 1")
	register(t, svc, "gone", "SELECT * FROM item")
	w := &watcher{}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return w }))
	svc.Subscribe(bg, []string{"big"}, pid)

	if err := svc.BootstrapBegin(bg, 7); err != nil {
		t.Fatal(err)
	}
	if err := svc.BootstrapRows(bg, 7, "item", rows("item", 2, 3, 4)); err != nil {
		t.Fatal(err)
	}
	// Staged rows are not live.
	if d, _ := svc.Debug(bg, "big"); !slices.Equal(ids(d.Cache), []string{"item:2"}) {
		t.Fatalf("a staged row is visible: %v", ids(d.Cache))
	}
	// Another bootstrap's messages are refused.
	if err := svc.BootstrapRows(bg, 6, "item", rows("item", 9)); err == nil || !strings.Contains(err.Error(), messages.CodeBootstrapStale) {
		t.Fatalf("rows of a stale bootstrap: %v", err)
	}
	if err := svc.BootstrapRows(bg, 7, "item", []*messages.BootstrapRow{{Id: "item:x", Record: []byte(`[1]`)}}); err == nil {
		t.Fatalf("a row that is not an object was staged")
	}
	rep, err := svc.BootstrapCommit(bg, 7, []*messages.RegisterView{
		{Id: "big", Surql: "SELECT * FROM item WHERE n > 1", ClientId: "c", TtlMs: 60_000},
		{Id: "new", Surql: "SELECT * FROM item WHERE n = 4", ClientId: "c", TtlMs: 60_000},
		{Id: "bad", Surql: "SELECT * FROM item FETCH x", ClientId: "c", TtlMs: 60_000},
	})
	if err != nil || rep.Rows != 3 || rep.Views != 2 || len(rep.ViewErrors) != 1 || !strings.Contains(rep.ViewErrors[0], "bad") {
		t.Fatalf("commit: %v %v", rep, err)
	}
	if _, err := svc.BootstrapCommit(bg, 7, nil); err == nil {
		t.Fatalf("a second commit of the same bootstrap was taken")
	}
	big, _ := svc.Debug(bg, "big")
	if got := ids(big.Cache); !slices.Equal(got, []string{"item:2", "item:3", "item:4"}) {
		t.Fatalf("big after the commit: %v", got)
	}
	if got := w.waitFor(t, big.LastHash); !slices.Equal(got, ids(big.Cache)) {
		t.Fatalf("the subscriber holds %v", got)
	}
	if d, _ := svc.Debug(bg, "gone"); d.ErrorCode != messages.CodeNotFound {
		t.Fatalf("a view the snapshot lacks is still there: %v", d)
	}
	info, _ := svc.Info(bg)
	if info.CircuitTables["old"] != 0 || info.CircuitTables["item"] != 3 || info.Views != 2 {
		t.Fatalf("info after the commit: %v", info)
	}
	kept, _ := svc.TableHashes(bg)

	// A restart rebuilds exactly the committed contents from the store,
	// with the same hashes (2.0 stays a float).
	sys.Close()
	_, svc2 := startKeeping(t, "--data-dir="+dir, "--fsync=always")
	info2, _ := svc2.Info(bg)
	if info2.CircuitTables["old"] != 0 || info2.CircuitTables["item"] != 3 || info2.Views != 2 {
		t.Fatalf("info after a restart: %v", info2)
	}
	if again, _ := svc2.TableHashes(bg); again["item"] != kept["item"] {
		t.Fatalf("hash after a restart %s, before %s", again["item"], kept["item"])
	}
}

// startKeeping starts the service as scheduler mode does: hashes kept.
func startKeeping(t *testing.T, args ...string) (*system.System, *Service) {
	t.Helper()
	sys := systemtest.Boot(t, args...)
	svc, err := Start(sys, Options{MaxViews: 100, TTLInterval: time.Hour, SubsPerView: 10, KeepHashes: true})
	if err != nil {
		t.Fatal(err)
	}
	for !svc.Ready() {
		time.Sleep(time.Millisecond)
	}
	return sys, svc
}

// A page as the proxy answers it: records whose id is not a string are
// skipped (and counted in the page's length, which tells a short page).
func TestBootstrapPage(t *testing.T) {
	_, svc := startKeeping(t)
	if err := svc.BootstrapBegin(bg, 1); err != nil {
		t.Fatal(err)
	}
	rep, err := svc.BootstrapPage(bg, 1, "t", []byte(`[{"id":"t:1","a":1.0},{"id":{"tb":"t","id":2}},{"x":1},3,{"id":"t:4"}]`))
	if err != nil || rep.PageLen != 5 || rep.LastId != "t:4" || rep.Rows != 2 {
		t.Fatalf("page: %v %v", rep, err)
	}
	for _, bad := range []string{`{"x":1}`, `[{"id":"t:5"`, `"rows"`} {
		if _, err := svc.BootstrapPage(bg, 1, "t", []byte(bad)); err == nil {
			t.Fatalf("page %s was taken", bad)
		}
	}
	if _, err := svc.BootstrapPage(bg, 2, "t", []byte(`[]`)); err == nil {
		t.Fatalf("a page of another bootstrap was taken")
	}
	if _, err := svc.BootstrapCommit(bg, 1, nil); err != nil {
		t.Fatal(err)
	}
	hashes, _ := svc.TableHashes(bg)
	info, _ := svc.Info(bg)
	if info.CircuitTables["t"] != 2 || !strings.HasPrefix(hashes["t"], "b3:") {
		t.Fatalf("after the commit: %v %v", info, hashes)
	}
}
