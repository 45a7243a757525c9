package report

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/atomicfile"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// SARIF 2.1.0 (OASIS). Only the properties firebreak fills are modelled.

const sarifSchemaURI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool              sarifTool         `json:"tool"`
	AutomationDetails *sarifAutomation  `json:"automationDetails,omitempty"`
	Invocations       []sarifInvocation `json:"invocations,omitempty"`
	Results           []sarifResult     `json:"results"`
	Properties        map[string]any    `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     *sarifText     `json:"shortDescription,omitempty"`
	FullDescription      *sarifText     `json:"fullDescription,omitempty"`
	Help                 *sarifText     `json:"help,omitempty"`
	HelpURI              string         `json:"helpUri,omitempty"`
	DefaultConfiguration *sarifConfig   `json:"defaultConfiguration,omitempty"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	EndTimeUTC                 string              `json:"endTimeUtc,omitempty"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Kind                string             `json:"kind"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations,omitempty"`
	RelatedLocations    []sarifLocation    `json:"relatedLocations,omitempty"`
	PartialFingerprints map[string]string  `json:"partialFingerprints,omitempty"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          map[string]any     `json:"properties,omitempty"`
}

type sarifLocation struct {
	ID               int                    `json:"id,omitempty"`
	PhysicalLocation *sarifPhysical         `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogicalLocation `json:"logicalLocations,omitempty"`
	Message          *sarifText             `json:"message,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifLogicalLocation struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Status        string `json:"status,omitempty"`
	Justification string `json:"justification,omitempty"`
}

// sarifLevel maps a control severity to a SARIF level for failing results.
func sarifLevel(sev string) string {
	switch strings.ToLower(sev) {
	case "critical", "high":
		return "error"
	case "medium":
		return "warning"
	}
	return "note"
}

// securitySeverity is GitHub code scanning's numeric severity (0–10).
func securitySeverity(sev string) string {
	switch strings.ToLower(sev) {
	case "critical":
		return "9.5"
	case "high":
		return "8.0"
	case "medium":
		return "5.5"
	case "low":
		return "3.0"
	}
	return "0.0"
}

// fileURI turns an estate file path into a SARIF artifact URI: relative
// paths stay relative (resolved against the directory firebreak ran in),
// absolute paths become file:// URIs.
func fileURI(p string) string {
	p = filepath.ToSlash(p)
	if strings.HasPrefix(p, "/") {
		return (&url.URL{Scheme: "file", Path: p}).String()
	}
	return (&url.URL{Path: p}).String()
}

type ruleInfo struct {
	id, title, severity, remediation, rationale, heading, party, kind string
	headingNo                                                         int
	refs                                                              []string
}

func rulesFor(r *assess.Report, cat *catalog.Catalog) []ruleInfo {
	seen := map[string]bool{}
	var out []ruleInfo
	add := func(ri ruleInfo) {
		if seen[ri.id] {
			return
		}
		seen[ri.id] = true
		out = append(out, ri)
	}
	if cat != nil {
		for _, c := range cat.Controls() {
			ri := ruleInfo{id: c.ID, title: c.Title, severity: string(c.Severity), remediation: c.Remediation,
				rationale: c.Rationale, headingNo: c.Heading, heading: catalog.HeadingName(c.Heading),
				party: string(c.Party), kind: string(c.Kind)}
			if c.References.Advisory != "" {
				ri.refs = append(ri.refs, c.References.Advisory)
			}
			for _, n := range c.References.NISTCSF {
				ri.refs = append(ri.refs, "NIST CSF 2.0 "+n)
			}
			ri.refs = append(ri.refs, c.References.Other...)
			add(ri)
		}
	}
	var extra []ruleInfo
	for i := range r.Results {
		res := &r.Results[i]
		if seen[res.Control] {
			continue
		}
		seen[res.Control] = true
		extra = append(extra, ruleInfo{id: res.Control, title: res.Title, severity: res.Severity,
			remediation: res.Remediation, headingNo: res.Heading, heading: catalog.HeadingName(res.Heading)})
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i].id < extra[j].id })
	return append(out, extra...)
}

func fingerprint(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}

// writeSARIF writes a SARIF 2.1.0 log with one rule per control and one
// result per finding, located at the estate file line of its first piece of
// evidence (further evidence as related locations).
func writeSARIF(w io.Writer, r *assess.Report, opts Options) error {
	return writeSARIFGroups(w, r, opts, sarifGroups(r, opts))
}

// sarifRules is the rule table: one rule per control, catalog order first.
func sarifRules(r *assess.Report, opts Options) ([]sarifRule, map[string]int) {
	infos := rulesFor(r, opts.Catalog)
	index := make(map[string]int, len(infos))
	rules := make([]sarifRule, len(infos))
	for i, ri := range infos {
		index[ri.id] = i
		rule := sarifRule{ID: ri.id, Name: ruleName(ri.title),
			DefaultConfiguration: &sarifConfig{Level: sarifLevel(ri.severity)},
			Properties: map[string]any{
				"severity":          strings.ToLower(ri.severity),
				"security-severity": securitySeverity(ri.severity),
				"tags":              ruleTags(ri),
			}}
		if ri.title != "" {
			rule.ShortDescription = &sarifText{Text: ri.title}
		}
		if ri.rationale != "" {
			rule.FullDescription = &sarifText{Text: ri.rationale}
		}
		if ri.headingNo > 0 {
			rule.Properties["heading"] = ri.headingNo
		}
		if ri.party != "" {
			rule.Properties["party"] = ri.party
		}
		if len(ri.refs) > 0 {
			rule.Properties["references"] = ri.refs
		}
		if ri.remediation != "" || ri.rationale != "" {
			var md strings.Builder
			if ri.rationale != "" {
				md.WriteString("**Why:** " + ri.rationale + "\n\n")
			}
			if ri.remediation != "" {
				md.WriteString("**Fix:** " + ri.remediation + "\n\n")
			}
			for _, ref := range ri.refs {
				md.WriteString("- " + ref + "\n")
			}
			text := strings.TrimSpace(ri.remediation)
			if text == "" {
				text = ri.rationale
			}
			rule.Help = &sarifText{Text: text, Markdown: strings.TrimSpace(md.String())}
		}
		rules[i] = rule
	}
	return rules, index
}

func writeSARIFGroups(w io.Writer, r *assess.Report, opts Options, groups []sarifGroup) error {
	rules, index := sarifRules(r, opts)
	var runs []sarifRun
	var splices []splice
	for _, g := range groups {
		run, sp := sarifRunFor(r, opts, g, rules, index)
		runs = append(runs, run)
		splices = append(splices, sp)
	}
	return writeSpliced(w, &sarifLog{Schema: sarifSchemaURI, Version: "2.1.0", Runs: runs}, splices...)
}

// DefaultSARIFMaxResults is GitHub code scanning's hard limit on the results
// of one run; uploads over it are rejected.
const DefaultSARIFMaxResults = 25_000

func (o Options) sarifMax() int {
	switch {
	case o.SARIFMaxResults == 0:
		return DefaultSARIFMaxResults
	case o.SARIFMaxResults < 0:
		return math.MaxInt
	}
	return o.SARIFMaxResults
}

// sarifGroup is the results of one SARIF run: every selected result, or
// those of one subject.
type sarifGroup struct {
	subject string // "" for the one run of the whole estate
	rows    []*assess.Result
}

// sarifGroups selects the results SARIF carries (findings; pass and
// not-applicable with IncludePassing; not-evaluable only with
// IncludeUnknown) in the formats' common order, and splits them into runs:
// one, or one per subject with SARIFPerSubject. Every subject of the report
// gets a run, even one with no results, so that uploading it closes the
// subject's fixed alerts.
func sarifGroups(r *assess.Report, opts Options) []sarifGroup {
	var rows []*assess.Result
	for _, res := range selectResults(r, opts.IncludePassing) {
		if res.Status == assess.StatusNotEvaluable && !opts.IncludeUnknown {
			continue
		}
		rows = append(rows, res)
	}
	if !opts.SARIFPerSubject {
		return []sarifGroup{{rows: rows}}
	}
	by := map[string][]*assess.Result{}
	for i := range r.Results {
		by[r.Results[i].Subject] = nil
	}
	for _, res := range rows {
		by[res.Subject] = append(by[res.Subject], res)
	}
	subjects := slices.Collect(maps.Keys(by))
	slices.SortFunc(subjects, func(a, b string) int {
		if (a == estate.MSP) != (b == estate.MSP) {
			if a == estate.MSP {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	out := make([]sarifGroup, len(subjects))
	for i, s := range subjects {
		out[i] = sarifGroup{subject: s, rows: by[s]}
	}
	return out
}

type sarifAutomation struct {
	ID string `json:"id"`
}

type sarifNotification struct {
	Level   string    `json:"level"`
	Message sarifText `json:"message"`
}

// sarifRunFor builds one run's skeleton and the splice that streams its
// results. A per-subject run lists only the rules its results use, so a
// 1,000-tenant file does not repeat the catalog a thousand times.
func sarifRunFor(r *assess.Report, opts Options, g sarifGroup, rules []sarifRule, index map[string]int) (sarifRun, splice) {
	rows := g.rows
	inv := sarifInvocation{ExecutionSuccessful: true, EndTimeUTC: r.At.UTC().Format("2006-01-02T15:04:05Z")}
	props := map[string]any{"provider": r.Provider, "reportVersion": r.Version}
	if max := opts.sarifMax(); len(rows) > max {
		inv.ToolExecutionNotifications = []sarifNotification{{Level: "warning", Message: sarifText{Text: fmt.Sprintf(
			"%d of %d results kept (the most severe; --sarif-max-results %d); split the report per tenant (--sarif-per-tenant) to keep them all",
			max, len(rows), max)}}}
		props["omittedResults"] = len(rows) - max
		if opts.OnTruncate != nil {
			opts.OnTruncate(g.subject, max, len(rows))
		}
		rows = rows[:max]
	}
	auto := "firebreak/"
	if g.subject != "" {
		auto = "firebreak/" + g.subject + "/"
		props["subject"] = g.subject
		used := map[string]bool{}
		for _, res := range rows {
			used[res.Control] = true
		}
		var local []sarifRule
		localIndex := map[string]int{}
		for _, rule := range rules {
			if used[rule.ID] {
				localIndex[rule.ID] = len(local)
				local = append(local, rule)
			}
		}
		rules, index = local, localIndex
	}
	if rules == nil {
		rules = []sarifRule{}
	}
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{Name: "firebreak", Version: opts.toolVersion(),
			InformationURI: "https://github.com/firebreak-msp/firebreak", Rules: rules}},
		AutomationDetails: &sarifAutomation{ID: auto},
		Invocations:       []sarifInvocation{inv},
		Results:           nil, // streamed
		Properties:        props,
	}
	return run, splice{key: "results", n: len(rows), item: func(i int) any { return sarifResultFor(rows[i], index) }}
}

// WriteSARIFFiles writes one SARIF file per subject into dir (created if
// missing): <subject>.sarif, each one run with its own automationDetails.id,
// atomically. This is the shape GitHub code scanning accepts at MSP scale (at
// most 20 runs and 25,000 results per upload). It returns the paths written.
func WriteSARIFFiles(dir string, r *assess.Report, opts Options) ([]string, error) {
	if r == nil {
		return nil, errors.New("rendering report: nil report")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	opts.SARIFPerSubject = true
	var paths []string
	for _, g := range sarifGroups(r, opts) {
		name := safeFileName(g.subject) + ".sarif"
		path := filepath.Join(dir, name)
		err := atomicfile.Write(path, 0o600, func(w io.Writer) error {
			bw := bufio.NewWriterSize(w, 64<<10)
			if err := writeSARIFGroups(bw, r, opts, []sarifGroup{g}); err != nil {
				return err
			}
			return bw.Flush()
		})
		if err != nil {
			return paths, fmt.Errorf("writing %s: %w", path, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// safeFileName keeps letters, digits, dot, dash and underscore.
func safeFileName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '.' {
		return "_" + string(b)
	}
	return string(b)
}

// sarifResultFor converts one assessment result.
func sarifResultFor(res *assess.Result, index map[string]int) *sarifResult {
	sr := sarifResult{RuleID: res.Control, RuleIndex: index[res.Control], Kind: "fail", Level: "none",
		Message: sarifText{Text: sarifMessage(res)},
		PartialFingerprints: map[string]string{
			"firebreakResult/v1": fingerprint(res.Control, res.Subject, res.Object),
		},
		Properties: map[string]any{"subject": res.Subject, "status": string(res.Status)},
	}
	if res.Object != "" {
		sr.Properties["object"] = res.Object
	}
	switch res.Status {
	case assess.StatusFail:
		sr.Level = sarifLevel(res.Severity)
	case assess.StatusExcepted:
		sr.Level = sarifLevel(res.Severity)
		just := "excepted"
		if x := res.Exception; x != nil {
			just = "exception owned by " + x.Owner + ": " + x.Reason
			if x.Expires != nil {
				just += " (until " + x.Expires.String() + ")"
			}
		}
		sr.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted", Justification: just}}
	case assess.StatusAttested:
		sr.Kind = "pass"
		if a := res.Attestation; a != nil {
			sr.Properties["attestedBy"] = a.By
			if a.Expires != nil {
				sr.Properties["attestationExpires"] = a.Expires.String()
			}
		}
	case assess.StatusNotEvaluable:
		sr.Kind = "review"
		if len(res.Missing) > 0 {
			sr.Properties["missing"] = res.Missing
		}
	case assess.StatusPass:
		sr.Kind = "pass"
	case assess.StatusNotApplicable:
		sr.Kind = "notApplicable"
	}
	logical := []sarifLogicalLocation{{Name: res.Subject, Kind: "tenant"}}
	if res.Object != "" {
		logical = append(logical, sarifLogicalLocation{Name: res.Object, FullyQualifiedName: res.Subject + "/" + res.Object, Kind: "object"})
	}
	id := 1
	for _, ev := range res.Evidence {
		if ev.Pos.File == "" {
			continue
		}
		loc := sarifLocation{PhysicalLocation: &sarifPhysical{
			ArtifactLocation: sarifArtifact{URI: fileURI(ev.Pos.File)},
			Region:           region(ev.Pos.Line, ev.Pos.Col),
		}, Message: &sarifText{Text: evidenceText(ev)}}
		if len(sr.Locations) == 0 {
			loc.LogicalLocations = logical
			sr.Locations = append(sr.Locations, loc)
			continue
		}
		loc.ID = id
		id++
		sr.RelatedLocations = append(sr.RelatedLocations, loc)
	}
	if len(sr.Locations) == 0 {
		sr.Locations = []sarifLocation{{LogicalLocations: logical}}
	}
	return &sr
}

func region(line, col int) *sarifRegion {
	if line < 1 {
		return nil
	}
	if col < 1 {
		col = 0
	}
	return &sarifRegion{StartLine: line, StartColumn: col}
}

func sarifMessage(res *assess.Result) string {
	var b strings.Builder
	b.WriteString(res.Subject)
	if res.Object != "" {
		b.WriteString("/" + res.Object)
	}
	b.WriteString(": ")
	if res.Message != "" {
		b.WriteString(res.Message)
	} else {
		b.WriteString(res.Title)
	}
	if res.Status == assess.StatusNotEvaluable && len(res.Missing) > 0 {
		b.WriteString(" (missing evidence: " + strings.Join(res.Missing, ", ") + ")")
	}
	return b.String()
}

// ruleName is a PascalCase identifier from a title ("MFA on tools" → "MfaOnTools").
func ruleName(title string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(title, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		b.WriteString(strings.ToUpper(w[:1]) + strings.ToLower(w[1:]))
	}
	return b.String()
}

func ruleTags(ri ruleInfo) []string {
	tags := []string{"security", "AA22-131A"}
	if ri.heading != "" {
		tags = append(tags, ri.heading)
	}
	return tags
}
