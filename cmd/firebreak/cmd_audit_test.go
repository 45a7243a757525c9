package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

func TestAuditVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"user.create", "login.success", "incident.acknowledge", "token.create"} {
		if err := s.AppendAudit(ctx, &store.AuditEntry{Actor: "alice", Action: a, Target: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	env := func(string) string { return "" }

	var out bytes.Buffer
	g := &globalOptions{stdout: &out, stderr: &out}
	if err := runAuditVerify(ctx, auditOptions{dataDir: dir, format: "text", getenv: env}, g); err != nil {
		t.Fatalf("intact log: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "audit log intact: 4 entries") {
		t.Errorf("output: %s", out.String())
	}
	// The printed anchor verifies later; a log cut or rewritten after it does not.
	anchor := strings.TrimPrefix(strings.Split(out.String(), "\n")[1], "anchor ")
	out.Reset()
	if err := runAuditVerify(ctx, auditOptions{dataDir: dir, format: "text", anchor: anchor, getenv: env}, g); err != nil {
		t.Fatalf("anchor %q: %v", anchor, err)
	}
	seq, hash, _ := strings.Cut(anchor, ":")
	for _, tc := range []struct{ anchor, want string }{
		{"9:" + hash, "cut off the end"},
		{seq + ":" + strings.Repeat("ab", 32), "rewritten"},
	} {
		err := runAuditVerify(ctx, auditOptions{dataDir: dir, format: "text", anchor: tc.anchor, getenv: env}, g)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("anchor %s: %v, want %q", tc.anchor, err, tc.want)
		}
	}
	if err := runAuditVerify(ctx, auditOptions{dataDir: dir, format: "text", anchor: "x", getenv: env}, g); err == nil {
		t.Error("bad anchor accepted")
	}
	out.Reset()
	if err := runAuditList(ctx, auditOptions{dataDir: dir, format: "text", limit: 2, getenv: env}, g); err != nil || strings.Count(out.String(), "\n") != 2 {
		t.Errorf("list: %v\n%s", err, out.String())
	}

	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`DROP TRIGGER audit_no_update; UPDATE audit SET action = 'incident.resolve' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	out.Reset()
	err = runAuditVerify(ctx, auditOptions{dataDir: dir, format: "json", getenv: env}, g)
	var ae *store.AuditError
	if !errors.As(err, &ae) || ae.Seq != 3 {
		t.Fatalf("tampered log: err = %v", err)
	}
	var doc auditVerifyJSON
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc.OK || doc.BrokenAt != 3 || doc.Entries != 2 {
		t.Errorf("json: %+v %v\n%s", doc, err, out.String())
	}
	// Exit status 1 through the real command line.
	var stderr bytes.Buffer
	if code := run(ctx, []string{"audit", "verify", "--data-dir", dir}, &out, &stderr); code != exitError || !strings.Contains(stderr.String(), "entry 3") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestAuditVerifyNoStore(t *testing.T) {
	var out bytes.Buffer
	err := runAuditVerify(context.Background(), auditOptions{dataDir: t.TempDir(), format: "text", getenv: func(string) string { return "" }}, &globalOptions{stdout: &out, stderr: &out})
	if err == nil || !strings.Contains(err.Error(), "no firebreak store") {
		t.Fatalf("err = %v", err)
	}
	if code := run(context.Background(), []string{"audit", "verify", "--data-dir", "x", "--database", "postgres://x"}, &out, &out); code != exitUsage {
		t.Errorf("both flags: exit %d", code)
	}
}
