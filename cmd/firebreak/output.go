package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/firebreak-msp/firebreak/internal/atomicfile"
	"github.com/firebreak-msp/firebreak/internal/catalog"
)

// The flags every verb spells the same way (issue 16): -f/--format,
// -o/--output, -q/--quiet (global), --severity, --fail-on, --exit-code
// (global) and --now. TestFlagConsistency holds the verbs to it.

// severitySet is a parsed --severity: the severities to show. Empty shows
// everything. One scale for controls and incidents: catalog.SeverityOf
// reads detect's "informational" as info.
type severitySet []catalog.Severity

const severityUsage = "show only results of these severities, a comma-separated `LIST` of critical, high, medium, low, info (default: all); --fail-on judges what is shown"

// parseSeverities reads --severity: "critical,high" or "HIGH, critical".
func parseSeverities(s string) (severitySet, error) {
	var out severitySet
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		v, err := catalog.ParseSeverity(part)
		if err != nil {
			return nil, usageError{fmt.Errorf("--severity: %w", err)}
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// Has reports whether a result of severity sev is shown.
func (s severitySet) Has(sev string) bool {
	return len(s) == 0 || slices.Contains(s, catalog.SeverityOf(sev))
}

// addOutputFlag gives a verb -o/--output: what it prints on standard output
// goes to FILE instead. The file is written atomically (mode 0600: reports
// name every path into every customer) when the verb succeeds or ends with
// findings (exit 3 / --exit-code); on any other error an existing FILE is
// left as it was. When streaming reports true at run time (detect
// --follow), FILE is appended to as output is produced instead.
func addOutputFlag(cmd *cobra.Command, g *globalOptions, streaming func() bool) {
	var path string
	cmd.Flags().StringVarP(&path, "output", "o", "", "write the output to `FILE` (atomically, mode 0600) instead of stdout")
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if path == "" || path == "-" {
			return run(c, args)
		}
		stdout := g.stdout
		defer func() { g.stdout = stdout }()
		if streaming != nil && streaming() {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
			if err != nil {
				return err
			}
			g.stdout = f
			err = run(c, args)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		}
		var runErr error
		werr := atomicfile.Write(path, 0o600, func(w io.Writer) error {
			g.stdout = w
			runErr = run(c, args)
			if runErr != nil && !errors.Is(runErr, ErrFindings) {
				return runErr
			}
			return nil
		})
		if runErr != nil {
			return runErr
		}
		return werr
	}
}

// notice prints an informational line on stderr unless -q.
func (g *globalOptions) notice(format string, args ...any) {
	if g.quiet {
		return
	}
	fmt.Fprintf(g.stderr, format, args...)
}

// sameHumanFormat lets --format text and --format table name the same thing,
// the human-readable output, on every verb: some verbs call it text (validate,
// version, backup), others table (assess, detect, controls). The spelling a
// verb does not use is read as the one it does.
func sameHumanFormat(cmd *cobra.Command) error {
	f := cmd.Flags().Lookup("format")
	if f == nil {
		return nil
	}
	switch v := f.Value.String(); {
	case v == "text" && f.DefValue != "text" && strings.Contains(f.Usage, "table"):
		return f.Value.Set("table")
	case v == "table" && f.DefValue == "text":
		return f.Value.Set("text")
	}
	return nil
}
