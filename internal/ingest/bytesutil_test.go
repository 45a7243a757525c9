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

// FuzzLastIndexByte: lastIndexByte equals bytes.LastIndexByte.
func FuzzLastIndexByte(f *testing.F) {
	f.Add([]byte("Accepted publickey for deploy from 10.0.13.104 port 3995 ssh2: ED25519 SHA256:2mKxqQ5GkV0hQd6m3f5Qm0QpZb8yXk1rW6gq9cH1e8Q"), byte('p'))
	f.Add([]byte("\x00\x01\x01\x01\x00\x01\x01\x01\x01\x02"), byte(0))
	f.Add([]byte("\x01\x00\x02\x01\x01\x01\x01\x01\x01"), byte(1))
	f.Fuzz(func(t *testing.T, b []byte, c byte) {
		if got, want := lastIndexByte(b, c), bytes.LastIndexByte(b, c); got != want {
			t.Fatalf("lastIndexByte(%q, %q) = %d, want %d", b, c, got, want)
		}
	})
}
