package kev

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Ransomware values of knownRansomwareCampaignUse.
const (
	RansomwareKnown   = "Known"
	RansomwareUnknown = "Unknown"
)

// Date is a calendar date (YYYY-MM-DD) as KEV writes it.
type Date struct{ time.Time }

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return Date{}, fmt.Errorf("invalid date %q: expected YYYY-MM-DD", s)
	}
	return Date{t}, nil
}

func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Format(time.DateOnly)
}

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	p, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// Vuln is one KEV entry. The match fields (VersionUnknown, Affected,
// MatchedOn) are set only on values returned by Catalog.Match.
type Vuln struct {
	CVE                        string   `json:"cveID"`
	VendorProject              string   `json:"vendorProject"`
	Product                    string   `json:"product"`
	VulnerabilityName          string   `json:"vulnerabilityName"`
	DateAdded                  Date     `json:"dateAdded"`
	ShortDescription           string   `json:"shortDescription"`
	RequiredAction             string   `json:"requiredAction"`
	DueDate                    Date     `json:"dueDate"`
	KnownRansomwareCampaignUse string   `json:"knownRansomwareCampaignUse,omitempty"`
	Notes                      string   `json:"notes,omitempty"`
	CWEs                       []string `json:"cwes,omitempty"`

	// Line is the line of the entry in the catalog file.
	Line int `json:"-"`

	// VersionUnknown is true when the match is on vendor and product only:
	// the KEV text gives no affected range, no version was supplied, or the
	// version could not be compared.
	VersionUnknown bool `json:"versionUnknown,omitempty"`
	// Affected is the affected range parsed from the KEV text, e.g. "< 23.9.8".
	Affected string `json:"affected,omitempty"`
	// MatchedOn says how the entry matched: "product", "alias", "cpe" or
	// "description" (a "Multiple Products" entry naming the product).
	MatchedOn string `json:"matchedOn,omitempty"`
}

// Ransomware reports whether KEV knows of ransomware campaigns using it.
func (v Vuln) Ransomware() bool {
	return strings.EqualFold(v.KnownRansomwareCampaignUse, RansomwareKnown)
}

// Overdue reports whether the BOD 22-01 due date has passed at now.
func (v Vuln) Overdue(now time.Time) bool {
	return !v.DueDate.IsZero() && now.After(v.DueDate.AddDate(0, 0, 1))
}

// Catalog is a parsed, validated KEV catalog.
type Catalog struct {
	Name           string    `json:"source"` // file or URL it was read from
	Title          string    `json:"title,omitempty"`
	CatalogVersion string    `json:"catalogVersion"`
	DateReleased   time.Time `json:"dateReleased"`
	Count          int       `json:"count"`
	Vulns          []Vuln    `json:"vulnerabilities"`
	// Warnings are tolerated deviations (count mismatch, duplicates, …).
	Warnings []string `json:"warnings,omitempty"`
	// Trimmed counts text fields that had leading or trailing white space.
	Trimmed int `json:"trimmed,omitempty"`

	idx *index
}

// Lookup returns the entry for a CVE id.
func (c *Catalog) Lookup(cve string) (Vuln, bool) {
	cve = strings.ToUpper(strings.TrimSpace(cve))
	for _, v := range c.Vulns {
		if v.CVE == cve {
			return v, true
		}
	}
	return Vuln{}, false
}

// Age is how long ago the catalog was released, at now.
func (c *Catalog) Age(now time.Time) time.Duration { return now.Sub(c.DateReleased) }

// Problem is one schema violation.
type Problem struct {
	Line  int
	Field string // JSON path, e.g. vulnerabilities[12].dueDate
	Msg   string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", p.Line, p.Field, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.Field, p.Msg)
}

// SchemaError lists every schema violation found in a catalog.
type SchemaError struct {
	Name     string
	Problems []Problem
}

func (e *SchemaError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: KEV catalog fails schema check (%d problems)", e.Name, len(e.Problems))
	for i, p := range e.Problems {
		if i == 20 {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Problems)-20)
			break
		}
		fmt.Fprintf(&b, "\n  %s:%s", e.Name, p)
	}
	return b.String()
}

