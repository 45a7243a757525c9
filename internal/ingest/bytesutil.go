package ingest

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strconv"
	"time"
)

// interner returns one shared string per distinct byte sequence, so that
// repeated user and host names cost no allocation. It stops adding entries
// at max (attackers may try millions of user names); later misses allocate.
type interner struct {
	m   map[string]string
	max int
}

func newInterner(max int) *interner { return &interner{max: max} }

func (in *interner) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in.m) < in.max {
		if in.m == nil {
			in.m = make(map[string]string, 256)
		}
		in.m[s] = s
	}
	return s
}

// parseIP parses an IPv4 or IPv6 address from bytes; IPv4 without
// allocating. IPv4-mapped IPv6 addresses are unmapped.
func parseIP(b []byte) (netip.Addr, bool) {
	if a, ok := parseIPv4(b); ok {
		return a, true
	}
	if len(b) == 0 || len(b) > 64 {
		return netip.Addr{}, false
	}
	if bytes.IndexByte(b, ':') < 0 {
		return netip.Addr{}, false
	}
	if b[0] == '[' && b[len(b)-1] == ']' {
		b = b[1 : len(b)-1]
	}
	a, err := netip.ParseAddr(string(b))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	n := len(b)
	if n < 7 || n > 15 {
		return netip.Addr{}, false
	}
	part, i := 0, 0
	for part < 4 {
		v, digits := 0, 0
		for i < n && b[i] >= '0' && b[i] <= '9' {
			if digits > 0 && v == 0 { // leading zero
				return netip.Addr{}, false
			}
			v = v*10 + int(b[i]-'0')
			digits++
			i++
			if digits > 3 {
				return netip.Addr{}, false
			}
		}
		if digits == 0 || v > 255 {
			return netip.Addr{}, false
		}
		ip[part] = byte(v)
		part++
		if part < 4 {
			if i >= n || b[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
	}
	if i != n {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

// atoi parses a non-negative decimal from bytes; ok is false for anything else.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func digits2(b []byte) (int, bool) {
	if len(b) < 2 || b[0] < '0' || b[0] > '9' || b[1] < '0' || b[1] > '9' {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

// parseRFC3339 parses an RFC 3339 / ISO 8601 timestamp from bytes without
// allocating for the common shapes (2026-11-26T10:00:01[.frac](Z|±hh:mm)).
// Timestamps without a zone are taken in loc. It falls back to time.Parse.
func parseRFC3339(b []byte, loc *time.Location) (time.Time, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	y, ok1 := atoi(b[0:4])
	mo, ok2 := digits2(b[5:7])
	d, ok3 := digits2(b[8:10])
	h, ok4 := digits2(b[11:13])
	mi, ok5 := digits2(b[14:16])
	s, ok6 := digits2(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return time.Time{}, false
	}
	i := 19
	ns := 0
	if i < len(b) && (b[i] == '.' || b[i] == ',') {
		i++
		scale := 100000000
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if scale > 0 {
				ns += int(b[i]-'0') * scale
				scale /= 10
			}
			i++
		}
		if i == start {
			return time.Time{}, false
		}
	}
	z := loc
	off := 0
	switch {
	case i == len(b):
	case b[i] == 'Z' || b[i] == 'z':
		z = time.UTC
		i++
	case b[i] == '+' || b[i] == '-':
		if len(b) < i+6 || b[i+3] != ':' {
			if len(b) == i+5 { // +hhmm
				hh, ok := digits2(b[i+1 : i+3])
				mm, ok2 := digits2(b[i+3 : i+5])
				if !ok || !ok2 {
					return time.Time{}, false
				}
				off = hh*3600 + mm*60
				if b[i] == '-' {
					off = -off
				}
				z = time.UTC
				i += 5
				break
			}
			return time.Time{}, false
		}
		hh, ok := digits2(b[i+1 : i+3])
		mm, ok2 := digits2(b[i+4 : i+6])
		if !ok || !ok2 {
			return time.Time{}, false
		}
		off = hh*3600 + mm*60
		if b[i] == '-' {
			off = -off
		}
		z = time.UTC
		i += 6
	default:
		return time.Time{}, false
	}
	if i != len(b) {
		return time.Time{}, false
	}
	if z == time.UTC {
		// time.Date in UTC without its normalisation and zone lookups:
		// out-of-range days and leap seconds carry over the same way
		sec := daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+s-off)
		return time.Unix(sec, int64(ns)).UTC(), true
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, ns, z)
	if off != 0 {
		t = t.Add(-time.Duration(off) * time.Second)
	}
	return t.UTC(), true
}

// daysFromCivil returns the days from 1970-01-01 to y-m-d (proleptic
// Gregorian; d may exceed the month's length and carries over).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097+doe) - 719468
}

// parseTimeValue parses the timestamp shapes found in JSON exports:
// RFC 3339, "2006-01-02 15:04:05", PowerShell's "/Date(ms)/", and Unix
// seconds or milliseconds.
func parseTimeValue(b []byte, loc *time.Location) (time.Time, bool) {
	if t, ok := parseRFC3339(b, loc); ok {
		return t, true
	}
	if bytes.HasPrefix(b, []byte("/Date(")) || bytes.HasPrefix(b, []byte(`\/Date(`)) {
		i := bytes.IndexByte(b, '(')
		j := i + 1
		if j < len(b) && b[j] == '-' {
			j++
		}
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		ms, err := strconv.ParseInt(string(b[i+1:j]), 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.UnixMilli(ms).UTC(), true
	}
	if v, ok := atoi(b); ok {
		switch {
		case v > 1e17: // ns
			return time.Unix(0, int64(v)).UTC(), true
		case v > 1e14: // µs
			return time.UnixMicro(int64(v)).UTC(), true
		case v > 1e11: // ms
			return time.UnixMilli(int64(v)).UTC(), true
		default:
			return time.Unix(int64(v), 0).UTC(), true
		}
	}
	return time.Time{}, false
}

// cut is bytes.Cut returning only before, after and found.
func cutPrefix(b []byte, p string) ([]byte, bool) {
	if len(b) >= len(p) && string(b[:len(p)]) == p {
		return b[len(p):], true
	}
	return b, false
}

// lastIndex is bytes.LastIndex for the short separators the parsers use
// (" from ", " port "): it jumps between occurrences of the separator's
// second byte with lastIndexByte instead of hashing every position.
func lastIndex(b []byte, s string) int {
	if len(s) < 2 {
		return bytes.LastIndex(b, []byte(s))
	}
	c := s[1]
	end := len(b) - len(s) + 2 // s[1] lies before end
	for end > 1 {
		i := lastIndexByte(b[:end], c)
		if i < 1 {
			return -1
		}
		if string(b[i-1:i-1+len(s)]) == s {
			return i - 1
		}
		end = i
	}
	return -1
}

// lastIndexByte is bytes.LastIndexByte reading eight bytes at a time (the
// standard one reads one at a time, and sshd's tail after the port, which
// lastIndex crosses on every Accepted publickey line, is ~70 bytes).
func lastIndexByte(b []byte, c byte) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	cc := uint64(c) * lo
	i := len(b)
	for i >= 8 {
		x := binary.LittleEndian.Uint64(b[i-8:i]) ^ cc
		if (x-lo)&^x&hi != 0 { // a byte of x is zero: c is in b[i-8:i]
			break
		}
		i -= 8
	}
	for i--; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// appendLower appends ASCII-lower-cased src to dst.
func appendLower(dst, src []byte) []byte {
	for _, c := range src {
		if c >= 'A' && c <= 'Z' {
			c += 32
		}
		dst = append(dst, c)
	}
	return dst
}
