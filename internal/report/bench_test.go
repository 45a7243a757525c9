package report

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// bigReport builds a report the size the benchmark estate produces:
// 2,001 subjects × 75 controls ≈ 150,000 results, 60% of them findings with
// one to three pieces of evidence.
func bigReport(subjects, controls int) *assess.Report {
	r := &assess.Report{Version: "1", At: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), Provider: "Generated MSP"}
	sevs := []string{"critical", "high", "medium", "low"}
	statuses := []assess.Status{assess.StatusFail, assess.StatusPass, assess.StatusFail, assess.StatusNotEvaluable, assess.StatusPass,
		assess.StatusFail, assess.StatusNotApplicable, assess.StatusFail, assess.StatusPass, assess.StatusAttested}
	for s := 0; s < subjects; s++ {
		subj := estate.MSP
		if s > 0 {
			subj = fmt.Sprintf("t%05d", s)
		}
		sc := assess.Score{Subject: subj, Name: "Tenant " + subj, Score: float64((s * 37) % 100)}
		for c := 0; c < controls; c++ {
			st := statuses[(s+c)%len(statuses)]
			res := assess.Result{Control: fmt.Sprintf("FB-X-%03d", c), Title: fmt.Sprintf("Control number %d of the generated catalog", c),
				Heading: c%12 + 1, Severity: sevs[c%4], Subject: subj, Status: st,
				Message: "2 of 14 identities reaching the tenant: MFA not enforced", Remediation: "Enforce MFA for every identity."}
			if st != assess.StatusPass && st != assess.StatusNotApplicable {
				for e := 0; e <= (s+c)%3; e++ {
					res.Evidence = append(res.Evidence, assess.Evidence{Kind: "identity", ID: fmt.Sprintf("u%07d", s*10+e),
						Detail: "mfa.enforced=false", Pos: estate.Pos{File: "estate/identities.csv", Line: s*10 + e + 2, Col: 1}})
				}
			}
			r.Results = append(r.Results, res)
			if st == assess.StatusFail {
				sc.Fail++
			} else if st == assess.StatusPass {
				sc.Pass++
			} else {
				sc.Other++
			}
		}
		r.Scores = append(r.Scores, sc)
	}
	return r
}

// BenchmarkRender renders a 150,000-result report in every format
// (go test ./internal/report -run XXX -bench Render -benchtime 1x).
func BenchmarkRender(b *testing.B) {
	r := bigReport(2001, 75)
	for _, f := range Formats {
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			var n int64
			cpu0 := cpuSeconds()
			for b.Loop() {
				cw := &countingWriter{}
				if err := Write(cw, f, r, Options{}); err != nil {
					b.Fatal(err)
				}
				n = cw.n
			}
			b.ReportMetric(float64(n)/1e6, "MB-out")
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
		})
	}
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)
