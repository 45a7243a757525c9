package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/collect/kev/kevupdate"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/useragent"
	"github.com/firebreak-msp/firebreak/internal/version"
)

type kevOptions struct {
	DataDir string
	File    string
	Format  string
	now     func() time.Time
	getenv  func(string) string
}

func (o *kevOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.DataDir, "data-dir", "", "data directory (default $FIREBREAK_DATA_DIR or ~/.local/share/firebreak)")
	f.StringVar(&o.File, "file", "", "read the catalog from this KEV JSON file instead of the data directory (offline)")
	f.StringVarP(&o.Format, "format", "f", "table", "output format: table or json")
}

func (o *kevOptions) Validate() error {
	if o.Format != "table" && o.Format != "json" {
		return usageError{fmt.Errorf("--format %q: expected table or json", o.Format)}
	}
	return nil
}

func (o *kevOptions) dataDir() (string, error) {
	if o.DataDir != "" {
		return o.DataDir, nil
	}
	getenv := o.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	return kev.DataDir(getenv)
}

func (o *kevOptions) clock() time.Time {
	if o.now != nil {
		return o.now()
	}
	return time.Now()
}

// loadCatalog reads --file or the stored catalog.
func (o *kevOptions) loadCatalog() (*kev.Catalog, error) {
	if o.File != "" {
		return kev.Load(o.File)
	}
	dir, err := o.dataDir()
	if err != nil {
		return nil, err
	}
	return kev.LoadStored(dir)
}

func newKevCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kev",
		Short: "Download, inspect and match the CISA Known Exploited Vulnerabilities catalog",
		Long: `The CISA KEV catalog lists vulnerabilities exploited in the wild, with a
remediation due date and whether ransomware campaigns use them. "kev update"
keeps a schema-checked copy in the data directory; "assess" and "kev match"
use it to find KEV entries affecting the estate's tools and assets.`,
	}
	cmd.AddCommand(newKevUpdateCommand(g), newKevShowCommand(g), newKevMatchCommand(g))
	return cmd
}

type kevUpdateOptions struct {
	kevOptions
	URL     string
	Force   bool
	Timeout time.Duration
}

func newKevUpdateCommand(g *globalOptions) *cobra.Command {
	var o kevUpdateOptions
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Download the KEV feed (conditional GET), check its schema, store it atomically",
		Example: `  firebreak kev update
  firebreak kev update --url https://mirror.example/kev.json --data-dir /var/lib/firebreak`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runKevUpdate(cmd.Context(), o, g)
		},
	}
	o.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.URL, "url", kevupdate.DefaultURL, "feed URL (env FIREBREAK_KEV_URL)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "download even if unchanged and accept an older catalog")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 60*time.Second, "HTTP timeout")
	return cmd
}

func runKevUpdate(ctx context.Context, o kevUpdateOptions, g *globalOptions) error {
	if err := o.Validate(); err != nil {
		return err
	}
	// --file imports a catalog downloaded elsewhere (an air-gapped
	// installation) through the same updater as a download: the same
	// checks, the same store, "not modified" when it is the stored one.
	var transport http.RoundTripper
	if o.File != "" {
		abs, err := filepath.Abs(o.File)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("kev update --file: %w", err)
		}
		// Rooted at / so that the URL, which errors name, is the file's path.
		transport = http.NewFileTransport(http.Dir("/"))
		o.URL = (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	}
	getenv := o.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if u := getenv("FIREBREAK_KEV_URL"); u != "" && o.URL == kevupdate.DefaultURL {
		o.URL = u
	}
	dir, err := o.dataDir()
	if err != nil {
		return err
	}
	u := &kevupdate.Updater{URL: o.URL, DataDir: dir, Force: o.Force, Log: g.log, Now: o.now,
		Client: useragent.Client(&http.Client{Timeout: o.Timeout, Transport: transport}), UserAgent: version.Get().UserAgent()}
	res, err := u.Update(ctx)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return kevJSON(g.stdout, res)
	}
	switch {
	case res.NotModified:
		fmt.Fprintf(g.stdout, "KEV catalog %s is current (%d entries, not modified): %s\n", res.Version, res.Count, res.Path)
	default:
		from := ""
		if res.Previous != "" && res.Previous != res.Version {
			from = " (was " + res.Previous + ")"
		}
		fmt.Fprintf(g.stdout, "KEV catalog %s stored%s: %d entries, %d bytes → %s\n", res.Version, from, res.Count, res.Bytes, res.Path)
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(g.stderr, "warning:", w)
	}
	return nil
}

