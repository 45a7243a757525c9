package ingest

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest/loggen"
)

// benchReader runs a Reader over data repeatedly, reporting bytes/s and
// ns per record.
func benchReader(b *testing.B, data []byte, opts Options) {
	b.Helper()
	lines := int64(bytes.Count(data, []byte{'\n'}))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var ev event.Event
	var n int64
	c0 := cpuTime()
	for b.Loop() {
		r, err := NewReader("bench", bytes.NewReader(data), opts)
		if err != nil {
			b.Fatal(err)
		}
		for {
			err := r.Next(&ev)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		n += lines
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/line")
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
	if c := cpuTime() - c0; c > 0 {
		b.ReportMetric(float64(c.Nanoseconds())/float64(n), "cpu-ns/line")
	}
}

func sshdCorpus(n int) []byte {
	var buf bytes.Buffer
	for i := range n {
		ip := fmt.Sprintf("203.0.%d.%d", (i/250)%250, i%250+1)
		ts := fmt.Sprintf("Nov 26 %02d:%02d:%02d", (i/3600)%24, (i/60)%60, i%60)
		switch i % 8 {
		case 0, 1, 2:
			fmt.Fprintf(&buf, "%s web-%02d sshd[%d]: Failed password for root from %s port %d ssh2\n", ts, i%7, 1000+i%500, ip, 30000+i%30000)
		case 3:
			fmt.Fprintf(&buf, "%s web-%02d sshd[%d]: Failed password for invalid user user%d from %s port %d ssh2\n", ts, i%7, 1000+i%500, i%300, ip, 30000+i%30000)
		case 4:
			fmt.Fprintf(&buf, "%s web-%02d sshd[%d]: Invalid user user%d from %s port %d\n", ts, i%7, 1000+i%500, i%300, ip, 30000+i%30000)
		case 5:
			fmt.Fprintf(&buf, "%s web-%02d CRON[%d]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)\n", ts, i%7, 1000+i%500)
		case 6:
			fmt.Fprintf(&buf, "%s web-%02d sshd[%d]: Accepted publickey for deploy from 10.0.0.%d port %d ssh2: ED25519 SHA256:Zm9vYmFy\n", ts, i%7, 1000+i%500, i%250, 30000+i%30000)
		case 7:
			fmt.Fprintf(&buf, "%s web-%02d sshd[%d]: Connection closed by authenticating user root %s port %d [preauth]\n", ts, i%7, 1000+i%500, ip, 30000+i%30000)
		}
	}
	return buf.Bytes()
}

func BenchmarkSyslogSSHD(b *testing.B) {
	benchReader(b, sshdCorpus(100000), Options{Year: 2026})
}

func genCorpus(b *testing.B, format string, lines int) []byte {
	b.Helper()
	var buf bytes.Buffer
	if _, err := loggen.Generate(&buf, loggen.Options{Format: format, Lines: lines, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func BenchmarkGeneratedSSHD(b *testing.B) {
	benchReader(b, genCorpus(b, loggen.FormatSSHD, 200000), Options{Year: 2026})
}

func BenchmarkWindowsWinlogbeat(b *testing.B) {
	benchReader(b, genCorpus(b, loggen.FormatWindows, 50000), Options{})
}

func BenchmarkEntraSignIn(b *testing.B) {
	benchReader(b, genCorpus(b, loggen.FormatEntra, 50000), Options{})
}

func BenchmarkOktaSystemLog(b *testing.B) {
	benchReader(b, genCorpus(b, loggen.FormatOkta, 50000), Options{})
}

func BenchmarkJournald(b *testing.B) {
	var buf bytes.Buffer
	for i := range 50000 {
		msg := fmt.Sprintf("Failed password for invalid user u%d from 198.18.%d.%d port %d ssh2", i%500, i/250%250, i%250+1, 1024+i)
		if i%3 == 0 {
			msg = "pam_unix(cron:session): session closed for user root"
		}
		fmt.Fprintf(&buf, `{"__CURSOR":"s=%d","__REALTIME_TIMESTAMP":"%d","_BOOT_ID":"b","PRIORITY":"6","_HOSTNAME":"srv01.cedar-law.example","SYSLOG_IDENTIFIER":"sshd","_PID":"%d","_COMM":"sshd","MESSAGE":%q}`+"\n",
			i, 1795683600000000+int64(i)*1000000, 1000+i%500, msg)
	}
	benchReader(b, buf.Bytes(), Options{})
}

func BenchmarkGenericRMM(b *testing.B) {
	m, err := LoadMapping("testdata/rmm-mapping.yaml")
	if err != nil {
		b.Fatal(err)
	}
	benchReader(b, genCorpus(b, loggen.FormatRMM, 50000), Options{Mapping: m, Format: FormatGeneric})
}

func BenchmarkSyslogMessage(b *testing.B) {
	msg := []byte("<38>Nov 26 10:00:01 srv01.cedar-law.example sshd[4242]: Failed password for invalid user admin from 198.18.7.9 port 50022 ssh2")
	p := NewSyslogParser(Options{Year: 2026, Tenant: "cedar-law"})
	var ev event.Event
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if !p.Parse(msg, &ev) {
			b.Fatal("not parsed")
		}
	}
}

// BenchmarkGeneratedSSHDLineByLine is BenchmarkGeneratedSSHD with the
// per-line prefilter instead of the block one (skipSyslog).
func BenchmarkGeneratedSSHDLineByLine(b *testing.B) {
	benchReader(b, genCorpus(b, loggen.FormatSSHD, 200000), Options{Year: 2026, lineByLine: true})
}
