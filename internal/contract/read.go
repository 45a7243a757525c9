package contract

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"rsc.io/pdf"
)

// MaxFileBytes bounds what Read accepts (a 60-page contract is well under
// a megabyte of text; scanned images are what make files large).
const MaxFileBytes = 64 << 20

// maxTextBytes bounds the text kept from one document, whatever the file
// claims once inflated (a DOCX is a zip and can inflate a great deal).
const maxTextBytes = 16 << 20

// Document is a contract's text, page by page.
type Document struct {
	Name   string   `json:"file"`
	Format string   `json:"format"` // pdf, docx, text
	Digest string   `json:"sha256"`
	Pages  []string `json:"-"`
}

// Read reads the file at path.
func Read(path string) (*Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return Parse(path, b)
}

// Parse reads a document held in memory; name is used in errors and to
// tell Markdown from plain text. The format is sniffed from the content.
func Parse(name string, b []byte) (*Document, error) {
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB; a contract's text is far smaller", name, MaxFileBytes>>20)
	}
	sum := sha256.Sum256(b)
	d := &Document{Name: name, Digest: hex.EncodeToString(sum[:])}
	var err error
	ext := strings.ToLower(filepath.Ext(name))
	switch {
	case ext == ".pdf" && !bytes.HasPrefix(b, []byte("%PDF-")):
		err = errors.New("named .pdf but not a PDF file")
	case ext == ".docx" && !bytes.HasPrefix(b, []byte("PK\x03\x04")) && !bytes.HasPrefix(b, []byte{0xD0, 0xCF, 0x11, 0xE0}):
		err = errors.New("named .docx but not a DOCX (zip) file")
	case bytes.HasPrefix(b, []byte("%PDF-")):
		d.Format = "pdf"
		d.Pages, err = pdfPages(b)
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		d.Format = "docx"
		d.Pages, err = docxPages(b)
	case bytes.HasPrefix(b, []byte{0xD0, 0xCF, 0x11, 0xE0}):
		err = errors.New("an OLE compound file: an encrypted DOCX or a legacy .doc; save it as an unencrypted .docx or PDF")
	default:
		d.Format = "text"
		d.Pages, err = textPages(b)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	n := 0
	for _, p := range d.Pages {
		n += len(strings.TrimSpace(p))
	}
	if n == 0 {
		if d.Format == "pdf" {
			return nil, fmt.Errorf("%s: the PDF has no text layer (a scan?); run OCR first or supply the DOCX", name)
		}
		return nil, fmt.Errorf("%s: no text", name)
	}
	return d, nil
}

// textPages splits plain text or Markdown on form feeds, the page break
// of text exports; a file without them is one page.
func textPages(b []byte) ([]string, error) {
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	if !utf8.Valid(b) {
		return nil, errors.New("not a PDF, DOCX or UTF-8 text file")
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, errors.New("binary content: not a PDF, DOCX or text file")
	}
	return strings.Split(string(b), "\f"), nil
}

// pdfPages extracts the text layer of every page. The PDF reader panics on
// malformed input; the panic becomes an error naming the page.
func pdfPages(b []byte) (pages []string, err error) {
	page := 0
	defer func() {
		if r := recover(); r != nil {
			if page > 0 {
				err = fmt.Errorf("corrupt PDF (page %d): %v", page, r)
			} else {
				err = fmt.Errorf("corrupt PDF: %v", r)
			}
		}
	}()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		if strings.Contains(err.Error(), "encrypt") {
			return nil, errors.New("the PDF is encrypted; supply an unprotected copy")
		}
		return nil, fmt.Errorf("corrupt PDF: %v", err)
	}
	if r.Trailer().Key("Encrypt").Kind() != pdf.Null {
		return nil, errors.New("the PDF is encrypted; supply an unprotected copy")
	}
	total := 0
	for page = 1; page <= r.NumPage(); page++ {
		pg := r.Page(page)
		glyphs := pg.Content().Text
		t := pageText(glyphs)
		if widthless(glyphs) {
			t = streamText(pg)
		}
		total += len(t)
		if total > maxTextBytes {
			return nil, fmt.Errorf("more than %d MiB of text", maxTextBytes>>20)
		}
		pages = append(pages, t)
	}
	return pages, nil
}

// widthless reports whether most glyphs of a page have no width: the
// font gives no /Widths (legal for the standard 14 fonts, and what simple
// generators such as FPDF write), so the reader cannot place glyphs and,
// as it never emits spaces, words would run together.
func widthless(glyphs []pdf.Text) bool {
	zero := 0
	for _, g := range glyphs {
		if g.W == 0 {
			zero++
		}
	}
	return len(glyphs) > 0 && zero*2 > len(glyphs)
}

