package contract

import (
	_ "embed"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

//go:embed clauses.yaml
var builtinPatterns []byte

// Status of one clause in one document.
const (
	Present = "present"
	Weak    = "weak"
	Absent  = "absent"
)

// Patterns is the phrase data Check uses (clauses.yaml's shape).
type Patterns struct {
	Hedges    []string  `yaml:"hedges"`
	Negations []string  `yaml:"negations"`
	Clauses   []Pattern `yaml:"clauses"`
}

// Pattern finds one clause.
type Pattern struct {
	ID           string     `yaml:"id"`
	Title        string     `yaml:"title"`
	All          [][]string `yaml:"all"`
	Hedges       []string   `yaml:"hedges"`
	IgnoreHedges []string   `yaml:"ignore_hedges"`
	MinDays      int        `yaml:"min_days"`
	MaxHours     int        `yaml:"max_hours"`
}

// Builtin returns the shipped patterns.
func Builtin() (*Patterns, error) {
	return parsePatterns("clauses.yaml", builtinPatterns)
}

// LoadPatterns returns the shipped patterns extended by each file: a
// clause with a known id adds its terms to that clause, a new id adds a
// clause.
func LoadPatterns(files ...string) (*Patterns, error) {
	p, err := Builtin()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		x, err := parsePatterns(f, b)
		if err != nil {
			return nil, err
		}
		p.merge(x)
	}
	return p, nil
}

func parsePatterns(name string, b []byte) (*Patterns, error) {
	var p Patterns
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for i, c := range p.Clauses {
		if c.ID == "" {
			return nil, fmt.Errorf("%s: clauses[%d]: id is required", name, i)
		}
		for j, g := range c.All {
			if len(g) == 0 {
				return nil, fmt.Errorf("%s: clause %s: all[%d] is empty", name, c.ID, j)
			}
		}
	}
	return &p, nil
}

func (p *Patterns) merge(x *Patterns) {
	p.Hedges = append(p.Hedges, x.Hedges...)
	p.Negations = append(p.Negations, x.Negations...)
	for _, c := range x.Clauses {
		found := false
		for i := range p.Clauses {
			if p.Clauses[i].ID != c.ID {
				continue
			}
			found = true
			o := &p.Clauses[i]
			for j, g := range c.All {
				if j < len(o.All) {
					o.All[j] = append(o.All[j], g...)
				} else {
					o.All = append(o.All, g)
				}
			}
			o.Hedges = append(o.Hedges, c.Hedges...)
			o.IgnoreHedges = append(o.IgnoreHedges, c.IgnoreHedges...)
			if c.Title != "" {
				o.Title = c.Title
			}
			if c.MinDays != 0 {
				o.MinDays = c.MinDays
			}
			if c.MaxHours != 0 {
				o.MaxHours = c.MaxHours
			}
		}
		if !found {
			p.Clauses = append(p.Clauses, c)
		}
	}
}

// Finding is one clause's verdict in one document.
type Finding struct {
	Clause     string `json:"clause"`
	Title      string `json:"title"`
	Status     string `json:"status"`
	Quote      string `json:"quote,omitempty"`
	Page       int    `json:"page,omitempty"`
	Reason     string `json:"reason"`
	Candidates int    `json:"candidates"`
}

// Report is Check's answer for one document.
type Report struct {
	Document
	PageCount int       `json:"pages"`
	Tenant    string    `json:"tenant,omitempty"`
	Findings  []Finding `json:"findings"`
}

// Present lists the ids of the clauses found present, in estate order
// then pattern order: what a reviewer confirms into the tenant's contract.
func (r *Report) Present() []string {
	var ids []string
	for _, f := range r.Findings {
		if f.Status == Present {
			ids = append(ids, f.Clause)
		}
	}
	return ids
}

// Count returns how many findings have status s.
func (r *Report) Count(s string) int {
	n := 0
	for _, f := range r.Findings {
		if f.Status == s {
			n++
		}
	}
	return n
}

// sentence is a stretch of text that a finding quotes.
type sentence struct {
	text  string // as written, whitespace collapsed
	lower string // normalised for matching
	page  int
}

// Check finds each clause of p in d.
func Check(d *Document, p *Patterns) *Report {
	sents := sentences(d.Pages)
	hedges := compileTerms(p.Hedges)
	negs := compileTerms(p.Negations)
	r := &Report{Document: *d, PageCount: len(d.Pages)}
	for _, c := range orderClauses(p.Clauses) {
		r.Findings = append(r.Findings, checkClause(c, sents, hedges, negs))
	}
	return r
}

// orderClauses puts the advisory's clauses first, in estate.Clauses
// order, then any added by pattern files.
func orderClauses(cs []Pattern) []Pattern {
	var out []Pattern
	used := map[string]bool{}
	for _, id := range estate.Clauses {
		for _, c := range cs {
			if c.ID == id && !used[id] {
				out = append(out, c)
				used[id] = true
			}
		}
	}
	for _, c := range cs {
		if !used[c.ID] {
			out = append(out, c)
			used[c.ID] = true
		}
	}
	return out
}

