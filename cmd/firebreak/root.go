package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/version"
)

// Exit codes, documented in --help.
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitFindings = 3
)

// ErrFindings is returned by verbs when results at or above --fail-on exist.
var ErrFindings = errors.New("findings at or above --fail-on")

// usageError marks bad flags or arguments (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// globalOptions are shared by every verb.
type globalOptions struct {
	// env looks up FIREBREAK_… variables (os.LookupEnv when nil; tests set it).
	env     func(string) (string, bool)
	stdout  io.Writer
	stderr  io.Writer
	verbose bool
	noColor bool
	// quiet (-q) keeps stderr to errors and warnings: no progress bars,
	// summaries or notices.
	quiet bool
	// exitCode is the status for findings at or above --fail-on
	// (--exit-code; exitFindings unless set).
	exitCode int
	// cliConfig is --cli-config: the CLI's defaults file (cliconfig.go).
	cliConfig string
	log       *slog.Logger
}

func newRootCommand(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "firebreak",
		Short: "Stop one MSP breach from becoming fifteen hundred (CISA AA22-131A, continuously)",
		Long: `firebreak maps the trust paths from a managed service provider into every
customer, verifies the controls of the Five Eyes advisory AA22-131A, detects the
attacks it names, and shows who would fall if one piece were compromised.

Exit codes:
  0  ok
  1  error
  2  usage error (bad flag or argument)
  3  findings or alerts at or above --fail-on (--exit-code N to change it)`,
		Version:       version.Get().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd, g.lookupEnv()); err != nil {
				return err
			}
			path, named := g.cliConfig, g.cliConfig != ""
			if !named {
				path = defaultCLIConfig()
			}
			if path != "" && cmd.Name() != "serve" {
				cfg, err := loadCLIConfig(cmd.Root(), path, named)
				if err != nil {
					return usageError{err}
				}
				if err := cfg.apply(cmd); err != nil {
					return err
				}
			}
			if err := sameHumanFormat(cmd); err != nil {
				return err
			}
			if g.exitCode == exitError || g.exitCode == exitUsage || g.exitCode < 0 || g.exitCode > 125 {
				return usageError{fmt.Errorf("--exit-code %d: want 0 or 3..125 (1 is an error, 2 a usage error)", g.exitCode)}
			}
			if g.quiet && g.verbose {
				return usageError{errors.New("--quiet and --verbose cannot be combined")}
			}
			level := slog.LevelWarn
			if g.verbose {
				level = slog.LevelDebug
			}
			g.log = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
			return nil
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log debug detail to stderr")
	root.PersistentFlags().BoolVar(&g.noColor, "no-color", false, "never colour terminal output")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "print only the requested output, errors and warnings: no progress, summaries or notices on stderr")
	root.PersistentFlags().StringVar(&g.cliConfig, "cli-config", "", "defaults for every verb's flags, a YAML `FILE` mirroring the verbs (default: "+cliConfigName+" in the user configuration directory, if present)")
	root.PersistentFlags().IntVar(&g.exitCode, "exit-code", exitFindings, "exit status `N` when findings are at or above --fail-on (0 to report them without failing; 3..125)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// One spelling per flag across verbs; older spellings stay accepted.
	root.SetGlobalNormalizationFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if canon, ok := flagAliases[name]; ok {
			return pflag.NormalizedName(canon)
		}
		return pflag.NormalizedName(name)
	})
	for _, add := range commands {
		root.AddCommand(add(g))
	}
	return root
}

// flagAliases maps older flag spellings to the one every verb uses.
var flagAliases = map[string]string{"out": "output"}

// commands lists every verb's constructor, one line each, alphabetical. Each
// verb lives in its own cmd_<verb>.go file.
var commands = []func(*globalOptions) *cobra.Command{
	newAssessCommand,
	newAttestCommand,
	newAuditCommand,
	newBackupCommand,
	newBlastCommand,
	newCollectCommand,
	newContractCommand,
	newControlsCommand,
	newDemoCommand,
	newDetectCommand,
	newEstateCommand,
	newGenEstateCommand,
	newGenLogsCommand,
	newHealthcheckCommand,
	newKevCommand,
	newManCommand,
	newMigrateCommand,
	newRestoreCommand,
	newServeCommand,
	newValidateCommand,
	newVersionCommand,
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globalOptions{stdout: stdout, stderr: stderr, exitCode: exitFindings, log: slog.New(slog.NewTextHandler(stderr, nil))}
	root := newRootCommand(g)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, ErrFindings):
		if !g.quiet {
			fmt.Fprintln(stderr, "firebreak:", err)
		}
		return g.exitCode
	default:
		var ue usageError
		fmt.Fprintln(stderr, "firebreak:", err)
		if errors.As(err, &ue) || isCobraUsage(err) {
			return exitUsage
		}
		return exitError
	}
}

// isCobraUsage recognises cobra's own argument errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "accepts ", "requires at least", "requires at most", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func (g *globalOptions) lookupEnv() func(string) (string, bool) {
	if g.env != nil {
		return g.env
	}
	return os.LookupEnv
}
