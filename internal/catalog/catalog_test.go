package catalog

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadEmbedded(t *testing.T) {
	cat, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	per := map[int]map[Party]int{}
	for _, c := range cat.Controls() {
		if per[c.Heading] == nil {
			per[c.Heading] = map[Party]int{}
		}
		per[c.Heading][c.Party]++
	}
	for h := 1; h <= NumHeadings; h++ {
		m := per[h]
		if len(m) == 0 {
			t.Errorf("heading %d (%s) has no controls", h, HeadingName(h))
			continue
		}
		// Every heading has something for the MSP and for the customer.
		if m[PartyMSP]+m[PartyBoth] == 0 {
			t.Errorf("heading %d has no MSP control", h)
		}
		if m[PartyCustomer]+m[PartyBoth] == 0 {
			t.Errorf("heading %d has no customer control", h)
		}
	}
	if _, ok := cat.Control("FB-MFA-001"); !ok {
		t.Error("FB-MFA-001 missing")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"unknown-key", "controls:\n  - id: FB-X-001\n    colour: red\n", "field colour not found"},
		{"bad-heading", "controls:\n  - id: FB-X-001\n    title: t\n    heading: 13\n    party: msp\n    severity: high\n    kind: attested\n    rationale: r\n    remediation: m\n    references: {advisory: AA22-131A §1}\n", "heading 13"},
		{"automated-no-rego", "controls:\n  - id: FB-X-001\n    title: t\n    heading: 1\n    party: msp\n    severity: high\n    kind: automated\n    evidence: [tools]\n    rationale: r\n    remediation: m\n    references: {advisory: AA22-131A §1}\n", "needs rego"},
		{"bad-party", "controls:\n  - id: FB-X-001\n    title: t\n    heading: 1\n    party: vendor\n    severity: high\n    kind: attested\n    rationale: r\n    remediation: m\n    references: {advisory: AA22-131A §1}\n", `party "vendor"`},
		{"broken-yaml", "controls: [\n", "x.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.src), "x.yaml")
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want *ValidationError", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "x.yaml") {
				t.Errorf("error %q does not mention %q and the file", err, tc.want)
			}
		})
	}
}

func TestDuplicateAcrossFiles(t *testing.T) {
	c := "controls:\n  - id: FB-X-001\n    title: t\n    heading: 1\n    party: msp\n    severity: high\n    kind: attested\n    rationale: r\n    remediation: m\n    references: {advisory: AA22-131A §1}\n"
	_, err := LoadFS(fstest.MapFS{"a.yaml": {Data: []byte(c)}, "b.yaml": {Data: []byte(c)}}, "d")
	if err == nil || !strings.Contains(err.Error(), "duplicate control id FB-X-001") || !strings.Contains(err.Error(), "d/b.yaml:2") {
		t.Fatalf("got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("controls:\n  - id: FB-X-001\n    title: t\n    heading: 1\n    party: msp\n    severity: high\n    kind: attested\n    rationale: r\n    remediation: m\n    references: {advisory: AA22-131A §1}\n")
	f.Add("controls: [\n")
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := Parse(strings.NewReader(s), "f.yaml")
		if err == nil {
			for _, c := range cs {
				if c.Heading < 1 || c.Heading > NumHeadings {
					t.Fatalf("accepted heading %d", c.Heading)
				}
			}
		}
	})
}

// TestSeverityOf: one scale for findings (info) and incidents (Sigma's
// informational).
func TestSeverityOf(t *testing.T) {
	for in, want := range map[string]Severity{"informational": SevInfo, "Info": SevInfo, " HIGH ": SevHigh, "critical": SevCritical} {
		if got := SeverityOf(in); got != want {
			t.Errorf("SeverityOf(%q) = %q, want %q", in, got, want)
		}
	}
	if SeverityOf("bogus").Rank() != -1 {
		t.Error("unknown severity ranks")
	}
}

// TestHeadingReferences: a control's advisory reference cites its own
// heading (§N), so a report's heading column and its citation agree.
func TestHeadingReferences(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, ctl := range c.Controls() {
		adv := ctl.References.Advisory
		if !strings.Contains(adv, "§") {
			continue
		}
		if !strings.Contains(adv, fmt.Sprintf("§%d ", ctl.Heading)) {
			t.Errorf("%s: heading %d but the advisory reference cites %q", ctl.ID, ctl.Heading, adv)
		}
	}
}
