package report

import (
	"bufio"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/atomicfile"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Formats lists the accepted format names, in the order help text shows them.
var Formats = []string{"table", "json", "html", "csv", "sarif", "oscal"}

// ErrUnknownFormat is returned by Write for a format not in Formats.
var ErrUnknownFormat = errors.New("unknown report format")

// Options tune rendering. The zero value is valid.
type Options struct {
	// Color enables ANSI colour in the table format. Decide it with
	// UseColor (a terminal, no --no-color, no NO_COLOR).
	Color bool
	// Catalog, when set, supplies rule text (rationale, references, heading
	// names) for SARIF, OSCAL and HTML; without it they are built from the
	// results alone.
	Catalog *catalog.Catalog
	// ToolVersion is reported in SARIF and OSCAL metadata ("dev" if empty).
	ToolVersion string
	// IncludePassing adds pass and not-applicable results to the CSV and
	// SARIF outputs (the table, JSON, HTML and OSCAL always cover every result).
	IncludePassing bool
	// IncludeUnknown adds not-evaluable results to the SARIF output; without
	// it SARIF carries only results a code-scanning platform can act on
	// (fail and excepted, plus pass, attested and not-applicable with
	// IncludePassing).
	IncludeUnknown bool
	// SARIFPerSubject writes one SARIF run per subject (the MSP and each
	// tenant), each with its own automationDetails.id
	// ("firebreak/<subject>/"), so a code-scanning platform tracks each
	// tenant as its own analysis category.
	SARIFPerSubject bool
	// SARIFMaxResults caps the results of one SARIF run (default 25,000,
	// GitHub code scanning's hard limit; negative for no cap). A run over
	// the cap keeps the most severe results (the formats' common order) and
	// says in a tool execution notification how many it left out.
	SARIFMaxResults int
	// OnTruncate, when set, is told about every SARIF run cut at
	// SARIFMaxResults, so a command can warn.
	OnTruncate func(subject string, kept, total int)
	// TopControls is how many failing controls the table lists (default 15;
	// negative for all).
	TopControls int
	// TableMaxSubjects is how many subjects the table lists, the MSP and the
	// worst tenants (default 40; negative for all).
	TableMaxSubjects int
	// MatrixMaxSubjects caps the columns of the HTML controls × tenants
	// matrix (default 80, worst first); findings are always all listed.
	MatrixMaxSubjects int
}

func (o Options) toolVersion() string {
	if o.ToolVersion == "" {
		return "dev"
	}
	return o.ToolVersion
}

// Write renders r in format to w.
func Write(w io.Writer, format string, r *assess.Report, opts Options) error {
	if r == nil {
		return errors.New("rendering report: nil report")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var err error
	switch format {
	case "table", "":
		err = writeTable(bw, r, opts)
	case "json":
		err = writeJSON(bw, r)
	case "html":
		err = writeHTML(bw, r, opts)
	case "csv":
		err = writeCSV(bw, r, opts)
	case "sarif":
		err = writeSARIF(bw, r, opts)
	case "oscal":
		err = writeOSCAL(bw, r, opts)
	default:
		return fmt.Errorf("%w %q (expected one of %s)", ErrUnknownFormat, format, strings.Join(Formats, ", "))
	}
	if err != nil {
		return fmt.Errorf("rendering %s report: %w", format, err)
	}
	return bw.Flush()
}

// WriteFile renders r into path atomically: it writes a temporary file in
// the same directory (mode 0600: a report names every path into every
// customer) and renames it over path only when rendering and
// writing succeeded, so a failed run never leaves a half-written report.
func WriteFile(path, format string, r *assess.Report, opts Options) error {
	return atomicfile.Write(path, 0o600, func(w io.Writer) error { return Write(w, format, r, opts) })
}

// FormatFromPath guesses a format from an output file's extension
// (.json, .html/.htm, .csv, .sarif, .oscal.json); "" when it cannot tell.
func FormatFromPath(path string) string {
	p := strings.ToLower(path)
	switch {
	case strings.HasSuffix(p, ".oscal.json"):
		return "oscal"
	case strings.HasSuffix(p, ".sarif"), strings.HasSuffix(p, ".sarif.json"):
		return "sarif"
	case strings.HasSuffix(p, ".json"):
		return "json"
	case strings.HasSuffix(p, ".html"), strings.HasSuffix(p, ".htm"):
		return "html"
	case strings.HasSuffix(p, ".csv"):
		return "csv"
	case strings.HasSuffix(p, ".txt"):
		return "table"
	}
	return ""
}

// statusRank orders statuses for a matrix cell: the worst wins
// (assess.Status.Rank, the order the dashboard uses too).
func statusRank(s assess.Status) int { return s.Rank() }

// isFinding reports whether a result needs attention (shown by default in
// CSV and SARIF): everything except pass and not-applicable.
func isFinding(s assess.Status) bool {
	return s != assess.StatusPass && s != assess.StatusNotApplicable
}

// view is the report reshaped for the human formats.
type view struct {
	r        *assess.Report
	subjects []assess.Score // MSP first, then tenants worst first
	names    map[string]string
	controls []*controlView // by severity desc, then failing subjects desc, then id
	byID     map[string]*controlView
	status   map[assess.Status]int
	failSev  map[string]int // failing results by severity
	findings []*assess.Result
}

type controlView struct {
	ID, Title, Severity, Remediation string
	Heading                          int
	Cells                            map[string]*cell // subject -> cell
	FailSubjects                     int
	Fails                            int
	Results                          []*assess.Result // non-pass results of this control
}

type cell struct {
	Status assess.Status
	Count  int // results of the worst status
	Total  int
}

func newView(r *assess.Report) *view {
	v := &view{r: r, names: map[string]string{}, byID: map[string]*controlView{},
		status: map[assess.Status]int{}, failSev: map[string]int{}}
	v.subjects = orderScores(r.Scores)
	for _, s := range v.subjects {
		v.names[s.Subject] = s.Name
	}
	for i := range r.Results {
		res := &r.Results[i]
		v.status[res.Status]++
		c := v.byID[res.Control]
		if c == nil {
			c = &controlView{ID: res.Control, Title: res.Title, Severity: res.Severity, Remediation: res.Remediation,
				Heading: res.Heading, Cells: map[string]*cell{}}
			v.byID[res.Control] = c
			v.controls = append(v.controls, c)
		}
		ce := c.Cells[res.Subject]
		if ce == nil {
			ce = &cell{}
			c.Cells[res.Subject] = ce
		}
		ce.Total++
		switch {
		case statusRank(res.Status) > statusRank(ce.Status):
			ce.Status, ce.Count = res.Status, 1
		case res.Status == ce.Status:
			ce.Count++
		}
		if res.Status == assess.StatusFail {
			v.failSev[strings.ToLower(res.Severity)]++
			c.Fails++
		}
		if isFinding(res.Status) {
			v.findings = append(v.findings, res)
			c.Results = append(c.Results, res)
		}
	}
	for _, c := range v.controls {
		for _, ce := range c.Cells {
			if ce.Status == assess.StatusFail {
				c.FailSubjects++
			}
		}
	}
	sort.SliceStable(v.controls, func(i, j int) bool {
		a, b := v.controls[i], v.controls[j]
		if (a.Fails > 0) != (b.Fails > 0) {
			return a.Fails > 0
		}
		if ra, rb := catalog.Severity(strings.ToLower(a.Severity)).Rank(), catalog.Severity(strings.ToLower(b.Severity)).Rank(); ra != rb {
			return ra > rb
		}
		if a.FailSubjects != b.FailSubjects {
			return a.FailSubjects > b.FailSubjects
		}
		return a.ID < b.ID
	})
	sortResults(v.findings)
	for _, c := range v.controls {
		sortResults(c.Results)
	}
	return v
}

// orderScores puts the MSP first, then tenants by score ascending (worst
// first), then by subject id.
func orderScores(in []assess.Score) []assess.Score {
	s := append([]assess.Score(nil), in...)
	sort.SliceStable(s, func(i, j int) bool {
		mi, mj := s[i].Subject == estate.MSP, s[j].Subject == estate.MSP
		if mi != mj {
			return mi
		}
		if s[i].Score != s[j].Score {
			return s[i].Score < s[j].Score
		}
		return s[i].Subject < s[j].Subject
	})
	return s
}

// selectResults returns pointers to the results to render — every finding,
// or every result with all — in the order every format lists them.
func selectResults(r *assess.Report, all bool) []*assess.Result {
	rows := make([]*assess.Result, 0, len(r.Results))
	for i := range r.Results {
		if all || isFinding(r.Results[i].Status) {
			rows = append(rows, &r.Results[i])
		}
	}
	sortResults(rows)
	return rows
}

// sortResults orders results by status (fail first), severity, control,
// subject and object, so every format lists them the same way.
func sortResults(rs []*assess.Result) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if ra, rb := statusRank(a.Status), statusRank(b.Status); ra != rb {
			return ra > rb
		}
		if ra, rb := catalog.Severity(strings.ToLower(a.Severity)).Rank(), catalog.Severity(strings.ToLower(b.Severity)).Rank(); ra != rb {
			return ra > rb
		}
		if a.Control != b.Control {
			return a.Control < b.Control
		}
		if a.Subject != b.Subject {
			if a.Subject == estate.MSP || b.Subject == estate.MSP {
				return a.Subject == estate.MSP
			}
			return a.Subject < b.Subject
		}
		return a.Object < b.Object
	})
}

