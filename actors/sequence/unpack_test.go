package sequence

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// entry is one member of a test archive. A zero type means a regular file.
type entry struct {
	name string
	typ  byte
	body string
	link string
	mode int64
}

func fileEntry(name, body string) entry { return entry{name: name, typ: tar.TypeReg, body: body} }
func dirEntry(name string) entry        { return entry{name: name, typ: tar.TypeDir} }
func linkEntry(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, link: target}
}
func manifestFile(json string) entry           { return fileEntry("package.json", json) }
func exeEntry(name, body string) entry         { e := fileEntry(name, body); e.mode = 0o4777; return e }
func specialEntry(name string, typ byte) entry { return entry{name: name, typ: typ} }
func hardlinkEntry(name, target string) entry {
	return entry{name: name, typ: tar.TypeLink, link: target}
}
func hello() entry                                  { return manifestFile(`{"name":"hello","version":"1.0.0","main":"index.js"}`) }
func index() entry                                  { return fileEntry("index.js", "module.exports = x => x;\n") }
func tarball(t testing.TB, entries ...entry) []byte { return gz(t, rawTar(t, entries...)) }

func rawTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: mode, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %q: %v", e.name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil && hdr.Size > 0 {
			t.Fatalf("tar body %q: %v", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// target is a fresh folder path for Unpack, inside a parent that the test
// inspects afterwards for anything written beside it.
func target(t *testing.T) (parent, dir string) {
	parent = t.TempDir()
	return parent, filepath.Join(parent, "seq")
}

func TestUnpackGoodPackage(t *testing.T) {
	parent, dir := target(t)
	archive := tarball(t,
		dirEntry("./"),
		manifestFile(`{"name":"@troupe/hello","version":"0.1.0","main":"./index","engines":{"node":">=18"}}`),
		fileEntry("./index.js", "module.exports = require('./lib/greet');\n"),
		fileEntry("lib/greet.js", "module.exports = x => `Hello ${x}!`;\n"),
		dirEntry("lib/"), // listed after its files: still fine
		fileEntry("node_modules/tool/cli.js", "#!/usr/bin/env node\n"),
		linkEntry("node_modules/.bin/tool", "../tool/cli.js"),
		exeEntry("bin/run.sh", "#!/bin/sh\n"),
	)
	p, err := Unpack(bytes.NewReader(archive), dir, Limits{})
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	want := Package{Name: "@troupe/hello", Version: "0.1.0", Main: "./index", Entry: "index.js", Engine: Node}
	if p.Name != want.Name || p.Version != want.Version || p.Main != want.Main || p.Entry != want.Entry || p.Engine != want.Engine {
		t.Errorf("Package = %+v, want %+v", *p, want)
	}
	if !strings.Contains(string(p.Raw), `"@troupe/hello"`) {
		t.Errorf("Raw = %s", p.Raw)
	}
	got, err := os.ReadFile(filepath.Join(dir, "lib", "greet.js"))
	if err != nil || !strings.Contains(string(got), "Hello") {
		t.Errorf("lib/greet.js = %q, %v", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "node_modules", ".bin", "tool")); err != nil || string(got) != "#!/usr/bin/env node\n" {
		t.Errorf("reading through .bin/tool = %q, %v", got, err)
	}
	info, err := os.Stat(filepath.Join(dir, "bin", "run.sh"))
	if err != nil || info.Mode().Perm() != 0o755 || info.Mode()&os.ModeSetuid != 0 {
		t.Errorf("bin/run.sh mode = %v, %v; want -rwxr-xr-x without setuid", info.Mode(), err)
	}
	if info, err := os.Stat(filepath.Join(dir, "index.js")); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("index.js mode = %v, %v", info.Mode(), err)
	}
	if names := list(t, parent); len(names) != 1 || names[0] != "seq" {
		t.Errorf("parent holds %v, want only seq", names)
	}

	loaded, err := Load(dir)
	if err != nil || loaded.Entry != p.Entry || loaded.Engine != p.Engine || loaded.Name != p.Name {
		t.Errorf("Load = %+v, %v; want what Unpack gave", loaded, err)
	}
}

