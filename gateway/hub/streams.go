package hub

import (
	"errors"
	"io"
	"net/http"

	"github.com/troupe-run/troupe/messages"
)

const octetStream = "application/octet-stream"

// chunkSize is the most a stream handler reads before it writes and
// flushes.
const chunkSize = 32 << 10

// startStream answers 200 with a body of type ct sent as it comes, and
// returns the function that flushes what was written.
func startStream(w http.ResponseWriter, ct string) func() {
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	return func() { rc.Flush() }
}

// getStream answers GET /output, /stdout, /stderr and /log of an instance:
// what the instance wrote that no reader has had yet, then what it writes,
// until the stream ends with the process. A client that reads slowly
// slows the instance down (the stream's buffer fills, then its pipe).
func (s *Server) getStream(kind messages.InstanceStream) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !accepts(r, octetStream) {
			notAcceptable(w, octetStream)
			return
		}
		ctx, cancel := s.streamContext(r)
		defer cancel()
		rd, err := s.instances.Open(ctx, r.PathValue("id"), &messages.InstanceStreamOpen{Stream: kind})
		if err != nil {
			fail(w, err)
			return
		}
		defer rd.Close()
		flush := startStream(w, octetStream)
		buf := make([]byte, chunkSize)
		for {
			n, err := rd.Read(ctx, buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
				flush()
			}
			if err != nil {
				return
			}
		}
	}
}

// postInput answers POST /input and /stdin: the body goes into the
// instance's stream as the sequence reads it. The request ends the stream
// unless it carries x-end-stream: false; the answer is 200 when it ended
// the stream, 202 when not. The first /input names the content type the
// sequence decodes its input with (406 without one).
func (s *Server) postInput(stdin bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := s.requestContext(r)
		open := &messages.InstanceInputOpen{Stdin: stdin}
		if !stdin {
			open.ContentType = mediaType(r)
		}
		port, err := s.instances.Input(ctx, r.PathValue("id"), open)
		cancel()
		if err != nil {
			fail(w, err)
			return
		}
		end := endStream(r, true)
		if _, err := port.Copy(r.Body, end); err != nil {
			var coded codedError
			if errors.As(err, &coded) {
				fail(w, err)
				return
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				writeError(w, http.StatusBadRequest, "reading the body: "+err.Error())
			}
			return
		}
		status := http.StatusAccepted
		if end {
			status = http.StatusOK
		}
		w.WriteHeader(status)
	}
}
