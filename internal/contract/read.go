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
	switch {
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
		t := pageText(r.Page(page).Content().Text)
		total += len(t)
		if total > maxTextBytes {
			return nil, fmt.Errorf("more than %d MiB of text", maxTextBytes>>20)
		}
		pages = append(pages, t)
	}
	return pages, nil
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
				for _, a := range t.Attr {
					if a.Name.Local == "type" && a.Value == "page" {
						sb.WriteString(forced)
					}
				}
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
