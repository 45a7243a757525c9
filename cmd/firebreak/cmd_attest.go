package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/firebreak-msp/firebreak/internal/atomicfile"
	"github.com/firebreak-msp/firebreak/internal/attest"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/evaluate"
	"github.com/firebreak-msp/firebreak/internal/version"
)

func newAttestCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attest",
		Short: "Signed posture attestations a customer can verify offline",
		Long: `An attestation is what the MSP states about one customer tenant — which controls
passed on which date, the access the MSP holds there and by which path, which MSP
compromises would reach it, the contract clauses present — as an in-toto
Statement in a DSSE envelope signed with the MSP's Ed25519 key. The customer
verifies it with the MSP's public key alone, without running firebreak's server
or trusting the MSP's word.`,
	}
	cmd.AddCommand(newAttestKeygenCommand(g), newAttestVerifyCommand(g), newAttestCreateCommand(g))
	return cmd
}

func newAttestKeygenCommand(g *globalOptions) *cobra.Command {
	var dir, name string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Create an Ed25519 signing key (NAME.key, mode 0600) and its public key (NAME.pub)",
		Long: `Keygen writes a new key pair. Give NAME.pub to customers; keep NAME.key secret.
To rotate, create a new pair, publish both public keys for a while (verify
accepts several --key), and sign with the new one. The key id printed is the
SHA-256 fingerprint that envelopes carry.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := attest.GenerateKey(dir, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "key id %s\nprivate %s/%s.key (keep secret)\npublic  %s/%s.pub (give to customers)\n", k.ID(), dir, name, dir, name)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".", "`DIR` to write the key files in")
	cmd.Flags().StringVar(&name, "name", "firebreak-attest", "base `NAME` of the key files")
	return cmd
}

type attestVerifyOptions struct {
	keys   []string
	tenant string
	now    string
	format string
}

// errNotVerified is returned after the refusal has been printed.
var errNotVerified = errors.New("attestation not verified")

func newAttestVerifyCommand(g *globalOptions) *cobra.Command {
	var opts attestVerifyOptions
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check an attestation's signature, schema and freshness and print what it says",
		Long: `Verify checks, in order: the envelope's shape, a signature by one of the trusted
--key files (matched by key id), the in-toto statement and predicate types and
version, the predicate's JSON schema, that it is not expired or issued in the
future, and (with --tenant) that it is about that tenant. It then prints the
content readably. Any change to the signed content fails.

Exit status is 0 when verified and 1 with the reason otherwise (signature,
unknown-key, format, type, version, schema, expired, not-yet-valid, tenant).
FILE "-" reads standard input.`,
		Example: `  firebreak attest verify brightwater-dental.intoto.json --key harbourview.pub --tenant brightwater-dental`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAttestVerify(cmd.Context(), opts, g, args[0])
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&opts.keys, "key", nil, "trusted public key `FILE` (PEM; repeatable during a rotation)")
	f.StringVar(&opts.tenant, "tenant", "", "require the attestation to be about tenant `ID`")
	f.StringVar(&opts.now, "now", "", "verify as of this `TIME` (RFC 3339 or YYYY-MM-DD) instead of now")
	f.StringVarP(&opts.format, "format", "f", "text", "output format: text or json (the verified statement)")
	addOutputFlag(cmd, g, nil)
	return cmd
}

func runAttestVerify(ctx context.Context, opts attestVerifyOptions, g *globalOptions, file string) error {
	if len(opts.keys) == 0 {
		return usageError{errors.New("--key is required: the MSP's public key")}
	}
	if opts.format != "text" && opts.format != "json" {
		return usageError{fmt.Errorf("unknown --format %q (expected text or json)", opts.format)}
	}
	vo := attest.VerifyOptions{Tenant: opts.tenant}
	if opts.now != "" {
		t, err := parseNow(opts.now)
		if err != nil {
			return err
		}
		vo.Now = t
	}
	for _, p := range opts.keys {
		k, err := attest.LoadKey(p)
		if err != nil {
			return err
		}
		vo.Keys = append(vo.Keys, k)
	}
	var r io.Reader = os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		r = f
	}
	v, err := attest.Verify(ctx, r, vo)
	if err != nil {
		fmt.Fprintf(g.stdout, "NOT VERIFIED %s: %v\n", file, err)
		return errNotVerified
	}
	if opts.format == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v.Statement)
	}
	printPosture(g.stdout, file, v)
	return nil
}

func printPosture(w io.Writer, file string, v *attest.Verified) {
	p := v.Statement.Predicate
	fmt.Fprintf(w, "VERIFIED %s\n  signed by key %s\n", file, v.KeyID)
	fmt.Fprintf(w, "  %s attests for tenant %s", p.Provider, p.Tenant.ID)
	if p.Tenant.Name != "" {
		fmt.Fprintf(w, " (%s)", p.Tenant.Name)
	}
	fmt.Fprintf(w, "\n  assessed %s by %s %s; issued %s; valid until %s\n  estate snapshot sha256 %s\n\n",
		p.AssessedAt.UTC().Format(time.RFC3339), p.Tool.Name, p.Tool.Version, p.IssuedAt.UTC().Format(time.RFC3339),
		p.ExpiresAt.UTC().Format(time.RFC3339), p.EstateDigest)
	s := p.Summary
	fmt.Fprintf(w, "Controls: score %.1f — %d pass, %d fail, %d not evaluable, %d not applicable, %d excepted\n",
		s.Score, s.Pass, s.Fail, s.NotEvaluable, s.NotApplicable, s.Excepted)
	// Failing first, then what needs evidence, then the rest.
	for _, status := range []string{"fail", "excepted", "attested", "not_evaluable", "pass"} {
		for _, c := range p.Controls {
			if c.Status == status {
				fmt.Fprintf(w, "  %-14s %-12s %-9s %s\n", c.Status, c.ID, c.Severity, c.Title)
			}
		}
	}
	fmt.Fprintf(w, "\nAccess the MSP holds in this tenant (%d):\n", len(p.Access))
	for _, a := range p.Access {
		standing := "standing"
		if !a.Standing {
			standing = "eligible (just-in-time)"
		}
		fmt.Fprintf(w, "  %s %s: %s, %s", a.Kind, a.Principal, a.Privilege, standing)
		if a.MFA != "" {
			fmt.Fprintf(w, ", MFA %s", a.MFA)
		}
		fmt.Fprintln(w)
		if a.Path != "" {
			fmt.Fprintf(w, "      via %s\n", a.Path)
		}
	}
	more := ""
	if p.Blast.Truncated {
		more = " or more"
	}
	fmt.Fprintf(w, "\nCompromises that would reach this tenant at admin level (%d%s", p.Blast.Total, more)
	if len(p.Blast.ReachedBy) < p.Blast.Total {
		fmt.Fprintf(w, ", %d shown", len(p.Blast.ReachedBy))
	}
	if p.Blast.OtherTenants > 0 {
		fmt.Fprintf(w, "; and %d objects of other customers", p.Blast.OtherTenants)
	}
	fmt.Fprintln(w, "):")
	for _, r := range p.Blast.ReachedBy {
		fmt.Fprintf(w, "  %s %s (reaches %d tenants)\n", r.Kind, r.ID, r.Tenants)
		if r.Path != "" {
			fmt.Fprintf(w, "      %s\n", r.Path)
		}
	}
	if c := p.Contract; c != nil {
		fmt.Fprintf(w, "\nContract %s: %d of the advisory's clauses present", c.ID, len(c.Present))
		if len(c.Missing) > 0 {
			fmt.Fprintf(w, "; missing %s", strings.Join(c.Missing, ", "))
		}
		fmt.Fprintln(w)
	}
}

type attestCreateOptions struct {
	key     string
	tenants []string
	all     bool
	output  string
	now     string
	kevFile string
	valid   time.Duration
}

func newAttestCreateCommand(g *globalOptions) *cobra.Command {
	var opts attestCreateOptions
	cmd := &cobra.Command{
		Use:   "create ESTATE",
		Short: "Assess the estate and sign one attestation per tenant",
		Long: `Create assesses the estate exactly as "firebreak assess" does (same catalog, KEV,
trust graph and clock) and signs, for each tenant asked for, a statement of
that tenant's posture: each control's result with its evidence digest, the
access the MSP holds into the tenant (principal, tool, privilege, standing or
just-in-time, path), the MSP-side objects whose compromise would reach it, its
contract clauses and the digest of its estate snapshot. Nothing of any other
tenant is included beyond counts.

One tenant without -o writes the envelope to stdout; otherwise -o DIR gets
one TENANT.intoto.json per tenant.`,
		Example: `  firebreak attest keygen --name harbourview
  firebreak attest create examples/harbourview --key harbourview.key --tenant brightwater-dental > bw.intoto.json
  firebreak attest create examples/harbourview --key harbourview.key --all -o attestations/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAttestCreate(cmd.Context(), opts, g, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.key, "key", "", "the MSP's private signing key `FILE` (from attest keygen)")
	f.StringArrayVar(&opts.tenants, "tenant", nil, "attest this tenant `ID` (repeatable)")
	f.BoolVar(&opts.all, "all", false, "attest every tenant")
	f.StringVarP(&opts.output, "output", "o", "", "write TENANT.intoto.json files into `DIR`")
	f.StringVar(&opts.now, "now", "", "assess as of `DATE` (YYYY-MM-DD or RFC 3339; default now)")
	f.StringVar(&opts.kevFile, "kev", "", "CISA KEV catalog JSON `FILE` (default: the stored one)")
	f.DurationVar(&opts.valid, "valid", 30*24*time.Hour, "how long the attestations hold")
	return cmd
}

