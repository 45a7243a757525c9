package server

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// The remediation queue on the dashboard: a handler sets owner (one of
// the handlers only), due date and state; the CSV export defuses formulas
// and a tenant viewer's export and tenant page show only the steps that
// make its tenant safer.
func TestRemediationQueue(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	steps := []store.Remediation{
		{Key: "k1", Rank: 1, Action: "=HYPERLINK(\"http://evil\")", Tenants: []string{tenantA, tenantB}, Gain: 12, Proof: "tech-01 → rmm → " + tenantA, Controls: []string{"FB-PRIV-001"}},
		{Key: "k2", Rank: 2, Action: "Require MFA on the vault", Tenants: []string{tenantB}, Gain: 3, Proof: "vault → " + tenantB},
	}
	if err := f.st.SyncRemediation(ctx, 1, steps, nil, f.clk.now()); err != nil {
		t.Fatal(err)
	}
	a := f.client()
	a.login("analyst1")
	if resp, body := a.form("/remediation/k1", url.Values{"owner": {"viewer-a"}, "state": {"open"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("owner outside the handlers: %d %.200s", resp.StatusCode, body)
	}
	if resp, body := a.form("/remediation/k1", url.Values{"owner": {"analyst1"}, "due": {"2026-12-31"}, "state": {"in_progress"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("update step: %d %.200s", resp.StatusCode, body)
	}
	q, err := f.st.ListRemediation(ctx, store.AllTenants(), store.RemediationFilter{})
	if err != nil || len(q) != 2 || q[0].Owner != "analyst1" || q[0].State != store.RemediationInProgress || !q[0].Due.Equal(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("queue after update: %+v %v", q, err)
	}
	_, csv := a.do("GET", "/remediation.csv", nil, nil)
	if !strings.Contains(csv, `'=HYPERLINK`) || !strings.Contains(csv, "analyst1,2026-12-31,in_progress") || !strings.Contains(csv, "Require MFA on the vault") {
		t.Errorf("CSV export:\n%s", csv)
	}
	v := f.client()
	v.login("viewer-a")
	_, vcsv := v.do("GET", "/remediation.csv", nil, nil)
	if strings.Contains(vcsv, "vault") || strings.Contains(vcsv, tenantB) || !strings.Contains(vcsv, tenantA) {
		t.Errorf("tenant viewer's CSV names another tenant's step:\n%s", vcsv)
	}
	if resp, _ := v.form("/remediation/k1", url.Values{"state": {"done"}}); resp.StatusCode == http.StatusSeeOther {
		t.Errorf("a viewer changed a step")
	}
	_, tp := a.do("GET", "/tenants/"+tenantA, nil, nil)
	if !strings.Contains(tp, "Remediation steps that make this tenant safer") || strings.Contains(tp, "Require MFA on the vault") {
		t.Errorf("tenant page queue: want step 1 only")
	}
}

// A step the latest plan dropped while the controls it fixes still fail is
// not done, and the overview and the tenant page say why; a step done when
// its controls passed is listed with when (issue 15: "re-checked on the
// next assessment, done when the control passes").
func TestRemediationKeptOpenSaysWhy(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	plan := `{"plan":{"limit":1,"excess_before":2,"excess_after":0,"steps":[{"changes":[{"op":"jit","target":"rmm"}],"why":"Make every standing grant to rmm just-in-time","gain":2}]}}`
	if err := f.st.SaveBlast(ctx, &store.BlastResult{RunID: 2, JSON: json.RawMessage(plan), Ranking: []store.BlastRank{{Rank: 1, Node: "rmm", Kind: "tool", Tenants: []string{tenantA, tenantB}}}}); err != nil {
		t.Fatal(err)
	}
	t1, t2 := f.clk.now().Add(-48*time.Hour), f.clk.now().Add(-24*time.Hour)
	old := []store.Remediation{
		{Key: "vault", Rank: 1, Action: "Require MFA on the vault", Tenants: []string{tenantA}, Gain: 3, Proof: "vault → " + tenantA, Controls: []string{"FB-PRIV-001", "FB-MFA-001"}},
		{Key: "backup", Rank: 2, Action: "Cut the backup console's agent", Tenants: []string{tenantA}, Gain: 1, Proof: "backup → " + tenantA, Controls: []string{"FB-BAK-001"}},
	}
	if err := f.st.SyncRemediation(ctx, 1, old, nil, t1); err != nil {
		t.Fatal(err)
	}
	now := []store.Remediation{{Key: "rmm", Rank: 1, Action: "Make every standing grant to rmm just-in-time", Tenants: []string{tenantA, tenantB}, Gain: 2, Proof: "rmm → " + tenantA}}
	if err := f.st.SyncRemediation(ctx, 2, now, map[string][]string{"vault": {"FB-PRIV-001"}}, t2); err != nil {
		t.Fatal(err)
	}
	a := f.client()
	a.login("analyst1")
	_, ov := a.do("GET", "/", nil, nil)
	text := squeezeText(ov)
	for _, want := range []string{
		"not done: the latest plan no longer lists it (last in run #1), but FB-PRIV-001 still fails",
		"Done (the controls they fixed pass): Cut the backup console's agent — " + t2.UTC().Format("2006-01-02 15:04 UTC"),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	// The fix-first list's step 1 is the latest plan's (rmm), not the kept
	// vault step of the same rank.
	if !strings.Contains(ov, `id="q-rmm"`) || strings.Contains(ov, `id="q-vault"`) {
		t.Errorf("fix first shows the wrong queue entry for step 1")
	}
	_, tp := a.do("GET", "/tenants/"+tenantA, nil, nil)
	if tt := squeezeText(tp); !strings.Contains(tt, "Require MFA on the vault not done: the latest plan no longer lists it (last in run #1), but FB-PRIV-001 still fails") ||
		!strings.Contains(tt, "step 1 of the fix-first plan") || strings.Contains(tt, "backup console") {
		t.Errorf("tenant page's queue: want the kept vault step with why, rmm as step 1, not the done backup step")
	}
}

var (
	tagsRE   = regexp.MustCompile(`<[^>]*>`)
	spacesRE = regexp.MustCompile(`\s+`)
)

// squeezeText is a page's text: tags dropped, entities decoded, runs of
// white space one space.
func squeezeText(page string) string {
	return spacesRE.ReplaceAllString(html.UnescapeString(tagsRE.ReplaceAllString(page, " ")), " ")
}
