package synaprpc

import (
	"context"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/troupe-run/troupe/actors/kv/glob"
)

// The cursors of the collections, as the original's: HSCAN key cursor
// [MATCH pattern] [COUNT n] -> [next, Map field->value], SSCAN -> [next,
// [member ...]], ZSCAN -> [next, Map member->score]; next is 0 after the
// last page. Each page reads the collection with the data door's own
// command (hash.getall, set.members, sortedset.zrange) and keeps the
// elements past the cursor in the order of a hash of each element, so a
// cursor stays valid across writes and restarts, and an element present
// for the whole scan comes exactly once (the guarantee Redis gives, which
// allows repeats). MATCH is the kv.keys glob. FLUSHALL and FLUSHDB delete
// every key, a page of kv.scan at a time, with kv.del.

// scanElement is one element of a collection: its name and what the page
// carries for it (a field's value, a member's score; nil for a set).
type scanElement struct {
	name string
	val  any
	h    int64
}

// scanHash places an element in a scan's order: positive (an Int on the
// wire, as the original's cursors), never 0, which starts and ends a scan.
func scanHash(s string) int64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return int64(h.Sum64()>>1) | 1
}

// scanPage returns the elements past cursor that match, at least count of
// them when there are that many (elements of equal hash are not split),
// in hash order, and the cursor of the next page (0 after the last).
func scanPage(els []scanElement, cursor int64, match string, count int) ([]scanElement, int64) {
	rest := els[:0:0]
	for _, e := range els {
		e.h = scanHash(e.name)
		if e.h > cursor {
			rest = append(rest, e)
		}
	}
	slices.SortFunc(rest, func(a, b scanElement) int {
		switch {
		case a.h < b.h:
			return -1
		case a.h > b.h:
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	n := min(count, len(rest))
	for n < len(rest) && n > 0 && rest[n].h == rest[n-1].h {
		n++
	}
	next := int64(0)
	if n < len(rest) {
		next = rest[n-1].h
	}
	page := rest[:n]
	if match != "" {
		kept := page[:0]
		for _, e := range page {
			if glob.Match(match, e.name) {
				kept = append(kept, e)
			}
		}
		page = kept
	}
	return page, next
}

// scanArgsOf reads key cursor [MATCH pattern] [COUNT n].
func scanArgsOf(a argv) (key string, cursor int64, match string, count int, errText string) {
	key, e := a.str(0)
	if e != "" {
		return "", 0, "", 0, e
	}
	cursor, e = a.int(1)
	if e != "" {
		return "", 0, "", 0, "ERR invalid cursor"
	}
	count = 10
	for i := 2; i < len(a); i += 2 {
		opt, e := a.str(i)
		if e != "" || i+1 >= len(a) {
			return "", 0, "", 0, "ERR syntax error"
		}
		switch strings.ToUpper(opt) {
		case "MATCH":
			if match, e = a.str(i + 1); e != "" {
				return "", 0, "", 0, e
			}
		case "COUNT":
			n, e := a.int(i + 1)
			if e != "" {
				return "", 0, "", 0, e
			}
			count = int(max(1, min(n, 1<<20)))
		default:
			return "", 0, "", 0, "ERR syntax error"
		}
	}
	return key, max(cursor, 0), match, count, ""
}

// collectionScan builds a *SCAN command from the data command that reads
// the whole collection, how its reply becomes elements, and how a page is
// answered.
func collectionScan(cmd string, extra obj, elements func(rep obj) []scanElement, answer func(page []scanElement) any) nativeFunc {
	return func(c *conn, ctx context.Context, a argv) (any, string) {
		key, cursor, match, count, e := scanArgsOf(a)
		if e != "" {
			return nil, e
		}
		p := obj{"key": key}
		for k, v := range extra {
			p[k] = v
		}
		rep, e := c.exec(ctx, cmd, p)
		if e != "" {
			return nil, e
		}
		page, next := scanPage(elements(rep), cursor, match, count)
		return []any{next, answer(page)}, ""
	}
}

func pairsOf(page []scanElement) any {
	m := make(Map, len(page))
	for i, e := range page {
		m[i] = Pair{e.name, e.val}
	}
	return m
}

var scanNatives = map[string]nativeFunc{
	"HSCAN": collectionScan("hash.getall", nil, func(rep obj) []scanElement {
		fields, _ := rep["fields"].(obj)
		out := make([]scanElement, 0, len(fields))
		for f, v := range fields {
			out = append(out, scanElement{name: f, val: text(v)})
		}
		return out
	}, pairsOf),
	"SSCAN": collectionScan("set.members", nil, func(rep obj) []scanElement {
		ms := texts(rep["members"])
		out := make([]scanElement, 0, len(ms))
		for _, m := range ms {
			s, _ := m.(string)
			out = append(out, scanElement{name: s})
		}
		return out
	}, func(page []scanElement) any {
		out := make([]any, len(page))
		for i, e := range page {
			out[i] = e.name
		}
		return out
	}),
	"ZSCAN": collectionScan("sortedset.zrange", obj{"start": 0, "stop": -1, "withscores": true}, func(rep obj) []scanElement {
		ms, _ := rep["members"].([]any)
		out := make([]scanElement, 0, len(ms))
		for _, m := range ms {
			o, _ := m.(obj)
			s, _ := text(o["member"]).(string)
			out = append(out, scanElement{name: s, val: flt(o["score"])})
		}
		return out
	}, pairsOf),
	"FLUSHALL": flushAll,
	"FLUSHDB":  flushAll,
}

// flushAll deletes every key: kv.scan pages of 1,000 keys from the start
// to the end of the keyspace, each deleted with kv.del (a key written
// meanwhile behind the page being read stays), each page under
// --request-timeout. ASYNC and SYNC are taken; both answer once done.
func flushAll(c *conn, _ context.Context, a argv) (any, string) {
	if len(a) > 1 {
		return nil, "ERR syntax error"
	}
	if len(a) == 1 {
		if mode, _ := a.str(0); !strings.EqualFold(mode, "ASYNC") && !strings.EqualFold(mode, "SYNC") {
			return nil, "ERR syntax error"
		}
	}
	p := obj{"prefix": "", "count": 1000}
	page := func() (more bool, e string) {
		ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.RequestTimeout)
		defer cancel()
		rep, e := c.exec(ctx, "kv.scan", p)
		if e != "" {
			return false, e
		}
		if keys, _ := rep["keys"].([]any); len(keys) > 0 {
			if _, e := c.exec(ctx, "kv.del", obj{"keys": keys}); e != "" {
				return false, e
			}
		}
		cur, _ := rep["cursor"].(string)
		p["cursor"] = cur
		return truth(rep["has_more"]) && cur != "", ""
	}
	for {
		more, e := page()
		if e != "" {
			return nil, e
		}
		if !more {
			return "OK", ""
		}
	}
}
