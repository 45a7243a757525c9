package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEstateFmt(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "e.yaml")
	src := "tenants:\n    - {name: One, id: t1}\n"
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"estate", "fmt", "--check", dir}, &out, &errb); code != exitFindings {
		t.Fatalf("--check on an unformatted estate: exit %d, want %d (%s)", code, exitFindings, errb.String())
	}
	if b, _ := os.ReadFile(p); string(b) != src {
		t.Fatalf("--check rewrote the file: %q", b)
	}
	out.Reset()
	if code := run(context.Background(), []string{"estate", "fmt", dir}, &out, &errb); code != exitOK {
		t.Fatalf("fmt: exit %d (%s)", code, errb.String())
	}
	if !strings.Contains(out.String(), "e.yaml") {
		t.Errorf("fmt did not list the changed file: %q", out.String())
	}
	if b, _ := os.ReadFile(p); string(b) != "tenants:\n  - {id: t1, name: One}\n" {
		t.Errorf("formatted file: %q", b)
	}
	if code := run(context.Background(), []string{"estate", "fmt", "--check", dir}, &out, &errb); code != exitOK {
		t.Errorf("--check after fmt: exit %d, want 0", code)
	}
}

func TestValidateExplain(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"validate", "--explain", "--now", "2026-11-27", "../../internal/assess/testdata/kaseya-vsa/estate"}, &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{
		"vsa → law: full_control — rmm agent running scripts as SYSTEM, giving a remote shell, deploying software on 1 of the tenant's endpoints",
		"m365-admins → law: admin (eligible) — GDAP relationship gdap-law assigns Exchange Administrator",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--explain lacks %q:\n%s", want, out.String())
		}
	}
}
