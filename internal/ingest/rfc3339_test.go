package ingest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestParseRFC3339UTCMatchesTimeDate checks the hand-computed UTC path
// against time.Date, including out-of-range days, leap seconds and the
// first and last four-digit years.
func TestParseRFC3339UTCMatchesTimeDate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	years := []int{0, 1, 2, 3, 4, 99, 100, 399, 400, 1600, 1899, 1900, 1969, 1970, 2000, 2024, 2026, 2100, 9999}
	for range 200000 {
		y := years[r.IntN(len(years))]
		if r.IntN(2) == 0 {
			y = r.IntN(10000)
		}
		mo, d, h, mi, s := 1+r.IntN(12), 1+r.IntN(31), r.IntN(24), r.IntN(60), r.IntN(61)
		ns := r.IntN(1e9)
		zone, off := "Z", 0
		switch r.IntN(3) {
		case 1:
			hh, mm := r.IntN(15), r.IntN(60)
			off = hh*3600 + mm*60
			zone = fmt.Sprintf("+%02d:%02d", hh, mm)
		case 2:
			hh, mm := r.IntN(15), r.IntN(60)
			off = -(hh*3600 + mm*60)
			zone = fmt.Sprintf("-%02d%02d", hh, mm)
		}
		in := fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%09d%s", y, mo, d, h, mi, s, ns, zone)
		got, ok := parseRFC3339([]byte(in), time.Local)
		if !ok {
			t.Fatalf("%s: not parsed", in)
		}
		want := time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC).Add(-time.Duration(off) * time.Second).UTC()
		if got != want {
			t.Fatalf("%s: got %v, want %v", in, got, want)
		}
	}
}
