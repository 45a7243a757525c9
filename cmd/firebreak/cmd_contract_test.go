package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestContractCheck(t *testing.T) {
	td := "../../internal/contract/testdata/"
	notText := filepath.Join(t.TempDir(), "scan.bin")
	if err := os.WriteFile(notText, []byte{0, 1, 2, 0xff}, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{"complete", []string{"contract", "check", td + "complete.md"}, exitOK, []string{"13 present, 0 weak, 0 absent"}, ""},
		{"missing-fail-on", []string{"contract", "check", "--fail-on", "absent", td + "missing-mfa-logging.md"}, exitFindings,
			[]string{"10 present, 0 weak, 3 absent", "✗ absent   mfa_msp_accounts"}, ""},
		{"weak-vs-estate", []string{"contract", "check", "--estate", "../../examples/harbourview", "--tenant", "brightwater-dental", td + "weak-logging.md"}, exitOK,
			[]string{"~ weak     logging_retention", "the estate declares this clause present; the document does not show it"}, ""},
		{"weak-fail-on-absent", []string{"contract", "check", "--fail-on", "absent", td + "weak-logging.md"}, exitOK, nil, ""},
		{"weak-fail-on-weak", []string{"contract", "check", "--fail-on", "weak", td + "weak-logging.md"}, exitFindings, nil, ""},
		{"unknown-tenant", []string{"contract", "check", "--estate", "../../examples/harbourview", "--tenant", "nope", td + "complete.md"}, exitUsage, nil, `"nope": no such tenant`},
		{"bad-fail-on", []string{"contract", "check", "--fail-on", "bad", td + "complete.md"}, exitUsage, nil, "--fail-on"},
		{"binary", []string{"contract", "check", notText}, exitError, nil, "scan.bin: "},
		{"missing", []string{"contract", "check", td + "nope.pdf"}, exitError, nil, "nope.pdf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errb)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out.String(), errb.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr lacks %q: %s", tt.wantErr, errb.String())
			}
		})
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"contract", "check", "-f", "json", "--estate", "../../examples/harbourview",
		"--tenant", "brightwater-dental", td + "missing-mfa-logging.md"}, &out, &errb); code != exitOK {
		t.Fatalf("json: exit %d: %s", code, errb.String())
	}
	var doc struct {
		Tenant   string   `json:"tenant"`
		SHA256   string   `json:"sha256"`
		Declared []string `json:"declared"`
		Findings []struct {
			Clause, Status string
			Page           int
		} `json:"findings"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tenant != "brightwater-dental" || len(doc.SHA256) != 64 || len(doc.Declared) != 13 || len(doc.Findings) != 13 || doc.Findings[0].Status != "absent" {
		t.Errorf("json: %+v", doc)
	}
}
