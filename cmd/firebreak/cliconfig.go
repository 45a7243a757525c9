package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/firebreak-msp/firebreak/internal/suggest"
)

// The CLI's own configuration file (issue 16): defaults for any verb's
// flags, so an MSP's analysts share one set (format, fail-on, KEV file…)
// without a wrapper script. It mirrors the command tree:
//
//	quiet: true          # a global flag
//	assess:
//	  fail-on: high
//	  policy: [policies/, more/]   # a repeatable flag takes a list
//	kev:
//	  update:
//	    url: https://mirror.internal/kev.json
//
// Precedence: a flag on the command line > its FIREBREAK_… variable > this
// file > the verb's own default. serve's own configuration (serve
// --config) is a different file and is not read here.

// cliConfigName is the file read from the user's configuration directory
// (os.UserConfigDir: $XDG_CONFIG_HOME or ~/.config on Linux) when
// --cli-config is not given.
const cliConfigName = "firebreak/cli.yaml"

// cliValue is one flag value from the file, with where it was written.
type cliValue struct {
	values []string
	line   int
	col    int
}

// cliConfig is a parsed CLI configuration: command path ("" for the root's
// global flags, "assess", "kev update") → flag → value.
type cliConfig struct {
	path  string
	flags map[string]map[string]cliValue
}

// defaultCLIConfig returns the path of the default file, "" when there is
// no configuration directory.
func defaultCLIConfig() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, cliConfigName)
}

