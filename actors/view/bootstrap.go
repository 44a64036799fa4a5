package view

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/troupe-run/troupe/actors/view/ivm"
	"github.com/troupe-run/troupe/messages"
	"github.com/troupe-run/troupe/system/store"
)

// A bootstrap (scheduler mode, actors/lifecycle) loads the scheduler's
// snapshot into a staging area beside the live tables, page by page, each
// page one message: the engine goes on serving ingests, views and reads
// between pages, and nobody sees a half-loaded table. The commit swaps the
// staged tables in whole, so no row of the old contents survives it, and
// re-registers the snapshot's views; each live view actor gets a seed and
// sends its subscribers the difference as one delta.

// staging is a bootstrap in progress.
type staging struct {
	epoch  uint64
	tables *ivm.Tables
	hashes *tableHashes // also the rows' canonical JSON, written to the store at the commit
	rows   int64
}

func staleBootstrap(epoch uint64) *messages.BootstrapReply {
	return &messages.BootstrapReply{ErrorCode: messages.CodeBootstrapStale,
		ErrorMessage: fmt.Sprintf("bootstrap %d is not the one in progress", epoch)}
}

func (e *engine) bootstrapBegin(msg *messages.BootstrapBegin) *messages.BootstrapReply {
	e.staging = &staging{epoch: msg.Epoch, tables: ivm.NewTables(), hashes: newTableHashes()}
	return &messages.BootstrapReply{}
}

func (e *engine) bootstrapRows(msg *messages.BootstrapRows) *messages.BootstrapReply {
	st := e.staging
	if st == nil || st.epoch != msg.Epoch {
		return staleBootstrap(msg.Epoch)
	}
	out := &messages.BootstrapReply{}
	for _, row := range msg.Rows {
		rec, err := e.dec.Decode(row.Record)
		if err == nil {
			err = e.stage(st, msg.Table, row.Id, rec)
		}
		if err != nil {
			return &messages.BootstrapReply{ErrorCode: messages.CodeInvalid, ErrorMessage: fmt.Sprintf("row %s: %v", row.Id, err)}
		}
		out.PageLen++
		out.LastId = row.Id
	}
	if len(msg.Page) > 0 {
		// The page is decoded in one pass, as the field of an object (the
		// decoder reads records, which are objects).
		wrapped := make([]byte, 0, len(msg.Page)+6)
		wrapped = append(append(append(wrapped, `{"p":`...), msg.Page...), '}')
		v, err := e.dec.Decode(wrapped)
		list, ok := v["p"].([]any)
		if err != nil || !ok {
			return &messages.BootstrapReply{ErrorCode: messages.CodeInvalid,
				ErrorMessage: fmt.Sprintf("a page of table %s is not a JSON array of records: %v", msg.Table, err)}
		}
		for _, el := range list {
			out.PageLen++
			rec, ok := el.(map[string]any)
			if !ok {
				continue
			}
			id, ok := rec["id"].(string)
			if !ok || id == "" {
				continue // as the original: only rows whose id is a string
			}
			if err := e.stage(st, msg.Table, id, rec); err != nil {
				return &messages.BootstrapReply{ErrorCode: messages.CodeInvalid, ErrorMessage: fmt.Sprintf("row %s: %v", id, err)}
			}
			out.LastId = id
		}
	}
	out.Rows = st.rows
	return out
}

// stage adds one row to the staged tables.
func (e *engine) stage(st *staging, table, id string, rec map[string]any) error {
	ev, err := st.tables.Apply(ivm.Change{Op: ivm.Create, Table: table, ID: id, Record: rec, Normalized: true})
	if err != nil {
		return err
	}
	if n := st.hashes.set(table, id, ev.New); e.svc.opts.MaxRecord > 0 && n > e.svc.opts.MaxRecord {
		return fmt.Errorf("%d bytes: the limit is %d", n, e.svc.opts.MaxRecord)
	}
	st.rows++
	return nil
}

// pending is a view of the snapshot, compiled.
type pending struct {
	spec *messages.RegisterView
	view *ivm.View
}

