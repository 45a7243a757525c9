package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestManPages: one page per available command, naming every flag the
// command takes, so the pages cannot drift from --help.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	if code, out := runCLI(t, context.Background(), "man", "-o", dir); code != 0 {
		t.Fatalf("man: %d %s", code, out)
	}
	root := newRootCommand(&globalOptions{stdout: os.Stdout, stderr: os.Stderr})
	var walk func(c *cobra.Command)
	pages := 0
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c != root {
			return
		}
		b, err := os.ReadFile(filepath.Join(dir, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1"))
		if err != nil {
			t.Errorf("no man page for %q: %v", c.CommandPath(), err)
			return
		}
		pages++
		page := string(b)
		c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden && !strings.Contains(page, `\-\-`+roff(f.Name)) {
				t.Errorf("%s page lacks --%s", c.CommandPath(), f.Name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if pages < 20 {
		t.Errorf("only %d pages", pages)
	}
}
