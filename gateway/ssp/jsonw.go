package ssp

import (
	"strconv"
	"sync"
	"unicode/utf8"
)

// jsonw appends a JSON document to a byte slice. Replies are built with it
// rather than encoding/json so that the hot path needs no reflection and no
// intermediate maps. Separators are implicit: key and every value writer put
// a comma before themselves unless they open a container or follow a key.
type jsonw struct {
	b []byte
}

var jsonwPool = sync.Pool{New: func() any { return &jsonw{b: make([]byte, 0, 1024)} }}

func getJSONW() *jsonw { return jsonwPool.Get().(*jsonw) }

// putJSONW recycles w unless a huge reply made it too big to keep around.
func putJSONW(w *jsonw) {
	if cap(w.b) > 64<<10 {
		return
	}
	w.b = w.b[:0]
	jsonwPool.Put(w)
}

func (w *jsonw) sep() {
	if n := len(w.b); n > 0 {
		switch w.b[n-1] {
		case '{', '[', ':':
		default:
			w.b = append(w.b, ',')
		}
	}
}

func (w *jsonw) obj()    { w.sep(); w.b = append(w.b, '{') }
func (w *jsonw) endObj() { w.b = append(w.b, '}') }
func (w *jsonw) arr()    { w.sep(); w.b = append(w.b, '[') }
func (w *jsonw) endArr() { w.b = append(w.b, ']') }

// key writes an object key. k must need no escaping: keys are literals.
func (w *jsonw) key(k string) {
	w.sep()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

// strKey writes an object key that comes from data, escaped as needed.
func (w *jsonw) strKey(k string) {
	w.str(k)
	w.b = append(w.b, ':')
}

func (w *jsonw) null() { w.sep(); w.b = append(w.b, "null"...) }

func (w *jsonw) bool(v bool) {
	w.sep()
	w.b = strconv.AppendBool(w.b, v)
}

func (w *jsonw) int(n int64) {
	w.sep()
	w.b = strconv.AppendInt(w.b, n, 10)
}

func (w *jsonw) uint(n uint64) {
	w.sep()
	w.b = strconv.AppendUint(w.b, n, 10)
}

// raw writes a JSON value the views hold; an empty one is null.
func (w *jsonw) raw(v []byte) {
	w.sep()
	if len(v) == 0 {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = append(w.b, v...)
}

func (w *jsonw) strs(ss []string) {
	w.arr()
	for _, s := range ss {
		w.str(s)
	}
	w.endArr()
}

const hex = "0123456789abcdef"

// str writes s as a JSON string, escaping what JSON requires, plus U+2028
// and U+2029 (as encoding/json does) and invalid UTF-8 as U+FFFD.
func (w *jsonw) str(s string) {
	w.sep()
	b := append(w.b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	w.b = append(b, '"')
}
