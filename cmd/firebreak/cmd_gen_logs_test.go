package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// TestGenLogsDemoUpToDate regenerates examples/harbourview/logs into a temp
// dir and checks the committed files have not drifted from their recipe.
func TestGenLogsDemoUpToDate(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	g := &globalOptions{stdout: io.Discard, stderr: &stderr, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := runGenLogs(context.Background(), genLogsOptions{estate: "../../examples/harbourview", demo: dir}, g); err != nil {
		t.Fatal(err)
	}
	for _, d := range demoLogs {
		for _, name := range []string{d.file, filepath.Join("truth", d.file+".truth.jsonl")} {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("../../examples/harbourview/logs", name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is out of date: run firebreak gen-logs --estate examples/harbourview --demo examples/harbourview/logs", name)
			}
		}
	}
}

func TestGenLogsFlags(t *testing.T) {
	g := &globalOptions{stdout: io.Discard, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range []genLogsOptions{
		{format: "cef", lines: 10, envelope: "lines", start: "2026-11-26T00:00:00Z"},
		{format: "sshd", lines: 0, envelope: "lines", start: "2026-11-26T00:00:00Z"},
		{format: "sshd", lines: 10, envelope: "graph", start: "2026-11-26T00:00:00Z"},
		{format: "sshd", lines: 10, envelope: "lines", start: "yesterday"},
		{format: "sshd", lines: 10, envelope: "lines", start: "2026-11-26T00:00:00Z", tenants: []string{"no-such-tenant"}},
	} {
		var ue usageError
		err := runGenLogs(context.Background(), o, g)
		if err == nil || !asUsage(err, &ue) {
			t.Errorf("%+v: got %v, want a usage error", o, err)
		}
	}
	var out bytes.Buffer
	g.stdout = &out
	err := runGenLogs(context.Background(), genLogsOptions{format: "okta", lines: 50, seed: 1, envelope: "array", output: "-",
		start: "2026-11-26T00:00:00Z", span: 3600e9, kinds: []string{"mfa_fatigue"}, tenants: []string{"cedar-law"}}, g)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out.Bytes(), []byte("[\n{")) || !bytes.HasSuffix(out.Bytes(), []byte("}\n]\n")) {
		t.Errorf("array envelope: %q ... %q", out.Bytes()[:10], out.Bytes()[out.Len()-10:])
	}
}

func asUsage(err error, ue *usageError) bool {
	u, ok := err.(usageError)
	if ok {
		*ue = u
	}
	return ok
}
