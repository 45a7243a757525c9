package contract

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// The three contract fixtures, written for these tests: a complete
// schedule, one without the MFA and logging clauses, one whose logging
// clause is hedged and short.
func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func statuses(r *Report) map[string]string {
	m := map[string]string{}
	for _, f := range r.Findings {
		m[f.Clause] = f.Status
	}
	return m
}

func check(t testing.TB, name string, b []byte) *Report {
	t.Helper()
	d, err := Parse(name, b)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return Check(d, p)
}

// Each fixture in each format gives the same verdicts.
func TestFixturesInEveryFormat(t *testing.T) {
	want := map[string]map[string]string{
		"complete.md":            {},
		"missing-mfa-logging.md": {estate.ClauseMFAMSPAccounts: Absent, estate.ClauseMFADelivered: Absent, estate.ClauseLogging: Absent},
		"weak-logging.md":        {estate.ClauseLogging: Weak},
	}
	for name, changed := range want {
		text := fixture(t, name)
		for format, b := range map[string][]byte{
			"text": []byte(text),
			"pdf":  writePDF(t, paginate(text, 12)),
			"docx": writeDOCX(t, paginate(text, 12)),
		} {
			t.Run(name+"/"+format, func(t *testing.T) {
				r := check(t, name, b)
				if r.Format != format {
					t.Fatalf("format %q, want %q", r.Format, format)
				}
				got := statuses(r)
				if len(got) != len(estate.Clauses) {
					t.Fatalf("%d findings, want one per clause (%d)", len(got), len(estate.Clauses))
				}
				for _, id := range estate.Clauses {
					w := Present
					if s, ok := changed[id]; ok {
						w = s
					}
					if got[id] != w {
						f := findingOf(r, id)
						t.Errorf("%s: %s, want %s (%s; quote %q p.%d)", id, got[id], w, f.Reason, f.Quote, f.Page)
					}
				}
			})
		}
	}
}

func findingOf(r *Report, id string) Finding {
	for _, f := range r.Findings {
		if f.Clause == id {
			return f
		}
	}
	return Finding{}
}

// A PDF whose standard-14 font has no /Widths still reads word by word.
func TestPDFWithoutWidths(t *testing.T) {
	text := fixture(t, "weak-logging.md")
	r := check(t, "fpdf.pdf", writePDFFont(t, paginate(text, 12), false))
	got := statuses(r)
	for _, id := range estate.Clauses {
		w := Present
		if id == estate.ClauseLogging {
			w = Weak
		}
		if got[id] != w {
			f := findingOf(r, id)
			t.Errorf("%s: %s, want %s (%s; quote %q)", id, got[id], w, f.Reason, f.Quote)
		}
	}
}

// "Provider" is not "provide", a run-in heading belongs to its sentence,
// and a Markdown heading is no clause.
func TestHeadingsAndProvider(t *testing.T) {
	text := "## Incident response\n\n" +
		"9.1 Business Continuity. Provider has no obligation to maintain a disaster recovery plan.\n\n" +
		"9.2 Logging. The Provider shall retain logs of activity in the Customer environment for 12 months.\n"
	r := check(t, "h.md", []byte(text))
	ir := findingOf(r, estate.ClauseIncidentResponse)
	if ir.Status != Weak || !strings.HasPrefix(ir.Quote, "9.1 Business Continuity. Provider has no obligation") {
		t.Errorf("incident response: %+v", ir)
	}
	if f := findingOf(r, "customer_log_access"); f.Status != Absent {
		t.Errorf("customer log access from \"Provider\": %+v", f)
	}
}

