package ingest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
)

// TestTooLongRecordNamed: a record over the size limit is reported like
// every other skipped record, with its file, record number, byte offset
// and the start of its text, in each form that splits records (lines,
// JSON lines, a JSON document, event XML).
func TestTooLongRecordNamed(t *testing.T) {
	const max = 4096
	long := strings.Repeat("A", 2*max)
	xmlRec := func(user string) string {
		return string(evtxtest.XML([]evtxtest.Event{{ID: 4625, Time: fixtureBase, Computer: "FS01",
			Data: [][2]string{{"TargetUserName", user}, {"IpAddress", "192.0.2.1"}}}}, false, false))
	}
	cases := []struct {
		name       string
		recs       [3]string // the second is too long
		sep, open  string
		close      string
		wantLine   int64
		wantPrefix string
	}{
		{"syslog", [3]string{"Nov 26 10:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2",
			"Nov 26 10:00:01 h sshd[1]: Failed password for " + long + " from 192.0.2.2 port 2 ssh2",
			"Nov 26 10:00:02 h sshd[1]: Failed password for root from 192.0.2.3 port 3 ssh2"}, "\n", "", "", 2, "Nov 26 10:00:01 h sshd[1]: Failed"},
		{"jsonl", [3]string{`{"published":"2026-11-26T10:00:00Z","eventType":"user.session.start","actor":{"alternateId":"a@b.example"},"outcome":{"result":"FAILURE"}}`,
			`{"published":"2026-11-26T10:00:00Z","eventType":"user.session.start","x":"` + long + `"}`,
			`{"published":"2026-11-26T10:00:01Z","eventType":"user.session.start","actor":{"alternateId":"a@b.example"},"outcome":{"result":"SUCCESS"}}`}, "\n", "", "", 2, `{"published":"2026-11-26T10:00:00Z","eventType"`},
		{"json_document", [3]string{`{"createdDateTime":"2026-11-26T09:00:00Z","userPrincipalName":"a@b.example","ipAddress":"192.0.2.1","status":{"errorCode":50126}}`,
			`{"createdDateTime":"2026-11-26T09:00:01Z","userPrincipalName":"` + long + `"}`,
			`{"createdDateTime":"2026-11-26T09:00:02Z","userPrincipalName":"c@b.example","ipAddress":"192.0.2.1","status":{"errorCode":50126}}`}, ",\n", "[\n", "\n]\n", 3, `{"createdDateTime":"2026-11-26T09:00:01Z","user`},
		{"event_xml", [3]string{xmlRec("alice"), xmlRec(long), xmlRec("carol")}, "", "", "", 2, `<Event xmlns='http://schemas.microsoft.com`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.open + c.recs[0] + c.sep
			off := len(in)
			in += c.recs[1] + c.sep + c.recs[2] + c.close
			_, st := readAllFrom(t, strings.NewReader(in), Options{MaxLineBytes: max, Year: 2026})
			if st.TooLong != 1 || st.Parsed != 2 || len(st.Samples) != 1 {
				t.Fatalf("stats %+v, want 2 parsed, 1 too long with a sample", st)
			}
			s := st.Samples[0]
			wantWhy := fmt.Sprintf("at byte %d", off)
			if s.File != "in.log" || s.Line != c.wantLine || !strings.Contains(s.Reason, wantWhy) || !strings.HasPrefix(s.Text, c.wantPrefix) || len(s.Text) > maxSampleText {
				t.Errorf("sample %s, want in.log:%d, a reason with %q and a text starting %q", s, c.wantLine, wantWhy, c.wantPrefix)
			}
		})
	}
}
