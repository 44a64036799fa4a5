package reactive

import (
	"embed"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/dop251/goja"
	"github.com/evanw/esbuild/pkg/api"
)

//go:embed js/*.js
var builtins embed.FS

// skipModules maps the imports a service makes to Troupe's own modules.
var skipModules = map[string]string{
	"@skipruntime/core":    "js/core.js",
	"@skipruntime/helpers": "js/helpers.js",
	"@skipruntime/server":  "js/server.js",
	"@skipruntime/api":     "js/core.js",
}

var skipPlugin = api.Plugin{
	Name: "troupe-skipruntime",
	Setup: func(b api.PluginBuild) {
		b.OnResolve(api.OnResolveOptions{Filter: `^@skipruntime/`}, func(a api.OnResolveArgs) (api.OnResolveResult, error) {
			if _, ok := skipModules[a.Path]; !ok {
				return api.OnResolveResult{}, fmt.Errorf("%s is not provided by Troupe (it provides %s)", a.Path, "@skipruntime/core, @skipruntime/helpers, @skipruntime/server")
			}
			return api.OnResolveResult{Path: a.Path, Namespace: "troupe-skip"}, nil
		})
		b.OnLoad(api.OnLoadOptions{Filter: `.*`, Namespace: "troupe-skip"}, func(a api.OnLoadArgs) (api.OnLoadResult, error) {
			src, err := builtins.ReadFile(skipModules[a.Path])
			if err != nil {
				return api.OnLoadResult{}, err
			}
			s := string(src)
			return api.OnLoadResult{Contents: &s, Loader: api.LoaderJS}, nil
		})
	},
}

// trailingExport matches the export statement esbuild leaves at the end of
// an ES module bundle; inside the wrapping function it must go.
var trailingExport = regexp.MustCompile(`(?m)^export\s*\{[^}]*\};?\s*$`)

// Bundle bundles the service module at path (TypeScript or JavaScript,
// with its relative imports and node_modules) into one script, wrapped in
// an async function so that its top-level await works, and compiles it.
func Bundle(path string) (*goja.Program, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	res := api.Build(api.BuildOptions{
		EntryPoints:   []string{abs},
		AbsWorkingDir: filepath.Dir(abs),
		Bundle:        true,
		Write:         false,
		Format:        api.FormatESModule,
		Platform:      api.PlatformNeutral,
		MainFields:    []string{"module", "main"},
		Conditions:    []string{"import", "default"},
		// goja runs ES2017 and parts of later editions; esbuild lowers
		// class fields, object spread, optional chaining and the like.
		Target:    api.ES2017,
		Supported: map[string]bool{"top-level-await": true, "async-await": true},
		LogLevel:  api.LogLevelSilent,
		Plugins:   []api.Plugin{skipPlugin},
	})
	if len(res.Errors) > 0 {
		msgs := make([]string, 0, len(res.Errors))
		for _, m := range res.Errors {
			loc := ""
			if m.Location != nil {
				loc = fmt.Sprintf("%s:%d:%d: ", m.Location.File, m.Location.Line, m.Location.Column)
			}
			msgs = append(msgs, loc+m.Text)
		}
		return nil, fmt.Errorf("bundle %s: %s", path, strings.Join(msgs, "; "))
	}
	if len(res.OutputFiles) != 1 {
		return nil, fmt.Errorf("bundle %s: esbuild produced %d files", path, len(res.OutputFiles))
	}
	code := trailingExport.ReplaceAllString(string(res.OutputFiles[0].Contents), "")
	wrapped := "(async function () {\n" + code + "\n})().catch(function (e) { __troupe.fail(e); });\n"
	prog, err := goja.Compile(filepath.Base(path), wrapped, false)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", path, err)
	}
	return prog, nil
}
