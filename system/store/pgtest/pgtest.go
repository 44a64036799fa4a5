// Package pgtest starts a PostgreSQL server of its own for a test or a
// benchmark: a new cluster in a temporary folder (initdb), served on a Unix
// socket in that folder only, stopped and removed at the end. It needs the
// Debian package postgresql, installed with apt-get when it is missing.
// Run as root, the server runs as the unprivileged user nobody, since
// PostgreSQL refuses to run as root.
package pgtest

import (
	"context"
	"errors"
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

// patience bounds the server's start and stop; CI's machine is busy.
const patience = 60 * time.Second

// Start starts a server for the test, stopped and removed when it ends,
// and returns the URL of its database "postgres", as user "troupe".
func Start(t testing.TB) string {
	t.Helper()
	s, err := Launch()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s.URL
}

// Server is a PostgreSQL server started by Launch.
type Server struct {
	// URL is its database "postgres", as user "troupe".
	URL string
	// Pid is the server's main process (its sessions are its children).
	Pid int

	dir    string
	srv    *exec.Cmd
	exited chan error
}

// Launch starts a server in a new temporary folder, which Stop removes.
func Launch() (s *Server, err error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "troupe-pg-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	data := filepath.Join(dir, "data")
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: nobody, Gid: nobody}
		if err := os.Chown(dir, nobody, nobody); err != nil {
			return nil, err
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
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	// The server listens on a socket in dir and on no TCP port, so servers
	// running at once never meet. fsync is off: the tests and benchmarks
	// kill Troupe, never this server.
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := logf.Chown(nobody, nobody); err != nil {
			logf.Close()
			return nil, err
		}
	}
	srv := run("postgres", "-D", data, "-k", dir, "-c", "listen_addresses=", "-c", "fsync=off")
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s = &Server{URL: fmt.Sprintf("postgres://troupe@/postgres?host=%s", dir), Pid: srv.Process.Pid,
		dir: dir, srv: srv, exited: make(chan error, 1)}
	go func() { s.exited <- srv.Wait(); logf.Close() }()
	if err := s.waitReady(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// waitReady waits until the server accepts a connection.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(patience)
	for {
		select {
		case err := <-s.exited:
			s.exited <- err // for Stop
			log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
			return fmt.Errorf("postgres exited at start: %v\n%s", err, log)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.URL)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within %v: %v", patience, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the server and removes its folder.
func (s *Server) Stop() {
	// SIGINT is the server's fast shutdown: it ends its sessions.
	_ = s.srv.Process.Signal(os.Interrupt)
	select {
	case err := <-s.exited:
		s.exited <- err // a second Stop returns at once
	case <-time.After(patience):
		_ = s.srv.Process.Kill()
		s.exited <- <-s.exited
	}
	os.RemoveAll(s.dir)
}

// binDir is the newest installed PostgreSQL's bin folder.
func binDir() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	var installErr error
	if len(found) == 0 {
		// As the npm tests install their packages: README's test command
		// works on a fresh Debian machine. Test binaries of several
		// packages may get here at once: apt-get waits for the lock.
		cmd := exec.Command("apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=600", "postgresql")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			installErr = fmt.Errorf("apt-get install postgresql: %v\n%s", err, out)
		}
		found, _ = filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	}
	if len(found) == 0 {
		return "", errors.Join(errors.New("PostgreSQL is not installed (apt-get install postgresql): the journal's tests and troupe-bench --cluster start a server of their own"), installErr)
	}
	slices.SortFunc(found, func(a, b string) int {
		return versionOf(a) - versionOf(b)
	})
	return filepath.Dir(found[len(found)-1]), nil
}

func versionOf(initdb string) int {
	var v int
	fmt.Sscanf(filepath.Base(filepath.Dir(filepath.Dir(initdb))), "%d", &v)
	return v
}
