package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestDemoNoServe runs the README's main job in its non-interactive form, on
// the example embedded in the binary (no path into the repository, so it is
// what an installed binary run from any directory does), and checks the
// summary names what the example estate and logs contain.
func TestDemoNoServe(t *testing.T) {
	var out bytes.Buffer
	g := &globalOptions{stdout: &out, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	o := demoOptions{
		listen:  "127.0.0.1:0",
		now:     "2026-11-27T09:00:00Z",
		noServe: true,
	}
	if err := runDemo(context.Background(), o, g); err != nil {
		t.Fatalf("runDemo: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"MSP score",
		"Blast radius",
		"rmm",
		"MFA fatigue",
		"RMM fan-out",
		"Cross-tenant spray",
		"TOTP secret",
		"otpauth://totp/",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo summary lacks %q:\n%s", want, s)
		}
	}
}
