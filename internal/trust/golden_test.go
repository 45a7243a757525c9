package trust

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden renders the Kaseya shape in every text format and compares it
// with testdata/*.golden (go test -run Golden -update rewrites them).
func TestGolden(t *testing.T) {
	g := mustBuild(t, kaseyaEstate(6), Options{KEV: map[string][]string{"rmm": {"CVE-2021-30116"}}})
	for _, tc := range []struct {
		name string
		opts ReportOptions
		dot  bool
	}{
		{name: "kaseya-summary", opts: ReportOptions{Provider: "Kaseya-shaped MSP", Command: "firebreak blast kaseya"}},
		{name: "kaseya-suggest", opts: ReportOptions{Suggest: true, Command: "firebreak blast kaseya"}},
		{name: "kaseya-from-tech-02", opts: ReportOptions{From: "tech-02"}},
		{name: "kaseya-whatif", opts: ReportOptions{Changes: []Change{{Op: OpHarden, Target: "rmm", Value: "patched"}, {Op: OpJIT, Target: "techs->*"}}}},
		{name: "kaseya-dot", dot: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if tc.dot {
				if err := WriteDOT(&buf, g, DOTOptions{From: "tech-01"}); err != nil {
					t.Fatal(err)
				}
			} else {
				r, err := NewReport(g, tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				if err := WriteTable(&buf, r); err != nil {
					t.Fatal(err)
				}
				// The JSON form carries the same data and parses.
				var jb bytes.Buffer
				if err := WriteJSON(&jb, r); err != nil {
					t.Fatal(err)
				}
				var back map[string]any
				if err := json.Unmarshal(jb.Bytes(), &back); err != nil {
					t.Fatal(err)
				}
				if rk, _ := back["ranking"].([]any); len(rk) > 0 {
					if _, ok := rk[0].(map[string]any)["tenants_admin"]; !ok {
						t.Error("json ranking rows lack tenants_admin")
					}
				}
			}
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run Golden -update to create it)", err)
			}
			if d := cmp.Diff(strings.Split(buf.String(), "\n"), strings.Split(string(want), "\n")); d != "" {
				t.Errorf("(-got +want):\n%s", d)
			}
		})
	}
}