// streamText reads a page's text from its content stream in drawing order:
// the strings shown by Tj, TJ, ' and " (bytes as WinAnsi/Latin-1, which is
// what a simple font without widths holds), a line break at each text-line
// move, and a space where a TJ kerning gap is a word's width.
func streamText(p pdf.Page) string {
	var sb strings.Builder
	newline := func() {
		if s := sb.String(); s != "" && s[len(s)-1] != '\n' {
			sb.WriteByte('\n')
		}
	}
	show := func(v pdf.Value) {
		for _, c := range []byte(v.RawString()) {
			sb.WriteRune(rune(c))
		}
	}
	do := func(stk *pdf.Stack, op string) {
		args := make([]pdf.Value, stk.Len())
		for i := len(args) - 1; i >= 0; i-- {
			args[i] = stk.Pop()
		}
		switch op {
		case "T*", "Td", "TD", "ET":
			newline()
		case "'", "\"":
			newline()
			if len(args) > 0 {
				show(args[len(args)-1])
			}
		case "Tj":
			if len(args) > 0 {
				show(args[0])
			}
		case "TJ":
			if len(args) == 0 {
				return
			}
			a := args[0]
			for i := 0; i < a.Len(); i++ {
				switch x := a.Index(i); x.Kind() {
				case pdf.String:
					show(x)
				case pdf.Integer, pdf.Real:
					if x.Float64() < -200 {
						sb.WriteByte(' ')
					}
				}
			}
		}
	}
	c := p.V.Key("Contents")
	if c.Kind() == pdf.Array {
		for i := 0; i < c.Len(); i++ {
			pdf.Interpret(c.Index(i), do)
		}
	} else {
		pdf.Interpret(c, do)
	}
	return sb.String()
}

// pageText orders a page's glyphs into lines (top to bottom, left to
// right) and puts a space where the gap between glyphs says a word ends.
func pageText(glyphs []pdf.Text) string {
	if len(glyphs) == 0 {
		return ""
	}
	type line struct {
		y      float64
		glyphs []pdf.Text
	}
	var lines []*line
	for _, g := range glyphs {
		var l *line
		for _, c := range lines {
			if diff := c.y - g.Y; diff < g.FontSize*0.4 && diff > -g.FontSize*0.4 {
				l = c
				break
			}
		}
		if l == nil {
			l = &line{y: g.Y}
			lines = append(lines, l)
		}
		l.glyphs = append(l.glyphs, g)
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].y > lines[j].y })
	var sb strings.Builder
	for _, l := range lines {
		sort.SliceStable(l.glyphs, func(i, j int) bool { return l.glyphs[i].X < l.glyphs[j].X })
		end := 0.0
		for i, g := range l.glyphs {
			if i > 0 && g.X-end > g.FontSize*0.15 {
				sb.WriteByte(' ')
			}
			sb.WriteString(g.S)
			end = g.X + g.W
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// docxPages reads word/document.xml: paragraphs become lines, explicit
// and rendered page breaks start a new page.
func docxPages(b []byte) ([]string, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("corrupt DOCX: %v", err)
	}
	var doc *zip.File
	for _, f := range zr.File {
		if filepath.ToSlash(f.Name) == "word/document.xml" {
			doc = f
		}
	}
	if doc == nil {
		return nil, errors.New("a zip without word/document.xml: not a DOCX")
	}
	rc, err := doc.Open()
	if err != nil {
		return nil, fmt.Errorf("corrupt DOCX: %v", err)
	}
	defer rc.Close()
	dec := xml.NewDecoder(io.LimitReader(rc, 8*maxTextBytes))
	// Word writes lastRenderedPageBreak where it last laid out a page and
	// w:br type="page" where the author forced one; the first says where
	// pages really fall, so it wins when present.
	const rendered, forced = "\x00R", "\x00B"
	var sb strings.Builder
	inText := false
	sawRendered := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("corrupt DOCX (word/document.xml): %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "t":
				inText = true
			case "tab":
				sb.WriteByte(' ')
			case "br":
				page := false
				for _, a := range t.Attr {
					page = page || a.Name.Local == "type" && a.Value == "page"
				}
				if page {
					sb.WriteString(forced)
				} else {
					// A line break (Shift+Enter) still ends a word.
					sb.WriteByte('\n')
				}
			case "cr":
				sb.WriteByte('\n')
			case "noBreakHyphen":
				sb.WriteByte('-')
			case "lastRenderedPageBreak":
				sb.WriteString(rendered)
				sawRendered = true
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				sb.WriteByte('\n')
			}
		case xml.CharData:
			if inText {
				sb.Write(t)
				if sb.Len() > maxTextBytes {
					return nil, fmt.Errorf("more than %d MiB of text", maxTextBytes>>20)
				}
			}
		}
	}
	text := sb.String()
	split, drop := forced, rendered
	if sawRendered {
		split, drop = rendered, forced
	}
	pages := strings.Split(strings.ReplaceAll(text, drop, ""), split)
	// A rendered break before the first paragraph leaves an empty page 1.
	if len(pages) > 1 && strings.TrimSpace(pages[0]) == "" {
		pages = pages[1:]
	}
	return pages, nil
}