// bootstrapCommit makes the staged tables live and the snapshot's views
// the registered ones. A view that does not compile is left out and
// named in the reply, as the original logs and skips it.
func (e *engine) bootstrapCommit(msg *messages.BootstrapCommit, now time.Time) *messages.BootstrapReply {
	st := e.staging
	if st == nil || st.epoch != msg.Epoch {
		return staleBootstrap(msg.Epoch)
	}
	e.staging = nil
	out := &messages.BootstrapReply{Rows: st.rows}

	// Compile the snapshot's views first: a later one of the same id wins.
	next := map[string]pending{}
	var order []string
	for _, spec := range msg.Views {
		if err := validID(spec.Id); err != nil {
			out.ViewErrors = append(out.ViewErrors, err.Error())
			continue
		}
		if err := normalizeSpec(spec, now); err != nil {
			out.ViewErrors = append(out.ViewErrors, fmt.Sprintf("view %s: %v", spec.Id, err))
			continue
		}
		v, err := e.compile(spec)
		if err != nil {
			out.ViewErrors = append(out.ViewErrors, fmt.Sprintf("view %s: %v", spec.Id, err))
			continue
		}
		if _, dup := next[spec.Id]; !dup {
			if max := e.svc.opts.MaxViews; max > 0 && len(next) >= max {
				out.ViewErrors = append(out.ViewErrors, fmt.Sprintf("view %s: %d views are registered, the limit (--max-views)", spec.Id, max))
				continue
			}
			order = append(order, spec.Id)
		}
		next[spec.Id] = pending{spec: spec, view: v}
	}

	// Views the snapshot does not hold go, with their actors.
	for id, r := range e.views {
		if _, ok := next[id]; !ok {
			e.drop(id, r)
		}
	}
	// The staged tables become the live ones; the views are loaded from
	// them anew. e.views keeps the old registrations until add replaces
	// each, so a view keeps its actor (and its subscribers).
	e.tables = st.tables
	e.hashes = nil
	if e.svc.opts.KeepHashes {
		e.hashes = st.hashes
	}
	e.index, e.shared, e.byName = ivm.NewIndex(), map[shareKey]*shared{}, map[string]*shared{}
	for _, id := range order {
		p := next[id]
		p.spec.Generation = 0
		if old, ok := e.views[id]; ok {
			// The same view keeps its generation; a changed one moves past
			// it, so its hash never repeats one it had.
			p.spec.Generation = old.sh.view.Generation()
			if old.spec.Surql != p.spec.Surql || !bytes.Equal(old.spec.Params, p.spec.Params) {
				p.spec.Generation++
			}
		}
		e.add(p.spec, p.view)
	}
	out.Views = int64(len(e.views))

	// The store gets the new contents in the same batch that drops the old.
	e.log.DeleteRange([]byte(recordPrefix), store.PrefixEnd([]byte(recordPrefix)))
	e.log.DeleteRange([]byte(viewPrefix), store.PrefixEnd([]byte(viewPrefix)))
	if e.svc.sys.Store.Durable() {
		for table, t := range st.hashes.tables {
			for id, r := range t.rows {
				e.log.Set(recordKey(table, id), r.canon)
			}
		}
	}
	for _, r := range e.views {
		e.store(r)
	}
	e.svc.sys.Log.Info("bootstrap committed", "rows", st.rows, "tables", len(e.tables.Names()), "views", len(e.views),
		"views_skipped", len(out.ViewErrors))
	return out
}

// normalizeSpec fills in what register fills in: lastActiveAt defaults to
// now, and params are re-encoded with sorted keys, so that equal params
// are the same view whatever their key order or spacing.
func normalizeSpec(spec *messages.RegisterView, now time.Time) error {
	if spec.LastActiveMs == 0 {
		spec.LastActiveMs = now.UnixMilli()
	}
	if len(spec.Params) > 0 {
		params, err := ivm.DecodeRecord(spec.Params)
		if err != nil {
			return fmt.Errorf("params: %w", err)
		}
		spec.Params, _ = json.Marshal(params) // map keys come out sorted
	}
	return nil
}
