package process

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// The runners ship inside the binary and are written to disk before their
// first use, because node and python3 run scripts from files.
var (
	//go:embed runner/node/runner.js
	nodeRunner []byte
	//go:embed runner/python/runner.py
	pythonRunner []byte
)

// privateRunnerDir is the folder runners go to when Spec.RunnerDir is
// empty: made once per hub process by MkdirTemp, so it is the hub's own
// (mode 0700, a name no one could have guessed and prepared).
var privateRunnerDir = sync.OnceValues(func() (string, error) {
	return os.MkdirTemp("", "troupe-runners-")
})

// installRunner writes script into dir under a name made from its content
// and returns its path. Different hub versions sharing a folder each get
// their own file, and a file once written is never changed, so concurrent
// starts need no lock: each writes a temporary file and renames it in place.
func installRunner(dir, name string, script []byte) (string, error) {
	if dir == "" {
		var err error
		if dir, err = privateRunnerDir(); err != nil {
			return "", err
		}
	}
	sum := sha256.Sum256(script)
	path := filepath.Join(dir, hex.EncodeToString(sum[:6])+"-"+name)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, name+".*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(script); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return "", err
	}
	return path, os.Rename(tmp.Name(), path)
}

// PrivateDir is the hub process's own temporary folder (mode 0700), made
// on first use, where runners go when Spec.RunnerDir is empty.
func PrivateDir() (string, error) { return privateRunnerDir() }
