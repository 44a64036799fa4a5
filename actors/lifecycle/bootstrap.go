package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/troupe-run/troupe/messages"
)

// Engine is what the lifecycle asks of the views engine (view.Service).
type Engine interface {
	BootstrapBegin(ctx context.Context, epoch uint64) error
	// BootstrapPage stages a page as the proxy answered it and returns its
	// length and its last string id.
	BootstrapPage(ctx context.Context, epoch uint64, table string, page []byte) (*messages.BootstrapReply, error)
	BootstrapCommit(ctx context.Context, epoch uint64, views []*messages.RegisterView) (*messages.BootstrapReply, error)
	TableHashes(ctx context.Context) (map[string]string, error)
	ViewCount(ctx context.Context) (int64, error)
}

// DecodeView turns a registration body, as POST /view/register takes it,
// into a view (the views door's decoder, so that both read views alike).
type DecodeView func(body []byte) (*messages.RegisterView, error)

// querier runs a proxy query (Client.Query).
type querier interface {
	Query(ctx context.Context, query string) (json.RawMessage, error)
}

// bootstrapper loads the scheduler's snapshot into the engine, with the
// original's queries: INFO FOR DB for the tables (those not named _00_*),
// each table by keyset pages (SELECT * FROM t ORDER BY id LIMIT n, then
// SELECT * FROM t WHERE id > <last id> ORDER BY id LIMIT n until a page
// comes back short), then SELECT * FROM _00_query for the views. Each page
// goes to the engine as one message, as it came (the engine decodes it in
// one pass), so the engine never waits for the network and holds at most
// the snapshot staged so far.
type bootstrapper struct {
	proxy    querier
	engine   Engine
	decode   DecodeView
	pageSize int
	// step bounds each proxy query and each engine message.
	step     func(context.Context) (context.Context, context.CancelFunc)
	log      *slog.Logger
	progress func(table string, rows int64) // after each page
}

// run bootstraps the engine under epoch and returns the live tables'
// hashes once the snapshot is committed.
func (b *bootstrapper) run(ctx context.Context, epoch uint64) (map[string]string, error) {
	if err := b.engineStep(ctx, func(c context.Context) error { return b.engine.BootstrapBegin(c, epoch) }); err != nil {
		return nil, fmt.Errorf("starting the bootstrap: %w", err)
	}
	tables, err := b.tables(ctx)
	if err != nil {
		return nil, err
	}
	b.log.Info("bootstrapping from the scheduler's proxy", "tables", tables)
	var total int64
	for _, table := range tables {
		n, err := b.table(ctx, epoch, table, total)
		if err != nil {
			return nil, err
		}
		total += n
		b.log.Debug("table loaded", "table", table, "rows", n)
	}
	views, err := b.views(ctx)
	if err != nil {
		return nil, err
	}
	var reply *messages.BootstrapReply
	err = b.engineStep(ctx, func(c context.Context) error {
		var err error
		reply, err = b.engine.BootstrapCommit(c, epoch, views)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("committing the bootstrap: %w", err)
	}
	for _, e := range reply.ViewErrors {
		b.log.Warn("a view of _00_query was not re-registered", "err", e)
	}
	var hashes map[string]string
	err = b.engineStep(ctx, func(c context.Context) error {
		var err error
		hashes, err = b.engine.TableHashes(c)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the table hashes: %w", err)
	}
	b.log.Info("bootstrap loaded", "rows", total, "views", reply.Views)
	return hashes, nil
}

func (b *bootstrapper) engineStep(ctx context.Context, f func(context.Context) error) error {
	c, cancel := b.step(ctx)
	defer cancel()
	return f(c)
}

func (b *bootstrapper) query(ctx context.Context, q string) (json.RawMessage, error) {
	c, cancel := b.step(ctx)
	defer cancel()
	return b.proxy.Query(c, q)
}

// tables lists the snapshot's tables: the keys of INFO FOR DB's "tables",
// but the _00_ ones, sorted (serde_json's map order, which the original
// walks them in).
func (b *bootstrapper) tables(ctx context.Context) ([]string, error) {
	raw, err := b.query(ctx, "INFO FOR DB")
	if err != nil {
		return nil, err
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' { // a result list of one: take its first
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("INFO FOR DB: %w", err)
		}
		raw = nil
		if len(list) > 0 {
			raw = list[0]
		}
	}
	var info struct {
		Tables map[string]json.RawMessage `json:"tables"`
	}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &info); err != nil {
			return nil, fmt.Errorf("INFO FOR DB: %w", err)
		}
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(info.Tables)) {
		if !strings.HasPrefix(name, "_00_") {
			out = append(out, name)
		}
	}
	return out, nil
}

