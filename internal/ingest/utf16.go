package ingest

import (
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// utf16Reader transcodes UTF-16 (as written by Windows PowerShell 5.1's
// Out-File and `>`) to UTF-8. The byte order mark has been consumed.
type utf16Reader struct {
	r      io.Reader
	big    bool
	in     []byte
	inN    int
	out    []byte
	outOff int
	hi     rune // pending high surrogate
	err    error
}

func newUTF16Reader(r io.Reader, bigEndian bool) *utf16Reader {
	return &utf16Reader{r: r, big: bigEndian, in: make([]byte, 32<<10)}
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for u.outOff >= len(u.out) {
		if u.err != nil {
			return 0, u.err
		}
		n, err := u.r.Read(u.in[u.inN:])
		u.inN += n
		u.err = err
		u.out, u.outOff = u.out[:0], 0
		i := 0
		for ; i+1 < u.inN; i += 2 {
			var c rune
			if u.big {
				c = rune(u.in[i])<<8 | rune(u.in[i+1])
			} else {
				c = rune(u.in[i+1])<<8 | rune(u.in[i])
			}
			switch {
			case u.hi != 0:
				r := utf16.DecodeRune(u.hi, c)
				u.hi = 0
				u.out = utf8.AppendRune(u.out, r)
				if r == utf8.RuneError && !utf16.IsSurrogate(c) {
					u.out = utf8.AppendRune(u.out, c)
				}
			case c >= 0xd800 && c < 0xdc00:
				u.hi = c
			default:
				u.out = utf8.AppendRune(u.out, c)
			}
		}
		u.inN = copy(u.in, u.in[i:u.inN])
		if u.err != nil && len(u.out) == 0 {
			return 0, u.err
		}
	}
	n := copy(p, u.out[u.outOff:])
	u.outOff += n
	return n, nil
}
