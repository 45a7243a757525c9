package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// TestGzipDamageNotFatal: a truncated .gz and one whose data fails its
// checksum are read up to the damage, which is counted unparsed with the
// file and line; Next ended with the gzip error and detect stopped on the
// whole folder ("reading x.log.gz: unexpected EOF", exit 1, no output).
func TestGzipDamageNotFatal(t *testing.T) {
	var plain strings.Builder
	for i := range 2000 {
		plain.WriteString(sshLine(i))
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write([]byte(plain.String()))
	_ = zw.Close()
	whole := zb.Bytes()
	corrupt := bytes.Clone(whole)
	corrupt[len(corrupt)-6] ^= 0xff // the CRC-32 in the trailer
	for name, b := range map[string][]byte{"truncated.log.gz": whole[:len(whole)/2], "crc.log.gz": corrupt} {
		r, err := NewReader(name, bytes.NewReader(b), Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var ev event.Event
		n := 0
		for err == nil {
			if err = r.Next(&ev); err == nil {
				n++
			}
		}
		if !errors.Is(err, io.EOF) {
			t.Errorf("%s: Next after %d events: %v, want io.EOF", name, n, err)
			continue
		}
		st := r.Stats()
		told := false
		for _, s := range st.Samples {
			told = told || (s.File == name && strings.Contains(s.Reason, "compressed data damaged"))
		}
		if n == 0 || st.Unparsed == 0 || !told {
			t.Errorf("%s: %d events, %d unparsed, samples %v: want the events before the damage and the damage counted", name, n, st.Unparsed, st.Samples)
		}
	}
}
