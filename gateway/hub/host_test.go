package hub_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/troupe-run/troupe/system"
)

func TestHostRoutes(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{})
	var v map[string]string
	h.json("GET", "/version", "", http.StatusOK, &v)
	if v["apiVersion"] != "v1" || v["version"] != system.Version || v["service"] == "" || v["build"] == "" {
		t.Errorf("GET /version = %v", v)
	}
	var lc struct {
		AvgLoad, CurrentLoad float64
		MemFree, MemUsed     uint64
		FsSize               []struct {
			Fs, Type, Mount       string
			Size, Used, Available uint64
			Use                   float64
		}
	}
	h.json("GET", "/load-check", "", http.StatusOK, &lc)
	if lc.MemFree == 0 || lc.MemUsed == 0 || len(lc.FsSize) != 1 || lc.FsSize[0].Size == 0 || lc.FsSize[0].Mount == "" {
		t.Errorf("GET /load-check = %+v", lc)
	}
	var cfg map[string]any
	h.json("GET", "/config", "", http.StatusOK, &cfg)
	if cfg["host"] == nil {
		t.Errorf("GET /config = %v", cfg)
	}
	h.json("GET", "/status", "", http.StatusOK, nil)
	h.json("GET", "/nothing", "", http.StatusNotFound, nil)
	h.json("GET", "/instance/nope", "", http.StatusNotFound, nil)
	h.json("GET", "/sequences", "", http.StatusNotAcceptable, nil, "Accept", "text/html")
	h.json("GET", "/sequences", "", http.StatusOK, nil, "Accept", "text/html, application/*")

	// GET /log streams the hub's recent log lines, then what comes.
	res, err := http.Get(h.url + "/log")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /log: %v %v", res, err)
	}
	defer res.Body.Close()
	logs := bufio.NewReader(res.Body)
	if line, err := logs.ReadString('\n'); err != nil || !strings.Contains(line, "no API key configured") {
		t.Errorf("first log line %q %v, want the backlog's line from the start", line, err)
	}
	h.send(node(t, helloJS))
	for {
		line, err := logs.ReadString('\n')
		if err != nil {
			t.Fatalf("log ended before the upload's line: %v", err)
		}
		if strings.Contains(line, "sequence added") {
			break
		}
	}
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	h := newHub(t, hubOptions{apiKeys: []string{"secret"}})
	var e struct{ Message string }
	h.json("GET", "/version", "", http.StatusForbidden, &e)
	if e.Message != "Forbidden" {
		t.Errorf("403 body %+v", e)
	}
	h.json("GET", "/version", "", http.StatusForbidden, nil, "X-API-Key", "wrong")
	h.json("GET", "/version", "", http.StatusOK, nil, "X-API-Key", "secret")
	h.json("GET", "/version", "", http.StatusOK, nil, "Authorization", "Bearer secret")
}