type kevShowOptions struct {
	kevOptions
	Vendor, Product, CVE string
	Ransomware           bool
	Since                string
	Limit                int
}

func newKevShowCommand(g *globalOptions) *cobra.Command {
	var o kevShowOptions
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Summarise the catalog and list entries, filtered by vendor, product, CVE or ransomware use",
		Example: `  firebreak kev show
  firebreak kev show --vendor connectwise
  firebreak kev show --ransomware --since 2025-01-01 --format json
  firebreak kev show --file known_exploited_vulnerabilities.json --cve CVE-2024-1709`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runKevShow(cmd.Context(), o, g) },
	}
	o.AddFlags(cmd.Flags())
	addOutputFlag(cmd, g, nil)
	cmd.Flags().StringVar(&o.Vendor, "vendor", "", "only entries whose vendorProject contains this (case-insensitive)")
	cmd.Flags().StringVar(&o.Product, "product", "", "only entries whose product contains this")
	cmd.Flags().StringVar(&o.CVE, "cve", "", "only this CVE (or CVE id substring)")
	cmd.Flags().BoolVar(&o.Ransomware, "ransomware", false, "only entries with knownRansomwareCampaignUse = Known")
	cmd.Flags().StringVar(&o.Since, "since", "", "only entries added on or after this date (YYYY-MM-DD)")
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "list at most N entries (default: 20 without filters, all with filters)")
	return cmd
}

type kevSummary struct {
	Source         string    `json:"source"`
	CatalogVersion string    `json:"catalog_version"`
	DateReleased   time.Time `json:"date_released"`
	AgeDays        int       `json:"age_days"`
	Count          int       `json:"count"`
	Ransomware     int       `json:"known_ransomware"`
	FetchedAt      time.Time `json:"fetched_at,omitzero"`
	Warnings       []string  `json:"warnings,omitempty"`
	Shown          int       `json:"shown"`
	Matching       int       `json:"matching"`
	Vulns          []kev.Vuln
}

func runKevShow(_ context.Context, o kevShowOptions, g *globalOptions) error {
	if err := o.Validate(); err != nil {
		return err
	}
	c, err := o.loadCatalog()
	if err != nil {
		return err
	}
	f := kev.Filter{Vendor: o.Vendor, Product: o.Product, CVE: o.CVE, Ransomware: o.Ransomware}
	if o.Since != "" {
		d, err := kev.ParseDate(o.Since)
		if err != nil {
			return usageError{fmt.Errorf("--since: %w", err)}
		}
		f.AddedSince = d.Time
	}
	sel := c.Select(f)
	limit := o.Limit
	filtered := o.Vendor != "" || o.Product != "" || o.CVE != "" || o.Ransomware || o.Since != ""
	if limit == 0 && !filtered {
		limit = 20
	}
	s := kevSummary{Source: c.Name, CatalogVersion: c.CatalogVersion, DateReleased: c.DateReleased,
		AgeDays: int(c.Age(o.clock()).Hours() / 24), Count: len(c.Vulns), Warnings: c.Warnings, Matching: len(sel)}
	for _, v := range c.Vulns {
		if v.Ransomware() {
			s.Ransomware++
		}
	}
	if o.File == "" {
		if dir, err := o.dataDir(); err == nil {
			s.FetchedAt = kev.ReadMeta(dir).FetchedAt
		}
	}
	if limit > 0 && len(sel) > limit {
		sel = sel[:limit]
	}
	s.Vulns, s.Shown = sel, len(sel)
	if o.Format == "json" {
		return kevJSON(g.stdout, s)
	}
	fmt.Fprintf(g.stdout, "KEV catalog %s (released %s, %d days old) from %s\n", s.CatalogVersion, s.DateReleased.Format(time.DateOnly), s.AgeDays, s.Source)
	fmt.Fprintf(g.stdout, "%d entries, %d with known ransomware use", s.Count, s.Ransomware)
	if !s.FetchedAt.IsZero() {
		fmt.Fprintf(g.stdout, "; downloaded %s", s.FetchedAt.Format(time.RFC3339))
	}
	fmt.Fprintln(g.stdout)
	for _, w := range s.Warnings {
		fmt.Fprintln(g.stdout, "warning:", w)
	}
	if len(sel) == 0 {
		if filtered {
			fmt.Fprintln(g.stdout, "no entries match")
		}
		return nil
	}
	fmt.Fprintf(g.stdout, "\n%d of %d matching entries (newest first):\n", s.Shown, s.Matching)
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CVE\tVENDOR\tPRODUCT\tADDED\tDUE\tRANSOMWARE\tNAME")
	for _, v := range sel {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.CVE, kevCut(v.VendorProject, 20), kevCut(v.Product, 30), v.DateAdded, v.DueDate, v.KnownRansomwareCampaignUse, kevCut(v.VulnerabilityName, 60))
	}
	return tw.Flush()
}

