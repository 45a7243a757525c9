package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/atomicfile"
	"github.com/firebreak-msp/firebreak/internal/version"
)

type manOptions struct {
	output string
	env    bool
}

func (o *manOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.output, "output", "o", "", "directory to write the pages to (firebreak.1, firebreak-assess.1, …); required")
	fs.BoolVar(&o.env, "env", false, "print the table of FIREBREAK_* variables for every flag (Markdown) instead")
}

func newManCommand(g *globalOptions) *cobra.Command {
	var o manOptions
	cmd := &cobra.Command{
		Use:   "man -o DIR",
		Short: "Write man pages for firebreak and every verb, generated from the commands themselves",
		Long: `man writes one roff page per command (section 1) into DIR, generated from the
same help text and flags as --help, so the pages cannot drift from the binary.
The packages install them into /usr/share/man/man1. Shell completions come from
"firebreak completion bash|zsh|fish|powershell".`,
		Example: "  firebreak man -o /tmp/man && man /tmp/man/firebreak-assess.1",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMan(cmd.Context(), o, cmd.Root(), g)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runMan(_ context.Context, o manOptions, root *cobra.Command, g *globalOptions) error {
	if o.env {
		fmt.Fprint(g.stdout, envTable(root))
		return nil
	}
	if o.output == "" {
		return usageError{fmt.Errorf("man needs -o DIR")}
	}
	if err := os.MkdirAll(o.output, 0o755); err != nil {
		return err
	}
	n := 0
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		if c.Hidden || (!c.IsAvailableCommand() && c != root) {
			return nil
		}
		name := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"
		page := manPage(c)
		if err := atomicfile.Write(filepath.Join(o.output, name), 0o644, func(w io.Writer) error {
			_, err := io.WriteString(w, page)
			return err
		}); err != nil {
			return err
		}
		n++
		for _, sub := range c.Commands() {
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "wrote %d man pages to %s\n", n, o.output)
	return nil
}

// manPage renders one command as a roff man page.
func manPage(c *cobra.Command) string {
	var b strings.Builder
	title := strings.ToUpper(strings.ReplaceAll(c.CommandPath(), " ", "-"))
	in := version.Get()
	date := ""
	if len(in.Date) >= 10 {
		date = in.Date[:10]
	}
	fmt.Fprintf(&b, ".TH %s 1 %q %q \"firebreak manual\"\n", title, date, "firebreak "+in.Short())
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", strings.ReplaceAll(c.CommandPath(), " ", "-"), roff(c.Short))
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n", roff(c.UseLine()))
	desc := c.Long
	if desc == "" {
		desc = c.Short
	}
	fmt.Fprintf(&b, ".SH DESCRIPTION\n%s\n", roffText(desc))
	if fs := c.NonInheritedFlags(); fs.HasAvailableFlags() {
		b.WriteString(".SH OPTIONS\n")
		manFlags(&b, fs)
	}
	if fs := c.InheritedFlags(); fs.HasAvailableFlags() {
		b.WriteString(".SH GLOBAL OPTIONS\n")
		manFlags(&b, fs)
	}
	if c.Example != "" {
		fmt.Fprintf(&b, ".SH EXAMPLES\n.nf\n%s\n.fi\n", roff(c.Example))
	}
	b.WriteString(".SH EXIT STATUS\n0 ok; 1 error; 2 usage error (bad flag or argument); 3 findings or alerts at or above \\-\\-fail\\-on.\n")
	var see []string
	if c.HasParent() {
		see = append(see, strings.ReplaceAll(c.Parent().CommandPath(), " ", "-")+"(1)")
	}
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			see = append(see, strings.ReplaceAll(sub.CommandPath(), " ", "-")+"(1)")
		}
	}
	if len(see) > 0 {
		fmt.Fprintf(&b, ".SH SEE ALSO\n%s\n", strings.Join(see, ", "))
	}
	return b.String()
}

func manFlags(b *strings.Builder, fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		name := "\\-\\-" + roff(f.Name)
		if f.Shorthand != "" {
			name = "\\-" + f.Shorthand + ", " + name
		}
		varname, usage := pflag.UnquoteUsage(f)
		if varname != "" {
			name += " \\fI" + roff(varname) + "\\fR"
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(b, ".TP\n.B %s\n%s\n", name, roffText(usage))
	})
}

// roff escapes backslashes and leading dots and dashes for roff.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	return strings.ReplaceAll(s, "-", `\-`)
}

// roffText escapes running text: paragraphs become .PP, and lines starting
// with a dot or quote are protected.
func roffText(s string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		line = roff(line)
		switch {
		case strings.TrimSpace(line) == "":
			line = ".PP"
		case strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'"):
			line = `\&` + line
		case strings.HasPrefix(line, " "):
			line = ".br\n" + line
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
