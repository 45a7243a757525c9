package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// Which KEV catalog the numbers used is stated: blast's text output names
// it (or says none, and why), and the demo's summary prints the exact
// blast command, with --kev and --now, that reproduces its plan (issue 15,
// v15 B: the demo used the built-in snapshot, the CLI silently none).
func TestBlastStatesKEVCatalog(t *testing.T) {
	ctx := context.Background()
	var out bytes.Buffer
	g := &globalOptions{stdout: &out, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	d, err := setupDemo(ctx, demoOptions{listen: "127.0.0.1:0", now: "2026-11-27T09:00:00Z", noServe: true}, g)
	if d != nil {
		t.Cleanup(d.close)
	}
	if err != nil {
		t.Fatalf("setupDemo: %v", err)
	}
	want := "firebreak blast " + d.estate + " --kev " + d.kev + " --now 2026-11-27T09:00:00Z"
	if !strings.Contains(out.String(), want) {
		t.Errorf("demo summary lacks %q:\n%s", want, out.String())
	}
	blast := func(args ...string) string {
		t.Helper()
		var o, e bytes.Buffer
		args = append([]string{"blast", d.estate, "--now", "2026-11-27T09:00:00Z", "--data-dir", t.TempDir()}, args...)
		if code := run(ctx, args, &o, &e); code != exitOK {
			t.Fatalf("firebreak %s: exit %d\n%s", strings.Join(args, " "), code, e.String())
		}
		return o.String()
	}
	if s := blast("--kev", d.kev); !strings.Contains(s, "KEV: catalog "+d.kev+" of 2025-08-25 (") {
		t.Errorf("blast --kev: no KEV statement:\n%s", tail(s))
	}
	if s := blast("--no-kev"); !strings.Contains(s, "KEV: none (--no-kev)") {
		t.Errorf("blast --no-kev: no KEV statement:\n%s", tail(s))
	}
	if s := blast(); !strings.Contains(s, "KEV: none — no catalog stored") {
		t.Errorf("blast with no stored catalog: no KEV statement:\n%s", tail(s))
	}
}

func tail(s string) string { return s[max(0, len(s)-600):] }
