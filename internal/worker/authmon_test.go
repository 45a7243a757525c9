package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/evaluate"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// TestAuthMonitoringCLIAndServeAgree: the same authentication events give
// the same FB-AUTH-004 verdict per tenant through the CLI's way (the
// summary file detect --summary-file writes, read back by assess
// --detect-summary) and through serve's (stored events, the worker's
// scheduled assessment).
func TestAuthMonitoringCLIAndServeAgree(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	e, err := estate.Load(filepath.Join("..", "..", "examples", "harbourview"))
	if err != nil {
		t.Fatal(err)
	}
	auth := func(tenant, dataset, host, outcome string, ago time.Duration, n int) event.Event {
		return event.Event{Timestamp: now.Add(-ago), Category: "authentication", Action: "logon", Outcome: outcome,
			Tenant: tenant, Dataset: dataset, HostName: host, UserName: "u", Count: n}
	}
	events := []event.Event{
		auth("brightwater-dental", "sshd", "bw-web01", "failure", 26*time.Hour, 1),
		auth("brightwater-dental", "sshd", "bw-web01", "failure", 25*time.Hour, 4), // aggregated
		auth("brightwater-dental", "sshd", "bw-web01", "success", 24*time.Hour, 1),
		auth("brightwater-dental", "windows.security", "bw-dc01", "success", 3*time.Hour, 1),
		auth("cedar-law", "windows.security", "cl-dc01", "failure", 20*24*time.Hour, 1), // gone silent
		auth("", "entra.signin", "", "failure", 2*time.Hour, 1),                         // the MSP's own
		{Timestamp: now.Add(-time.Hour), Category: "process", Tenant: "northgate-logistics", Dataset: "sysmon", HostName: "ng01"},
	}

	eng, err := NewEngines(EngineOptions{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}

	// The CLI: detect --summary-file observes each authentication event,
	// assess --detect-summary reads the file back.
	var names []string
	for _, r := range eng.Rules {
		if assess.FailedAuthRule(r.Techniques) {
			names = append(names, r.Ref())
		}
	}
	m := assess.NewAuthMonitor(names)
	for i := range events {
		if ev := &events[i]; ev.Category == "authentication" {
			m.Observe(ev.Tenant, ev.Dataset, ev.HostName, ev.Outcome == "failure", ev.N(), ev.Timestamp)
		}
	}
	file, err := json.Marshal(m.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	mon, err := assess.LoadAuthMonitoring(bytes.NewReader(file), "summary.json")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := evaluate.Evaluate(ctx, e, evaluate.Deps{Now: now, AuthMonitoring: mon, NoTrust: true})
	if err != nil {
		t.Fatal(err)
	}

	// serve: the events are stored; the worker's assessment reads them.
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	recs := make([]store.EventRecord, len(events))
	for i := range events {
		recs[i].Event = events[i]
	}
	if err := st.AppendEvents(ctx, recs); err != nil {
		t.Fatal(err)
	}
	var served *assess.Report
	monitored := eng.AssessMonitored
	eng.AssessMonitored = func(ctx context.Context, e *estate.Estate, mon *assess.AuthMonitoring) (*assess.Report, error) {
		rep, err := monitored(ctx, e, mon)
		served = rep
		return rep, err
	}
	w, err := New(Options{Store: st, Engines: eng, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Assess(ctx, e, 0, "test"); err != nil {
		t.Fatal(err)
	}

	verdicts := func(rep *assess.Report) map[string]assess.Result {
		out := map[string]assess.Result{}
		for _, r := range rep.Results {
			if r.Control == "FB-AUTH-004" {
				out[r.Subject] = r
			}
		}
		return out
	}
	c, s := verdicts(cli.Report), verdicts(served)
	want := map[string]assess.Status{
		estate.MSP:            assess.StatusPass,
		"brightwater-dental":  assess.StatusPass,
		"cedar-law":           assess.StatusFail, // its only source is 20 days silent
		"northgate-logistics": assess.StatusFail, // no authentication source at all
	}
	for subj, st := range want {
		if c[subj].Status != st || s[subj].Status != st {
			t.Errorf("%s: CLI %s (%s), serve %s (%s), want %s", subj, c[subj].Status, c[subj].Message, s[subj].Status, s[subj].Message, st)
		}
	}
	if len(c) != len(s) || len(c) < len(want) {
		t.Fatalf("FB-AUTH-004 for %d subjects through the CLI, %d through serve", len(c), len(s))
	}
	for subj, r := range c {
		if s[subj].Status != r.Status {
			t.Errorf("%s: CLI %s, serve %s", subj, r.Status, s[subj].Status)
		}
		// A live source is named with the same counts both ways.
		if r.Status == assess.StatusPass && (s[subj].Message != r.Message || len(s[subj].Evidence) != len(r.Evidence)) {
			t.Errorf("%s: CLI %q %v, serve %q %v", subj, r.Message, r.Evidence, s[subj].Message, s[subj].Evidence)
		}
	}
	if p := s["brightwater-dental"]; len(p.Evidence) != 2 {
		t.Errorf("brightwater-dental evidence %v, want its two sources", p.Evidence)
	}
}