// loadCLIConfig reads and checks path against the whole command tree of
// root: every key must be a verb or a flag of the verb it sits under, and
// every value must parse as that flag's type, whichever verb runs now. A
// missing default file is no configuration; a missing named one is an
// error.
func loadCLIConfig(root *cobra.Command, path string, named bool) (*cliConfig, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !named {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cli configuration: %w", err)
	}
	if len(data) > 1<<20 {
		return nil, fmt.Errorf("%s: larger than 1 MiB", path)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg := &cliConfig{path: path, flags: map[string]map[string]cliValue{}}
	if len(doc.Content) == 0 {
		return cfg, nil
	}
	var errs []string
	cfg.walk(root, root, doc.Content[0], &errs)
	if len(errs) > 0 {
		return nil, fmt.Errorf("cli configuration %s:\n  %s", path, strings.Join(errs, "\n  "))
	}
	return cfg, nil
}

// walk reads node, a mapping under command c.
func (cfg *cliConfig) walk(root, c *cobra.Command, node *yaml.Node, errs *[]string) {
	at := func(n *yaml.Node) string { return fmt.Sprintf("%s:%d:%d", cfg.path, n.Line, n.Column) }
	if node.Kind != yaml.MappingNode {
		*errs = append(*errs, fmt.Sprintf("%s: %s: want a mapping of flags and verbs", at(node), pathOf(root, c)))
		return
	}
	flags := c.LocalNonPersistentFlags()
	if c == root {
		flags = root.PersistentFlags()
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		name := k.Value
		if c == root && name == "serve" {
			*errs = append(*errs, fmt.Sprintf("%s: serve is configured by its own file (serve --config firebreak.yaml), not here", at(k)))
			continue
		}
		if sub := childNamed(c, name); sub != nil {
			cfg.walk(root, sub, v, errs)
			continue
		}
		f := flags.Lookup(name)
		if f == nil || name == "help" || name == "version" || name == "cli-config" {
			var known []string
			flags.VisitAll(func(f *pflag.Flag) { known = append(known, f.Name) })
			for _, s := range c.Commands() {
				known = append(known, s.Name())
			}
			msg := fmt.Sprintf("%s: %q is neither a flag nor a verb of %s", at(k), name, pathOf(root, c))
			if s := suggest.Closest(name, known, 2); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			*errs = append(*errs, msg)
			continue
		}
		var vals []string
		switch v.Kind {
		case yaml.ScalarNode:
			vals = []string{v.Value}
		case yaml.SequenceNode:
			if !repeatable(f) {
				*errs = append(*errs, fmt.Sprintf("%s: --%s of %s takes one value, not a list", at(v), name, pathOf(root, c)))
				continue
			}
			for _, it := range v.Content {
				if it.Kind != yaml.ScalarNode {
					*errs = append(*errs, fmt.Sprintf("%s: --%s: want a list of values", at(it), name))
					continue
				}
				vals = append(vals, it.Value)
			}
		default:
			*errs = append(*errs, fmt.Sprintf("%s: --%s of %s: want a value (or a list for a repeatable flag)", at(v), name, pathOf(root, c)))
			continue
		}
		// The value must parse as the flag's type: checked on a copy so
		// the command's own flags are untouched until the verb runs.
		probe := pflag.NewFlagSet("probe", pflag.ContinueOnError)
		probe.AddFlag(cloneFlag(f))
		for _, s := range vals {
			if err := probe.Set(name, s); err != nil {
				*errs = append(*errs, fmt.Sprintf("%s: --%s of %s: %v", at(v), name, pathOf(root, c), err))
				break
			}
		}
		key := strings.TrimPrefix(strings.TrimPrefix(c.CommandPath(), root.Name()), " ")
		if cfg.flags[key] == nil {
			cfg.flags[key] = map[string]cliValue{}
		}
		cfg.flags[key][name] = cliValue{values: vals, line: v.Line, col: v.Column}
	}
}

// apply sets every flag of c (and the global flags) that is still unset
// from the file.
func (cfg *cliConfig) apply(c *cobra.Command) error {
	if cfg == nil {
		return nil
	}
	root := c.Root()
	key := strings.TrimPrefix(strings.TrimPrefix(c.CommandPath(), root.Name()), " ")
	set := func(fs *pflag.FlagSet, vals map[string]cliValue) error {
		for name, v := range vals {
			f := fs.Lookup(name)
			if f == nil || f.Changed {
				continue
			}
			for _, s := range v.values {
				if err := fs.Set(name, s); err != nil {
					return usageError{fmt.Errorf("%s:%d:%d: --%s: %w", cfg.path, v.line, v.col, name, err)}
				}
			}
		}
		return nil
	}
	if err := set(c.Flags(), cfg.flags[key]); err != nil {
		return err
	}
	return set(c.Flags(), cfg.flags[""])
}

func childNamed(c *cobra.Command, name string) *cobra.Command {
	for _, s := range c.Commands() {
		if s.Name() == name && s.Name() != "help" && s.Name() != "completion" {
			return s
		}
	}
	return nil
}

func pathOf(root, c *cobra.Command) string {
	if c == root {
		return "the global flags"
	}
	return strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
}

// repeatable reports whether a flag takes several values (StringArray,
// StringSlice and the like).
func repeatable(f *pflag.Flag) bool {
	return strings.HasSuffix(f.Value.Type(), "Array") || strings.HasSuffix(f.Value.Type(), "Slice")
}

// cloneFlag copies f with a fresh value of the same type, so parsing a
// candidate value leaves f alone.
func cloneFlag(f *pflag.Flag) *pflag.Flag {
	fs := pflag.NewFlagSet("clone", pflag.ContinueOnError)
	switch f.Value.Type() {
	case "bool":
		fs.Bool(f.Name, false, "")
	case "int":
		fs.Int(f.Name, 0, "")
	case "int64":
		fs.Int64(f.Name, 0, "")
	case "float64":
		fs.Float64(f.Name, 0, "")
	case "duration":
		fs.Duration(f.Name, 0, "")
	case "stringArray":
		fs.StringArray(f.Name, nil, "")
	case "stringSlice":
		fs.StringSlice(f.Name, nil, "")
	case "intSlice":
		fs.IntSlice(f.Name, nil, "")
	default:
		if slices.Contains([]string{"string"}, f.Value.Type()) {
			fs.String(f.Name, "", "")
		} else {
			// A custom flag type: check with the flag's own parser on a
			// value that is reset afterwards.
			return &pflag.Flag{Name: f.Name, Value: &restoring{f.Value}}
		}
	}
	return fs.Lookup(f.Name)
}

// restoring checks a value with a custom flag's Set and puts the old value
// back.
type restoring struct{ v pflag.Value }

func (r *restoring) String() string { return r.v.String() }
func (r *restoring) Type() string   { return r.v.Type() }
func (r *restoring) Set(s string) error {
	old := r.v.String()
	err := r.v.Set(s)
	_ = r.v.Set(old)
	return err
}
