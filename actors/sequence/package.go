// Package sequence reads sequence packages: the tar.gz archives users send
// to the hub, each holding a program and the package.json that says how to
// run it.
//
// Layout: package.json sits at the root of the archive, as the original hub
// expects (it runs `tar zxf` into the sequence's folder and reads
// package.json there). An archive whose files all sit under one top-level
// folder, as `npm pack` writes them under package/, is refused with
// ErrNoManifest like in the original; `si seq pack` writes files at the root.
//
// Topics: a sequence declares the topics it provides or requires in its
// code, not in package.json (the original has no such manifest field); the
// runner reports them once the code is loaded.
package sequence

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/troupe-run/troupe/messages"
)

// Manifest is the name of the file that describes a package.
const Manifest = "package.json"

// maxManifestBytes bounds the package.json read into memory; real manifests
// are a few kilobytes.
const maxManifestBytes = 1 << 20

// Engine is the runtime a sequence runs on.
type Engine string

const (
	Node   Engine = messages.EngineNode
	Python Engine = messages.EnginePython
)

// Package is what the hub needs to know about an unpacked sequence.
type Package struct {
	Name    string
	Version string
	Main    string // as package.json gives it, e.g. "./index"
	Entry   string // the file Main resolves to, relative to the package folder
	Engine  Engine
	Raw     json.RawMessage // package.json as sent
}

// Load reads the package unpacked in dir, for instance when the hub
// restarts and finds its stored sequences.
func Load(dir string) (*Package, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return load(root)
}

func load(root *os.Root) (*Package, error) {
	// Stat follows links, but only within root: a package.json that is a
	// link to a file of the package is fine.
	info, err := root.Stat(Manifest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, refuse(ErrNoManifest, "", "")
	case err != nil:
		return nil, refuse(ErrBadManifest, Manifest, err.Error())
	case !info.Mode().IsRegular():
		return nil, refuse(ErrBadManifest, Manifest, "not a regular file")
	case info.Size() > maxManifestBytes:
		return nil, refuse(ErrBadManifest, Manifest, "larger than 1 MiB")
	}
	data, err := root.ReadFile(Manifest)
	if err != nil {
		return nil, err
	}
	p, err := parseManifest(data)
	if err != nil {
		return nil, err
	}
	if p.Entry, err = resolveMain(root, p.Main, p.Engine); err != nil {
		return nil, err
	}
	return p, nil
}

// manifest holds the fields of package.json the hub reads. Like the
// original, name and version may be absent or null, and engines maps names
// to version ranges.
type manifest struct {
	Name    *string           `json:"name"`
	Version *string           `json:"version"`
	Main    *string           `json:"main"`
	Engines map[string]string `json:"engines"`
}

// parseManifest decodes package.json; it does not look at the files.
func parseManifest(data []byte) (*Package, error) {
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, refuse(ErrBadManifest, Manifest, err.Error())
	}
	if m.Main == nil || *m.Main == "" {
		return nil, refuse(ErrBadMain, "main", "package.json has no main")
	}
	p := &Package{
		Main:   *m.Main,
		Engine: engine(m.Engines, *m.Main),
		Raw:    json.RawMessage(data),
	}
	if m.Name != nil {
		p.Name = *m.Name
	}
	if m.Version != nil {
		p.Version = *m.Version
	}
	return p, nil
}

// engine picks the runtime as the original does: engines.python3 means
// Python, engines.node means Node, and without either a main ending in .py
// means Python.
func engine(engines map[string]string, main string) Engine {
	if _, ok := engines["python3"]; ok {
		return Python
	}
	if _, ok := engines["node"]; ok {
		return Node
	}
	if strings.HasSuffix(main, ".py") {
		return Python
	}
	return Node
}

// resolveMain finds the file main names. For Node, like the original runner,
// "./index" also means "index.js".
func resolveMain(root *os.Root, main string, e Engine) (string, error) {
	name := path.Clean(main)
	if !filepath.IsLocal(name) {
		return "", refuse(ErrBadMain, "main", fmt.Sprintf("%q is outside the package", main))
	}
	candidates := []string{name}
	if e == Node && !strings.HasSuffix(name, ".js") {
		candidates = append(candidates, name+".js")
	}
	missing := true
	for _, c := range candidates {
		info, err := root.Stat(c)
		if err == nil && info.Mode().IsRegular() {
			return c, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			missing = false
		}
	}
	if missing {
		// As the original: the package is accepted, and its start fails
		// with exit 21 ("Sequence entrypoint path X is invalid").
		return name, nil
	}
	return "", refuse(ErrBadMain, "main", fmt.Sprintf("%q is not a file of the package", main))
}

// DefaultArgs are the args an instance starts with when its start gives
// none: package.json's scramjet.args, else its top-level args (where the
// original's process adapter reads them); nil when it has neither or they
// are not a JSON array.
func (p *Package) DefaultArgs() json.RawMessage {
	var m struct {
		Args     json.RawMessage `json:"args"`
		Scramjet struct {
			Args json.RawMessage `json:"args"`
		} `json:"scramjet"`
	}
	if json.Unmarshal(p.Raw, &m) != nil {
		return nil
	}
	for _, a := range []json.RawMessage{m.Scramjet.Args, m.Args} {
		var list []json.RawMessage
		if len(a) > 0 && json.Unmarshal(a, &list) == nil && list != nil {
			return a
		}
	}
	return nil
}
