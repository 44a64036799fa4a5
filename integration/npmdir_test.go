package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// npmFolder is one of integration's npm folders (a package.json and its
// lock file). Its packages are installed with npm ci once per test run,
// when the marker file under it is missing.
type npmFolder struct {
	name, marker string
	once         sync.Once
	err          string
}

// path is the folder's absolute path with its packages installed.
func (f *npmFolder) path(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(f.name)
	if err != nil {
		t.Fatal(err)
	}
	f.once.Do(func() {
		if _, err := os.Stat(filepath.Join(dir, f.marker)); err == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			f.err = err.Error() + "\n" + string(out)
		}
	})
	if f.err != "" {
		t.Fatalf("npm ci in %s: %s", dir, f.err)
	}
	return dir
}
