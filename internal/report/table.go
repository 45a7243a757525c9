package report

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// UseColor reports whether the table should be coloured on w: w is a
// terminal, noColor (the --no-color flag) is false and the NO_COLOR
// environment variable is unset.
func UseColor(w io.Writer, noColor bool) bool {
	if noColor || os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiGreen  = "\x1b[32m"
	ansiBlue   = "\x1b[34m"
	ansiMag    = "\x1b[35m"
	ansiBRed   = "\x1b[1;31m"
)

type painter bool

func (p painter) paint(code, s string) string {
	if !p || code == "" || s == "" {
		return s
	}
	return code + s + ansiReset
}

func sevColor(sev string) string {
	switch strings.ToLower(sev) {
	case "critical":
		return ansiBRed
	case "high":
		return ansiRed
	case "medium":
		return ansiYellow
	case "low":
		return ansiBlue
	}
	return ansiDim
}

func scoreColor(s float64) string {
	switch {
	case s < 50:
		return ansiRed
	case s < 80:
		return ansiYellow
	}
	return ansiGreen
}

// pad right-pads s (rune-aware) to n columns, truncating with "…".
func pad(s string, n int) string {
	if utf8.RuneCountInString(s) > n {
		r := []rune(s)
		if n <= 1 {
			return string(r[:n])
		}
		return string(r[:n-1]) + "…"
	}
	return s + strings.Repeat(" ", n-utf8.RuneCountInString(s))
}

func lpad(s string, n int) string {
	if k := utf8.RuneCountInString(s); k < n {
		return strings.Repeat(" ", n-k) + s
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// writeTable renders the compact terminal report: headline counts, one row
// per subject (MSP first, then tenants worst first) and the failing controls
// most worth fixing, each with one example location.
func writeTable(w io.Writer, r *assess.Report, opts Options) error {
	p := painter(opts.Color)
	v := newView(r)
	ew := &errWriter{w: w}

	ew.printf("%s — AA22-131A assessment at %s\n", p.paint(ansiBold, r.Provider), r.At.UTC().Format("2006-01-02 15:04 MST"))
	ew.printf("%d results: %s fail · %d pass · %d not evaluable · %d attested · %d excepted · %d not applicable\n",
		len(r.Results), p.paint(ansiRed, strconv.Itoa(v.status[assess.StatusFail])), v.status[assess.StatusPass],
		v.status[assess.StatusNotEvaluable], v.status[assess.StatusAttested], v.status[assess.StatusExcepted],
		v.status[assess.StatusNotApplicable])
	if v.status[assess.StatusFail] > 0 {
		var parts []string
		for _, sv := range catalog.Severities {
			sev := string(sv)
			if n := v.failSev[sev]; n > 0 {
				parts = append(parts, p.paint(sevColor(sev), fmt.Sprintf("%d %s", n, sev)))
			}
		}
		ew.printf("failing: %s\n", strings.Join(parts, " · "))
	}
	ew.printf("\n")

	// Per-subject rows: failing counts by severity for each subject.
	failBy := failingBySeverity(r)
	shownSubjects := v.subjects
	maxSubj := opts.TableMaxSubjects
	if maxSubj == 0 {
		maxSubj = 40
	}
	if maxSubj > 0 && len(shownSubjects) > maxSubj {
		shownSubjects = shownSubjects[:maxSubj]
	}
	subjW, nameW := len("SUBJECT"), len("NAME")
	for _, s := range shownSubjects {
		subjW = max(subjW, utf8.RuneCountInString(s.Subject))
		nameW = max(nameW, utf8.RuneCountInString(s.Name))
	}
	subjW, nameW = min(subjW, 24), min(nameW, 30)
	ew.printf("%s\n", p.paint(ansiBold, fmt.Sprintf("%s  %s  %5s  %4s %4s %4s %4s  %4s %5s",
		pad("SUBJECT", subjW), pad("NAME", nameW), "SCORE", "CRIT", "HIGH", "MED", "LOW", "PASS", "OTHER")))
	for _, s := range shownSubjects {
		m := failBy[s.Subject]
		cnt := func(sev string) string {
			n := m[sev]
			if n == 0 {
				return p.paint(ansiDim, lpad("·", 4))
			}
			return p.paint(sevColor(sev), lpad(strconv.Itoa(n), 4))
		}
		subj := pad(s.Subject, subjW)
		if s.Subject == estate.MSP {
			subj = p.paint(ansiMag, subj)
		}
		ew.printf("%s  %s  %s  %s %s %s %s  %4d %5d\n", subj, pad(s.Name, nameW),
			p.paint(scoreColor(s.Score), lpad(assess.ScoreText(s.Score), 5)),
			cnt("critical"), cnt("high"), cnt("medium"), cnt("low"), s.Pass, s.Other)
	}
	if n := len(v.subjects) - len(shownSubjects); n > 0 {
		ew.printf("… and %d more %s with higher scores (every subject: --format html, csv or json)\n", n, plural(n, "tenant", "tenants"))
	}

	// Failing controls, most severe and widest first.
	top := opts.TopControls
	if top == 0 {
		top = 15
	}
	var failing []*controlView
	for _, c := range v.controls {
		if c.Fails > 0 {
			failing = append(failing, c)
		}
	}
	if len(failing) > 0 {
		ew.printf("\n%s\n", p.paint(ansiBold, "FAILING CONTROLS (most severe and widest first)"))
		shown := failing
		if top > 0 && len(shown) > top {
			shown = shown[:top]
		}
		idW := len("CONTROL")
		for _, c := range shown {
			idW = max(idW, len(c.ID))
		}
		ew.printf("%s\n", p.paint(ansiBold, fmt.Sprintf("%-8s  %s  %8s  %s  %s", "SEVERITY", pad("CONTROL", idW), "SUBJECTS", pad("TITLE", 48), "EXAMPLE")))
		for _, c := range shown {
			ex := ""
			for _, res := range c.Results {
				if res.Status != assess.StatusFail {
					continue
				}
				who := res.Subject
				if res.Object != "" {
					who += "/" + res.Object
				}
				ex = who
				if pos, ok := firstPos(res); ok {
					ex = fmt.Sprintf("%s:%d %s", pos.File, pos.Line, who)
				}
				break
			}
			ew.printf("%s  %s  %8s  %s  %s\n", p.paint(sevColor(c.Severity), pad(strings.ToLower(c.Severity), 8)),
				pad(c.ID, idW), strconv.Itoa(c.FailSubjects), pad(c.Title, 48), p.paint(ansiDim, ex))
		}
		if len(shown) < len(failing) {
			ew.printf("… and %d more failing %s\n", len(failing)-len(shown), plural(len(failing)-len(shown), "control", "controls"))
		}
	}
	ew.printf("\nEvery finding with evidence and remediation: --format html -o report.html (or json, csv, sarif, oscal).\n")
	return ew.err
}

// errWriter keeps the first write error so rendering code stays linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, args...)
}
