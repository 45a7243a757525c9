package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// builders are the constructors and runners of the service's parts, by
// package: internal/roles calls them for a process's roles; the HTTP
// front (internal/server) must not.
var builders = map[string][]string{
	module + "/internal/roles":          {"New"},
	module + "/internal/pipeline":       {"New", "RunPartitions"},
	module + "/internal/worker":         {"New", "NewNotifier", "NewEngines", "LoadSigner"},
	module + "/internal/intake":         {"New"},
	module + "/internal/integrations":   {"New"},
	module + "/internal/store/bus":      {"Open"},
	module + "/internal/lease":          {"RunAsLeader"},
	module + "/internal/store/sqlite":   {"Open"},
	module + "/internal/store/postgres": {"Open", "OpenWith"},
}

// composes lists where the non-test files of dir call a builder, as
// "file:line: pkg.Func".
func composes(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string][]string{} // local package name → builder funcs
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			fns, ok := builders[p]
			if !ok {
				continue
			}
			local := p[strings.LastIndex(p, "/")+1:]
			if im.Name != nil {
				local = im.Name.Name
			}
			names[local] = fns
		}
		ast.Inspect(f, func(nd ast.Node) bool {
			sel, ok := nd.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			x, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			for _, fn := range names[x.Name] {
				if sel.Sel.Name == fn {
					out = append(out, fset.Position(sel.Pos()).String()+": "+x.Name+"."+fn)
				}
			}
			return true
		})
	}
	return out
}

// internal/server is only HTTP: it fronts the parts internal/roles
// composes and constructs or runs none of them itself.
func TestServerOnlyHTTP(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, c := range composes(t, filepath.Join(root, "internal", "server")) {
		t.Errorf("internal/server composes a part (move it to internal/roles): %s", c)
	}
	for _, im := range imports(t, root, module+"/internal/server") {
		for _, p := range []string{"internal/store/bus", "internal/lease", "internal/store/sqlite", "internal/store/postgres"} {
			if im == module+"/"+p {
				t.Errorf("internal/server imports %s (a part's wiring, not HTTP)", p)
			}
		}
	}
}

// The check itself: internal/roles, where the composition lives, is caught.
func TestServerCheckCatches(t *testing.T) {
	if len(composes(t, filepath.Join("..", "..", "internal", "roles"))) == 0 {
		t.Error("internal/roles calls the builders, but the check saw nothing")
	}
}
