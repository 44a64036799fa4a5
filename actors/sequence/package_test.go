package sequence

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestEngine(t *testing.T) {
	tests := []struct {
		manifest string
		want     Engine
	}{
		{`{"main":"index.js"}`, Node},
		{`{"main":"main.py","engines":{"python3":"3.9.0"}}`, Python},
		{`{"main":"main.py"}`, Python},
		{`{"main":"main.py","engines":{"node":">=18"}}`, Node},
		{`{"main":"run","engines":{"python3":"*","node":"*"}}`, Python},
		{`{"main":"index.js","engines":null}`, Node},
	}
	for _, tt := range tests {
		p, err := parseManifest([]byte(tt.manifest))
		if err != nil {
			t.Errorf("parseManifest(%s): %v", tt.manifest, err)
			continue
		}
		if p.Engine != tt.want {
			t.Errorf("engine of %s = %q, want %q", tt.manifest, p.Engine, tt.want)
		}
	}
}

func TestParseManifestFields(t *testing.T) {
	p, err := parseManifest([]byte(`{"name":null,"version":"2.0.1","main":"./dist/index.js","scramjet":{"config":{}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "" || p.Version != "2.0.1" || p.Main != "./dist/index.js" {
		t.Errorf("parseManifest = %+v", *p)
	}
	for _, bad := range []string{`[]`, `"index.js"`, `{"main":""}`, `{"main":null}`, `{"main":"a.js","name":1}`, `{"main":"a.js","engines":{"node":18}}`} {
		if _, err := parseManifest([]byte(bad)); !errors.Is(err, ErrBadManifest) && !errors.Is(err, ErrBadMain) {
			t.Errorf("parseManifest(%s) = %v, want a refusal", bad, err)
		}
	}
}

func TestResolveMain(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"index.js": "", "lib/app.js": "", "main.py": "", "cli": ""} {
		path := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	tests := []struct {
		main   string
		engine Engine
		want   string
	}{
		{"index.js", Node, "index.js"},
		{"./index", Node, "index.js"},
		{"lib/app", Node, "lib/app.js"},
		{"./lib/../index.js", Node, "index.js"},
		{"cli", Node, "cli"},
		{"main.py", Python, "main.py"},
		{"main", Python, "main"},     // Python gets no .js guess, nor any other
		{"gone.js", Node, "gone.js"}, // a missing main is the start's failure (exit 21), not the upload's
		{"lib", Node, ""},
		{"../index.js", Node, ""},
	}
	for _, tt := range tests {
		got, err := resolveMain(root, tt.main, tt.engine)
		if tt.want == "" {
			if !errors.Is(err, ErrBadMain) {
				t.Errorf("resolveMain(%q) = %q, %v; want ErrBadMain", tt.main, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("resolveMain(%q) = %q, %v; want %q", tt.main, got, err, tt.want)
		}
	}
}

func TestLoadMissingFolder(t *testing.T) {
	var pe *PackageError
	if _, err := Load(filepath.Join(t.TempDir(), "gone")); err == nil || errors.As(err, &pe) {
		t.Errorf("Load of a missing folder = %v, want a plain error", err)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"name":"a","version":"1","main":"index.js","engines":{"python3":"3"}}`))
	f.Add([]byte(`{"main":"./x"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseManifest(data)
		if err != nil {
			var pe *PackageError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a refusal", err)
			}
			return
		}
		if p.Main == "" || (p.Engine != Node && p.Engine != Python) {
			t.Fatalf("accepted %q as %+v", data, *p)
		}
	})
}

// FuzzUnpack feeds arbitrary tar archives (gzipped by the harness, so that
// the fuzzer works on the tar structure) and checks that nothing lands
// outside the target folder and that refusals are refusals.
func FuzzUnpack(f *testing.F) {
	f.Add(rawTar(f, hello(), index()))
	f.Add(rawTar(f, hello(), index(), linkEntry("x", "../y"), fileEntry("a/../b", "")))
	f.Add(rawTar(f, hello(), index(), dirEntry("d/"), linkEntry("d/l", ".."), fileEntry("d/l/z", "z")))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "seq")
		p, err := Unpack(bytes.NewReader(gz(t, data)), dir, Limits{MaxBytes: 1 << 20, MaxFiles: 100})
		names, lerr := os.ReadDir(parent)
		if lerr != nil {
			t.Fatal(lerr)
		}
		if err != nil {
			var pe *PackageError
			if !errors.As(err, &pe) {
				t.Fatalf("Unpack error %v is not a refusal", err)
			}
			if len(names) != 0 {
				t.Fatalf("refused package left %v behind", names)
			}
			return
		}
		if len(names) != 1 {
			t.Fatalf("parent holds %d entries, want 1", len(names))
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		if info, err := root.Stat(p.Entry); err != nil || !info.Mode().IsRegular() {
			t.Fatalf("entry %q: %v", p.Entry, err)
		}
	})
}

func TestDefaultArgs(t *testing.T) {
	for raw, want := range map[string]string{
		`{"main":"i.js","scramjet":{"args":[1,"a"]},"args":[2]}`: `[1,"a"]`,
		`{"main":"i.js","args":["x"]}`:                           `["x"]`,
		`{"main":"i.js","args":"x"}`:                             ``,
		`{"main":"i.js"}`:                                        ``,
	} {
		if got := (&Package{Raw: json.RawMessage(raw)}).DefaultArgs(); string(got) != want {
			t.Errorf("DefaultArgs of %s = %s, want %s", raw, got, want)
		}
	}
}