func checkClause(c Pattern, sents []sentence, hedges, negs []term) Finding {
	f := Finding{Clause: c.ID, Title: c.Title, Status: Absent}
	groups := make([][]term, len(c.All))
	for i, g := range c.All {
		groups[i] = compileTerms(g)
	}
	own := compileTerms(c.Hedges)
	ignore := map[string]bool{}
	for _, h := range c.IgnoreHedges {
		ignore[strings.ToLower(h)] = true
	}
	var weak *Finding
	for _, s := range sents {
		if len(groups) == 0 || !matchesAll(s.lower, groups) {
			continue
		}
		f.Candidates++
		reason := ""
		if t, ok := firstMatch(s.lower, negs); ok {
			reason = fmt.Sprintf("negated (%q)", t)
		} else if t, ok := firstHedge(s.lower, hedges, own, ignore); ok {
			reason = fmt.Sprintf("hedged (%q): not a firm obligation", t)
		} else if c.MinDays > 0 {
			if days, ok := longestPeriodDays(s.lower); !ok {
				reason = fmt.Sprintf("no retention period stated (at least %d days required)", c.MinDays)
			} else if days < c.MinDays {
				reason = fmt.Sprintf("retention of %d days is below the %d required", days, c.MinDays)
			}
		} else if c.MaxHours > 0 {
			if hours, ok := shortestPeriodHours(s.lower); !ok {
				reason = fmt.Sprintf("no notification time stated (at most %d hours expected)", c.MaxHours)
			} else if hours > c.MaxHours {
				reason = fmt.Sprintf("notification within %d hours exceeds %d", hours, c.MaxHours)
			}
		}
		if reason == "" {
			if f.Status != Present {
				f.Status, f.Quote, f.Page, f.Reason = Present, quote(s.text), s.page, "stated as an obligation"
			}
			continue
		}
		if weak == nil {
			weak = &Finding{Quote: quote(s.text), Page: s.page, Reason: reason}
		}
	}
	switch {
	case f.Status == Present:
	case weak != nil:
		f.Status, f.Quote, f.Page, f.Reason = Weak, weak.Quote, weak.Page, weak.Reason
	default:
		f.Reason = "no sentence mentions it"
	}
	return f
}

func quote(s string) string {
	const max = 400
	if len(s) <= max {
		return s
	}
	cut := strings.LastIndexByte(s[:max], ' ')
	if cut < max/2 {
		cut = max
	}
	return s[:cut] + " …"
}

// term is a compiled pattern term: a literal matched at a word start,
// ending at a word boundary unless it is a stem.
type term struct {
	text string
	stem bool
}

func compileTerms(ts []string) []term {
	out := make([]term, 0, len(ts))
	for _, t := range ts {
		t = normalise(t)
		if t == "" {
			continue
		}
		stem := strings.HasSuffix(t, "*")
		out = append(out, term{text: strings.TrimSuffix(t, "*"), stem: stem})
	}
	return out
}

func (t term) in(s string) bool {
	for off := 0; ; {
		i := strings.Index(s[off:], t.text)
		if i < 0 {
			return false
		}
		i += off
		end := i + len(t.text)
		if (i == 0 || !isWord(s[i-1])) && (t.stem || end == len(s) || !isWord(s[end])) {
			return true
		}
		off = i + 1
	}
}

func isWord(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b >= 0x80
}

func matchesAll(s string, groups [][]term) bool {
	for _, g := range groups {
		if _, ok := firstMatch(s, g); !ok {
			return false
		}
	}
	return true
}

func firstMatch(s string, ts []term) (string, bool) {
	for _, t := range ts {
		if t.in(s) {
			return t.text, true
		}
	}
	return "", false
}

func firstHedge(s string, shared, own []term, ignore map[string]bool) (string, bool) {
	for _, set := range [][]term{shared, own} {
		for _, t := range set {
			if !ignore[t.text] && t.in(s) {
				return t.text, true
			}
		}
	}
	return "", false
}

// normalise lower-cases, folds typographic quotes and dashes, and
// collapses whitespace.
func normalise(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\u2018', '\u2019', '\u02bc':
			return '\''
		case '\u201c', '\u201d':
			return '"'
		case '\u2010', '\u2011', '\u2012', '\u2013', '\u2014':
			return '-'
		}
		if unicode.IsSpace(r) {
			return ' '
		}
		return unicode.ToLower(r)
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// sentences splits pages into sentences: at . ; ! ? followed by a space,
// at blank lines, and at list bullets, joining lines broken inside a
// sentence (and words hyphenated across a line break).
func sentences(pages []string) []sentence {
	var out []sentence
	for pi, p := range pages {
		p = strings.ReplaceAll(p, "\r\n", "\n")
		for _, para := range splitParagraphs(p) {
			for _, s := range splitSentences(para) {
				text := strings.Join(strings.Fields(s), " ")
				if len(text) < 8 {
					continue
				}
				out = append(out, sentence{text: text, lower: normalise(text), page: pi + 1})
			}
		}
	}
	return out
}

