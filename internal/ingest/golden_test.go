package ingest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/event"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// render is the stable text form of an event used by golden files.
func render(ev *event.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %s/%s/%s", ev.Line, ev.Timestamp.UTC().Format(time.RFC3339Nano), ev.Dataset, ev.Category, ev.Action)
	fmt.Fprintf(&b, " outcome=%s", ev.Outcome)
	if ev.Reason != "" {
		fmt.Fprintf(&b, " reason=%s", ev.Reason)
	}
	if ev.Code != "" {
		fmt.Fprintf(&b, " code=%s", ev.Code)
	}
	if ev.Count != 0 {
		fmt.Fprintf(&b, " count=%d", ev.Count)
	}
	fmt.Fprintf(&b, " user=%q", ev.UserName)
	if ev.UserDomain != "" {
		fmt.Fprintf(&b, " domain=%q", ev.UserDomain)
	}
	if ev.SourceIP.IsValid() {
		fmt.Fprintf(&b, " ip=%s", ev.SourceIP)
	}
	if ev.SourcePort != 0 {
		fmt.Fprintf(&b, " port=%d", ev.SourcePort)
	}
	if ev.HostName != "" {
		fmt.Fprintf(&b, " host=%s", ev.HostName)
	}
	if ev.Tenant != "" {
		fmt.Fprintf(&b, " tenant=%s", ev.Tenant)
	}
	if ev.Message != "" {
		fmt.Fprintf(&b, " message=%q", ev.Message)
	}
	keys := make([]string, 0, len(ev.Fields))
	for k := range ev.Fields {
		keys = append(keys, k)
	}
	slicesSort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, ev.Fields[k])
	}
	return b.String()
}

func readAll(t testing.TB, r *Reader) []string {
	t.Helper()
	var out []string
	var ev event.Event
	for {
		err := r.Next(&ev)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, render(&ev))
	}
	st := r.Stats()
	out = append(out, fmt.Sprintf("# format=%s lines=%d parsed=%d ignored=%d unparsed=%d toolong=%d", st.Format, st.Lines, st.Parsed, st.Ignored, st.Unparsed, st.TooLong))
	for _, s := range st.Samples {
		out = append(out, "# sample "+s.String())
	}
	for _, name := range slicesSorted(st.Programs) {
		p := st.Programs[name]
		out = append(out, fmt.Sprintf("# program %s parsed=%d ignored=%d unparsed=%d", name, p.Parsed, p.Ignored, p.Unparsed))
		for _, s := range p.Samples {
			out = append(out, "#   sample "+s.String())
		}
	}
	return out
}

// TestGolden parses every testdata input and compares the events with
// testdata/<name>.golden (run with -update to rewrite).
func TestGolden(t *testing.T) {
	tm := &TenantMap{Domains: map[string]string{"cedar-law.example": "cedar-law", "riverside-clinic.example": "riverside-clinic",
		"northgate-logistics.example": "northgate-logistics", "oakfield-school.example": "oakfield-school"},
		EntraIDs: map[string]string{"99999999-8888-7777-6666-555555555555": "riverside-clinic"}}
	tm.normalize()
	cases := []struct {
		file string
		opts Options
	}{
		{"auth.log", Options{Year: 2026, TenantMap: tm}},
		{"legacy_pam.log", Options{Year: 2005}},
		{"journald.ndjson", Options{TenantMap: tm}},
		{"winlogbeat.ndjson", Options{TenantMap: tm}},
		{"nxlog.ndjson", Options{TenantMap: tm}},
		{"getwinevent.json", Options{TenantMap: tm}},
		{"graph_signins.json", Options{TenantMap: tm}},
		{"azuremonitor_signins.ndjson", Options{TenantMap: tm}},
		{"okta.json", Options{TenantMap: tm}},
		{"rmm.ndjson", Options{}},
	}
	m, err := LoadMapping("testdata/rmm-mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			opts := c.opts
			if c.file == "rmm.ndjson" {
				opts.Mapping = m
				opts.Format = FormatGeneric
			}
			r, err := Open(context.Background(), filepath.Join("testdata", c.file), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got := readAll(t, r)
			golden := filepath.Join("testdata", c.file+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			want := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			if d := cmp.Diff(got, want); d != "" {
				t.Errorf("%s mismatch (-got +want):\n%s", c.file, d)
			}
		})
	}
}
