package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envName is the variable that sets a flag of a command when the flag is not
// given: FIREBREAK_<VERB>[_<SUBVERB>]_<FLAG>, upper case, dashes as
// underscores (FIREBREAK_ASSESS_FAIL_ON, FIREBREAK_KEV_UPDATE_URL). The root's
// own flags are FIREBREAK_<FLAG> (FIREBREAK_VERBOSE, FIREBREAK_NO_COLOR).
func envName(c *cobra.Command, flag string, persistentOfRoot bool) string {
	parts := []string{"FIREBREAK"}
	if !persistentOfRoot {
		parts = append(parts, strings.Fields(c.CommandPath())[1:]...)
	}
	parts = append(parts, flag)
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(strings.Join(parts, "_")))
}

// applyEnv sets every flag of c that was not given on the command line from
// its FIREBREAK_… variable, if set. Precedence: flag > variable > the
// command's own defaults (serve's configuration file and its
// FIREBREAK_<KEY> variables come below a flag set this way).
func applyEnv(c *cobra.Command, lookup func(string) (string, bool)) error {
	root := c.Root()
	var errs []string
	visit := func(fs *pflag.FlagSet, ofRoot bool) {
		fs.VisitAll(func(f *pflag.Flag) {
			if f.Changed || f.Name == "help" || f.Name == "version" {
				return
			}
			name := envName(c, f.Name, ofRoot)
			v, ok := lookup(name)
			if !ok {
				return
			}
			if err := c.Flags().Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q (for --%s): %v", name, v, f.Name, err))
			}
		})
	}
	visit(c.LocalNonPersistentFlags(), false)
	visit(root.PersistentFlags(), true)
	if len(errs) > 0 {
		return usageError{fmt.Errorf("environment: %s", strings.Join(errs, "; "))}
	}
	return nil
}

// envTable is the Markdown table of every command's flags and variables
// (docs/verbs/env.md; `firebreak man --env`).
func envTable(root *cobra.Command) string {
	var b strings.Builder
	b.WriteString("| command | flag | variable |\n|---|---|---|\n")
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" && !f.Hidden {
			fmt.Fprintf(&b, "| (every verb) | `--%s` | `%s` |\n", f.Name, envName(root, f.Name, true))
		}
	})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c != root && c.IsAvailableCommand() && c.Name() != "completion" && c.Parent().Name() != "completion" {
			c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
				if f.Name != "help" && !f.Hidden {
					fmt.Fprintf(&b, "| %s | `--%s` | `%s` |\n", strings.TrimPrefix(c.CommandPath(), "firebreak "), f.Name, envName(c, f.Name, false))
				}
			})
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	return b.String()
}
