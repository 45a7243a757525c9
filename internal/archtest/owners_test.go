package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// ownedKinds are the estate's object lists whose owner estate.Owners
// (estate.ObjectOwner) decides.
var ownedKinds = map[string]bool{"Tenants": true, "Identities": true, "Groups": true, "Tools": true, "Assets": true, "Backups": true, "IRPlans": true, "Contracts": true}

// ownerFields are the fields the ownership rule reads.
var ownerFields = map[string]bool{"Home": true, "Tenant": true, "Party": true, "Owner": true, "GDAP": true}

// reDerivations lists, in the non-test Go files under dir, where ownership
// is worked out again instead of asked of estate.Owners: a field the rule
// reads (Home, Tenant, Party, Owner, GDAP) of a value ranged over one of
// an estate's object lists, and any call of estate.ToolOwner.
func reDerivations(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n := d.Name()
		if d.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(nd ast.Node) bool {
			switch x := nd.(type) {
			case *ast.SelectorExpr:
				if id, ok := x.X.(*ast.Ident); ok && id.Name == "estate" && x.Sel.Name == "ToolOwner" {
					out = append(out, fset.Position(x.Pos()).String()+": estate.ToolOwner")
				}
			case *ast.RangeStmt:
				list, ok := x.X.(*ast.SelectorExpr)
				v, ok2 := x.Value.(*ast.Ident)
				if !ok || !ok2 || !ownedKinds[list.Sel.Name] {
					return true
				}
				ast.Inspect(x.Body, func(b ast.Node) bool {
					sel, ok := b.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					if id, ok := sel.X.(*ast.Ident); ok && id.Name == v.Name && ownerFields[sel.Sel.Name] {
						out = append(out, fset.Position(sel.Pos()).String()+": "+v.Name+"."+sel.Sel.Name+" of "+list.Sel.Name)
					}
					return true
				})
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOneOwnershipRule: the consumers of "who owns this object" — the
// dashboard (internal/server), notify, the store's snapshots and tenant
// filters, the worker, the reports and attestations — ask estate.Owners
// (or estate.ObjectOwner) rather than reading homes, tenants and GDAP
// customers themselves. Before, the dashboard's tenant page listed the
// grants into a tenant by its own rule (identities' homes, assets' tenants,
// GDAP customers), leaving out grants into the tenant's groups and into
// tools the customer owns.
func TestOneOwnershipRule(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, p := range []string{"server", "notify", "store", "worker", "report", "attest"} {
		for _, c := range reDerivations(t, filepath.Join(root, "internal", p)) {
			t.Errorf("ownership re-derived (use estate.Owners or estate.ObjectOwner): %s", c)
		}
	}
}

// The check itself: estate.NewOwners, where the rule lives, is caught.
func TestOwnershipCheckCatches(t *testing.T) {
	if len(reDerivations(t, filepath.Join("..", "..", "internal", "estate"))) == 0 {
		t.Error("internal/estate reads homes and tenants of ranged objects, but the check saw nothing")
	}
}