// The quote and page point at the sentence that settled the clause.
func TestQuoteAndPage(t *testing.T) {
	text := fixture(t, "complete.md")
	pages := paginate(text, 12)
	r := check(t, "c.pdf", writePDF(t, pages))
	f := findingOf(r, estate.ClauseIncidentNotification)
	if !strings.Contains(f.Quote, "notify the Customer of any security incident") {
		t.Errorf("quote %q", f.Quote)
	}
	wantPage := 0
	for i, p := range pages {
		if strings.Contains(p, "3.1 The Provider shall notify") {
			wantPage = i + 1
		}
	}
	if f.Page != wantPage || wantPage < 2 {
		t.Errorf("page %d, want %d", f.Page, wantPage)
	}
	w := findingOf(check(t, "w.md", []byte(fixture(t, "weak-logging.md"))), estate.ClauseLogging)
	if !strings.Contains(w.Reason, "reasonable efforts") || !strings.Contains(w.Quote, "90 days") {
		t.Errorf("weak logging: %+v", w)
	}
}

// Periods decide the logging and notification clauses.
func TestPeriods(t *testing.T) {
	cases := []struct {
		sentence, clause, want, reason string
	}{
		{"The Provider shall retain audit logs for 90 days.", estate.ClauseLogging, Weak, "90 days is below"},
		{"The Provider shall retain audit logs for six months.", estate.ClauseLogging, Present, ""},
		{"The Provider shall retain audit logs for 1 year.", estate.ClauseLogging, Present, ""},
		{"The Provider shall retain audit logs.", estate.ClauseLogging, Weak, "no retention period"},
		{"The Provider shall notify the Customer of a breach within 5 days.", estate.ClauseIncidentNotification, Weak, "120 hours"},
		{"The Provider shall notify the Customer of a breach within seventy-two (72) hours.", estate.ClauseIncidentNotification, Present, ""},
		{"The Provider shall notify the Customer of any incident.", estate.ClauseIncidentNotification, Weak, "no notification time"},
		{"The Provider is not required to use multi-factor authentication for its technicians.", estate.ClauseMFAMSPAccounts, Weak, "negated"},
		{"The Customer may request copies of the logs at any time.", estate.ClauseCustomerLogAccess, Present, ""},
		{"The Provider may provide logs to the Customer.", estate.ClauseCustomerLogAccess, Present, ""},
		{"Backups should be tested for restoration.", estate.ClauseBackups, Weak, "should"},
		{"The catalog is updated daily.", estate.ClauseLogging, Absent, ""},
		{"Provider will deploy vendor-released security updates within 30 days.", estate.ClauseSupplyChain, Absent, ""},
		{"Provider will assess the security risk of its vendors and third-party service providers.", estate.ClauseSupplyChain, Present, ""},
		{"The Provider shall retain audit logs for three hundred sixty-five (365) days.", estate.ClauseLogging, Present, ""},
		{"The Provider shall retain audit logs for one hundred twenty (120) days.", estate.ClauseLogging, Weak, "120 days is below"},
		{"The Provider shall retain event logs for a 12-month period.", estate.ClauseLogging, Present, ""},
		{"The Provider shall notify the Customer of a breach no later than 72 hrs after discovery.", estate.ClauseIncidentNotification, Present, ""},
	}
	for _, c := range cases {
		f := findingOf(check(t, "s.txt", []byte(c.sentence)), c.clause)
		if f.Status != c.want || !strings.Contains(f.Reason, c.reason) {
			t.Errorf("%q: %s %q, want %s %q", c.sentence, f.Status, f.Reason, c.want, c.reason)
		}
	}
}

// A pattern file adds terms to a clause and adds clauses.
func TestPatternFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "p.yaml")
	os.WriteFile(f, []byte(`clauses:
  - id: security_roles
    all: [[obligations of the parties]]
  - id: cyber_insurance
    title: Cyber insurance held by the Provider
    all: [[cyber insurance, cyber liability]]
`), 0o600)
	p, err := LoadPatterns(f)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := Parse("x.txt", []byte("Annex B lists the obligations of the parties. The Provider shall hold cyber liability insurance."))
	r := Check(d, p)
	if s := statuses(r); s[estate.ClauseSecurityRoles] != Present || s["cyber_insurance"] != Present {
		t.Errorf("statuses %v", s)
	}
	if last := r.Findings[len(r.Findings)-1]; last.Clause != "cyber_insurance" {
		t.Errorf("added clause not last: %s", last.Clause)
	}
	os.WriteFile(f, []byte("clauses:\n  - id: x\n    al: [[y]]\n"), 0o600)
	if _, err := LoadPatterns(f); err == nil || !strings.Contains(err.Error(), "p.yaml") || !strings.Contains(err.Error(), "al") {
		t.Errorf("unknown key: %v", err)
	}
}

