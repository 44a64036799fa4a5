package hub_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/troupe-run/troupe/actors/hubdoor"
	"github.com/troupe-run/troupe/actors/instance"
	"github.com/troupe-run/troupe/actors/sequence"
	"github.com/troupe-run/troupe/actors/topic"
	door "github.com/troupe-run/troupe/gateway/hub"
	"github.com/troupe-run/troupe/system"
	"github.com/troupe-run/troupe/system/systemtest"
)

// base is the prefix of every route.
const base = "/api/v1"

// guard bounds every wait of these tests, so that a broken hub fails a
// test instead of hanging it; nothing needs more than a fraction of it.
const guard = 30 * time.Second

// hub is a real system with the hub's services behind a test server.
type hub struct {
	t    *testing.T
	sys  *system.System
	seqs *sequence.Service
	inst *instance.Service
	url  string
	tap  *door.LogTap
}

// hubOptions adjust a test hub.
type hubOptions struct {
	args      []string // system flags
	dataDir   string   // the package folder; a temporary one when empty
	instances instance.Options
	apiKeys   []string
	door      door.Config // MaxPackage and ReadTimeout, when set
}

func newHub(t *testing.T, o hubOptions) *hub {
	t.Helper()
	sys := systemtest.Boot(t, o.args...)
	tap := door.NewLogTap(256)
	sys.Log = slog.New(tap.Wrap(slog.NewTextHandler(io.Discard, nil)))
	seqs, err := sequence.Start(sys, sequence.Options{Dir: o.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seqs.Close() })
	topics, err := topic.Start(sys, topic.Options{ConsumerBuffer: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	opts := o.instances
	if opts.RunnerDir == "" {
		opts.RunnerDir = filepath.Join(t.TempDir(), "runners")
	}
	if opts.KillGrace == 0 {
		opts.KillGrace = 500 * time.Millisecond
	}
	inst, err := instance.StartService(sys, seqs, topics, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := door.New(door.Config{APIKeys: o.apiKeys, Version: system.Version, DataDir: t.TempDir(),
		MaxPackage: o.door.MaxPackage, ReadTimeout: o.door.ReadTimeout},
		hubdoor.New(seqs, inst, topics), tap, sys.Metrics, sys.Log)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Drain()
		ts.Close()
	})
	return &hub{t: t, sys: sys, seqs: seqs, inst: inst, url: ts.URL + base, tap: tap}
}

// pkg builds a sequence package: package.json from manifest, then files.
func pkg(t *testing.T, manifest string, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	add := func(name, body string) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, body)
	}
	add("package.json", manifest)
	for name, body := range files {
		add(name, body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

// node is a Node sequence whose index.js is src.
func node(t *testing.T, src string) []byte {
	return pkg(t, `{"name":"`+t.Name()+`","version":"1.0.0","main":"index.js"}`, map[string]string{"index.js": src})
}

// do sends a request and returns the status and body.
func (h *hub) do(method, path string, body io.Reader, headers ...string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return res.StatusCode, string(data)
}

// json sends a request expecting status want and decodes the JSON answer.
func (h *hub) json(method, path, body string, want int, out any, headers ...string) {
	h.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
		headers = append([]string{"Content-Type", "application/json"}, headers...)
	}
	status, data := h.do(method, path, r, headers...)
	if status != want {
		h.t.Fatalf("%s %s = %d %s, want %d", method, path, status, data, want)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(data), out); err != nil {
			h.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}

// send uploads a package and returns the sequence id.
func (h *hub) send(archive []byte) string {
	h.t.Helper()
	var r struct{ ID string }
	status, data := h.do("POST", "/sequence", bytes.NewReader(archive), "Content-Type", "application/octet-stream")
	if status != http.StatusAccepted || json.Unmarshal([]byte(data), &r) != nil || r.ID == "" {
		h.t.Fatalf("POST /sequence = %d %s", status, data)
	}
	return r.ID
}

// start starts a sequence with the given start body ("" for none).
func (h *hub) start(seq, body string) string {
	h.t.Helper()
	var r struct{ ID, Result, OpStatus string }
	h.json("POST", "/sequence/"+seq+"/start", body, http.StatusOK, &r)
	if r.ID == "" || r.Result != "success" {
		h.t.Fatalf("start answered %+v", r)
	}
	return r.ID
}

// info is an instance's description.
type info struct {
	ID         string
	Sequence   string
	Status     string
	Created    string
	Started    string
	Terminated *struct {
		ExitCode int
		Reason   string
	}
}

func (h *hub) info(id string) info {
	h.t.Helper()
	var i info
	h.json("GET", "/instance/"+id, "", http.StatusOK, &i)
	return i
}

// until polls the instance's description until ok accepts it.
func (h *hub) until(id string, what string, ok func(info) bool) info {
	h.t.Helper()
	deadline := time.Now().Add(guard)
	for {
		i := h.info(id)
		if ok(i) {
			return i
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("instance %s never %s: %+v", id, what, i)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *hub) ended(id string) info {
	h.t.Helper()
	return h.until(id, "ended", func(i info) bool { return i.Terminated != nil })
}

func (h *hub) running(id string) info {
	h.t.Helper()
	return h.until(id, "ran", func(i info) bool { return i.Status == "running" })
}

// stream reads a whole stream route (it ends with the instance).
func (h *hub) stream(path string) string {
	h.t.Helper()
	status, data := h.do("GET", path, nil)
	if status != http.StatusOK {
		h.t.Fatalf("GET %s = %d %s", path, status, data)
	}
	return data
}
