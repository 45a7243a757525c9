package worker

import (
	"compress/gzip"
	"context"
	"fmt"
	"github.com/firebreak-msp/firebreak/internal/store"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/evaluate"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestEnginesOnExample runs the wired engines on the bundled example: the
// trust-graph controls get input.trust (not "missing"), and the blast result
// ranks the RMM among the widest single points of failure.
func TestEnginesOnExample(t *testing.T) {
	e, eng := exampleEngines(t)
	rep, err := eng.Assess(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	trustResults := 0
	for _, r := range rep.Results {
		for _, m := range r.Missing {
			if strings.Contains(m, "input.trust") {
				t.Fatalf("%s %s: trust facts missing: %v", r.Control, r.Subject, r.Missing)
			}
		}
		if strings.Contains(r.Control, "TRUST") && r.Status != assess.StatusNotEvaluable {
			trustResults++
		}
	}
	if trustResults == 0 {
		t.Error("no trust-graph control was evaluated")
	}
	b, err := eng.Blast(e)
	if err != nil {
		t.Fatal(err)
	}
	top := map[string]bool{}
	for _, r := range b.Ranking[:min(10, len(b.Ranking))] {
		top[r.Node] = true
		if len(r.Tenants) != r.TenantCount {
			t.Errorf("%s: %d tenants listed, count %d", r.Node, len(r.Tenants), r.TenantCount)
		}
	}
	if !top["rmm"] {
		t.Errorf("rmm not among the top single points of failure: %v", top)
	}
	if _, err := eng.BlastQuery("rmm"); err != nil {
		t.Errorf("blast query: %v", err)
	}
}

// The service's assessment (NewEngines) and the CLI's (evaluate.Evaluate,
// as `firebreak assess` calls it) agree on the same estate, KEV and clock.
func TestEnginesAgreeWithCLI(t *testing.T) {
	e, err := estate.Load(filepath.Join("..", "..", "examples", "harbourview"))
	if err != nil {
		t.Fatal(err)
	}
	kevPath := filepath.Join("..", "..", "examples", "kev", "known_exploited_vulnerabilities-2025.08.25.json.gz")
	clock := func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }
	eng, err := NewEngines(EngineOptions{KEVPath: kevPath, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := eng.Assess(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	k, err := kev.Load(kevPath)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := evaluate.Evaluate(context.Background(), e, evaluate.Deps{KEV: k, Now: clock()})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(cli.Report, svc, cmpopts.IgnoreFields(assess.Report{}, "Timing")); d != "" {
		t.Errorf("CLI and service reports differ (-cli +service):\n%s", d)
	}
}

// A running detector follows the estate: it gets the tenants' context
// (benign networks here) when the worker loads the estate, and a reload
// that changes it applies to the same detector, windows kept. Failures from
// a tenant's benign network do not count towards a spray.
func TestDetectorFollowsEstate(t *testing.T) {
	e, eng := exampleEngines(t)
	tenant := e.Tenants[0].ID
	d, err := eng.NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	w := &Worker{eng: eng}
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	spray := func(hour int) int {
		t.Helper()
		n := 0
		for i := range 12 {
			ev := event.Event{Timestamp: t0.Add(time.Duration(hour)*time.Hour + time.Duration(i)*20*time.Second), Dataset: "entra.signin", Category: "authentication",
				Outcome: event.OutcomeFailure, Reason: "bad_password", UserName: fmt.Sprintf("u%d-%d@example.org", hour, i), Tenant: tenant,
				SourceIP: netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + hour)})} // a new source each time: one incident per source
			for _, inc := range d.Process(&ev) {
				if strings.Contains(inc.Title, "Password spray from one source") {
					n++
				}
			}
		}
		// A spray's alert waits until its accounts' recovery window (2
		// minutes of event time) has passed without them signing in (the
		// self-recovery judgement, issue 9): move event time past it.
		if a, ok := d.(interface {
			AdvanceTo(time.Time) []store.Incident
		}); ok {
			for _, inc := range a.AdvanceTo(t0.Add(time.Duration(hour)*time.Hour + 20*time.Minute)) {
				if strings.Contains(inc.Title, "Password spray from one source") {
					n++
				}
			}
		}
		return n
	}
	if n := spray(0); n == 0 {
		t.Fatal("before the estate is loaded: the spray raised nothing, want an incident")
	}
	benign := *e
	benign.Tenants = append([]estate.Tenant(nil), e.Tenants...)
	benign.Tenants[0].Detection.BenignNetworks = []string{"203.0.113.0/24"}
	w.SetEstate(&benign, 1)
	if n := spray(2); n != 0 {
		t.Errorf("after loading an estate naming the network benign: %d spray incidents, want none", n)
	}
	w.SetEstate(e, 2) // reloaded without the benign network
	if n := spray(4); n == 0 {
		t.Error("after a reload dropping the benign network: the spray raised nothing, want an incident")
	}
}

// PrimeDetection gives the detectors the configured estate's context before
// they start (serve replays the last day at start, before the scheduler's
// first load).
func TestPrimeDetectionFromEstateFiles(t *testing.T) {
	e, eng := exampleEngines(t)
	tenant := e.Tenants[0].ID
	var got *estate.Estate
	follow := eng.DetectionContext
	eng.DetectionContext = func(e *estate.Estate) { got = e; follow(e) }
	w := &Worker{eng: eng}
	w.cfg.Estate.Paths = []string{filepath.Join("..", "..", "examples", "harbourview")}
	w.PrimeDetection(context.Background())
	if got == nil || len(got.Tenants) == 0 || got.Tenants[0].ID != tenant {
		t.Fatal("PrimeDetection did not give the detectors the configured estate")
	}
}

// exampleEngines loads the bundled example estate and engines whose clock
// is the example's date.
func exampleEngines(t *testing.T) (*estate.Estate, *Engines) {
	t.Helper()
	e, err := estate.Load(filepath.Join("..", "..", "examples", "harbourview"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := NewEngines(EngineOptions{Clock: func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return e, eng
}

// serve with assess.kev empty reads the catalog `kev update` (or its own
// kev collector) stored in its data directory, and again when it changes;
// it used to judge FB-UPD-002 "no KEV catalog configured" whatever was
// stored (issue 16, v16).
func TestEnginesReadStoredKEV(t *testing.T) {
	e, err := estate.Load(filepath.Join("..", "..", "examples", "harbourview"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	eng, err := NewEngines(EngineOptions{KEVDataDir: dir, Clock: func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	upd002 := func() (evaluated, total int, why string) {
		t.Helper()
		rep, err := eng.Assess(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rep.Results {
			if r.Control != "FB-UPD-002" {
				continue
			}
			total++
			if r.Status != assess.StatusNotEvaluable {
				evaluated++
			} else {
				why = r.Message + " " + strings.Join(r.Missing, " ")
			}
		}
		return evaluated, total, why
	}
	if n, total, why := upd002(); total == 0 || n != 0 || !strings.Contains(why, "kev update") {
		t.Fatalf("no stored catalog: %d of %d FB-UPD-002 results evaluated (%q); want none, naming `kev update`", n, total, why)
	}
	gz, err := os.Open(filepath.Join("..", "..", "examples", "kev", "known_exploited_vulnerabilities-2025.08.25.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	src, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	p := kev.StoredPath(dir)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if n, total, why := upd002(); n != total {
		t.Fatalf("catalog stored after start: %d of %d FB-UPD-002 results evaluated (%q); want all", n, total, why)
	}
}
