package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// outboundClients lists, as "file:line: what", every place in the non-test
// Go files under dirs that builds an HTTP client without internal/useragent
// (an http.Client literal not passed straight to useragent.Client,
// new(http.Client), or a zero http.Client declared as a variable or struct
// field, which needs no literal) or uses net/http's default client (http.DefaultClient,
// http.Get, http.Head, http.Post, http.PostForm). Those requests would carry
// Go's default User-Agent instead of the build's.
func outboundClients(t *testing.T, root string, dirs ...string) []string {
	t.Helper()
	var out []string
	fset := token.NewFileSet()
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			n := e.Name()
			if e.IsDir() {
				if n == "testdata" || strings.HasSuffix(p, filepath.Join("internal", "useragent")) {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, p, nil, 0)
			if err != nil {
				return err
			}
			httpName := ""
			for _, im := range f.Imports {
				if im.Path.Value == `"net/http"` {
					httpName = "http"
					if im.Name != nil {
						httpName = im.Name.Name
					}
				}
			}
			if httpName == "" {
				return nil
			}
			isHTTP := func(x ast.Expr, names ...string) bool {
				s, ok := x.(*ast.SelectorExpr)
				if !ok {
					return false
				}
				id, ok := s.X.(*ast.Ident)
				if !ok || id.Name != httpName {
					return false
				}
				for _, n := range names {
					if s.Sel.Name == n {
						return true
					}
				}
				return false
			}
			wrapped := map[ast.Node]bool{} // http.Client literals passed to useragent.Client
			ast.Inspect(f, func(n ast.Node) bool {
				c, ok := n.(*ast.CallExpr)
				if !ok || len(c.Args) != 1 {
					return true
				}
				if s, ok := c.Fun.(*ast.SelectorExpr); ok {
					if id, ok := s.X.(*ast.Ident); ok && id.Name == "useragent" && s.Sel.Name == "Client" {
						if u, ok := c.Args[0].(*ast.UnaryExpr); ok && u.Op == token.AND {
							wrapped[u.X] = true
						}
					}
				}
				return true
			})
			rel, _ := filepath.Rel(root, p)
			report := func(n ast.Node, what string) {
				out = append(out, rel+":"+strconv.Itoa(fset.Position(n.Pos()).Line)+": "+what)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.CompositeLit:
					if isHTTP(x.Type, "Client") && !wrapped[x] {
						report(x, "http.Client literal not built through useragent.Client")
					}
				case *ast.ValueSpec:
					if isHTTP(x.Type, "Client") && len(x.Values) == 0 {
						report(x, "zero http.Client variable")
					}
				case *ast.Field:
					if isHTTP(x.Type, "Client") {
						report(x, "http.Client struct field (a zero client)")
					}
				case *ast.CallExpr:
					if id, ok := x.Fun.(*ast.Ident); ok && id.Name == "new" && len(x.Args) == 1 && isHTTP(x.Args[0], "Client") {
						report(x, "new(http.Client)")
					}
				case *ast.SelectorExpr:
					if isHTTP(x, "DefaultClient", "Get", "Head", "Post", "PostForm") {
						report(x, "net/http's default client ("+httpName+"."+x.Sel.Name+")")
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func writeFile(p, s string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(s), 0o644)
}

// Every outbound request of the product names the build in its User-Agent
// (issue 16): every HTTP client in cmd/ and internal/ is built through
// internal/useragent.
func TestOutboundClientsNameTheBuild(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, s := range outboundClients(t, root, "cmd", "internal") {
		t.Error(s)
	}
}

// The check itself catches each form it forbids.
func TestOutboundClientsCheckCatches(t *testing.T) {
	dir := t.TempDir()
	src := `package x

import (
	"net/http"
	"github.com/firebreak-msp/firebreak/internal/useragent"
)

var ok = useragent.Client(&http.Client{})
var a = &http.Client{}
var b = new(http.Client)
var c = http.DefaultClient
var d = http.Get
var e http.Client

type f struct{ c http.Client }
`
	if err := writeFile(filepath.Join(dir, "x", "x.go"), src); err != nil {
		t.Fatal(err)
	}
	got := outboundClients(t, dir, "x")
	if len(got) != 6 {
		t.Fatalf("want 6 findings (literal, new, DefaultClient, Get, zero variable, zero field), got %d: %q", len(got), got)
	}
	for i, line := range []string{":9:", ":10:", ":11:", ":12:", ":13:", ":15:"} {
		if !strings.Contains(got[i], line) {
			t.Errorf("finding %d = %q, want line %s", i, got[i], line)
		}
	}
}
