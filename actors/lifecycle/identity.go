package lifecycle

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
)

// SSPID returns this SSP's id: the given one (SPKY_SSP_ID) when set, else
// "ssp-<uuid>" as the original defaults to, kept in the file path (in
// the data dir) so that a restart on the same data dir keeps its id and
// the scheduler sees the same SSP come back. path "" (no data dir) gives a
// new id per process, as the original does.
func SSPID(given, path string) (string, error) {
	if given != "" {
		return given, nil
	}
	if path == "" {
		return "ssp-" + uuid.NewString(), nil
	}
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		if id := strings.TrimSpace(string(raw)); id != "" {
			return id, nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("reading the SSP id: %w", err)
	}
	id := "ssp-" + uuid.NewString()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("keeping the SSP id: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("keeping the SSP id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("keeping the SSP id: %w", err)
	}
	return id, nil
}

// AdvertiseURL is the url this SSP registers: http:// and advertise
// (SPKY_SSP_ADVERTISE_ADDR) when set, else the listen address with a
// wildcard host (none, 0.0.0.0, ::) replaced by the host name, so that the
// scheduler can reach it from another machine.
func AdvertiseURL(advertise, listen string, hostname func() (string, error)) (string, error) {
	if advertise != "" {
		if strings.Contains(advertise, "://") {
			return strings.TrimRight(advertise, "/"), nil
		}
		return "http://" + advertise, nil
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("the views door's address %q: %w", listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if host, err = hostname(); err != nil {
			return "", fmt.Errorf("the host name, for the url to register: %w (set SPKY_SSP_ADVERTISE_ADDR)", err)
		}
	}
	return "http://" + net.JoinHostPort(host, port), nil
}
