// Package pgtest starts a PostgreSQL server of its own for a test: a new
// cluster in a temporary folder (initdb), served on a Unix socket in that
// folder only, stopped and removed when the test ends. It needs the Debian
// package postgresql, installed with apt-get when it is missing. Run as
// root, the server runs as the unprivileged user nobody, since PostgreSQL
// refuses to run as root.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// nobody is the unprivileged user the server runs as under root.
const nobody = 65534

// patience bounds the server's start; CI's machine is busy.
const patience = 60 * time.Second

// Start starts a server and returns the URL of its database "postgres",
// as user "troupe".
func Start(t testing.TB) string {
	t.Helper()
	bin := binDir(t)
	dir, err := os.MkdirTemp("", "troupe-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: nobody, Gid: nobody}
		if err := os.Chown(dir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Env = append(os.Environ(), "LC_ALL=C", "HOME="+dir)
		cmd.Dir = dir
		return cmd
	}
	if out, err := run("initdb", "-D", data, "-U", "troupe", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	// The server listens on a socket in dir and on no TCP port, so tests
	// running at once never meet. fsync is off: the tests kill Troupe,
	// never this server.
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		if err := logf.Chown(nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	srv := run("postgres", "-D", data, "-k", dir, "-c", "listen_addresses=", "-c", "fsync=off")
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait(); logf.Close() }()
	t.Cleanup(func() {
		// SIGINT is the server's fast shutdown: it ends its sessions.
		_ = srv.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(patience):
			_ = srv.Process.Kill()
			<-exited
		}
	})
	url := fmt.Sprintf("postgres://troupe@/postgres?host=%s", dir)
	deadline := time.Now().Add(patience)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("postgres exited at start: %v\n%s", err, log)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, url)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres did not accept connections within %v: %v", patience, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// binDir is the newest installed PostgreSQL's bin folder.
func binDir(t testing.TB) string {
	t.Helper()
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		// As the npm tests install their packages: README's test command
		// works on a fresh Debian machine. Test binaries of several
		// packages may get here at once: apt-get waits for the lock.
		cmd := exec.Command("apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=600", "postgresql")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("apt-get install postgresql: %v\n%s", err, out)
		}
		found, _ = filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	}
	if len(found) == 0 {
		t.Fatal("PostgreSQL is not installed (apt-get install postgresql): the journal's tests start a server of their own")
	}
	slices.SortFunc(found, func(a, b string) int {
		return versionOf(a) - versionOf(b)
	})
	return filepath.Dir(found[len(found)-1])
}

func versionOf(initdb string) int {
	var v int
	fmt.Sscanf(filepath.Base(filepath.Dir(filepath.Dir(initdb))), "%d", &v)
	return v
}