func runAttestCreate(ctx context.Context, opts attestCreateOptions, g *globalOptions, path string) error {
	switch {
	case opts.key == "":
		return usageError{errors.New("--key is required: the MSP's private key (firebreak attest keygen)")}
	case opts.all == (len(opts.tenants) > 0):
		return usageError{errors.New("give either --tenant ID (repeatable) or --all")}
	case opts.output == "" && len(opts.tenants) != 1:
		return usageError{errors.New("-o DIR is needed for more than one tenant")}
	case opts.valid <= 0:
		return usageError{errors.New("--valid must be positive")}
	}
	key, err := attest.LoadKey(opts.key)
	if err != nil {
		return err
	}
	if _, err := key.Sign(ctx, nil); err != nil {
		return usageError{fmt.Errorf("--key %s: %w", opts.key, err)}
	}
	now, err := parseNow(opts.now)
	if err != nil {
		return err
	}
	ao := assessOptions{KEVFile: opts.kevFile, getenv: os.Getenv}
	kc, kevMissing, err := ao.loadKEV()
	if err != nil {
		return err
	}
	e, err := estate.Load(path)
	if err != nil {
		return err
	}
	tenants := opts.tenants
	if opts.all {
		for _, t := range e.Tenants {
			tenants = append(tenants, t.ID)
		}
	}
	res, err := evaluate.Evaluate(ctx, e, evaluate.Deps{KEV: kc, KEVMissing: kevMissing, Now: now, Logger: g.log})
	if err != nil {
		return err
	}
	b, err := attest.NewBuilder(attest.Input{Estate: e, Report: res.Report, Graph: res.Graph, Issued: now, Validity: opts.valid,
		Tool: attest.ToolRef{Name: "firebreak", Version: version.Get().Short()}})
	if err != nil {
		return err
	}
	if opts.output != "" {
		if err := os.MkdirAll(opts.output, 0o755); err != nil {
			return err
		}
	}
	sign := func(t string) ([]byte, error) {
		st, err := b.Statement(t)
		if err != nil {
			return nil, usageError{fmt.Errorf("--tenant: %w", err)}
		}
		env, err := attest.Sign(ctx, key, st)
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", t, err)
		}
		return append(env, '\n'), nil
	}
	if opts.output == "" {
		env, err := sign(tenants[0])
		if err != nil {
			return err
		}
		_, err = g.stdout.Write(env)
		return err
	}
	// Statements are independent: build, sign and write them on every core.
	eg, egctx := errgroup.WithContext(ctx)
	eg.SetLimit(runtime.GOMAXPROCS(0))
	for _, t := range tenants {
		eg.Go(func() error {
			if egctx.Err() != nil {
				return egctx.Err()
			}
			env, err := sign(t)
			if err != nil {
				return err
			}
			return atomicfile.WriteBytes(filepath.Join(opts.output, t+".intoto.json"), 0o644, env)
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	g.notice("signed %d attestations with key %s into %s\n", len(tenants), key.ID(), opts.output)
	return nil
}