// Bad files: a clear error naming the file, never a panic.
func TestBadInput(t *testing.T) {
	complete := writeDOCX(t, []string{"x"})
	cases := map[string][]byte{
		"scan.pdf":     writePDF(t, []string{"", ""}),
		"cut.pdf":      writePDF(t, []string{"The Provider shall notify"})[:200],
		"garbage.pdf":  []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF"),
		"enc.docx":     append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 500)...),
		"cut.docx":     complete[:len(complete)/2],
		"notdocx.docx": zipOf(t, map[string]string{"a.txt": "hello"}),
		"badxml.docx":  zipOf(t, map[string]string{"word/document.xml": "<w:document><w:body><w:p><w:t>unterminated"}),
		"binary.txt":   {0x00, 0x01, 0x02, 0xff},
		"tiny.pdf":     []byte("x"),
		"text.docx":    []byte("The Provider shall patch."),
		"empty.txt":    {},
	}
	for name, b := range cases {
		_, err := Parse(name, b)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), name+": ") {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
	if _, err := Parse("scan.pdf", writePDF(t, []string{""})); err == nil || !strings.Contains(err.Error(), "no text layer") {
		t.Errorf("scan: %v", err)
	}
	big := make([]byte, MaxFileBytes+1)
	if _, err := Parse("big.txt", big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(fixture(f, "complete.md")))
	f.Add(writePDF(f, []string{"The Provider shall notify the Customer within 24 hours of any incident."}))
	f.Add(writeDOCX(f, []string{"a", "b"}))
	p, err := Builtin()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse("fuzz", b)
		if err != nil {
			return
		}
		r := Check(d, p)
		if len(r.Findings) != len(estate.Clauses) {
			t.Fatalf("%d findings", len(r.Findings))
		}
	})
}

// BenchmarkCheckPDF measures reading and checking a 60-page contract PDF
// (the target: under 2 s).
func BenchmarkCheckPDF(b *testing.B) {
	text := fixture(b, "complete.md")
	var pages []string
	for i := 0; i < 60; i++ {
		pages = append(pages, strings.Repeat(text, 2))
	}
	pdfBytes := writePDF(b, pages)
	p, _ := Builtin()
	b.SetBytes(int64(len(pdfBytes)))
	for b.Loop() {
		d, err := Parse("60.pdf", pdfBytes)
		if err != nil {
			b.Fatal(err)
		}
		if r := Check(d, p); r.PageCount != 60 {
			b.Fatal(r.PageCount)
		}
	}
}

// paginate splits text into pages of n lines.
func paginate(text string, n int) []string {
	lines := strings.Split(text, "\n")
	var pages []string
	for len(lines) > 0 {
		k := min(n, len(lines))
		pages = append(pages, strings.Join(lines[:k], "\n"))
		lines = lines[k:]
	}
	return pages
}

// writePDF writes a PDF whose pages hold the given lines of text in
// Helvetica, wrapped at 90 characters, each page's content stream
// Flate-compressed, as word processors export.
func writePDF(t testing.TB, pages []string) []byte {
	t.Helper()
	return writePDFFont(t, pages, true)
}