// ErrNotJSON is returned (wrapped) when the input is not a JSON catalog, for
// example an HTML error page from a proxy.
var ErrNotJSON = errors.New("not a JSON KEV catalog")

var (
	cveRE     = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,19}$`)
	cweRE     = regexp.MustCompile(`^CWE-[0-9]+$`)
	versionRE = regexp.MustCompile(`^[0-9]{4}\.[0-9]{2}\.[0-9]{2}$`)
)

// Load reads and validates a catalog file, plain JSON or gzip-compressed
// (recognised by its magic bytes, whatever the file is called).
func Load(path string) (*Catalog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loading KEV catalog: %w", err)
	}
	defer func() { _ = f.Close() }()
	br := bufio.NewReader(f)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("loading KEV catalog %s: %w", path, err)
		}
		defer func() { _ = zr.Close() }()
		return Parse(zr, path)
	}
	return Parse(br, path)
}

// MaxCatalog bounds how much Parse reads (the real feed is about 1.5 MB).
const MaxCatalog = 256 << 20

type rawVuln struct {
	CVE               *string         `json:"cveID"`
	VendorProject     *string         `json:"vendorProject"`
	Product           *string         `json:"product"`
	VulnerabilityName *string         `json:"vulnerabilityName"`
	DateAdded         *string         `json:"dateAdded"`
	ShortDescription  *string         `json:"shortDescription"`
	RequiredAction    *string         `json:"requiredAction"`
	DueDate           *string         `json:"dueDate"`
	Ransomware        *string         `json:"knownRansomwareCampaignUse"`
	Notes             *string         `json:"notes"`
	CWEs              json.RawMessage `json:"cwes"`
}

// Parse reads and validates a catalog; name is used in messages.
func Parse(r io.Reader, name string) (*Catalog, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxCatalog+1))
	if err != nil {
		return nil, fmt.Errorf("reading KEV catalog %s: %w", name, err)
	}
	if len(data) > MaxCatalog {
		return nil, fmt.Errorf("reading KEV catalog %s: larger than %d bytes", name, MaxCatalog)
	}
	return parse(data, name)
}

func parse(data []byte, name string) (*Catalog, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%s: %w: empty input", name, ErrNotJSON)
	}
	if trimmed[0] != '{' {
		what := "unexpected content"
		if trimmed[0] == '<' {
			what = "looks like an HTML or XML page"
		}
		return nil, fmt.Errorf("%s:1:1: %w: %s (starts with %q)", name, ErrNotJSON, what, snippet(trimmed))
	}
	c := &Catalog{Name: name}
	var probs []Problem
	add := func(off int64, field, format string, args ...any) {
		probs = append(probs, Problem{Line: lineOf(data, off), Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	syntax := func(err error) error {
		line, col := lineCol(data, dec.InputOffset())
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col = lineCol(data, se.Offset)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("%s:%d:%d: %w: truncated JSON", name, line, col, ErrNotJSON)
		}
		return fmt.Errorf("%s:%d:%d: %w: %v", name, line, col, ErrNotJSON, err)
	}
	if _, err := dec.Token(); err != nil { // '{'
		return nil, syntax(err)
	}
	seen := map[string]bool{}
	var haveVersion, haveReleased, haveCount, haveVulns bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntax(err)
		}
		key, _ := tok.(string)
		off := dec.InputOffset()
		switch key {
		case "title":
			if err := dec.Decode(&c.Title); err != nil {
				return nil, syntax(err)
			}
		case "catalogVersion":
			haveVersion = true
			if err := dec.Decode(&c.CatalogVersion); err != nil {
				return nil, syntax(err)
			}
		case "dateReleased":
			haveReleased = true
			var s string
			if err := dec.Decode(&s); err != nil {
				return nil, syntax(err)
			}
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				add(off, "dateReleased", "invalid date-time %q: expected YYYY-MM-DDTHH:mm:ss.sssZ", s)
			}
			c.DateReleased = t.UTC()
		case "count":
			haveCount = true
			if err := dec.Decode(&c.Count); err != nil {
				if _, ok := err.(*json.UnmarshalTypeError); ok {
					add(off, "count", "must be an integer")
					continue
				}
				return nil, syntax(err)
			}
		case "vulnerabilities":
			haveVulns = true
			if rest := bytes.TrimLeft(data[off:], " \t\r\n:"); len(rest) == 0 || rest[0] != '[' {
				add(off, "vulnerabilities", "must be an array")
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return nil, syntax(err)
				}
				continue
			}
			if _, err := dec.Token(); err != nil { // '['
				return nil, syntax(err)
			}
			for i := 0; dec.More(); i++ {
				start := dec.InputOffset()
				var rv rawVuln
				if err := dec.Decode(&rv); err != nil {
					if _, ok := err.(*json.UnmarshalTypeError); ok {
						add(start, fmt.Sprintf("vulnerabilities[%d]", i), "%v", err)
						continue
					}
					return nil, syntax(err)
				}
				// InputOffset before Decode points at the separator; the
				// entry begins at the next '{'.
				if j := bytes.IndexByte(data[start:], '{'); j >= 0 {
					start += int64(j)
				}
				v, ps := c.convert(rv, i, lineOf(data, start))
				probs = append(probs, ps...)
				if len(ps) == 0 {
					if seen[v.CVE] {
						c.Warnings = append(c.Warnings, fmt.Sprintf("line %d: duplicate entry for %s", v.Line, v.CVE))
					}
					seen[v.CVE] = true
					c.Vulns = append(c.Vulns, v)
				}
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, syntax(err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, syntax(err)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, syntax(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		line, col := lineCol(data, dec.InputOffset())
		return nil, fmt.Errorf("%s:%d:%d: %w: trailing data after the catalog object", name, line, col, ErrNotJSON)
	}
	for _, m := range []struct {
		ok    bool
		field string
	}{{haveVersion, "catalogVersion"}, {haveReleased, "dateReleased"}, {haveCount, "count"}, {haveVulns, "vulnerabilities"}} {
		if !m.ok {
			probs = append(probs, Problem{Field: m.field, Msg: "required field missing"})
		}
	}
	if haveVersion {
		switch {
		case strings.TrimSpace(c.CatalogVersion) == "":
			probs = append(probs, Problem{Field: "catalogVersion", Msg: "must not be empty"})
		case !versionRE.MatchString(c.CatalogVersion):
			c.Warnings = append(c.Warnings, fmt.Sprintf("catalogVersion %q is not in the usual YYYY.MM.DD form", c.CatalogVersion))
		case !c.DateReleased.IsZero() && c.CatalogVersion != c.DateReleased.Format("2006.01.02"):
			c.Warnings = append(c.Warnings, fmt.Sprintf("catalogVersion %s does not match dateReleased %s", c.CatalogVersion, c.DateReleased.Format(time.DateOnly)))
		}
	}
	if haveVulns && len(c.Vulns) == 0 && len(probs) == 0 {
		probs = append(probs, Problem{Field: "vulnerabilities", Msg: "catalog has no entries"})
	}
	if len(probs) > 0 {
		return nil, &SchemaError{Name: name, Problems: probs}
	}
	if haveCount && c.Count != len(c.Vulns) {
		c.Warnings = append(c.Warnings, fmt.Sprintf("count is %d but the catalog holds %d entries", c.Count, len(c.Vulns)))
	}
	c.idx = buildIndex(c.Vulns)
	return c, nil
}

func (c *Catalog) convert(rv rawVuln, i, line int) (Vuln, []Problem) {
	var probs []Problem
	path := fmt.Sprintf("vulnerabilities[%d]", i)
	if rv.CVE != nil {
		path = fmt.Sprintf("vulnerabilities[%d] (%s)", i, strings.TrimSpace(*rv.CVE))
	}
	bad := func(field, format string, args ...any) {
		probs = append(probs, Problem{Line: line, Field: path + "." + field, Msg: fmt.Sprintf(format, args...)})
	}
	req := func(field string, p *string) string {
		if p == nil {
			bad(field, "required field missing")
			return ""
		}
		s := strings.TrimSpace(*p)
		if s != *p {
			c.Trimmed++
		}
		if s == "" {
			bad(field, "must not be empty")
		}
		return s
	}
	v := Vuln{Line: line}
	v.CVE = req("cveID", rv.CVE)
	if v.CVE != "" && !cveRE.MatchString(v.CVE) {
		bad("cveID", "%q does not match CVE-YYYY-NNNN", v.CVE)
	}
	v.VendorProject = req("vendorProject", rv.VendorProject)
	v.Product = req("product", rv.Product)
	v.VulnerabilityName = req("vulnerabilityName", rv.VulnerabilityName)
	v.ShortDescription = req("shortDescription", rv.ShortDescription)
	v.RequiredAction = req("requiredAction", rv.RequiredAction)
	if s := req("dateAdded", rv.DateAdded); s != "" {
		d, err := ParseDate(s)
		if err != nil {
			bad("dateAdded", "%v", err)
		}
		v.DateAdded = d
	}
	if s := req("dueDate", rv.DueDate); s != "" {
		d, err := ParseDate(s)
		if err != nil {
			bad("dueDate", "%v", err)
		}
		v.DueDate = d
	}
	if rv.Ransomware != nil {
		v.KnownRansomwareCampaignUse = strings.TrimSpace(*rv.Ransomware)
		if v.KnownRansomwareCampaignUse != RansomwareKnown && v.KnownRansomwareCampaignUse != RansomwareUnknown {
			c.Warnings = append(c.Warnings, fmt.Sprintf("line %d: %s: unexpected knownRansomwareCampaignUse %q", line, v.CVE, v.KnownRansomwareCampaignUse))
		}
	}
	if rv.Notes != nil {
		v.Notes = strings.TrimSpace(*rv.Notes)
	}
	if len(rv.CWEs) > 0 && string(rv.CWEs) != "null" {
		var cwes []string
		if err := json.Unmarshal(rv.CWEs, &cwes); err != nil {
			bad("cwes", "must be an array of strings")
		}
		for _, w := range cwes {
			w = strings.TrimSpace(w)
			if !cweRE.MatchString(w) {
				c.Warnings = append(c.Warnings, fmt.Sprintf("line %d: %s: CWE %q does not match CWE-N", line, v.CVE, w))
			}
			v.CWEs = append(v.CWEs, w)
		}
	}
	return v, probs
}

func lineOf(data []byte, off int64) int {
	l, _ := lineCol(data, off)
	return l
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

func snippet(b []byte) string {
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}

// Filter selects entries for `kev show`.
type Filter struct {
	Vendor, Product, CVE string // case-insensitive substring matches
	Ransomware           bool   // only knownRansomwareCampaignUse == Known
	AddedSince           time.Time
}

// Select returns the entries matching f, newest first.
func (c *Catalog) Select(f Filter) []Vuln {
	var out []Vuln
	for _, v := range c.Vulns {
		if f.Vendor != "" && !containsFold(v.VendorProject, f.Vendor) {
			continue
		}
		if f.Product != "" && !containsFold(v.Product, f.Product) {
			continue
		}
		if f.CVE != "" && !containsFold(v.CVE, f.CVE) {
			continue
		}
		if f.Ransomware && !v.Ransomware() {
			continue
		}
		if !f.AddedSince.IsZero() && v.DateAdded.Before(f.AddedSince) {
			continue
		}
		out = append(out, v)
	}
	sortVulns(out)
	return out
}

func sortVulns(vs []Vuln) {
	slices.SortStableFunc(vs, func(a, b Vuln) int {
		if c := b.DateAdded.Compare(a.DateAdded.Time); c != 0 {
			return c
		}
		return strings.Compare(a.CVE, b.CVE)
	})
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(strings.TrimSpace(sub)))
}
