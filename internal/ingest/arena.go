package ingest

import "unsafe"

// arena copies short byte strings into shared blocks, so that giving every
// event its message costs one allocation per block instead of one per
// event. A block is never written again where a string was taken from it
// (new bytes only go past its length, and a full block is replaced, not
// reused), so the strings stay immutable; a string kept long (an
// incident's sample) keeps its whole block alive, which arenaBlock bounds.
type arena struct {
	buf []byte
}

const (
	arenaBlock = 8 << 10 // bytes per block
	arenaMax   = 512     // longer strings get their own allocation
)

// str returns b as a string.
func (a *arena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > arenaMax {
		return string(b)
	}
	if cap(a.buf)-len(a.buf) < len(b) {
		a.buf = make([]byte, 0, arenaBlock)
	}
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[start], len(b))
}