func TestUnpackRefuses(t *testing.T) {
	good := []entry{hello(), index()}
	with := func(extra ...entry) []byte { return tarball(t, append(append([]entry{}, good...), extra...)...) }
	full := tarball(t, good...)

	tests := []struct {
		name    string
		archive []byte
		lim     Limits
		want    error
	}{
		{"not gzip", []byte("just text, not a package"), Limits{}, ErrNotGzip},
		{"empty body", nil, Limits{}, ErrNotGzip},
		{"truncated", full[:len(full)/2], Limits{}, ErrBadArchive},
		{"gzip of garbage", gz(t, bytes.Repeat([]byte("x"), 2048)), Limits{}, ErrBadArchive},
		{"absolute path", with(fileEntry("/etc/troupe-test", "x")), Limits{}, ErrUnsafePath},
		{"parent path", with(fileEntry("../escape.js", "x")), Limits{}, ErrUnsafePath},
		{"parent inside path", with(fileEntry("lib/../../escape.js", "x")), Limits{}, ErrUnsafePath},
		{"harmless-looking dot dot", with(fileEntry("lib/../index2.js", "x")), Limits{}, ErrUnsafePath},
		{"hard link", with(hardlinkEntry("copy.js", "index.js")), Limits{}, ErrLink},
		{"absolute symlink", with(linkEntry("passwd", "/etc/passwd")), Limits{}, ErrLink},
		{"symlink out", with(linkEntry("up", "../../etc")), Limits{}, ErrLink},
		{"symlink chain out", with(dirEntry("x/"), linkEntry("x/b", ".."), linkEntry("a", "x/b/..")), Limits{}, ErrLink},
		{"dangling symlink", with(linkEntry("nothing", "missing.js")), Limits{}, ErrLink},
		{"write through symlink", with(dirEntry("sub/"), linkEntry("l", "sub"), fileEntry("l/f.js", "x")), Limits{}, ErrLink},
		{"char device", with(specialEntry("tty", tar.TypeChar)), Limits{}, ErrSpecialFile},
		{"block device", with(specialEntry("sda", tar.TypeBlock)), Limits{}, ErrSpecialFile},
		{"fifo", with(specialEntry("pipe", tar.TypeFifo)), Limits{}, ErrSpecialFile},
		{"duplicate file", with(fileEntry("index.js", "again")), Limits{}, ErrDuplicate},
		{"file as folder", with(fileEntry("lib/a.js/b.js", "x"), fileEntry("lib/a.js", "x")), Limits{}, ErrDuplicate},
		{"folder through file", with(fileEntry("lib", "x"), fileEntry("lib/a.js", "x")), Limits{}, ErrDuplicate},
		{"too many files", with(fileEntry("a.js", "x"), fileEntry("b.js", "x")), Limits{MaxFiles: 3}, ErrTooManyFiles},
		{"implicit folders count", with(fileEntry("a/b/c.js", "x")), Limits{MaxFiles: 3}, ErrTooManyFiles},
		{"file too large", with(fileEntry("big.bin", strings.Repeat("x", 11))), Limits{MaxFileBytes: 10}, ErrFileTooLarge},
		{"package too large", with(fileEntry("a.bin", strings.Repeat("x", 60)), fileEntry("b.bin", strings.Repeat("x", 60))), Limits{MaxBytes: 150}, ErrTooLarge},
		{"long name", with(fileEntry(strings.Repeat("a/", 2100)+"x.js", "x")), Limits{}, ErrBadArchive},
		{"no manifest", tarball(t, index()), Limits{}, ErrNoManifest},
		{"npm pack layout", tarball(t, fileEntry("package/package.json", `{"main":"index.js"}`), fileEntry("package/index.js", "")), Limits{}, ErrNoManifest},
		{"manifest is a folder", tarball(t, dirEntry("package.json/"), index()), Limits{}, ErrBadManifest},
		{"manifest not json", tarball(t, manifestFile("{main: index.js}"), index()), Limits{}, ErrBadManifest},
		{"main not a string", tarball(t, manifestFile(`{"main":42}`), index()), Limits{}, ErrBadManifest},
		{"manifest too large", tarball(t, manifestFile(`{"main":"index.js","x":"`+strings.Repeat("x", 1<<20)+`"}`), index()), Limits{}, ErrBadManifest},
		{"no main", tarball(t, manifestFile(`{"name":"x"}`), index()), Limits{}, ErrBadMain},
		{"main outside", tarball(t, manifestFile(`{"main":"../index.js"}`), index()), Limits{}, ErrBadMain},
		{"main absolute", tarball(t, manifestFile(`{"main":"/etc/passwd"}`), index()), Limits{}, ErrBadMain},
		{"main is a folder", tarball(t, manifestFile(`{"main":"lib"}`), dirEntry("lib/"), index()), Limits{}, ErrBadMain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, dir := target(t)
			p, err := Unpack(bytes.NewReader(tt.archive), dir, tt.lim)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Unpack = %+v, %v; want %v", p, err, tt.want)
			}
			var pe *PackageError
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not a *PackageError", err)
			}
			if names := list(t, parent); len(names) != 0 {
				t.Errorf("after a refusal the parent still holds %v", names)
			}
		})
	}
}

func TestUnpackErrorMessageSaysWhy(t *testing.T) {
	_, dir := target(t)
	_, err := Unpack(bytes.NewReader(tarball(t, hello(), index(), linkEntry("up", "../../etc"))), dir, Limits{})
	for _, want := range []string{"link", "up", "outside the package"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestUnpackReadFailureIsNotARefusal(t *testing.T) {
	parent, dir := target(t)
	archive := tarball(t, hello(), index(), fileEntry("big.txt", strings.Repeat("troupe ", 20000)))
	broken := errors.New("connection reset")
	r := io.MultiReader(bytes.NewReader(archive[:len(archive)/2]), iotest.ErrReader(broken))
	_, err := Unpack(r, dir, Limits{})
	var pe *PackageError
	if !errors.Is(err, broken) || errors.As(err, &pe) {
		t.Fatalf("Unpack = %v; want the reader's error, not a refusal", err)
	}
	if names := list(t, parent); len(names) != 0 {
		t.Errorf("after a failure the parent still holds %v", names)
	}
}

func TestUnpackNeedsAFreshFolder(t *testing.T) {
	_, dir := target(t)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(dir, "keep.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Unpack(bytes.NewReader(tarball(t, hello(), index())), dir, Limits{}); !errors.Is(err, os.ErrExist) {
		t.Fatalf("Unpack into an existing folder = %v, want ErrExist", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("Unpack removed a folder it did not create: %v", err)
	}
}

func TestUnpackLimitsAreInclusive(t *testing.T) {
	_, dir := target(t)
	// package.json, index.js and a.bin: three entries, exactly the limit;
	// a.bin is exactly MaxFileBytes.
	m := `{"main":"index.js"}`
	entries := []entry{manifestFile(m), fileEntry("index.js", "x"), fileEntry("a.bin", "0123456789")}
	lim := Limits{MaxFiles: 3, MaxFileBytes: 19, MaxBytes: int64(len(m) + 1 + 10)}
	if _, err := Unpack(bytes.NewReader(tarball(t, entries...)), dir, lim); err != nil {
		t.Fatalf("Unpack at the limits: %v", err)
	}
}

func list(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}
