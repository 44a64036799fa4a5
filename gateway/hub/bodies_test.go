package hub_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	door "github.com/troupe-run/troupe/gateway/hub"
)

// TestUploadsAreBoundedInBothForms: a package past --hub-max-package is
// 413, sent raw or as the "file" of a multipart form.
func TestUploadsAreBoundedInBothForms(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{door: door.Config{MaxPackage: 8 << 10}})
	big := pkg(t, `{"name":"big","version":"1.0.0","main":"index.js"}`,
		map[string]string{"index.js": "module.exports = () => {};", "noise": string(random(t, 64<<10))})

	if status, body := h.do("POST", "/sequence", bytes.NewReader(big), "Content-Type", "application/octet-stream"); status != http.StatusRequestEntityTooLarge {
		t.Errorf("raw upload past the limit = %d %s, want 413", status, body)
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", "big.tar.gz")
	fw.Write(big)
	mw.Close()
	if status, body := h.do("POST", "/sequence", &form, "Content-Type", mw.FormDataContentType()); status != http.StatusRequestEntityTooLarge {
		t.Errorf("multipart upload past the limit = %d %s, want 413", status, body)
	}
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStalledBodiesAreAnswered: a client that stops sending a command's
// JSON body, or a package, gets an answer once --http-read-timeout passes
// without a byte, instead of holding its request open for good.
func TestStalledBodiesAreAnswered(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{door: door.Config{ReadTimeout: 100 * time.Millisecond}})
	seq := h.send(node(t, `module.exports = () => {};`))
	for _, c := range []struct{ path, ct, part string }{
		{"/sequence/" + seq + "/start", "application/json", `{"args":`},
		{"/sequence", "application/octet-stream", "\x1f\x8b"},
	} {
		status := stalled(t, h.url+c.path, c.ct, c.part)
		if status != http.StatusRequestTimeout {
			t.Errorf("POST %s with a stalled body = %d, want 408", c.path, status)
		}
	}
}

// stalled sends a POST whose body stops short of its Content-Length and
// returns the status of the answer.
func stalled(t *testing.T, url, ct, part string) int {
	t.Helper()
	addr, path, _ := strings.Cut(strings.TrimPrefix(url, "http://"), "/")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(guard))
	req := "POST /" + path + " HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: " + ct +
		"\r\nContent-Length: 1000\r\n\r\n" + part
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("POST /%s with a stalled body: no answer: %v", path, err)
	}
	res.Body.Close()
	return res.StatusCode
}
