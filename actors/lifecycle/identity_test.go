package lifecycle

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestSSPID(t *testing.T) {
	if id, err := SSPID("ssp-primary-01", "/nonexistent/x"); err != nil || id != "ssp-primary-01" {
		t.Fatalf("given id: %q %v", id, err)
	}
	uuidRE := regexp.MustCompile(`^ssp-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	a, _ := SSPID("", "")
	b, _ := SSPID("", "")
	if !uuidRE.MatchString(a) || a == b {
		t.Fatalf("without a data dir: %q then %q, want two ssp-<uuid>", a, b)
	}
	path := filepath.Join(t.TempDir(), "sub", "ssp-id")
	first, err := SSPID("", path)
	if err != nil || !uuidRE.MatchString(first) {
		t.Fatalf("first start: %q %v", first, err)
	}
	again, err := SSPID("", path)
	if err != nil || again != first {
		t.Fatalf("second start: %q %v, want %q", again, err, first)
	}
	if raw, _ := os.ReadFile(path); string(raw) != first+"\n" {
		t.Fatalf("file holds %q", raw)
	}
	// A given id wins over the kept one, and does not replace it.
	if id, _ := SSPID("mine", path); id != "mine" {
		t.Fatalf("given id ignored: %q", id)
	}
	if id, _ := SSPID("", path); id != first {
		t.Fatalf("kept id replaced: %q", id)
	}
	// An unreadable path is an error, not a new id.
	dir := t.TempDir()
	if _, err := SSPID("", dir); err == nil {
		t.Fatalf("a directory as the id file gave no error")
	}
}

func TestAdvertiseURL(t *testing.T) {
	host := func() (string, error) { return "box", nil }
	for _, tc := range []struct{ advertise, listen, want string }{
		{"", ":8667", "http://box:8667"},
		{"", "0.0.0.0:8667", "http://box:8667"},
		{"", "[::]:8667", "http://box:8667"},
		{"", "127.0.0.1:9000", "http://127.0.0.1:9000"},
		{"", "10.0.0.5:8667", "http://10.0.0.5:8667"},
		{"10.100.1.30:8667", ":8667", "http://10.100.1.30:8667"},
		{"https://ssp.example.com/", ":8667", "https://ssp.example.com"},
	} {
		if got, err := AdvertiseURL(tc.advertise, tc.listen, host); err != nil || got != tc.want {
			t.Errorf("AdvertiseURL(%q, %q) = %q, %v; want %q", tc.advertise, tc.listen, got, err, tc.want)
		}
	}
	if _, err := AdvertiseURL("", "nonsense", host); err == nil {
		t.Errorf("a listen address without a port gave no error")
	}
	noHost := func() (string, error) { return "", errors.New("no name") }
	if _, err := AdvertiseURL("", ":8667", noHost); err == nil {
		t.Errorf("no host name gave no error")
	}
}
