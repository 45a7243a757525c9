package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/postgres"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

type auditOptions struct {
	dataDir  string
	database string
	format   string
	anchor   string
	limit    int
	getenv   func(string) string
}

func (o *auditOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.dataDir, "data-dir", "", "data directory of the SQLite store (default $FIREBREAK_DATA_DIR, else ~/.local/share/firebreak as `kev update` uses, or an existing ./firebreak-data)")
	f.StringVar(&o.database, "database", "", "PostgreSQL URL (postgres://…) instead of SQLite (default $FIREBREAK_DATABASE)")
	f.StringVarP(&o.format, "format", "f", "text", "output format: text or json")
}

func newAuditCommand(g *globalOptions) *cobra.Command {
	var o auditOptions
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Inspect and verify the hash-chained audit log of a firebreak store",
		Long: `Every change made through firebreak serve (logins, users, tokens, incident
handling, settings) is appended to an audit log in the store. Each entry is
chained to the one before it: hash = SHA-256(previous hash || entry), so any
altered, removed or reordered entry breaks the chain from that point on.`,
	}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Walk the audit log's hash chain and report the first broken entry",
		Long: `verify recomputes every audit entry's hash from its content and the previous
entry's hash. Exit status is 0 when the whole chain is intact and 1 when it is
broken; the message names the first broken entry and why (altered, missing,
reordered).

The chain alone cannot show that entries were cut off the end, or that the
whole log was rewritten with fresh hashes. Record the printed anchor (SEQ:HASH)
somewhere the firebreak host cannot write (a ticket, a WORM bucket) and pass it
back with --anchor: verify then also checks that entry SEQ still exists with
that hash.`,
		Example: `  firebreak audit verify --data-dir /var/lib/firebreak
  firebreak audit verify --database postgres://firebreak@db.internal/firebreak
  firebreak audit verify --anchor 1842:9f2c…e1 --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAuditVerify(cmd.Context(), o, g)
		},
	}
	o.AddFlags(verify.Flags())
	verify.Flags().StringVar(&o.anchor, "anchor", "", "SEQ:HASH printed by an earlier verify; fail unless that entry is still in the chain unchanged")
	list := &cobra.Command{
		Use:   "list",
		Short: "Print the most recent audit entries, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAuditList(cmd.Context(), o, g)
		},
	}
	o.AddFlags(list.Flags())
	list.Flags().IntVar(&o.limit, "limit", 50, "number of entries")
	addOutputFlag(verify, g, nil)
	addOutputFlag(list, g, nil)
	cmd.AddCommand(verify, list)
	return cmd
}

// openAuditStore opens the configured store without creating a new one.
func openAuditStore(ctx context.Context, o auditOptions) (store.Store, string, error) {
	getenv := o.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if o.format != "text" && o.format != "json" {
		return nil, "", usageError{fmt.Errorf("--format %q: expected text or json", o.format)}
	}
	if o.database != "" && o.dataDir != "" {
		return nil, "", usageError{errors.New("use either --data-dir or --database, not both")}
	}
	url := o.database
	if url == "" && o.dataDir == "" {
		url = getenv("FIREBREAK_DATABASE")
	}
	if url != "" {
		s, err := postgres.Open(ctx, url)
		return s, "postgres", err
	}
	dir := o.dataDir
	if dir == "" {
		dir, _ = defaultDataDir(getenv)
	}
	db := filepath.Join(dir, sqlite.FileName)
	if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("no firebreak store at %s (expected %s): set --data-dir or --database", dir, db)
	}
	s, err := sqlite.Open(ctx, dir)
	return s, db, err
}

// auditVerifyJSON is the --format json document of audit verify (version "1").
type auditVerifyJSON struct {
	Version  string `json:"version"`
	Store    string `json:"store"`
	OK       bool   `json:"ok"`
	Entries  int64  `json:"entries"` // intact entries before the break (all, when ok)
	Head     string `json:"head"`    // hash of the last intact entry
	Anchor   string `json:"anchor"`  // "SEQ:HASH" of the head, to record elsewhere
	BrokenAt int64  `json:"broken_at,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// parseAnchor splits "SEQ:HASH".
