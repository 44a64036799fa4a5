package ssp

import (
	"slices"

	"github.com/troupe-run/troupe/messages"
)

// The frames the server sends over the WebSocket (ws.go documents them).

// openFrame starts a frame, {"type": typ; the caller writes the rest of
// its members and closes it.
func openFrame(typ string) *jsonw {
	w := getJSONW()
	w.obj()
	w.key("type")
	w.str(typ)
	return w
}

// deltaFrame encodes a view's change: {"type":"delta", "view_id", "hash",
// "generation", "initial", "additions", "removals", "updates", "order"}.
func deltaFrame(d *messages.ViewDelta) *jsonw {
	w := openFrame("delta")
	w.key("view_id")
	w.str(d.ViewId)
	w.key("hash")
	w.str(d.Hash)
	w.key("generation")
	w.uint(d.Generation)
	w.key("initial")
	w.bool(d.Initial)
	w.key("additions")
	writeRecords(w, d.Additions)
	w.key("removals")
	writeRecords(w, d.Removals)
	w.key("updates")
	writeRecords(w, d.Updates)
	w.key("order")
	w.arr()
	for _, p := range d.Order {
		w.obj()
		w.key("id")
		w.str(p.Id)
		w.key("index")
		w.int(p.Index)
		w.endObj()
	}
	w.endArr()
	w.endObj()
	return w
}

// subscribedFrame answers a subscribe to ids: {"type":"subscribed", "ids":
// the views subscribed to, "unknown": the ids that are no view}.
func subscribedFrame(ids, unknown []string) *jsonw {
	w := openFrame("subscribed")
	w.key("ids")
	w.arr()
	for _, id := range ids {
		if !slices.Contains(unknown, id) {
			w.str(id)
		}
	}
	w.endArr()
	w.key("unknown")
	w.strs(unknown)
	w.endObj()
	return w
}

// idsFrame encodes {"type": typ, "ids": ids}.
func idsFrame(typ string, ids []string) *jsonw {
	w := openFrame(typ)
	w.key("ids")
	w.strs(ids)
	w.endObj()
	return w
}

// typeFrame encodes {"type": typ}.
func typeFrame(typ string) *jsonw {
	w := openFrame(typ)
	w.endObj()
	return w
}

// errorFrame encodes {"type":"error", "message": msg}.
func errorFrame(msg string) *jsonw {
	w := openFrame("error")
	w.key("message")
	w.str(msg)
	w.endObj()
	return w
}