var hyphenBreak = regexp.MustCompile(`([a-z])-\n\s*([a-z])`)

func splitParagraphs(p string) []string {
	p = hyphenBreak.ReplaceAllString(p, "$1-$2")
	var paras []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			paras = append(paras, strings.Join(cur, " "))
			cur = nil
		}
	}
	for _, line := range strings.Split(p, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			flush()
		case strings.HasPrefix(t, "#"):
			// A Markdown heading names a section; it states no
			// obligation and must not run into the first clause.
			flush()
		case isBullet(t):
			flush()
			cur = append(cur, strings.TrimLeft(t, "*-•· \t"))
		default:
			cur = append(cur, t)
		}
	}
	flush()
	return paras
}

var numbered = regexp.MustCompile(`^(\(?[0-9]+(\.[0-9]+)*[.)]|[0-9]+(\.[0-9]+)+|\(?[a-z][.)])\s`)

func isBullet(t string) bool {
	return strings.HasPrefix(t, "- ") || strings.HasPrefix(t, "* ") || strings.HasPrefix(t, "• ") || numbered.MatchString(t)
}

func splitSentences(para string) []string {
	var out []string
	start := 0
	for i := 0; i < len(para); i++ {
		switch para[i] {
		case '.', ';', '!', '?':
			if i+1 < len(para) && para[i+1] == ' ' && !abbreviation(para[start:i]) && !(start == 0 && runInHeading(para[:i])) {
				out = append(out, para[start:i+1])
				start = i + 2
			}
		}
	}
	if start < len(para) {
		out = append(out, para[start:])
	}
	return out
}

// runInHeading reports whether the text before a full stop is a clause's
// run-in heading ("7.10 Business Continuity."): a few words, their number
// aside, that belong with the sentence they introduce, which alone would
// quote a heading as the clause.
func runInHeading(before string) bool {
	w := strings.Fields(before)
	if len(w) > 0 && numbered.MatchString(w[0]+" ") {
		w = w[1:]
	}
	return len(w) <= 3
}

// abbreviation reports whether the text before a full stop ends in one
// that does not end a sentence (e.g., i.e., cl. 4).
func abbreviation(before string) bool {
	w := before
	if i := strings.LastIndexByte(before, ' '); i >= 0 {
		w = before[i+1:]
	}
	switch strings.ToLower(w) {
	case "e.g", "i.e", "etc", "cl", "no", "sec", "para", "incl", "approx", "art":
		return true
	}
	return len(w) == 1 || (len(w) > 0 && w[len(w)-1] >= '0' && w[len(w)-1] <= '9' && !strings.ContainsAny(w, "abcdefghijklmnopqrstuvwxyz"))
}

// Periods: "12 months", "twelve (12) months", "one year", "180 days",
// "24 hours", "within two business days".
var (
	// The figure may stand alone in brackets after words the list lacks
	// ("one hundred eighty (180) days"); "hrs" and "12-month" count too.
	periodRe    = regexp.MustCompile(`(?:\b([0-9]+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|eighteen|twenty-four|thirty|forty-eight|seventy-two|ninety)(?: \(([0-9]+)\))?|\(([0-9]+)\))(?: calendar| business| working)?[ -](hours?|hrs?|days?|weeks?|months?|years?)\b`)
	numberWords = map[string]int{"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
		"eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "eighteen": 18, "twenty-four": 24,
		"thirty": 30, "forty-eight": 48, "seventy-two": 72, "ninety": 90}
)

// periods returns every period in s in hours.
func periods(s string) []int {
	var out []int
	for _, m := range periodRe.FindAllStringSubmatch(s, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			n = numberWords[m[1]]
		}
		for _, fig := range m[2:4] {
			if v, err := strconv.Atoi(fig); err == nil {
				n = v
			}
		}
		unit := strings.TrimSuffix(m[4], "s")
		h := map[string]int{"hour": 1, "hr": 1, "day": 24, "week": 24 * 7, "month": 24 * 30, "year": 24 * 365}[unit]
		if unit == "month" {
			// Six months is the advisory's floor; 30.5 days a month makes
			// "6 months" 183 days, as the floor is written.
			out = append(out, int(float64(n)*30.5*24+0.5))
			continue
		}
		out = append(out, n*h)
	}
	return out
}

func longestPeriodDays(s string) (int, bool) {
	ps := periods(s)
	if len(ps) == 0 {
		return 0, false
	}
	return slices.Max(ps) / 24, true
}

func shortestPeriodHours(s string) (int, bool) {
	ps := periods(s)
	if len(ps) == 0 {
		return 0, false
	}
	return slices.Min(ps), true
}
