package instance

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// readAll reads r to its end.
func readAll(t *testing.T, r *spoolReader) string {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 7)
	for {
		n, err := r.Read(context.Background(), buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.String()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestSpoolHoldsBackTheWriterUntilRead(t *testing.T) {
	s := newSpool(16)
	data := bytes.Repeat([]byte("0123456789"), 100)
	wrote := make(chan error, 1)
	go func() {
		err := s.write(data)
		s.end(false)
		wrote <- err
	}()
	// No reader: the writer cannot finish, 1000 bytes do not fit in 16.
	r := s.attach()
	if got := readAll(t, r); got != string(data) {
		t.Fatalf("reader got %d bytes, want %d in order", len(got), len(data))
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	held := len(s.buf)
	s.mu.Unlock()
	if held > 16 {
		t.Errorf("spool holds %d bytes, more than its limit", held)
	}
}

func TestSpoolGivesEachByteToTheReadersAttached(t *testing.T) {
	s := newSpool(1 << 10)
	s.write([]byte("early ")) // no reader yet: kept for the first
	a := s.attach()
	buf := make([]byte, 64)
	n, _ := a.Read(context.Background(), buf)
	if string(buf[:n]) != "early " {
		t.Fatalf("first reader got %q", buf[:n])
	}
	b := s.attach() // starts after what a was given
	s.write([]byte("late"))
	s.end(false)
	if got := readAll(t, a); got != "late" {
		t.Errorf("a got %q", got)
	}
	if got := readAll(t, b); got != "late" {
		t.Errorf("b got %q", got)
	}
	c := s.attach()
	if got := readAll(t, c); got != "" {
		t.Errorf("a reader after the end got %q", got)
	}
}

func TestSpoolAbortReleasesTheWriter(t *testing.T) {
	s := newSpool(4)
	wrote := make(chan error, 1)
	go func() { wrote <- s.write([]byte("more than four")) }()
	s.end(true)
	if err := <-wrote; err != errAborted {
		t.Errorf("write after abort = %v", err)
	}
}
