package assess

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/firebreak-msp/firebreak/internal/access"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testCase is testdata/<case>/case.yaml: when to evaluate, with or without
// KEV, and the statuses expected. all_automated sets the expected status of
// every automated built-in control applicable to a subject (the graph
// controls FB-TRUST-* are tested in internal/trust); expect overrides or adds
// single (subject, control) pairs.
type testCase struct {
	Now          string                       `yaml:"now"`
	KEV          bool                         `yaml:"kev"`
	Policies     []string                     `yaml:"policies"`
	Detection    string                       `yaml:"detection"` // a detection summary (detect --summary-file) in the case dir
	AllAutomated map[string]Status            `yaml:"all_automated"`
	Expect       map[string]map[string]Status `yaml:"expect"`
}

func loadCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func builtin(c *catalog.Control) bool {
	return c.Kind == catalog.KindAutomated && !strings.HasPrefix(c.Rego, "firebreak.checks.trust")
}

func runCase(t *testing.T, dir string) (*Report, testCase) {
	t.Helper()
	var tc testCase
	b, err := os.ReadFile(filepath.Join(dir, "case.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&tc); err != nil {
		t.Fatalf("%s/case.yaml: %v", dir, err)
	}
	now, err := estate.ParseDate(tc.Now)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Clock: func() time.Time { return now.Time }, KEVMissing: "CISA KEV catalog (test: none)"}
	if tc.KEV {
		k, err := kev.Load("testdata/kev.json")
		if err != nil {
			t.Fatal(err)
		}
		opts.KEV = k
	}
	for _, p := range tc.Policies {
		opts.PolicyDirs = append(opts.PolicyDirs, filepath.Join(dir, p))
	}
	if tc.Detection != "" {
		fh, err := os.Open(filepath.Join(dir, tc.Detection))
		if err != nil {
			t.Fatal(err)
		}
		opts.AuthMonitoring, err = LoadAuthMonitoring(fh, tc.Detection)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	e, err := estate.Load(filepath.Join(dir, "estate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// With the trust graph, as the CLI and serve assess (internal/evaluate):
	// the controls judging access by the matrix read it.
	opts.Access = access.Compute(e, access.Options{Now: now.Time, KEV: opts.KEV})
	opts.Trust = func() (*trust.FactsDoc, error) {
		g, err := trust.Build(e, trust.Options{Now: now.Time, KEVCatalog: opts.KEV, Access: opts.Access})
		if err != nil {
			return nil, err
		}
		return trust.FactsOf(g), nil
	}
	en, err := New(loadCatalog(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := en.Run(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	return rep, tc
}

// goldenResult is the stable, reviewable form of a result.
type goldenResult struct {
	Subject  string   `json:"subject"`
	Control  string   `json:"control"`
	Status   Status   `json:"status"`
	Message  string   `json:"message"`
	Missing  []string `json:"missing,omitempty"`
	Evidence []string `json:"evidence,omitempty"`
}

func golden(rep *Report) []byte {
	var out struct {
		Results []goldenResult `json:"results"`
		Scores  []Score        `json:"scores"`
	}
	for _, r := range rep.Results {
		g := goldenResult{Subject: r.Subject, Control: r.Control, Status: r.Status, Message: r.Message, Missing: r.Missing}
		for _, ev := range r.Evidence {
			g.Evidence = append(g.Evidence, ev.Kind+" "+ev.ID+" @"+filepath.Base(ev.Pos.File)+":"+itoa(ev.Pos.Line)+" "+ev.Detail)
		}
		out.Results = append(out.Results, g)
	}
	out.Scores = rep.Scores
	b, _ := json.MarshalIndent(out, "", "  ")
	return append(b, '\n')
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestCases(t *testing.T) {
	cat := loadCatalog(t)
	dirs, err := filepath.Glob("testdata/*/case.yaml")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no test cases: %v", err)
	}
	for _, cf := range dirs {
		dir := filepath.Dir(cf)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			rep, tc := runCase(t, dir)
			got := map[string]Status{}
			for _, r := range rep.Results {
				got[r.Subject+" "+r.Control] = r.Status
			}
			want := map[string]Status{}
			for subject, st := range tc.AllAutomated {
				for _, c := range cat.Controls() {
					if !builtin(c) || (subject == estate.MSP && !c.AppliesToMSP()) || (subject != estate.MSP && !c.AppliesToTenants()) {
						continue
					}
					want[subject+" "+c.ID] = st
				}
			}
			for subject, m := range tc.Expect {
				for id, st := range m {
					want[subject+" "+id] = st
				}
			}
			sub := map[string]Status{}
			for k := range want {
				sub[k] = got[k]
			}
			if d := cmp.Diff(sub, want); d != "" {
				t.Errorf("statuses (-got +want):\n%s", d)
			}
			// Every result carries evidence with a position.
			for _, r := range rep.Results {
				if len(r.Evidence) == 0 {
					t.Errorf("%s %s: no evidence", r.Subject, r.Control)
				}
				for _, ev := range r.Evidence {
					if ev.Pos.File == "" && ev.Kind != "kev" && ev.Kind != "log_source" { // outside the estate: the KEV catalog, a detection summary
						t.Errorf("%s %s: evidence %s %s has no position", r.Subject, r.Control, ev.Kind, ev.ID)
					}
				}
				if r.Status == StatusNotEvaluable && len(r.Missing) == 0 {
					t.Errorf("%s %s: not evaluable without naming the missing evidence", r.Subject, r.Control)
				}
			}
			gp := filepath.Join(dir, "golden.json")
			b := golden(rep)
			if *update {
				if err := os.WriteFile(gp, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantB, err := os.ReadFile(gp)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if d := cmp.Diff(string(b), string(wantB)); d != "" {
				t.Errorf("golden %s (-got +want):\n%s", gp, d)
			}
		})
	}
}

// TestEveryAutomatedControlBothWays asserts that the data-driven cases
// expect every built-in automated control to pass somewhere and to fail
// somewhere.
func TestEveryAutomatedControlBothWays(t *testing.T) {
	cat := loadCatalog(t)
	seen := map[string]map[Status]bool{}
	files, _ := filepath.Glob("testdata/*/case.yaml")
	for _, cf := range files {
		var tc testCase
		b, _ := os.ReadFile(cf)
		if err := yaml.Unmarshal(b, &tc); err != nil {
			t.Fatal(err)
		}
		mark := func(id string, st Status) {
			if seen[id] == nil {
				seen[id] = map[Status]bool{}
			}
			seen[id][st] = true
		}
		for subject, st := range tc.AllAutomated {
			for _, c := range cat.Controls() {
				if builtin(c) && ((subject == estate.MSP && c.AppliesToMSP()) || (subject != estate.MSP && c.AppliesToTenants())) {
					mark(c.ID, st)
				}
			}
		}
		for _, m := range tc.Expect {
			for id, st := range m {
				mark(id, st)
			}
		}
	}
	var missing []string
	for _, c := range cat.Controls() {
		if !builtin(c) {
			continue
		}
		if !seen[c.ID][StatusPass] {
			missing = append(missing, c.ID+" never expected to pass")
		}
		if !seen[c.ID][StatusFail] {
			missing = append(missing, c.ID+" never expected to fail")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("automated controls not tested both ways:\n  %s", strings.Join(missing, "\n  "))
	}
}

// TestCatalogAndPolicies: every automated control names a package that
// exists and mentions the control's id; every control id a built-in policy
// mentions is in the catalog.
func TestCatalogAndPolicies(t *testing.T) {
	cat := loadCatalog(t)
	srcs := map[string]string{} // package -> source
	files, _ := filepath.Glob("policies/*.rego")
	all := ""
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		all += s
		for _, line := range strings.Split(s, "\n") {
			if strings.HasPrefix(line, "package ") {
				srcs[strings.TrimSpace(strings.TrimPrefix(line, "package "))] += s
			}
		}
	}
	for _, c := range cat.Controls() {
		if c.Kind != catalog.KindAutomated {
			continue
		}
		src, ok := srcs[c.Rego]
		if !ok {
			t.Errorf("%s: package %s not found in policies/", c.ID, c.Rego)
			continue
		}
		if !strings.Contains(src, `"`+c.ID+`"`) {
			t.Errorf("%s: package %s never emits it", c.ID, c.Rego)
		}
	}
	for _, id := range idsIn(all) {
		if _, ok := cat.Control(id); !ok {
			t.Errorf("policies mention %s, which is not in the catalog", id)
		}
	}
}

func idsIn(s string) []string {
	var out []string
	for {
		i := strings.Index(s, `"FB-`)
		if i < 0 {
			return out
		}
		s = s[i+1:]
		j := strings.IndexByte(s, '"')
		if j < 0 {
			return out
		}
		out = append(out, s[:j])
		s = s[j:]
	}
}

func TestPolicyErrorsNameFileAndLine(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct{ name, src, want string }{
		{"syntax", "package firebreak.checks.bad\n\nresults contains x if {\n  x := \n}\n", "bad.rego:"},
		{"undefined-ref", "package firebreak.checks.bad\n\nresults contains x if {\n  x := nosuch.thing\n}\n", "bad.rego:4"},
		{"runtime", "package firebreak.checks.bad\n\nresults contains {\"control\": \"X-1\", \"status\": \"pass\", \"message\": sprintf(\"%d\", [to_number(\"nan-value\")])} if true\n", "bad.rego:3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "bad.rego"), []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			en, err := New(loadCatalog(t), Options{Clock: now, PolicyDirs: []string{dir}})
			if err == nil {
				_, err = en.Run(context.Background(), &estate.Estate{Tenants: []estate.Tenant{{ID: "t1"}}})
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want *PolicyError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
		})
	}
}

func TestClockRequired(t *testing.T) {
	if _, err := New(loadCatalog(t), Options{}); err == nil {
		t.Fatal("New without a clock succeeded")
	}
}

func TestSubjects(t *testing.T) {
	rep, _ := runCase(t, "testdata/good")
	en, err := New(loadCatalog(t), Options{Clock: func() time.Time { return rep.At }, Subjects: []string{"t1"}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := estate.Load("testdata/good/estate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	one, err := en.Run(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range one.Results {
		if r.Subject != "t1" {
			t.Fatalf("--tenant t1 produced a result for %s", r.Subject)
		}
	}
	if len(one.Scores) != 1 || one.Scores[0].Subject != "t1" {
		t.Errorf("scores = %+v, want only t1", one.Scores)
	}
	en2, _ := New(loadCatalog(t), Options{Clock: func() time.Time { return rep.At }, Subjects: []string{"nope"}})
	if _, err := en2.Run(context.Background(), e); err == nil {
		t.Error("unknown tenant accepted")
	}
}

func TestExtraKeyReserved(t *testing.T) {
	_, err := New(loadCatalog(t), Options{Clock: time.Now, Extra: map[string]any{"tenant": 1}})
	if err == nil || !strings.Contains(err.Error(), `"tenant"`) {
		t.Fatalf("err = %v, want a clash on tenant", err)
	}
}

func TestExtraReachesPolicies(t *testing.T) {
	dir := t.TempDir()
	src := "package firebreak.checks.extra\n\nresults contains {\"control\": \"X-EXTRA\", \"status\": \"pass\", \"message\": input.mine.note} if input.subject.type == \"msp\"\n"
	if err := os.WriteFile(filepath.Join(dir, "x.rego"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }
	errBroken := errors.New("building mine failed")
	for _, tc := range []struct {
		name    string
		extra   any
		wantErr error
	}{
		{"value", map[string]any{"note": "hello"}, nil},
		{"func", func() (any, error) { return map[string]any{"note": "hello"}, nil }, nil},
		{"func error", func() (any, error) { return nil, errBroken }, errBroken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			en, err := New(loadCatalog(t), Options{Clock: now, PolicyDirs: []string{dir}, Extra: map[string]any{"mine": tc.extra}})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := en.Run(context.Background(), &estate.Estate{})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Run error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rep.Results {
				if r.Control == "X-EXTRA" {
					if r.Message != "hello" {
						t.Errorf("message = %q", r.Message)
					}
					return
				}
			}
			t.Error("custom control X-EXTRA missing")
		})
	}
}