// writePDFFont is writePDF; without widths the font is a bare standard-14
// Helvetica, as FPDF and other simple generators write it.
func writePDFFont(t testing.TB, pages []string, withWidths bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, buf.Len())
		fmt.Fprintf(&buf, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	buf.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	n := len(pages)
	// 1 catalog, 2 pages, 3 font, then a page and a content object per page.
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	kids := make([]string, n)
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	obj(fmt.Sprintf("<< /Type /Pages /Count %d /Kids [%s] >>", n, strings.Join(kids, " ")))
	// Word processors write each font's glyph widths; an even 500/1000 em
	// is enough for word gaps to be seen.
	widths := strings.TrimSpace(strings.Repeat("500 ", 224))
	if withWidths {
		obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding /FirstChar 32 /LastChar 255 /Widths [" + widths + "] >>")
	} else {
		obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	}
	for i, p := range pages {
		var content bytes.Buffer
		content.WriteString("BT /F1 10 Tf 12 TL 50 800 Td\n")
		for _, line := range strings.Split(p, "\n") {
			for _, w := range wrap(line, 90) {
				fmt.Fprintf(&content, "(%s) Tj T*\n", pdfEscape(w))
			}
		}
		content.WriteString("ET\n")
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(content.Bytes())
		zw.Close()
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 5+2*i))
		obj(fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", z.Len(), z.Bytes()))
	}
	xref := buf.Len()
	fmt.Fprintf(&buf, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&buf, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&buf, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return buf.Bytes()
}

func wrap(line string, width int) []string {
	var out []string
	for len(line) > width {
		cut := strings.LastIndexByte(line[:width], ' ')
		if cut <= 0 {
			cut = width
		}
		out = append(out, line[:cut])
		line = strings.TrimLeft(line[cut:], " ")
	}
	return append(out, line)
}

// pdfEscape writes s as a WinAnsi PDF string body.
func pdfEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '(', ')', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\u2014':
			b.WriteString(`\227`)
		case '\u2019':
			b.WriteString(`\222`)
		default:
			if r < 128 {
				b.WriteRune(r)
			} else {
				b.WriteByte('?')
			}
		}
	}
	return b.String()
}

// writeDOCX writes a minimal WordprocessingML package, one paragraph per
// line and a page break between pages.
func writeDOCX(t testing.TB, pages []string) []byte {
	t.Helper()
	var body strings.Builder
	for i, p := range pages {
		if i > 0 {
			body.WriteString(`<w:p><w:r><w:br w:type="page"/></w:r></w:p>`)
		}
		for _, line := range strings.Split(p, "\n") {
			var esc bytes.Buffer
			xmlEscape(&esc, line)
			// Split each line into two runs, as Word does at formatting changes.
			h := len(esc.String()) / 2
			for h > 0 && esc.String()[h-1] != ' ' {
				h--
			}
			fmt.Fprintf(&body, `<w:p><w:r><w:t xml:space="preserve">%s</w:t></w:r><w:r><w:t>%s</w:t></w:r></w:p>`, esc.String()[:h], esc.String()[h:])
		}
	}
	doc := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` + body.String() + `</w:body></w:document>`
	return zipOf(t, map[string]string{
		"[Content_Types].xml": `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`,
		"word/document.xml":   doc,
	})
}

func xmlEscape(b *bytes.Buffer, s string) {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	b.WriteString(r.Replace(s))
}

func zipOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"[Content_Types].xml", "word/document.xml", "a.txt"} {
		body, ok := files[name]
		if !ok {
			continue
		}
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A line break inside a DOCX paragraph (Shift+Enter) ends a word.
func TestDOCXLineBreak(t *testing.T) {
	doc := `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` +
		`<w:p><w:r><w:t>The Provider shall retain security</w:t><w:br/><w:t>logs for 12 months.</w:t></w:r></w:p></w:body></w:document>`
	b := zipOf(t, map[string]string{"word/document.xml": doc})
	d, err := Parse("br.docx", b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.Pages[0], "security\nlogs") {
		t.Fatalf("text %q", d.Pages[0])
	}
	p, _ := Builtin()
	if f := findingOf(Check(d, p), estate.ClauseLogging); f.Status != Present {
		t.Errorf("logging: %+v", f)
	}
}
