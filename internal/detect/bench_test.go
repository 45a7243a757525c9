package detect

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/ingest/loggen"
)

func benchLog(b *testing.B, format string, lines int) ([]byte, ingest.Options) {
	b.Helper()
	var buf bytes.Buffer
	if _, err := loggen.Generate(&buf, loggen.Options{Format: format, Lines: lines, Seed: 7}); err != nil {
		b.Fatal(err)
	}
	tm := &ingest.TenantMap{Domains: map[string]string{}, EntraIDs: map[string]string{}}
	for _, t := range loggen.DefaultTenants() {
		tm.Domains[t.Domain] = t.ID
		tm.EntraIDs[t.EntraID] = t.ID
	}
	return buf.Bytes(), ingest.Options{TenantMap: tm, Year: 2026}
}

func parseAll(b *testing.B, data []byte, opts ingest.Options) []event.Event {
	r, err := ingest.NewReader("bench", bytes.NewReader(data), opts)
	if err != nil {
		b.Fatal(err)
	}
	return drain(b, r)
}

// BenchmarkEngine measures detection alone (built-in pack) on parsed events.
func BenchmarkEngine(b *testing.B) {
	for _, format := range []string{loggen.FormatSSHD, loggen.FormatWindows, loggen.FormatEntra, loggen.FormatOkta} {
		b.Run(format, func(b *testing.B) {
			data, opts := benchLog(b, format, 200_000)
			evs := parseAll(b, data, opts)
			rules, err := Builtin()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for b.Loop() {
				e, err := NewEngine(rules, Options{})
				if err != nil {
					b.Fatal(err)
				}
				for i := range evs {
					e.Process(&evs[i])
				}
				e.Flush()
			}
			b.ReportMetric(float64(len(evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(len(evs))*float64(b.N)/cpu.Seconds(), "events/cpu-s")
			}
		})
	}
}

// BenchmarkReplay measures read + parse + detect end to end, as `firebreak
// detect` does, on generated logs (sshd: lines/s; JSON formats: events/s).
func BenchmarkReplay(b *testing.B) {
	for _, format := range []string{loggen.FormatSSHD, loggen.FormatWindows, loggen.FormatEntra, loggen.FormatOkta} {
		b.Run(format, func(b *testing.B) {
			data, opts := benchLog(b, format, 200_000)
			rules, err := Builtin()
			if err != nil {
				b.Fatal(err)
			}
			var lines, events int64
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for b.Loop() {
				e, err := NewEngine(rules, Options{})
				if err != nil {
					b.Fatal(err)
				}
				r, err := ingest.NewReader("bench", bytes.NewReader(data), opts)
				if err != nil {
					b.Fatal(err)
				}
				var ev event.Event
				for {
					err := r.Next(&ev)
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					e.Process(&ev)
					events++
				}
				e.Flush()
				lines += r.Stats().Lines
			}
			b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(lines)/cpu.Seconds(), "lines/cpu-s")
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