func parseAnchor(a string) (int64, string, error) {
	seqText, hash, ok := strings.Cut(strings.TrimSpace(a), ":")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if !ok || err != nil || seq < 1 || len(hash) != 64 {
		return 0, "", usageError{fmt.Errorf("--anchor %q: expected SEQ:HASH as printed by audit verify", a)}
	}
	return seq, strings.ToLower(hash), nil
}

// checkAnchor verifies that entry seq is still in the (intact) chain of n
// entries with the recorded hash.
func checkAnchor(ctx context.Context, s store.Store, n, seq int64, hash string) error {
	if seq > n {
		return &store.AuditError{Seq: seq, Reason: fmt.Sprintf("anchored entry is gone: the log now ends at entry %d (entries were cut off the end)", n)}
	}
	es, err := s.ListAudit(ctx, store.AllTenants(), store.AuditFilter{BeforeSeq: seq + 1, Limit: 1})
	if err != nil {
		return err
	}
	if len(es) != 1 || es[0].Seq != seq {
		return &store.AuditError{Seq: seq, Reason: "anchored entry is missing"}
	}
	if es[0].Hash != hash {
		return &store.AuditError{Seq: seq, Reason: "entry differs from the recorded anchor (the log was rewritten)"}
	}
	return nil
}

func runAuditVerify(ctx context.Context, o auditOptions, g *globalOptions) error {
	s, where, err := openAuditStore(ctx, o)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	var anchorSeq int64
	var anchorHash string
	if o.anchor != "" {
		if anchorSeq, anchorHash, err = parseAnchor(o.anchor); err != nil {
			return err
		}
	}
	n, head, verr := s.VerifyAudit(ctx)
	if verr == nil && o.anchor != "" {
		verr = checkAnchor(ctx, s, n, anchorSeq, anchorHash)
	}
	var ae *store.AuditError
	if verr != nil && !errors.As(verr, &ae) {
		return verr
	}
	if o.format == "json" {
		doc := auditVerifyJSON{Version: "1", Store: where, OK: verr == nil, Entries: n, Head: head, Anchor: fmt.Sprintf("%d:%s", n, head)}
		if ae != nil {
			doc.BrokenAt, doc.Reason = ae.Seq, ae.Reason
		}
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return err
		}
	} else if verr == nil {
		fmt.Fprintf(g.stdout, "audit log intact: %d entries in %s\nanchor %d:%s\n", n, where, n, head)
		if o.anchor != "" {
			fmt.Fprintf(g.stdout, "anchor %s found unchanged\n", o.anchor)
		}
	} else {
		fmt.Fprintf(g.stdout, "audit log BROKEN at entry %d: %s\n%d entries intact before it (last good hash %s)\n", ae.Seq, ae.Reason, n, head)
	}
	return verr
}

func runAuditList(ctx context.Context, o auditOptions, g *globalOptions) error {
	s, _, err := openAuditStore(ctx, o)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	entries, err := s.ListAudit(ctx, store.AllTenants(), store.AuditFilter{Limit: o.limit})
	if err != nil {
		return err
	}
	if o.format == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(entries)
	}
	for _, e := range entries {
		fmt.Fprintf(g.stdout, "%6d  %s  %-16s %-24s %s", e.Seq, e.At.Format("2006-01-02T15:04:05Z"), e.Actor, e.Action, e.Target)
		if e.Tenant != "" {
			fmt.Fprintf(g.stdout, "  tenant=%s", e.Tenant)
		}
		if len(e.Detail) > 0 {
			fmt.Fprintf(g.stdout, "  %s", e.Detail)
		}
		fmt.Fprintln(g.stdout)
	}
	return nil
}
