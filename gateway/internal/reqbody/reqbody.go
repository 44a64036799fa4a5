// Package reqbody reads a request's body whole into a pooled buffer, up to
// a limit: the front doors decode their bodies from bytes, and reuse the
// buffers rather than allocate one a request.
package reqbody

import (
	"bytes"
	"errors"
	"net/http"
	"sync"
)

// ErrTooLarge is returned by Read for a body longer than its limit.
var ErrTooLarge = errors.New("reqbody: the request body is larger than the limit")

var pool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Body is a request body read into a pooled buffer.
type Body struct {
	buf *bytes.Buffer
}

// Read reads r's body, up to limit bytes. A body whose Content-Length is
// over the limit is not read. On an error the Body may hold what was read;
// it is to be released all the same.
func Read(w http.ResponseWriter, r *http.Request, limit int64) (Body, error) {
	if r.ContentLength > limit {
		return Body{}, ErrTooLarge
	}
	buf := pool.Get().(*bytes.Buffer)
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = ErrTooLarge
	}
	return Body{buf: buf}, err
}

// Bytes returns the body. It aliases the pooled buffer: valid until
// Release.
func (b Body) Bytes() []byte {
	if b.buf == nil {
		return nil
	}
	return b.buf.Bytes()
}

// Release returns the buffer to the pool, unless a huge body made it too
// big to keep around. Nothing may alias the body after: encoding/json
// copies what it decodes, json.RawMessage included.
func (b Body) Release() {
	if b.buf != nil && b.buf.Cap() <= 1<<20 {
		b.buf.Reset()
		pool.Put(b.buf)
	}
}
