package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/version"
)

// TestVersion checks `--version`, `version` and `version -f json` print the
// same build, and that a SARIF report names that version as the tool's.
func TestVersion(t *testing.T) {
	want := version.Get()
	var flag, verb, js bytes.Buffer
	if code := run(context.Background(), []string{"--version"}, &flag, &flag); code != 0 {
		t.Fatalf("--version exit %d: %s", code, flag.String())
	}
	if code := run(context.Background(), []string{"version"}, &verb, &verb); code != 0 {
		t.Fatalf("version exit %d: %s", code, verb.String())
	}
	if flag.String() != verb.String() || strings.TrimSpace(flag.String()) != want.String() {
		t.Errorf("--version %q, version %q, want %q", flag.String(), verb.String(), want.String())
	}
	if code := run(context.Background(), []string{"version", "-f", "json"}, &js, &js); code != 0 {
		t.Fatalf("version -f json exit %d: %s", code, js.String())
	}
	var got version.Info
	if err := json.Unmarshal(js.Bytes(), &got); err != nil || got != want {
		t.Errorf("version -f json = %+v (%v), want %+v", got, err, want)
	}

	out := filepath.Join(t.TempDir(), "r.sarif")
	var errb bytes.Buffer
	code := run(context.Background(), []string{"assess", "../../examples/harbourview", "--format", "sarif", "-o", out}, &errb, &errb)
	if code != 0 && code != exitFindings {
		t.Fatalf("assess exit %d: %s", code, errb.String())
	}
	var doc struct {
		Runs []struct {
			Tool struct {
				Driver struct{ Version string }
			}
		}
	}
	if err := readJSONFile(out, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Runs) == 0 || doc.Runs[0].Tool.Driver.Version != want.Short() {
		t.Errorf("SARIF tool version %+v, want %q", doc.Runs, want.Short())
	}
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
