package reqbody

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
)

func TestRead(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"a":1}`))
	b, err := Read(httptest.NewRecorder(), r, 7)
	defer b.Release()
	if err != nil || string(b.Bytes()) != `{"a":1}` {
		t.Errorf("Read = %q, %v", b.Bytes(), err)
	}
}

func TestTooLarge(t *testing.T) {
	// Known from Content-Length: not read.
	r := httptest.NewRequest("POST", "/", strings.NewReader("12345678"))
	b, err := Read(httptest.NewRecorder(), r, 7)
	if !errors.Is(err, ErrTooLarge) || b.Bytes() != nil {
		t.Errorf("a body over the limit by its length: %q, %v", b.Bytes(), err)
	}
	b.Release()
	// Known as read (chunked: no Content-Length).
	r = httptest.NewRequest("POST", "/", io.MultiReader(strings.NewReader("12345678")))
	r.ContentLength = -1
	b, err = Read(httptest.NewRecorder(), r, 7)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("a body over the limit as read: %v", err)
	}
	b.Release()
}

func TestReadError(t *testing.T) {
	r := httptest.NewRequest("POST", "/", iotest.ErrReader(errors.New("connection reset")))
	r.ContentLength = -1
	b, err := Read(httptest.NewRecorder(), r, 7)
	defer b.Release()
	if err == nil || errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("a failed read: %v", err)
	}
}

func TestReleasedBufferComesBackEmpty(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader("left over"))
	b, _ := Read(httptest.NewRecorder(), r, 100)
	b.Release()
	r = httptest.NewRequest("POST", "/", strings.NewReader("new"))
	b, _ = Read(httptest.NewRecorder(), r, 100)
	defer b.Release()
	if string(b.Bytes()) != "new" {
		t.Errorf("read %q after a release", b.Bytes())
	}
}
