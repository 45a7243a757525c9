package detect

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/ingest/loggen"
	"github.com/google/go-cmp/cmp"
)

// TestCandidatesPrunedKeepIncidents: evaluating only the rules whose
// condition may hold given an event's dataset, category, outcome, action
// and reason gives the incidents, counts and matches of evaluating every
// rule its logsource selects — with the built-in pack and SigmaHQ's
// Windows security, Linux, Entra sign-in and Okta rules, on generated days
// of every source and the example estate's logs — and does prune.
func TestCandidatesPrunedKeepIncidents(t *testing.T) {
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"rules/windows/builtin/security", "rules/linux", "rules/cloud/azure/signin_logs", "rules/identity/okta"} {
		root := filepath.Join(sigmaHQ, dir)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yml") {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if rs, err := ParseRules(p, data); err == nil {
				rules = append(rules, rs...)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("SigmaHQ corpus: %v (shared/data/sigmahq must sit beside the repository)", err)
		}
	}
	var evs []event.Event
	read := func(name string, data []byte, opts ingest.Options) {
		r, err := ingest.NewReader(name, bytes.NewReader(data), opts)
		if err != nil {
			t.Logf("%s: %v (not read)", name, err)
			return
		}
		var ev event.Event
		for {
			if err := r.Next(&ev); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				return
			}
			evs = append(evs, copyEv(&ev))
		}
	}
	for _, format := range []string{loggen.FormatSSHD, loggen.FormatWindows, loggen.FormatEntra, loggen.FormatOkta} {
		var buf bytes.Buffer
		if _, err := loggen.Generate(&buf, loggen.Options{Format: format, Lines: 30000, Seed: 9}); err != nil {
			t.Fatal(err)
		}
		read(format, buf.Bytes(), ingest.Options{Year: 2026})
	}
	logs, _ := filepath.Glob("../../examples/harbourview/logs/*")
	for _, f := range logs {
		if fi, err := os.Stat(f); err != nil || fi.IsDir() {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		read(f, data, ingest.Options{Year: 2026})
	}
	run := func(noPrune bool) ([]string, Stats, int) {
		e, err := NewEngine(rules, Options{})
		if err != nil {
			t.Fatal(err)
		}
		e.noPrune = noPrune
		for i := range evs {
			ev := copyEv(&evs[i])
			e.Process(&ev)
		}
		e.Flush()
		incs := e.Incidents()
		SortIncidents(incs)
		var out []string
		for _, inc := range incs {
			a := inc.ECS("", inc.Last)
			out = append(out, string(a.AppendECS(nil)))
		}
		cands := 0
		for _, c := range e.cands {
			cands += len(c)
		}
		return out, e.Stats(), cands
	}
	all, allSt, allC := run(true)
	some, someSt, someC := run(false)
	if len(all) == 0 {
		t.Fatal("no incidents")
	}
	if d := cmp.Diff(all, some); d != "" {
		t.Errorf("incidents differ (-every rule +pruned):\n%s", d)
	}
	if d := cmp.Diff(allSt, someSt); d != "" {
		t.Errorf("stats differ (-every rule +pruned):\n%s", d)
	}
	if someC >= allC {
		t.Errorf("nothing pruned: %d candidates, %d without pruning", someC, allC)
	}
	t.Logf("%d events, %d rules, %d incidents; candidates %d -> %d", len(evs), len(rules), len(all), allC, someC)
}
