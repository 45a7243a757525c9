package auth

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/skip2/go-qrcode"
)

// dummyPHC is a fixed valid hash (of no known password) checked for unknown
// users so response time does not reveal which usernames exist.
const dummyPHC = "$argon2id$v=19$m=65536,t=3,p=2$c29tZXNhbHRzb21lc2FsdA$7dJ6dQ9yq3vJ6l6mG4G3c0b9o3J2o1n5m8hBjb2k7xI"

func DummyHash() string { return dummyPHC }

// qrSVG renders text as a QR code in inline SVG (no script, CSP-safe).
func QRSVG(text string) (template.HTML, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	bm := q.Bitmap()
	n := len(bm)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg role="img" aria-label="QR code for your authenticator app" viewBox="0 0 %d %d" width="220" height="220" shape-rendering="crispEdges"><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n, n, n)
	for y, row := range bm {
		for x, on := range row {
			if on {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil
}

// QRTerminal renders text as a QR code of half-block characters for a
// terminal (two bitmap rows per text line).
func QRTerminal(text string) (string, error) {
	q, err := qrcode.New(text, qrcode.Low)
	if err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	bm := q.Bitmap() // includes the quiet zone
	var b strings.Builder
	for y := 0; y < len(bm); y += 2 {
		for x := range bm[y] {
			top := bm[y][x]
			bot := y+1 < len(bm) && bm[y+1][x]
			// Dark modules print as spaces on a light-on-dark terminal inverted:
			// we draw light modules, so the code reads on dark backgrounds.
			switch {
			case !top && !bot:
				b.WriteString("█")
			case !top && bot:
				b.WriteString("▀")
			case top && !bot:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}
