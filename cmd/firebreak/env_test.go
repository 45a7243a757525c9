package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var updateEnvDoc = flag.Bool("update-env-doc", false, "rewrite docs/verbs/env.md's table")

// TestEnvForFlags: a FIREBREAK_<VERB>_<FLAG> variable sets an absent flag,
// the flag wins over it, and a bad value is a usage error naming the variable.
func TestEnvForFlags(t *testing.T) {
	runEnv := func(env map[string]string, args ...string) (int, string) {
		var out bytes.Buffer
		g := &globalOptions{stdout: &out, stderr: &out, env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
		root := newRootCommand(g)
		root.SetArgs(args)
		err := root.ExecuteContext(context.Background())
		code := exitOK
		if err != nil {
			out.WriteString(err.Error())
			code = exitError
			if _, ok := err.(usageError); ok {
				code = exitUsage
			}
		}
		return code, out.String()
	}
	if code, out := runEnv(map[string]string{"FIREBREAK_VERSION_FORMAT": "json"}, "version"); code != 0 || !strings.HasPrefix(out, "{") {
		t.Errorf("FIREBREAK_VERSION_FORMAT=json: %d %s", code, out)
	}
	if code, out := runEnv(map[string]string{"FIREBREAK_VERSION_FORMAT": "json"}, "version", "-f", "text"); code != 0 || strings.HasPrefix(out, "{") {
		t.Errorf("flag over variable: %d %s", code, out)
	}
	if code, out := runEnv(map[string]string{"FIREBREAK_DEMO_NO_SERVE": "maybe"}, "demo"); code != exitUsage || !strings.Contains(out, "FIREBREAK_DEMO_NO_SERVE") {
		t.Errorf("bad variable: %d %s", code, out)
	}
}

// TestEnvDoc keeps docs/verbs/env.md's table equal to the commands' flags
// (regenerate with go test ./cmd/firebreak -run TestEnvDoc -update-env-doc).
func TestEnvDoc(t *testing.T) {
	const path = "../../docs/verbs/env.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	const marker = "<!-- table generated from the commands: do not edit -->\n"
	i := strings.Index(doc, marker)
	if i < 0 {
		t.Fatalf("%s lacks the table marker", path)
	}
	want := envTable(newRootCommand(&globalOptions{stdout: os.Stdout, stderr: os.Stderr}))
	got := doc[i+len(marker):]
	if *updateEnvDoc {
		if err := os.WriteFile(path, []byte(doc[:i+len(marker)]+want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("%s is stale (-doc +commands); run with -update-env-doc\n%s", path, d)
	}
}

// TestFlagAliases: the older --out spelling still sets --output.
func TestFlagAliases(t *testing.T) {
	root := newRootCommand(&globalOptions{stdout: os.Stdout, stderr: os.Stderr})
	c, _, err := root.Find([]string{"collect", "dns"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ParseFlags([]string{"--out", "/tmp/x"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Flags().GetString("output"); v != "/tmp/x" {
		t.Errorf("--out set output to %q", v)
	}
}