// table loads one table page by page and returns its rows.
func (b *bootstrapper) table(ctx context.Context, epoch uint64, table string, before int64) (int64, error) {
	q := fmt.Sprintf("SELECT * FROM %s ORDER BY id LIMIT %d", table, b.pageSize)
	var n int64
	last := ""
	for {
		raw, err := b.query(ctx, q)
		if err != nil {
			return n, err
		}
		var reply *messages.BootstrapReply
		err = b.engineStep(ctx, func(c context.Context) error {
			var err error
			reply, err = b.engine.BootstrapPage(c, epoch, table, raw)
			return err
		})
		if err != nil {
			return n, fmt.Errorf("table %s: %w", table, err)
		}
		n = reply.Rows - before
		b.progress(table, reply.Rows)
		pageLen, lastID := int(reply.PageLen), reply.LastId
		if pageLen < b.pageSize {
			return n, nil
		}
		if lastID == "" || lastID == last {
			// A full page whose last id cannot continue the keyset (none, or
			// the same as the page before): going on would loop.
			return n, fmt.Errorf("table %s: a full page of %d rows ends with id %q, after %q: cannot page on", table, pageLen, lastID, last)
		}
		last = lastID
		q = fmt.Sprintf("SELECT * FROM %s WHERE id > %s ORDER BY id LIMIT %d", table, last, b.pageSize)
	}
}

// views reads _00_query and maps each row as the original does: id without
// its "_00_query:" prefix, surql (required: a row without is skipped),
// clientId (default ""), ttl (default "30m"), lastActiveAt (default ""),
// params (default {}), then decodes it as a registration.
func (b *bootstrapper) views(ctx context.Context) ([]*messages.RegisterView, error) {
	raw, err := b.query(ctx, "SELECT * FROM _00_query")
	if err != nil {
		return nil, err
	}
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return nil, fmt.Errorf("_00_query: a JSON array of records is expected: %w", err)
		}
		list = nil // not a list: no views, as the original reads it
	}
	var out []*messages.RegisterView
	for _, row := range list {
		spec, err := b.view(row)
		if err != nil {
			b.log.Warn("skipping a view of _00_query", "err", err)
			continue
		}
		out = append(out, spec)
	}
	return out, nil
}

func (b *bootstrapper) view(row map[string]json.RawMessage) (*messages.RegisterView, error) {
	rawID, ok := row["id"]
	if !ok {
		return nil, fmt.Errorf("a row without id")
	}
	id := str(rawID)
	if id == "" {
		id = strings.Trim(string(rawID), `"`)
	}
	id = strings.TrimPrefix(id, "_00_query:")
	surql := str(row["surql"])
	if surql == "" {
		return nil, fmt.Errorf("view %s: no surql", id)
	}
	ttl := str(row["ttl"])
	if ttl == "" {
		ttl = "30m"
	}
	params := row["params"]
	if len(params) == 0 {
		params = json.RawMessage(`{}`)
	}
	body, err := json.Marshal(map[string]any{
		"id": id, "surql": surql, "clientId": str(row["clientId"]), "ttl": ttl,
		"lastActiveAt": str(row["lastActiveAt"]), "params": params,
	})
	if err != nil {
		return nil, err
	}
	spec, err := b.decode(body)
	if err != nil {
		return nil, fmt.Errorf("view %s: %w", id, err)
	}
	return spec, nil
}

// str returns a JSON string's value, "" for anything else.
func str(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}
