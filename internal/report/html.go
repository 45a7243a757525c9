package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

//go:embed report.html.tmpl
var htmlTemplate string

type htmlData struct {
	Provider, At, ToolVersion string
	KEV                       string // KEVLine: the KEV catalog the assessment used
	Total, Fails, Subjects    int
	PassRate                  string
	Status                    []htmlStat
	FailSev                   []htmlStat
	MSP                       *htmlSubject
	TenantAvg                 string
	Worst                     []htmlSubject
	Headings                  []HeadingCount
	Cols                      []htmlSubject
	Rows                      []htmlMatrixRow
	MatrixNote                string
	Groups                    []htmlGroup
	Sources                   []string
}

type htmlStat struct {
	Label, Class string
	N            int
}

type htmlSubject struct {
	ID, Name, Score, ScoreClass string
	Bar                         int
	Crit, High, Med, Low, Pass  int
	Other                       int
}

// HeadingCount is one advisory heading's results: Pass counts passing and
// attested results, Fail failing ones, Other the rest but not applicable.
type HeadingCount struct {
	No                     int
	Name                   string
	Pass, Fail, Other      int
	PassPct, FailPct, OPct int
}

// HeadingCoverage counts results per advisory heading, headings 1..12 in
// order (all twelve, empty or not), then custom policies without one.
func HeadingCoverage(results []assess.Result) []HeadingCount {
	hp := map[int]*HeadingCount{}
	for i := range results {
		res := &results[i]
		h := hp[res.Heading]
		if h == nil {
			h = &HeadingCount{No: res.Heading, Name: catalog.HeadingName(res.Heading)}
			hp[res.Heading] = h
		}
		switch res.Status {
		case assess.StatusPass, assess.StatusAttested:
			h.Pass++
		case assess.StatusFail:
			h.Fail++
		case assess.StatusNotApplicable:
		default:
			h.Other++
		}
	}
	pct := func(h *HeadingCount) {
		if t := h.Pass + h.Fail + h.Other; t > 0 {
			h.PassPct, h.FailPct = 100*h.Pass/t, 100*h.Fail/t
			h.OPct = 100 - h.PassPct - h.FailPct
		}
	}
	var out []HeadingCount
	for no := 1; no <= catalog.NumHeadings; no++ {
		h := hp[no]
		if h == nil {
			h = &HeadingCount{No: no, Name: catalog.HeadingName(no)}
		}
		pct(h)
		out = append(out, *h)
	}
	if h := hp[0]; h != nil { // custom policies without a heading
		h.Name = "Custom policies"
		pct(h)
		out = append(out, *h)
	}
	return out
}

type htmlMatrixRow struct {
	ID, Title, Severity string
	Cells               []htmlCell
}

type htmlCell struct {
	Class, Text, Tip string
}

type htmlGroup struct {
	ID, Title, Severity, Heading, Rationale, Remediation string
	Refs                                                 []string
	Fails, Subjects                                      int
	Items                                                []htmlItem
}

type htmlItem struct {
	Subject, Name, Object, Status, StatusClass, Message string
	Evidence                                            []htmlEvidence
	Missing                                             []string
	Note                                                string
}

type htmlEvidence struct {
	Kind, ID, Detail, Loc string
}

func statusClass(s assess.Status) string {
	switch s {
	case assess.StatusFail:
		return "st-fail"
	case assess.StatusPass:
		return "st-pass"
	case assess.StatusNotEvaluable:
		return "st-ne"
	case assess.StatusAttested:
		return "st-att"
	case assess.StatusExcepted:
		return "st-exc"
	}
	return "st-na"
}

func statusLabel(s assess.Status) string {
	switch s {
	case assess.StatusNotEvaluable:
		return "not evaluable"
	case assess.StatusNotApplicable:
		return "not applicable"
	}
	return string(s)
}

func scoreClass(s float64) string {
	switch {
	case s < 50:
		return "bad"
	case s < 80:
		return "warn"
	}
	return "good"
}

func fmtScore(s float64) string { return assess.ScoreText(s) }

// writeHTML renders one self-contained HTML file (inline CSS and a few
// lines of inline script for filtering; no external assets). Every value is
// escaped by html/template.
func writeHTML(w io.Writer, r *assess.Report, opts Options) error {
	tmpl, err := template.New("report").Funcs(template.FuncMap{
		"lower": strings.ToLower,
	}).Parse(htmlTemplate)
	if err != nil {
		return err
	}
	return tmpl.Execute(w, buildHTMLData(r, opts))
}

// KEVLine states the KEV catalog an assessment judged by (Report.KEV):
// "KEV catalog 2025.08.25", or that there was none. The one derivation
// of the report's KEV line, the same whether the report comes from
// `firebreak assess` or from a run the dashboard stored.
func KEVLine(r *assess.Report) string {
	if r.KEV == "" {
		return "KEV: none (known-exploited flaws not flagged)"
	}
	return "KEV catalog " + r.KEV
}

