package intake

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
)

// TestSyslogStreamCountsAttemptOnce: a log sent over one syslog TCP
// connection gives the same events as the same log read as a file. OpenSSH
// with UsePAM writes a pam_unix "authentication failure" and its own
// "Failed password" for one attempt; the file reader counts one failure
// per attempt, and so must the listener (it parsed each message with a
// fresh parser and counted both, so a split deployment's incident counts
// exceeded `firebreak detect`'s for the same log).
func TestSyslogStreamCountsAttemptOnce(t *testing.T) {
	files, _ := filepath.Glob("../../examples/harbourview/logs/auth-*.log")
	if len(files) == 0 {
		t.Fatal("no example sshd logs")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		type attempt struct{ Action, Outcome, User, IP string }
		of := func(ev *event.Event) attempt {
			return attempt{ev.Action, ev.Outcome, ev.UserName, ev.SourceIP.String()}
		}
		// The file, read as `firebreak detect` reads it.
		rd, err := ingest.NewReader(f, bytes.NewReader(data), ingest.Options{Year: 2026})
		if err != nil {
			t.Fatal(err)
		}
		var want []attempt
		var ev event.Event
		for rd.Next(&ev) == nil {
			want = append(want, of(&ev))
		}
		// The same lines over one syslog TCP connection.
		cfg := config.Default()
		cfg.Ingest.Year = 2026
		in, err := New(Options{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		b := newSyslogBatcher(in)
		client, server := net.Pipe()
		go func() {
			_, _ = client.Write(data)
			_ = client.Close()
		}()
		in.syslogStream(server, "tcp", "syslog:test", b)
		var got []attempt
		for i := range b.recs {
			got = append(got, of(&b.recs[i].Event))
		}
		failures := func(as []attempt) (n int) {
			for _, a := range as {
				if a.Outcome == event.OutcomeFailure {
					n++
				}
			}
			return n
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: syslog events differ from the file's (failures: file %d, syslog %d) (-file +syslog):\n%s", filepath.Base(f), failures(want), failures(got), d)
		}
	}
}
