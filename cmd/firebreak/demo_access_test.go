package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// TestDemoTenantAccessAgreesWithCLI: each demo tenant's page shows the
// MSP's access into it as `firebreak blast --tenant T --format json`
// computes it on the same estate, KEV catalog and time — every principal
// reaching the tenant, in the CLI's order, with its MFA, standing and
// just-in-time privilege and the first hop of each, and the counts at or
// above each privilege.
func TestDemoTenantAccessAgreesWithCLI(t *testing.T) {
	ctx := context.Background()
	const now = "2026-11-27T09:00:00Z"
	d := quietDemo(t)
	e, err := estate.Load(d.estate)
	if err != nil {
		t.Fatal(err)
	}
	get := dashboardGetter(t, d)
	label := func(s string) string { return strings.ReplaceAll(s, "_", " ") }
	rows := 0
	for _, tn := range e.Tenants {
		path := filepath.Join(t.TempDir(), "access.json")
		var o, eb bytes.Buffer
		args := []string{"blast", "--now", now, "--kev", d.kev, "--tenant", tn.ID, "-f", "json", "-o", path, d.estate}
		if code := run(ctx, args, &o, &eb); code != exitOK {
			t.Fatalf("firebreak %s: exit %d\n%s", strings.Join(args, " "), code, eb.String())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Access struct {
				Principals []struct {
					ID, Kind, Sub, Home, MFA string
					Standing                 string `json:"standing"`
					StandingVia              string `json:"standing_via"`
					Eligible                 string `json:"eligible"`
					EligibleVia              string `json:"eligible_via"`
				} `json:"principals"`
				Standing map[string]int `json:"standing"`
				Eligible map[string]int `json:"eligible"`
			} `json:"access"`
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		a := rep.Access
		page := get("/tenants/" + tn.ID)
		text := squeeze(html.UnescapeString(stripTags(page)))
		if want := fmt.Sprintf("%d principals reach this tenant by any path", len(a.Principals)); !strings.Contains(text, want) {
			t.Errorf("%s: page lacks %q (as blast --tenant)", tn.ID, want)
		}
		for _, p := range []string{"full_control", "admin", "operate", "read"} {
			if a.Eligible[p] == 0 {
				continue
			}
			want := fmt.Sprintf(`data-priv="%s" data-eligible="%d" data-standing="%d"`, p, a.Eligible[p], a.Standing[p])
			if !strings.Contains(page, want) {
				t.Errorf("%s: access summary lacks %s (as blast --tenant)", tn.ID, want)
			}
		}
		// The rows, in the CLI's order.
		at := 0
		for _, p := range a.Principals {
			marker := `<tr data-principal="` + html.EscapeString(p.ID) + `">`
			i := strings.Index(page[at:], marker)
			if i < 0 {
				t.Errorf("%s: principal %s missing or out of blast --tenant's order", tn.ID, p.ID)
				continue
			}
			at += i + len(marker)
			cells := rowCells(page, marker[len("<tr "):])
			for k := range cells {
				cells[k] = html.UnescapeString(cells[k])
			}
			who := p.ID + " " + p.Kind
			if p.Sub != "" {
				who += " · " + p.Sub
			}
			if p.Home != "" {
				who += " · home " + p.Home
			}
			mfa, standing := "—", label(p.Standing)
			if p.MFA != "" {
				mfa = label(p.MFA)
			}
			if p.StandingVia != "" {
				standing += " via " + p.StandingVia
			}
			eligible := label(p.Eligible)
			if p.EligibleVia != "" {
				eligible += " via " + p.EligibleVia
			}
			want := []string{who, mfa, standing, eligible}
			if strings.Join(cells, "|") != strings.Join(want, "|") {
				t.Errorf("%s: row %q, want %q (as blast --tenant)", tn.ID, cells, want)
			}
			rows++
		}
	}
	if rows == 0 {
		t.Fatal("no principal reaches any demo tenant: nothing compared")
	}
}