// stableUUID derives a version-5-style UUID from the parts, so the same
// report always renders the same identifiers (golden files, re-imports).
func stableUUID(parts ...string) string {
	h := sha1.New()
	h.Write([]byte("firebreak\x00"))
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var sum [sha1.Size]byte
	b := h.Sum(sum[:0])[:16]
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// evidenceText is "kind id (detail) at file:line".
func evidenceText(e assess.Evidence) string {
	var b strings.Builder
	b.WriteString(e.Kind)
	if e.ID != "" {
		b.WriteString(" ")
		b.WriteString(e.ID)
	}
	if e.Detail != "" {
		b.WriteString(" (")
		b.WriteString(e.Detail)
		b.WriteString(")")
	}
	if p := e.Pos.String(); p != "" {
		b.WriteString(" at ")
		b.WriteString(p)
	}
	return b.String()
}

// firstPos is the first evidence position of a result, if any.
func firstPos(r *assess.Result) (estate.Pos, bool) {
	for _, e := range r.Evidence {
		if e.Pos.File != "" {
			return e.Pos, true
		}
	}
	return estate.Pos{}, false
}

// failingBySeverity counts failing results per subject and lower-cased
// severity.
func failingBySeverity(r *assess.Report) map[string]map[string]int {
	failBy := map[string]map[string]int{}
	for i := range r.Results {
		res := &r.Results[i]
		if res.Status != assess.StatusFail {
			continue
		}
		m := failBy[res.Subject]
		if m == nil {
			m = map[string]int{}
			failBy[res.Subject] = m
		}
		m[strings.ToLower(res.Severity)]++
	}
	return failBy
}
