package intake

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func FuzzSyslogFrame(f *testing.F) {
	f.Add([]byte("12 <13>1 hello\n<13>plain line\n"))
	f.Add([]byte("99999999 x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for range 100 {
			if _, err := readSyslogFrame(r); err != nil {
				return
			}
		}
	})
}

func TestReadSyslogFrame(t *testing.T) {
	in := "23 <13>1 - h app - - - hi\n<13>Nov 26 06:30:11 h app: plain\r\n\n5 short" + "\n<14>last-no-newline"
	r := bufio.NewReader(strings.NewReader(in))
	var got []string
	for {
		m, err := readSyslogFrame(r)
		if len(m) > 0 {
			got = append(got, string(m))
		}
		if err != nil {
			break
		}
	}
	want := []string{"<13>1 - h app - - - hi", "<13>Nov 26 06:30:11 h app: plain", "short", "<14>last-no-newline"}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("frames (-got +want):\n%s", d)
	}
	if _, err := readSyslogFrame(bufio.NewReader(strings.NewReader("99999999 x"))); err == nil {
		t.Error("oversized octet count accepted")
	}
}
