package connector

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// One JWT signer: every JWT firebreak signs (Graph certificate assertions,
// Google service-account grants, Okta service-app assertions) goes through
// SignJWT; no other non-test file signs with RSA itself.
func TestOneJWTSigner(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.HasSuffix(path, "jwt.go") && filepath.Base(filepath.Dir(path)) == "connector" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, f := range []string{"rsa.SignPSS(", "rsa.SignPKCS1v15("} {
			if strings.Contains(string(b), f) && !strings.Contains(path, "test") {
				t.Errorf("%s calls %s: sign JWTs with connector.SignJWT", path, f)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
