package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/assess"
)

type sarifDoc struct {
	Runs []struct {
		Tool struct {
			Driver struct {
				Rules []struct{ ID string }
			}
		}
		AutomationDetails struct{ ID string }
		Invocations       []struct {
			ToolExecutionNotifications []struct{ Level string }
		}
		Results []struct {
			RuleID     string
			RuleIndex  int
			Properties struct{ Subject, Status string }
		}
	}
}

func decodeSARIF(t *testing.T, b []byte) sarifDoc {
	t.Helper()
	var d sarifDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// resultKeys lists every result of every run as rule/subject/status, and
// checks each ruleIndex points at its rule in its own run.
func resultKeys(t *testing.T, d sarifDoc) []string {
	t.Helper()
	var keys []string
	for _, run := range d.Runs {
		for _, res := range run.Results {
			if res.RuleIndex >= len(run.Tool.Driver.Rules) || run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
				t.Errorf("run %s: result %s has ruleIndex %d pointing elsewhere", run.AutomationDetails.ID, res.RuleID, res.RuleIndex)
			}
			keys = append(keys, res.RuleID+"/"+res.Properties.Subject+"/"+res.Properties.Status)
		}
	}
	slices.Sort(keys)
	return keys
}

// TestSARIFPerSubject checks the per-tenant split carries exactly the
// results of the single run, one run per subject with its own
// automationDetails.id, and stays schema-valid.
func TestSARIFPerSubject(t *testing.T) {
	for _, opts := range []Options{{}, {IncludePassing: true}, {IncludeUnknown: true}} {
		single := render(t, "sarif", opts)
		opts.SARIFPerSubject = true
		split := render(t, "sarif", opts)
		validateAgainst(t, compileSchema(t, "sarif"), split)
		ds, dp := decodeSARIF(t, single), decodeSARIF(t, split)
		if d := cmp.Diff(resultKeys(t, dp), resultKeys(t, ds)); d != "" {
			t.Errorf("%+v: per-subject results differ from the single run (-split +single)\n%s", opts, d)
		}
		var ids []string
		for _, run := range dp.Runs {
			ids = append(ids, run.AutomationDetails.ID)
			for _, res := range run.Results {
				if "firebreak/"+res.Properties.Subject+"/" != run.AutomationDetails.ID {
					t.Errorf("result of %s in run %s", res.Properties.Subject, run.AutomationDetails.ID)
				}
			}
		}
		want := []string{"firebreak/msp/", "firebreak/cedar-law/", "firebreak/granite-cu/", "firebreak/pier9-freight/"}
		if d := cmp.Diff(ids, want); d != "" {
			t.Errorf("run ids (-got +want)\n%s", d)
		}
	}
}

// TestSARIFUnknown: not-evaluable results are left out unless asked for.
func TestSARIFUnknown(t *testing.T) {
	count := func(opts Options) int {
		n := 0
		for _, run := range decodeSARIF(t, render(t, "sarif", opts)).Runs {
			for _, res := range run.Results {
				if res.Properties.Status == string(assess.StatusNotEvaluable) {
					n++
				}
			}
		}
		return n
	}
	if n := count(Options{}); n != 0 {
		t.Errorf("default SARIF has %d not-evaluable results", n)
	}
	if n := count(Options{IncludeUnknown: true}); n != 1 {
		t.Errorf("IncludeUnknown SARIF has %d not-evaluable results, want 1", n)
	}
}

// TestSARIFMaxResults: a run over the cap keeps the most severe results, says
// so in a notification, and tells the caller.
func TestSARIFMaxResults(t *testing.T) {
	var told []string
	opts := Options{IncludePassing: true, SARIFMaxResults: 2, OnTruncate: func(s string, kept, total int) {
		told = append(told, s)
		if kept != 2 || total != 7 {
			t.Errorf("OnTruncate(%q, %d, %d), want 2 of 7", s, kept, total)
		}
	}}
	out := render(t, "sarif", opts)
	validateAgainst(t, compileSchema(t, "sarif"), out)
	d := decodeSARIF(t, out)
	run := d.Runs[0]
	if len(run.Results) != 2 || run.Results[0].Properties.Status != "fail" || run.Results[1].Properties.Status != "fail" {
		t.Errorf("kept %+v, want the two most severe fails", run.Results)
	}
	if len(run.Invocations[0].ToolExecutionNotifications) != 1 {
		t.Errorf("no notification of the cut: %+v", run.Invocations)
	}
	if d := cmp.Diff(told, []string{""}); d != "" {
		t.Errorf("OnTruncate calls (-got +want)\n%s", d)
	}
}

// TestWriteSARIFFiles: one file per subject, each one valid run, together
// the results of the single run.
func TestWriteSARIFFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sarif")
	paths, err := WriteSARIFFiles(dir, fixture(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var all sarifDoc
	for _, p := range paths {
		names = append(names, filepath.Base(p))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		validateAgainst(t, compileSchema(t, "sarif"), b)
		d := decodeSARIF(t, b)
		if len(d.Runs) != 1 {
			t.Errorf("%s has %d runs", p, len(d.Runs))
		}
		all.Runs = append(all.Runs, d.Runs...)
	}
	if d := cmp.Diff(names, []string{"msp.sarif", "cedar-law.sarif", "granite-cu.sarif", "pier9-freight.sarif"}); d != "" {
		t.Errorf("files (-got +want)\n%s", d)
	}
	var single bytes.Buffer
	if err := Write(&single, "sarif", fixture(), Options{}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(resultKeys(t, all), resultKeys(t, decodeSARIF(t, single.Bytes()))); d != "" {
		t.Errorf("files' results differ from the single run (-files +single)\n%s", d)
	}
}
