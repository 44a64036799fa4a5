package ssp

import (
	"slices"

	"github.com/troupe-run/troupe/gateway/internal/jsonw"
	"github.com/troupe-run/troupe/messages"
)

// The frames the server sends over the WebSocket (ws.go documents them).

// openFrame starts a frame, {"type": typ; the caller writes the rest of
// its members and closes it.
func openFrame(typ string) *jsonw.Writer {
	w := jsonw.Get()
	w.Obj()
	w.Key("type")
	w.Str(typ)
	return w
}

// deltaFrame encodes a view's change: {"type":"delta", "view_id", "hash",
// "generation", "initial", "additions", "removals", "updates", "order"}.
func deltaFrame(d *messages.ViewDelta) *jsonw.Writer {
	w := openFrame("delta")
	w.Key("view_id")
	w.Str(d.ViewId)
	w.Key("hash")
	w.Str(d.Hash)
	w.Key("generation")
	w.Uint(d.Generation)
	w.Key("initial")
	w.Bool(d.Initial)
	w.Key("additions")
	writeRecords(w, d.Additions)
	w.Key("removals")
	writeRecords(w, d.Removals)
	w.Key("updates")
	writeRecords(w, d.Updates)
	w.Key("order")
	w.Arr()
	for _, p := range d.Order {
		w.Obj()
		w.Key("id")
		w.Str(p.Id)
		w.Key("index")
		w.Int(p.Index)
		w.EndObj()
	}
	w.EndArr()
	w.EndObj()
	return w
}

// subscribedFrame answers a subscribe to ids: {"type":"subscribed", "ids":
// the views subscribed to, "unknown": the ids that are no view}.
func subscribedFrame(ids, unknown []string) *jsonw.Writer {
	w := openFrame("subscribed")
	w.Key("ids")
	w.Arr()
	for _, id := range ids {
		if !slices.Contains(unknown, id) {
			w.Str(id)
		}
	}
	w.EndArr()
	w.Key("unknown")
	w.Strs(unknown)
	w.EndObj()
	return w
}

// idsFrame encodes {"type": typ, "ids": ids}.
func idsFrame(typ string, ids []string) *jsonw.Writer {
	w := openFrame(typ)
	w.Key("ids")
	w.Strs(ids)
	w.EndObj()
	return w
}

// typeFrame encodes {"type": typ}.
func typeFrame(typ string) *jsonw.Writer {
	w := openFrame(typ)
	w.EndObj()
	return w
}

// errorFrame encodes {"type":"error", "message": msg}.
func errorFrame(msg string) *jsonw.Writer {
	w := openFrame("error")
	w.Key("message")
	w.Str(msg)
	w.EndObj()
	return w
}
