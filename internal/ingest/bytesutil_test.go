package ingest

import (
	"bytes"
	"testing"
)

// TestLastIndexAgreesWithBytes proves the fast lastIndex equals
// bytes.LastIndex on the separators the parsers use.
func TestLastIndexAgreesWithBytes(t *testing.T) {
	for _, s := range []string{"", "x", " from ", " port ", "for root from 1.2.3.4 port 22 ssh2", "from  from ", " from", "a from b from c",
		"invalid user  port  port 7", " port", "port ", " p port "} {
		for _, sep := range []string{" from ", " port ", " "} {
			if got, want := lastIndex([]byte(s), sep), bytes.LastIndex([]byte(s), []byte(sep)); got != want {
				t.Errorf("lastIndex(%q, %q) = %d, want %d", s, sep, got, want)
			}
		}
	}
}

func FuzzLastIndex(f *testing.F) {
	f.Add([]byte("Failed password for root from 1.2.3.4 port 22 ssh2"), " port ")
	f.Fuzz(func(t *testing.T, b []byte, sep string) {
		if got, want := lastIndex(b, sep), bytes.LastIndex(b, []byte(sep)); got != want {
			t.Fatalf("lastIndex(%q, %q) = %d, want %d", b, sep, got, want)
		}
	})
}