func buildHTMLData(r *assess.Report, opts Options) *htmlData {
	v := newView(r)
	d := &htmlData{Provider: r.Provider, At: r.At.UTC().Format("2006-01-02 15:04 UTC"),
		ToolVersion: opts.toolVersion(), Total: len(r.Results), Fails: v.status[assess.StatusFail],
		Subjects: len(v.subjects), Sources: r.Sources, KEV: KEVLine(r)}
	for _, st := range []assess.Status{assess.StatusFail, assess.StatusPass, assess.StatusNotEvaluable, assess.StatusAttested, assess.StatusExcepted, assess.StatusNotApplicable} {
		d.Status = append(d.Status, htmlStat{Label: statusLabel(st), Class: statusClass(st), N: v.status[st]})
	}
	for _, sv := range catalog.Severities {
		sev := string(sv)
		if n := v.failSev[sev]; n > 0 {
			d.FailSev = append(d.FailSev, htmlStat{Label: sev, Class: "sev-" + sev, N: n})
		}
	}
	if judged := v.status[assess.StatusPass] + v.status[assess.StatusFail]; judged > 0 {
		d.PassRate = fmt.Sprintf("%.0f%%", 100*float64(v.status[assess.StatusPass])/float64(judged))
	} else {
		d.PassRate = "–"
	}

	failBy := failingBySeverity(r)
	subj := func(s assess.Score) htmlSubject {
		m := failBy[s.Subject]
		return htmlSubject{ID: s.Subject, Name: s.Name, Score: fmtScore(s.Score), ScoreClass: scoreClass(s.Score),
			Bar: int(math.Round(math.Max(0, math.Min(100, s.Score)))), Crit: m["critical"], High: m["high"],
			Med: m["medium"], Low: m["low"], Pass: s.Pass, Other: s.Other}
	}
	var sum float64
	n := 0
	for _, s := range v.subjects {
		hs := subj(s)
		if s.Subject == estate.MSP {
			d.MSP = &hs
			continue
		}
		sum += s.Score
		n++
		d.Worst = append(d.Worst, hs)
	}
	if n > 0 {
		d.TenantAvg = fmtScore(sum / float64(n))
	} else {
		d.TenantAvg = "–"
	}

	// Heading coverage (the dashboard draws the same bars from HeadingCoverage).
	d.Headings = HeadingCoverage(r.Results)

	// Matrix: controls × subjects (MSP first, then worst tenants).
	maxCols := opts.MatrixMaxSubjects
	if maxCols <= 0 {
		maxCols = 80
	}
	cols := v.subjects
	if len(cols) > maxCols {
		d.MatrixNote = fmt.Sprintf("Showing the %d lowest-scoring of %d subjects; every finding is listed below.", maxCols, len(cols))
		cols = cols[:maxCols]
	}
	for _, s := range cols {
		d.Cols = append(d.Cols, subj(s))
	}
	for _, c := range v.controls {
		row := htmlMatrixRow{ID: c.ID, Title: c.Title, Severity: strings.ToLower(c.Severity)}
		for _, s := range cols {
			ce := c.Cells[s.Subject]
			if ce == nil {
				row.Cells = append(row.Cells, htmlCell{Class: "st-none", Tip: s.Subject + ": not assessed"})
				continue
			}
			text := ""
			switch ce.Status {
			case assess.StatusFail:
				text = strconv.Itoa(ce.Count)
			case assess.StatusPass:
				text = "✓"
			case assess.StatusNotEvaluable:
				text = "?"
			case assess.StatusAttested:
				text = "A"
			case assess.StatusExcepted:
				text = "E"
			}
			tip := fmt.Sprintf("%s · %s: %s", c.ID, s.Subject, statusLabel(ce.Status))
			if ce.Status == assess.StatusFail {
				tip += fmt.Sprintf(" (%d of %d objects)", ce.Count, ce.Total)
			}
			row.Cells = append(row.Cells, htmlCell{Class: statusClass(ce.Status), Text: text, Tip: tip})
		}
		d.Rows = append(d.Rows, row)
	}

	// Findings grouped by control.
	for _, c := range v.controls {
		if len(c.Results) == 0 {
			continue
		}
		g := htmlGroup{ID: c.ID, Title: c.Title, Severity: strings.ToLower(c.Severity), Remediation: c.Remediation,
			Fails: c.Fails, Subjects: c.FailSubjects}
		if c.Heading > 0 {
			g.Heading = fmt.Sprintf("§%d %s", c.Heading, catalog.HeadingName(c.Heading))
		}
		if opts.Catalog != nil {
			if cc, ok := opts.Catalog.Control(c.ID); ok {
				g.Rationale = cc.Rationale
				if cc.References.Advisory != "" {
					g.Refs = append(g.Refs, cc.References.Advisory)
				}
				for _, x := range cc.References.NISTCSF {
					g.Refs = append(g.Refs, "NIST CSF 2.0 "+x)
				}
				g.Refs = append(g.Refs, cc.References.Other...)
			}
		}
		for _, res := range c.Results {
			it := htmlItem{Subject: res.Subject, Name: v.names[res.Subject], Object: res.Object,
				Status: statusLabel(res.Status), StatusClass: statusClass(res.Status), Message: res.Message, Missing: res.Missing}
			for _, e := range res.Evidence {
				loc := ""
				if e.Pos.File != "" {
					loc = e.Pos.File
					if e.Pos.Line > 0 {
						loc += ":" + strconv.Itoa(e.Pos.Line)
					}
				}
				it.Evidence = append(it.Evidence, htmlEvidence{Kind: e.Kind, ID: e.ID, Detail: e.Detail, Loc: loc})
			}
			if x := res.Exception; x != nil {
				it.Note = "Exception owned by " + x.Owner + ": " + x.Reason
				if x.Expires != nil {
					it.Note += " (expires " + x.Expires.String() + ")"
				}
			}
			if a := res.Attestation; a != nil {
				it.Note = "Attested by " + a.By
				if a.Expires != nil {
					it.Note += " until " + a.Expires.String()
				}
				if a.Note != "" {
					it.Note += ": " + a.Note
				}
			}
			g.Items = append(g.Items, it)
		}
		d.Groups = append(d.Groups, g)
	}
	return d
}
