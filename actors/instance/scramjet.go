package instance

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// scramjetVersion is the scramjet npm package the hub installs for Node
// sequences that do not ship their own: the version the original runner
// depends on.
const scramjetVersion = "4.37.0"

// Values of Options.Scramjet beside a folder's path.
const (
	ScramjetAuto = "auto" // install scramjetVersion with npm into the data dir on first use
	ScramjetOff  = "off"  // no scramjet: the input is a plain Node stream
)

// npmInstallTimeout bounds the one npm install of the hub's scramjet.
const npmInstallTimeout = 5 * time.Minute

// scramjet provides the node_modules folder the Node runner loads scramjet
// from when the sequence has none of its own (TROUPE_SCRAMJET_MODULES).
// In auto mode the first Node start installs it, the starts that come
// meanwhile wait for that one install, and a failed install is retried by
// the next start (the host may have come online since).
type scramjet struct {
	mode string // ScramjetAuto, ScramjetOff, or a node_modules folder
	dir  string // auto: where npm installs (its node_modules is the answer)
	log  *slog.Logger

	mu      sync.Mutex
	ready   string        // the node_modules folder, once it holds scramjet
	running chan struct{} // an install in progress; closed when it ends
}

func newScramjet(mode, dir string, log *slog.Logger) *scramjet {
	if mode == "" {
		mode = ScramjetOff
	}
	if mode != ScramjetAuto && mode != ScramjetOff {
		return &scramjet{mode: mode, ready: mode, log: log}
	}
	return &scramjet{mode: mode, dir: dir, log: log}
}

// modules returns the node_modules folder holding scramjet, or "" (off, or
// the install failed: the sequence then gets a plain stream, and the
// failure is logged).
func (s *scramjet) modules(ctx context.Context) string {
	if s == nil || s.mode == ScramjetOff {
		return ""
	}
	s.mu.Lock()
	if s.ready != "" || s.mode != ScramjetAuto {
		r := s.ready
		s.mu.Unlock()
		return r
	}
	if wait := s.running; wait != nil {
		s.mu.Unlock()
		select {
		case <-wait:
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.ready // one install per wave of starts, even a failed one
		case <-ctx.Done():
			return ""
		}
	}
	done := make(chan struct{})
	s.running = done
	s.mu.Unlock()

	ready, err := s.install(ctx)
	if err != nil {
		s.log.Warn("scramjet for Node sequences not installed: their input is a plain Node stream",
			"version", scramjetVersion, "dir", s.dir, "err", err)
	}
	s.mu.Lock()
	s.ready, s.running = ready, nil
	s.mu.Unlock()
	close(done)
	return ready
}

// known is the node_modules folder holding scramjet when it is known
// already, else "": it never installs, nor waits for an install.
func (s *scramjet) known() string {
	if s == nil || s.mode == ScramjetOff {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready
}

// install runs npm into s.dir unless scramjet is there already.
func (s *scramjet) install(ctx context.Context) (string, error) {
	modules := filepath.Join(s.dir, "node_modules")
	pkg := filepath.Join(modules, "scramjet", "package.json")
	if _, err := os.Stat(pkg); err == nil {
		return modules, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, npmInstallTimeout)
	defer cancel()
	s.log.Info("installing scramjet for Node sequences", "version", scramjetVersion, "dir", s.dir)
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", s.dir,
		"scramjet@"+scramjetVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install scramjet@%s: %w: %s", scramjetVersion, err, lastLines(out, 800))
	}
	if _, err := os.Stat(pkg); err != nil {
		return "", fmt.Errorf("npm install scramjet@%s left no %s", scramjetVersion, pkg)
	}
	return modules, nil
}

func lastLines(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
