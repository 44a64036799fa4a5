// Package jsonw is the front doors' reply writer: it appends a JSON document
// to a byte slice. Replies are built with it rather than encoding/json so
// that the hot path needs no reflection and no intermediate maps.
//
// Separators are implicit: Key and every value writer put a comma before
// themselves unless they open a container or follow a key.
package jsonw

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Writer holds one JSON document being written.
type Writer struct {
	b []byte
}

var pool = sync.Pool{New: func() any { return &Writer{b: make([]byte, 0, 1024)} }}

// Get returns an empty Writer from the pool.
func Get() *Writer { return pool.Get().(*Writer) }

// Put recycles w unless a huge reply made it too big to keep around. w must
// not be used after.
func Put(w *Writer) {
	if cap(w.b) > 64<<10 {
		return
	}
	w.b = w.b[:0]
	pool.Put(w)
}

// Bytes returns the document written so far. It aliases w's buffer: it is
// valid until w is written to again or recycled.
func (w *Writer) Bytes() []byte { return w.b }

// Len returns the length of the document written so far, a mark for
// Truncate.
func (w *Writer) Len() int { return len(w.b) }

// Truncate drops what was written after the first n bytes, so that a reply
// begun optimistically can be rewritten (as an error, say).
func (w *Writer) Truncate(n int) { w.b = w.b[:n] }

// Literal appends s as it is, without separator or escaping: a fixed
// fragment of JSON text, such as the opening of a reply whose first members
// never change.
func (w *Writer) Literal(s string) { w.b = append(w.b, s...) }

// Sep writes the comma that separates a value from the one before it, if
// one is due. The value writers call it themselves; a caller calls it before
// a Literal that stands for a value.
func (w *Writer) Sep() {
	if n := len(w.b); n > 0 {
		switch w.b[n-1] {
		case '{', '[', ':':
		default:
			w.b = append(w.b, ',')
		}
	}
}

// Obj opens an object, EndObj closes it; Arr and EndArr do the same for an
// array.
func (w *Writer) Obj()    { w.Sep(); w.b = append(w.b, '{') }
func (w *Writer) EndObj() { w.b = append(w.b, '}') }
func (w *Writer) Arr()    { w.Sep(); w.b = append(w.b, '[') }
func (w *Writer) EndArr() { w.b = append(w.b, ']') }

// Key writes an object key. k must need no escaping: keys are literals.
func (w *Writer) Key(k string) {
	w.Sep()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

// StrKey writes an object key that comes from data, escaped as needed.
func (w *Writer) StrKey(k string) {
	w.Str(k)
	w.b = append(w.b, ':')
}

// Null, Bool, Int and Uint write a value of their kind.
func (w *Writer) Null() { w.Sep(); w.b = append(w.b, "null"...) }

func (w *Writer) Bool(v bool) {
	w.Sep()
	w.b = strconv.AppendBool(w.b, v)
}

func (w *Writer) Int(n int64) {
	w.Sep()
	w.b = strconv.AppendInt(w.b, n, 10)
}

func (w *Writer) Uint(n uint64) {
	w.Sep()
	w.b = strconv.AppendUint(w.b, n, 10)
}

// Float writes f as encoding/json does; JSON has no NaN or infinities, so
// those are written as null.
func (w *Writer) Float(f float64) {
	w.Sep()
	if math.IsNaN(f) || math.IsInf(f, 0) {
		w.b = append(w.b, "null"...)
		return
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	w.b = strconv.AppendFloat(w.b, f, format, -1, 64)
	if format == 'e' {
		// Shorten e-09 to e-9, as encoding/json does.
		if n := len(w.b); n >= 4 && w.b[n-4] == 'e' && w.b[n-3] == '-' && w.b[n-2] == '0' {
			w.b[n-2] = w.b[n-1]
			w.b = w.b[:n-1]
		}
	}
}

// Raw writes v, a JSON value kept as text (by the store, or the views); an
// empty one is null.
func (w *Writer) Raw(v []byte) {
	w.Sep()
	if len(v) == 0 {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = append(w.b, v...)
}

// Strs writes ss as an array of strings; nil is [].
func (w *Writer) Strs(ss []string) {
	w.Arr()
	for _, s := range ss {
		w.Str(s)
	}
	w.EndArr()
}

// Raws writes vs as an array of Raw values; nil is [].
func (w *Writer) Raws(vs [][]byte) {
	w.Arr()
	for _, v := range vs {
		w.Raw(v)
	}
	w.EndArr()
}

const hex = "0123456789abcdef"

// Str writes s as a JSON string, escaping what JSON requires, plus U+2028
// and U+2029 (as encoding/json does) and invalid UTF-8 as U+FFFD.
func (w *Writer) Str(s string) {
	w.Sep()
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

// contentType is shared by every response, saving an allocation each;
// net/http only reads header values.
var contentType = []string{"application/json"}

// Respond writes the document as the body of a response with status, and
// returns status, for the caller's metrics. net/http adds Content-Length to
// bodies it can buffer whole, and chunks the others.
func (w *Writer) Respond(rw http.ResponseWriter, status int) int {
	rw.Header()["Content-Type"] = contentType
	rw.WriteHeader(status)
	rw.Write(w.b)
	return status
}
