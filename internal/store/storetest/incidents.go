package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/store"
)

func testIncidents(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	all := store.AllTenants()
	spray := &store.Incident{ID: "inc-spray", Tenant: "msp", Tenants: []string{Alpha, Bravo}, Rule: "distributed-spray", Title: "Password spray across tenants",
		Severity: "high", First: T0, Last: T0.Add(time.Minute), Count: 40, Level: 1, Techniques: []string{"T1110.003"},
		Key: map[string]string{"source.ip": "203.0.113.7"}, Detail: []byte(`{"sample":["bob@tenant-bravo.example"]}`)}
	got, created, err := s.UpsertIncident(ctx, spray)
	must(t, err)
	if !created || got.Status != store.StatusOpen || got.Count != 40 || !got.First.Equal(T0) || got.Created.IsZero() {
		t.Fatalf("created incident = %+v created=%v", got, created)
	}
	brute := &store.Incident{ID: "inc-brute", Tenant: Alpha, Tenants: []string{Alpha}, Rule: "brute-force", Title: "Brute force", Severity: "medium",
		First: T0, Last: T0.Add(2 * time.Minute), Count: 10, Level: 1}
	_, _, err = s.UpsertIncident(ctx, brute)
	must(t, err)

	ack, err := s.SetIncidentStatus(ctx, all, "inc-spray", store.StatusAcknowledged, "alice")
	must(t, err)
	if ack.Status != store.StatusAcknowledged || ack.StatusBy != "alice" || ack.StatusAt.IsZero() {
		t.Fatalf("acknowledged = %+v", ack)
	}
	_, err = s.AssignIncident(ctx, all, "inc-spray", "bob")
	must(t, err)
	_, err = s.AddIncidentNote(ctx, all, "inc-spray", store.Note{Author: "alice", Text: "blocked 203.0.113.7 at the firewall"})
	must(t, err)
	n2, err := s.AddIncidentNote(ctx, all, "inc-spray", store.Note{Author: "bob", Text: "<script>alert(1)</script>'; DROP TABLE incidents;--", At: T0})
	must(t, err)
	if len(n2.Notes) != 2 || n2.Notes[1].Text != "<script>alert(1)</script>'; DROP TABLE incidents;--" || !n2.Notes[1].At.Equal(T0) {
		t.Fatalf("notes = %+v", n2.Notes)
	}
	if _, err := s.AddIncidentNote(ctx, all, "inc-spray", store.Note{Author: "bob", Text: "  "}); !errorsIs(err, store.ErrInvalid) {
		t.Errorf("empty note = %v, want ErrInvalid", err)
	}

	// Escalation: detection fields update in place, analyst state kept.
	spray.Count, spray.Level, spray.Last, spray.Severity = 90, 2, T0.Add(5*time.Minute), "critical"
	spray.First = T0.Add(time.Minute) // later first must not move First forward
	up, created, err := s.UpsertIncident(ctx, spray)
	must(t, err)
	if created || up.Count != 90 || up.Level != 2 || up.Severity != "critical" || up.Status != store.StatusAcknowledged ||
		up.Assignee != "bob" || len(up.Notes) != 2 || !up.First.Equal(T0) {
		t.Fatalf("escalated incident = %+v created=%v", up, created)
	}
	// Resolved, then new activity reopens it.
	_, err = s.SetIncidentStatus(ctx, all, "inc-spray", store.StatusResolved, "alice")
	must(t, err)
	same, _, err := s.UpsertIncident(ctx, spray)
	must(t, err)
	if same.Status != store.StatusResolved {
		t.Errorf("upsert without new activity reopened the incident")
	}
	spray.Last = T0.Add(10 * time.Minute)
	re, _, err := s.UpsertIncident(ctx, spray)
	must(t, err)
	if re.Status != store.StatusOpen {
		t.Errorf("new activity after resolve: status %q, want open", re.Status)
	}
	if _, err := s.SetIncidentStatus(ctx, all, "inc-spray", "closed", "x"); !errorsIs(err, store.ErrInvalid) {
		t.Errorf("bad status = %v, want ErrInvalid", err)
	}

	for _, tc := range []struct {
		name  string
		scope store.Scope
		f     store.IncidentFilter
		want  []string
	}{
		{"all", all, store.IncidentFilter{}, []string{"inc-spray", "inc-brute"}},
		{"open", all, store.IncidentFilter{Status: store.StatusOpen}, []string{"inc-spray", "inc-brute"}},
		{"severity", all, store.IncidentFilter{Severity: "medium"}, []string{"inc-brute"}},
		{"rule", all, store.IncidentFilter{Rule: "distributed-spray"}, []string{"inc-spray"}},
		{"tenant_filter", all, store.IncidentFilter{Tenant: Bravo}, []string{"inc-spray"}},
		{"since", all, store.IncidentFilter{Since: T0.Add(3 * time.Minute)}, []string{"inc-spray"}},
		{"alpha", store.TenantScope(Alpha), store.IncidentFilter{}, []string{"inc-spray", "inc-brute"}},
		{"bravo", store.TenantScope(Bravo), store.IncidentFilter{}, []string{"inc-spray"}},
		{"bravo_asks_alpha", store.TenantScope(Bravo), store.IncidentFilter{Tenant: Alpha}, nil},
		{"zero", store.Scope{}, store.IncidentFilter{}, nil},
		{"limit", all, store.IncidentFilter{Limit: 1, Offset: 1}, []string{"inc-brute"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListIncidents(ctx, tc.scope, tc.f)
			must(t, err)
			var ids []string
			for _, i := range got {
				ids = append(ids, i.ID)
			}
			if len(ids) != len(tc.want) || (len(ids) > 0 && ids[0] != tc.want[0]) {
				t.Errorf("ListIncidents = %v, want %v", ids, tc.want)
			}
		})
	}
	// Brief: the same incidents without their notes and samples.
	full, err := s.ListIncidents(ctx, all, store.IncidentFilter{})
	must(t, err)
	brief, err := s.ListIncidents(ctx, all, store.IncidentFilter{Brief: true})
	must(t, err)
	if !slices.ContainsFunc(full, func(i store.Incident) bool { return i.Detail != nil && len(i.Notes) > 0 }) {
		t.Fatalf("no incident with notes and detail to list briefly: %+v", full)
	}
	for i := range full {
		full[i].Notes, full[i].Detail = nil, nil
	}
	if diff := cmp.Diff(full, brief); diff != "" {
		t.Errorf("brief listing, other than notes and detail (-full +brief):\n%s", diff)
	}
	a, err := s.GetIncident(ctx, store.TenantScope(Alpha), "inc-spray")
	must(t, err)
	if len(a.Tenants) != 1 || a.Tenants[0] != Alpha || a.Detail != nil {
		t.Errorf("alpha's view of a cross-tenant incident = %+v", a)
	}
	leak(t, "GetIncident", a)
	if _, err := s.GetIncident(ctx, store.TenantScope(Bravo), "inc-brute"); !isNotFound(err) {
		t.Errorf("bravo reads alpha's incident: %v", err)
	}
	if _, err := s.SetIncidentStatus(ctx, store.TenantScope(Bravo), "inc-brute", store.StatusResolved, "eve"); !isNotFound(err) {
		t.Errorf("bravo resolves alpha's incident: %v", err)
	}
	if _, err := s.AddIncidentNote(ctx, store.TenantScope(Bravo), "inc-brute", store.Note{Text: "x"}); !isNotFound(err) {
		t.Errorf("bravo notes alpha's incident: %v", err)
	}
	if _, err := s.AssignIncident(ctx, store.TenantScope(Bravo), "inc-brute", "eve"); !isNotFound(err) {
		t.Errorf("bravo assigns alpha's incident: %v", err)
	}
	b, err := s.GetIncident(ctx, store.TenantScope(Alpha), "inc-brute")
	must(t, err)
	if b.Status != store.StatusOpen {
		t.Errorf("alpha's incident changed by bravo: %+v", b)
	}
	if _, _, err := s.UpsertIncident(ctx, &store.Incident{}); !errorsIs(err, store.ErrInvalid) {
		t.Errorf("upsert without id = %v", err)
	}
}
