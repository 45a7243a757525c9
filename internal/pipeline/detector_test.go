package pipeline

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// An incident goes from the detector through the store to the page and
// the API as one type: what Detection reads back from the store is the
// detector's incident, every field of it.
func TestIncidentRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 10, 1, 123456000, time.UTC)
	in := &detect.Incident{
		ID: "f3a2323354de3979", Rule: "b1b70d67", RuleName: "cross_tenant_spray", Title: "One source fails against several tenants",
		Severity: "critical", Level: "high", Tenant: "alpha-co", Tenants: []string{"alpha-co", "bravo-co"},
		Key: map[string]string{"source.ip": "203.0.113.9"}, First: at, Last: at.Add(time.Minute), Count: 7,
		Distinct: 2, DistinctCap: true, Field: "tenant", Values: []string{"alpha-co", "bravo-co"}, Techniques: []string{"T1110.003"},
		Escalations: []detect.Escalation{{Rule: "r2", Title: "then a success", Level: "critical", Time: at.Add(time.Minute)}},
		Alerts:      2,
		Samples:     []detect.Sample{{Time: at, Action: "logon", Outcome: "failure", Reason: "bad_password", User: "admin", SourceIP: "203.0.113.9", Host: "srv01", Tenant: "alpha-co", File: "auth.log", Line: 3}},
		Lists:       []detect.ValueList{{Field: "user.name", Distinct: 3, Capped: true, Top: []detect.ListedValue{{Value: "admin", Count: 5}}}},
		Single:      true,
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := Stored(in)
	if _, _, err := st.UpsertIncident(ctx, &s); err != nil {
		t.Fatal(err)
	}
	back, err := st.GetIncident(ctx, store.AllTenants(), in.ID)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(in)
	got, _ := json.Marshal(Detection(back))
	var w, g map[string]any
	_ = json.Unmarshal(want, &w)
	_ = json.Unmarshal(got, &g)
	if d := cmp.Diff(w, g); d != "" {
		t.Errorf("detector's incident and the one read back from the store differ (-detect +store):\n%s", d)
	}
	// The columns win over the detail: the workflow and the sync change them.
	back.Count, back.Severity = 9, "high"
	if d := Detection(back); d.Count != 9 || d.Severity != "high" {
		t.Errorf("columns not applied: count %d severity %s", d.Count, d.Severity)
	}
}
