package ingest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
)

// sharedEVTX lists the real .evtx files of ../shared/data/evtx (beside the
// repository in development and CI). The test fails, not skips, when they
// are missing.
func sharedEVTX(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../../../shared/data/evtx/*.evtx")
	if len(files) == 0 {
		t.Fatal("no .evtx files in ../../../shared/data/evtx (the shared test data must sit beside the repository)")
	}
	return files
}

// checkGolden compares lines with testdata/<name>.golden (-update rewrites).
func checkGolden(t *testing.T, name string, got []string) {
	t.Helper()
	golden := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
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
		t.Errorf("%s mismatch (-got +want):\n%s", name, d)
	}
}

// TestGoldenRealEVTX reads the real EVTX-ATTACK-SAMPLES files.
func TestGoldenRealEVTX(t *testing.T) {
	for _, f := range sharedEVTX(t) {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".evtx"), func(t *testing.T) {
			r, err := Open(context.Background(), f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got := readAll(t, r)
			for i, l := range got {
				got[i] = strings.ReplaceAll(l, f, name)
			}
			checkGolden(t, "evtx/"+name, got)
		})
	}
}

var fixtureBase = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// renderXML renders events as rendered event XML (evtxtest.XML).
func renderXML(evs []evtxtest.Event, bom, root bool) []byte { return evtxtest.XML(evs, bom, root) }

func readBytes(t *testing.T, name string, data []byte, opts Options) []string {
	t.Helper()
	r, err := NewReader(name, bytes.NewReader(data), opts)
	if err != nil {
		t.Fatal(err)
	}
	return readAll(t, r)
}

// TestGoldenWindowsFixtures reads the Kerberos and NTLM sprays as .evtx
// and as rendered XML: the events must agree field for field (line numbers
// are record numbers in both).
func TestGoldenWindowsFixtures(t *testing.T) {
	for name, evs := range map[string][]evtxtest.Event{"kerberos_spray": evtxtest.KerberosSpray(fixtureBase), "ntlm_spray": evtxtest.NTLMSpray(fixtureBase)} {
		t.Run(name, func(t *testing.T) {
			got := readBytes(t, name+".evtx", evtxtest.Write(evs), Options{})
			checkGolden(t, "evtx/"+name+".evtx", got)
			for _, form := range []struct {
				name      string
				bom, root bool
			}{{"wevtutil", false, false}, {"saved", true, true}} {
				x := readBytes(t, name+".xml", renderXML(evs, form.bom, form.root), Options{})
				if d := cmp.Diff(stripForCompare(got), stripForCompare(x)); d != "" {
					t.Errorf("%s: .evtx and %s XML disagree (-evtx +xml):\n%s", name, form.name, d)
				}
			}
		})
	}
}

// stripForCompare drops what legitimately differs between the binary and
// the XML form: the message (Name=Value pairs vs the XML text) and the
// format name in the summary line.
func stripForCompare(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if j := strings.Index(l, " message="); j >= 0 {
			k := strings.Index(l[j+1:], `" `)
			if k >= 0 {
				l = l[:j] + l[j+1+k+1:]
			}
		}
		l = strings.Replace(l, "format=evtx", "format=X", 1)
		l = strings.Replace(l, "format=xml", "format=X", 1)
		out[i] = l
	}
	return out
}
