package server

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/report"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

// fixStep is one step of the "fix first" plan as the dashboard shows it:
// the plan `firebreak blast` prints, read from the stored blast result.
type fixStep struct {
	N             int
	Why           string
	Details       []string
	More          int // details not shown
	Gain          int
	HelpedAll     int
	Helped        []trust.DeltaView
	EntriesBefore int
	EntriesAfter  int
	ProofFrom     string
	Proof         []trust.Step
	Flags         string
	// ExcessBefore and ExcessAfter are the plan's excess before and after
	// this step (the steps before it applied).
	ExcessBefore, ExcessAfter int
}

// Effect says in a few words what the step achieves, for its heading: the
// plan's excess it removes, else the ways in from the internet above the
// limit it closes ("" when neither moves; its Helped lines say the rest).
// A step can close ways in without lowering the excess (an outsider is not
// one compromise, so its reach counts in no node's excess): the first step
// of the demo's plan was shown as "excess −0".
func (s fixStep) Effect() string {
	switch {
	case s.Gain > 0:
		return fmt.Sprintf("excess %d → %d", s.ExcessBefore, s.ExcessAfter)
	case s.EntriesAfter < s.EntriesBefore:
		return fmt.Sprintf("ways in from the internet above the limit: %d → %d", s.EntriesBefore, s.EntriesAfter)
	}
	return ""
}

// fixPlan is the decoded plan of one blast result.
type fixPlan struct {
	Limit        int
	Share        float64
	ExcessBefore int
	ExcessAfter  int
	Steps        []fixStep
	Residual     []trust.RankView
	Structural   int
}

// planCache keeps the plan of the blast result decoded last, for each page
// that shows it. It is the Server's: a package-level cache keyed by the
// result's id handed one store's plan to another server whose result had
// the same id (TestFixFirstStepEffect found no steps after other tests).
type planCache struct {
	mu sync.Mutex
	id int64
	p  *fixPlan
}

// planOf decodes the plan stored with b (MSP-wide results only; nil when
// there is none).
func (s *Server) planOf(b *store.BlastResult) *fixPlan {
	if b == nil || len(b.JSON) == 0 {
		return nil
	}
	c := &s.plans
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.id == b.ID && c.p != nil {
		return c.p
	}
	var doc struct {
		Plan *trust.PlanView `json:"plan"`
	}
	if err := json.Unmarshal(b.JSON, &doc); err != nil || doc.Plan == nil {
		return nil
	}
	c.id, c.p = b.ID, planFromView(doc.Plan)
	return c.p
}

// planViewOf decodes the steps of the plan stored with b (nil when none).
func planViewOf(b *store.BlastResult) []trust.SuggestionView {
	if b == nil || len(b.JSON) == 0 {
		return nil
	}
	var doc struct {
		Plan *trust.PlanView `json:"plan"`
	}
	if err := json.Unmarshal(b.JSON, &doc); err != nil || doc.Plan == nil {
		return nil
	}
	return doc.Plan.Steps
}

func planFromView(pv *trust.PlanView) *fixPlan {
	doc := struct{ Plan *trust.PlanView }{pv}
	p := &fixPlan{Limit: doc.Plan.Limit, Share: doc.Plan.Share, ExcessBefore: doc.Plan.ExcessBefore, ExcessAfter: doc.Plan.ExcessAfter,
		Residual: doc.Plan.Residual, Structural: doc.Plan.Structural}
	excess := doc.Plan.ExcessBefore
	for i, st := range doc.Plan.Steps {
		fs := fixStep{N: i + 1, Why: st.Why, Gain: st.Gain, HelpedAll: st.HelpedAll, Helped: st.Helped, EntriesBefore: st.EntriesBefore,
			EntriesAfter: st.EntriesAfter, ProofFrom: st.ProofFrom, Proof: st.Proof, Flags: st.Flags, ExcessBefore: excess, ExcessAfter: excess - st.Gain}
		excess -= st.Gain
		fs.Details = st.Details
		if len(fs.Details) > 5 {
			fs.More, fs.Details = len(fs.Details)-5, fs.Details[:5]
		}
		if len(fs.Helped) > 3 {
			fs.Helped = fs.Helped[:3]
		}
		p.Steps = append(p.Steps, fs)
	}
	return p
}

// headingBar is one row of the failing-by-heading chart.
type headingBar struct {
	report.HeadingCount
	// FailW, OtherW and PassW are the bar's segments, OtherX and PassX
	// where the second and third start, in percent of the chart's width
	// (the bar spans headingBarX to headingBarX+headingBarW).
	FailW, OtherW, PassW float64
	OtherX, PassX        float64
	Y                    int
}

// The failing-by-heading chart has no viewBox (its labels keep their size
// at any width, like charts.go's): the label column is the left half, the
// bar the next two fifths, the failing count at the right edge.
const headingBarX, headingBarW = 50.0, 40.0

// headingBars lays out report.HeadingCoverage (the HTML report's bars) for
// the SVG on the overview.
func headingBars(results []assess.Result) []headingBar {
	cov := report.HeadingCoverage(results)
	out := make([]headingBar, 0, len(cov))
	for i, h := range cov {
		t := float64(h.Pass + h.Fail + h.Other)
		b := headingBar{HeadingCount: h, Y: i * 22}
		if t > 0 {
			b.FailW, b.PassW = headingBarW*float64(h.Fail)/t, headingBarW*float64(h.Pass)/t
			b.OtherW = headingBarW - b.FailW - b.PassW
		}
		b.OtherX = headingBarX + b.FailW
		b.PassX = b.OtherX + b.OtherW
		out = append(out, b)
	}
	return out
}
