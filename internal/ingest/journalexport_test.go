package ingest

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestJournalExport reads `journalctl -o export` (testdata/journal.export:
// text fields, binary MESSAGE fields with a 64-bit length, a binary field
// holding newlines, blank lines and '=', a non-auth entry, a last entry
// without its blank line): the format is sniffed as journald and every
// auth entry parses as the JSON form's would.
func TestJournalExport(t *testing.T) {
	r, err := Open(context.Background(), "testdata/journal.export", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := jeEvents(readAll(t, r))
	if r.Format() != FormatJournald {
		t.Errorf("format %q, want %q", r.Format(), FormatJournald)
	}
	want := []string{
		`user="oracle" ip=192.0.2.10 port=40000 host=bastion-01`,
		"user=\"r\\xf6ot\" ip=192.0.2.11 port=40001 host=bastion-01",
		`outcome=success`,
		`user="alice" ip=192.0.2.12 host=bastion-01`,
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("event %d: %s\nwant it to contain %s", i, got[i], w)
		}
	}
	st := r.Stats()
	if st.Lines != 5 || st.Parsed != 4 || st.Ignored != 1 || st.Unparsed != 0 {
		t.Errorf("stats: %d entries, %d parsed, %d ignored, %d unparsed; want 5, 4, 1, 0", st.Lines, st.Parsed, st.Ignored, st.Unparsed)
	}
	// The first entry in the JSON form gives the same event.
	js := `{"__CURSOR":"s=1;i=1","__REALTIME_TIMESTAMP":"1795683600000000","SYSLOG_IDENTIFIER":"sshd","_PID":"4242","_HOSTNAME":"bastion-01","MESSAGE":"Failed password for invalid user oracle from 192.0.2.10 port 40000 ssh2"}` + "\n"
	j := jeEvents(readBytes(t, "j.ndjson", []byte(js), Options{}))
	if len(j) != 1 || stripLine(j[0]) != stripLine(got[0]) {
		t.Errorf("export and JSON forms differ:\n%v\n%v", got[0], j)
	}
}

// jeEvents drops readAll's summary lines.
func jeEvents(lines []string) []string {
	var out []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func stripLine(s string) string { _, rest, _ := strings.Cut(s, " "); return rest }

// TestJournalExportTruncated: an export cut inside a binary field is one
// bad entry (named), the entries before it are read, nothing is fatal.
func TestJournalExportTruncated(t *testing.T) {
	b, err := os.ReadFile("testdata/journal.export")
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("COREDUMP_NOTE\n"))
	r, err := NewReader("cut.export", bytes.NewReader(b[:i+len("COREDUMP_NOTE\n")+12]), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := jeEvents(readAll(t, r))
	st := r.Stats()
	if len(got) != 1 || st.Unparsed != 1 || len(st.Samples) != 1 || !strings.Contains(st.Samples[0].Reason, "cut short") {
		t.Errorf("%d events, stats %+v", len(got), st)
	}
}
