package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAttestCreateVerify(t *testing.T) {
	dir := t.TempDir()
	runOK := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out.String(), errb.String())
		}
		return out.String()
	}
	runOK("attest", "keygen", "--dir", dir, "--name", "msp")
	runOK("attest", "keygen", "--dir", dir, "--name", "other")
	key, pub, otherPub := filepath.Join(dir, "msp.key"), filepath.Join(dir, "msp.pub"), filepath.Join(dir, "other.pub")
	kevFile := "../../examples/kev/known_exploited_vulnerabilities-2025.08.25.json.gz"
	out := filepath.Join(dir, "out")
	runOK("attest", "create", "../../examples/harbourview", "--kev", kevFile, "--key", key, "--all", "-o", out, "--now", "2026-11-27")
	files, _ := filepath.Glob(filepath.Join(out, "*.intoto.json"))
	if len(files) != 25 {
		t.Fatalf("%d files, want one per tenant (25)", len(files))
	}
	env := filepath.Join(out, "brightwater-dental.intoto.json")
	text := runOK("attest", "verify", "--key", otherPub, "--key", pub, "--tenant", "brightwater-dental", "--now", "2026-11-28", env)
	for _, w := range []string{"VERIFIED", "attests for tenant brightwater-dental", "Access the MSP holds in this tenant", "Compromises that would reach this tenant"} {
		if !strings.Contains(text, w) {
			t.Errorf("verify output lacks %q:\n%s", w, text)
		}
	}
	b, _ := os.ReadFile(env)
	tampered := filepath.Join(dir, "tampered.json")
	os.WriteFile(tampered, bytes.Replace(b, []byte(`"sig": "`), []byte(`"sig": "A`), 1), 0o600)
	cases := []struct {
		name   string
		args   []string
		code   int
		reason string
	}{
		{"wrong key", []string{"attest", "verify", "--key", otherPub, "--now", "2026-11-28", env}, exitError, "unknown-key"},
		{"tampered", []string{"attest", "verify", "--key", pub, "--now", "2026-11-28", tampered}, exitError, "NOT VERIFIED"},
		{"expired", []string{"attest", "verify", "--key", pub, "--now", "2027-01-30", env}, exitError, "expired"},
		{"other tenant", []string{"attest", "verify", "--key", pub, "--now", "2026-11-28", "--tenant", "cedar-law", env}, exitError, "tenant"},
		{"no key", []string{"attest", "verify", env}, exitUsage, ""},
		{"public key cannot sign", []string{"attest", "create", "../../examples/harbourview", "--key", pub, "--tenant", "x"}, exitUsage, ""},
		{"unknown tenant", []string{"attest", "create", "../../examples/harbourview", "--kev", kevFile, "--key", key, "--tenant", "nope"}, exitUsage, ""},
		{"two tenants to stdout", []string{"attest", "create", "../../examples/harbourview", "--key", key, "--tenant", "a", "--tenant", "b"}, exitUsage, ""},
	}
	for _, c := range cases {
		var o, e bytes.Buffer
		code := run(context.Background(), c.args, &o, &e)
		if code != c.code || !strings.Contains(o.String()+e.String(), c.reason) {
			t.Errorf("%s: exit %d (want %d)\n%s%s", c.name, code, c.code, o.String(), e.String())
		}
	}
}
