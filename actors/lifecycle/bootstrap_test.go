package lifecycle

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/troupe-run/troupe/messages"
)

// fakeProxy answers queries from a map; a query it does not know fails
// the test.
type fakeProxy struct {
	t       *testing.T
	answers map[string]string
	asked   []string
}

func (p *fakeProxy) Query(_ context.Context, q string) (json.RawMessage, error) {
	p.asked = append(p.asked, q)
	a, ok := p.answers[q]
	if !ok {
		p.t.Fatalf("unexpected query %q", q)
	}
	return json.RawMessage(a), nil
}

// fakeEngine records what a bootstrap hands it.
type fakeEngine struct {
	rows  map[string][]string
	views []*messages.RegisterView
}

func (e *fakeEngine) BootstrapBegin(context.Context, uint64) error { return nil }
func (e *fakeEngine) BootstrapPage(_ context.Context, _ uint64, table string, page []byte) (*messages.BootstrapReply, error) {
	var list []map[string]any
	if err := json.Unmarshal(page, &list); err != nil {
		return nil, err
	}
	out := &messages.BootstrapReply{PageLen: int64(len(list))}
	for _, r := range list {
		if id, ok := r["id"].(string); ok {
			e.rows[table] = append(e.rows[table], id)
			out.LastId = id
		}
	}
	for _, ids := range e.rows {
		out.Rows += int64(len(ids))
	}
	return out, nil
}
func (e *fakeEngine) BootstrapCommit(_ context.Context, _ uint64, views []*messages.RegisterView) (*messages.BootstrapReply, error) {
	e.views = views
	return &messages.BootstrapReply{Views: int64(len(views))}, nil
}
func (e *fakeEngine) TableHashes(context.Context) (map[string]string, error) {
	return map[string]string{"t": "b3:x"}, nil
}
func (e *fakeEngine) ViewCount(context.Context) (int64, error) { return 0, nil }

func newBootstrapper(p *fakeProxy, e *fakeEngine, pageSize int) *bootstrapper {
	return &bootstrapper{proxy: p, engine: e, decode: decode, pageSize: pageSize,
		step:     func(c context.Context) (context.Context, context.CancelFunc) { return context.WithCancel(c) },
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		progress: func(string, int64) {}}
}

func TestBootstrapperQueries(t *testing.T) {
	p := &fakeProxy{t: t, answers: map[string]string{
		// INFO FOR DB as a result list of one; _00_ tables are not loaded.
		"INFO FOR DB":                                            `[{"tables":{"t":"DEFINE TABLE t","_00_query":"...","_00_list_ref":"..."}}]`,
		"SELECT * FROM t ORDER BY id LIMIT 2":                    `[{"id":"t:1"},{"id":"t:2"}]`,
		"SELECT * FROM t WHERE id > t:2 ORDER BY id LIMIT 2":     `[{"id":"t:3"},{"id":"t:⟨a-b⟩"}]`,
		"SELECT * FROM t WHERE id > t:⟨a-b⟩ ORDER BY id LIMIT 2": `[]`,
		"SELECT * FROM _00_query": `[{"id":"_00_query:q1","surql":"SELECT * FROM t","clientId":"c","ttl":"5m"},
			{"id":"_00_query:nosurql"},{"id":"q2","surql":"SELECT * FROM t"}]`,
	}}
	e := &fakeEngine{rows: map[string][]string{}}
	hashes, err := newBootstrapper(p, e, 2).run(context.Background(), 1)
	if err != nil || hashes["t"] != "b3:x" {
		t.Fatalf("run: %v %v", hashes, err)
	}
	if got := strings.Join(e.rows["t"], ","); got != "t:1,t:2,t:3,t:⟨a-b⟩" {
		t.Fatalf("rows %s", got)
	}
	if len(e.views) != 2 || e.views[0].Id != "q1" || e.views[0].ClientId != "c" || e.views[1].Id != "q2" || e.views[1].ClientId != "" {
		t.Fatalf("views %v", e.views)
	}
}

// A full page whose last id does not move on would page forever: it is
// an error.
func TestBootstrapperStuckPaging(t *testing.T) {
	p := &fakeProxy{t: t, answers: map[string]string{
		"INFO FOR DB":                                        `{"tables":{"t":""}}`,
		"SELECT * FROM t ORDER BY id LIMIT 2":                `[{"id":"t:1"},{"id":"t:2"}]`,
		"SELECT * FROM t WHERE id > t:2 ORDER BY id LIMIT 2": `[{"id":"t:1"},{"id":"t:2"}]`,
	}}
	_, err := newBootstrapper(p, &fakeEngine{rows: map[string][]string{}}, 2).run(context.Background(), 1)
	if err == nil || !strings.Contains(err.Error(), "cannot page on") {
		t.Fatalf("stuck paging: %v", err)
	}
}