type kevMatchOptions struct {
	kevOptions
	FailOn string
}

func newKevMatchCommand(g *globalOptions) *cobra.Command {
	var o kevMatchOptions
	cmd := &cobra.Command{
		Use:   "match ESTATE",
		Short: "Match the estate's tools and assets against the KEV catalog",
		Long: `Matches every tool (vendor, product, version, cpe) and every asset's software
against KEV by vendor and product (trimmed, case-folded, with an alias table;
CPE when present) and by version where KEV text names an affected range.
Entries without a parsable range are reported with "version unknown".`,
		Example: `  firebreak kev match examples/harbourview
  firebreak kev match estate/ --file kev.json --format json --fail-on ransomware`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runKevMatch(cmd.Context(), o, args[0], g) },
	}
	o.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.FailOn, "fail-on", "none", "exit 3 when a finding is: any, ransomware, overdue, or none")
	addOutputFlag(cmd, g, nil)
	return cmd
}

func runKevMatch(_ context.Context, o kevMatchOptions, path string, g *globalOptions) error {
	if err := o.Validate(); err != nil {
		return err
	}
	switch o.FailOn {
	case "none", "any", "ransomware", "overdue":
	default:
		return usageError{fmt.Errorf("--fail-on %q: expected none, any, ransomware or overdue", o.FailOn)}
	}
	c, err := o.loadCatalog()
	if err != nil {
		return err
	}
	e, err := estate.Load(path)
	if err != nil {
		return err
	}
	now := o.clock()
	fs := kev.MatchEstate(c, e, now)
	if o.Format == "json" {
		out := struct {
			Catalog  string        `json:"catalog_version"`
			Findings []kev.Finding `json:"findings"`
		}{c.CatalogVersion, fs}
		if out.Findings == nil {
			out.Findings = []kev.Finding{}
		}
		if err := kevJSON(g.stdout, out); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(g.stdout, "KEV %s: %d findings across %d tools and %d assets\n", c.CatalogVersion, len(fs), len(e.Tools), len(e.Assets))
		if len(fs) > 0 {
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "OBJECT\tTENANT\tPRODUCT\tVERSION\tCVE\tDUE\tRANSOMWARE\tMATCH\tWHERE")
			for _, f := range fs {
				ver := f.Version
				if f.Vuln.VersionUnknown {
					ver += " (version unknown)"
				} else if f.Vuln.Affected != "" {
					ver += " (" + f.Vuln.Affected + ")"
				}
				due := f.Vuln.DueDate.String()
				if f.Overdue {
					due += " overdue"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Object, f.Tenant, kevCut(strings.TrimSpace(f.Vendor+" "+f.Product), 32), strings.TrimSpace(ver), f.Vuln.CVE, due, f.Vuln.KnownRansomwareCampaignUse, f.Vuln.MatchedOn, f.Pos)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	for _, f := range fs {
		if o.FailOn == "any" || (o.FailOn == "ransomware" && f.Vuln.Ransomware()) || (o.FailOn == "overdue" && f.Overdue) {
			return ErrFindings
		}
	}
	return nil
}

func kevJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func kevCut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
