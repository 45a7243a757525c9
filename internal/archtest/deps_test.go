package archtest

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/firebreak-msp/firebreak"

// engines are the pure packages: sources in, values out, an injected clock.
// They must not reach, directly or through any firebreak package they
// import, the store, the service's parts or net/http.
var engines = []string{
	"internal/assess",
	"internal/trust",
	"internal/detect",
	"internal/estate",
	"internal/access",
	"internal/ingest", // the parsers
	"internal/event",
	"internal/catalog",
	"internal/evaluate",
	"internal/timeline",
}

// forbidden are what an engine may not import: the store (and its
// drivers), the service's parts, and network I/O (third-party packages,
// such as OPA's, are not walked: only the module's own imports count).
func forbidden(path string) bool {
	for _, p := range []string{"internal/store", "internal/server", "internal/intake", "internal/pipeline", "internal/worker", "internal/auth", "internal/notify"} {
		if path == module+"/"+p || strings.HasPrefix(path, module+"/"+p+"/") {
			return true
		}
	}
	return path == "net/http" || strings.HasPrefix(path, "net/http/")
}

// imports lists the imports of a module package's non-test files (every
// build constraint included, so the check is a superset).
func imports(t *testing.T, root, pkg string) []string {
	t.Helper()
	dir := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(pkg, module+"/")))
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%s: %v", pkg, err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			out = append(out, p)
		}
	}
	return out
}

// chain walks pkg's module imports breadth first and returns the import
// path from pkg to a forbidden package, or nil.
func chain(t *testing.T, root, pkg string) []string {
	parent := map[string]string{pkg: ""}
	queue := []string{pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, im := range imports(t, root, p) {
			if _, seen := parent[im]; seen {
				continue
			}
			parent[im] = p
			if forbidden(im) {
				var path []string
				for q := im; q != ""; q = parent[q] {
					path = append(path, strings.TrimPrefix(q, module+"/"))
				}
				slices.Reverse(path)
				return path
			}
			if strings.HasPrefix(im, module+"/") {
				queue = append(queue, im)
			}
		}
	}
	return nil
}

func TestEnginesStayPure(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, e := range engines {
		if c := chain(t, root, module+"/"+e); c != nil {
			t.Errorf("%s reaches %s: %s", e, c[len(c)-1], strings.Join(c, " → "))
		}
	}
}

// The check itself: a package that does reach the store and net/http is
// caught, with the chain that leads there.
func TestCheckCatches(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, p := range []string{"internal/server", "internal/collect/kev/kevupdate", "internal/pipeline"} {
		if chain(t, root, module+"/"+p) == nil {
			t.Errorf("%s imports the store or net/http, but the check saw nothing", p)
		}
	}
}
