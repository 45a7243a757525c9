package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// benchRules are built-in rules the seeded incidents name (id, title, level).
var benchRules = []struct{ id, title, level string }{
	{"cbe68bd2-11e0-4d30-9e8e-7a226fad3098", "Brute force against Windows, Entra ID or Okta", "medium"},
	{"64e46d10-8817-48c7-8950-aeb57bcfe2c9", "Password spray from one source", "high"},
	{"1a3d4550-383f-494a-a14f-30e31a6c4c2d", "Successful sign-in from a source that was password spraying", "critical"},
	{"b1b70d67-d881-4866-a54e-0593335ec702", "Cross-tenant spray from one source", "high"},
	{"3a190559-d713-4192-975f-66a35334292f", "MFA fatigue (push bombing)", "high"},
}

// seedHistory stores days of history before the latest assessment: one
// assessment a day (the latest report with a share of its passing results
// still failing, growing with age), and incidents as the detector stores
// them (detail with samples): 20 resolved a day, and 5 open cases a tenant
// over the last week (one attacker address tripping up to three rules).
func seedHistory(ctx context.Context, st store.Store, e *estate.Estate, days int) error {
	_, rep, err := st.GetRun(ctx, store.AllTenants(), 0)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for d := days - 1; d >= 1; d-- {
		h := *rep
		h.At = now.Add(-time.Duration(d) * 24 * time.Hour)
		h.Results = append([]assess.Result(nil), rep.Results...)
		share := 0.33 * float64(d) / float64(days)
		for i := range h.Results {
			r := &h.Results[i]
			if r.Status == assess.StatusPass && float64((i*7919+d)%1000)/1000 < share {
				r.Status = assess.StatusFail
			}
		}
		assess.Rescore(&h)
		if _, err := st.SaveRun(ctx, 0, "load-history", &h); err != nil {
			return fmt.Errorf("seeding history: %w", err)
		}
	}
	put := func(id string, tenant string, k int, ip string, first time.Time, resolved bool) error {
		r := benchRules[k%len(benchRules)]
		det := detect.Incident{ID: id, Rule: r.id, Title: r.title, Severity: r.level, Level: r.level, Tenant: tenant,
			Tenants: []string{tenant}, Key: map[string]string{"source.ip": ip}, First: first, Last: first.Add(20 * time.Minute), Count: 40}
		for j := range 10 {
			det.Samples = append(det.Samples, detect.Sample{Time: first.Add(time.Duration(j) * time.Minute), Action: "logon", Outcome: "failure",
				User: fmt.Sprintf("user%d", j), SourceIP: ip, Host: "dc01." + tenant + ".example", Tenant: tenant, Dataset: "windows.security"})
		}
		detail, err := json.Marshal(det)
		if err != nil {
			return err
		}
		inc := store.Incident{ID: id, Tenant: tenant, Tenants: det.Tenants, Rule: r.id, Title: r.title, Severity: r.level, Status: store.StatusOpen,
			First: det.First, Last: det.Last, Count: 40, Key: det.Key, Detail: detail}
		if _, _, err := st.UpsertIncident(ctx, &inc); err != nil {
			return fmt.Errorf("seeding incidents: %w", err)
		}
		if resolved {
			if _, err := st.SetIncidentStatus(ctx, store.AllTenants(), id, store.StatusResolved, "load-history"); err != nil {
				return fmt.Errorf("seeding incidents: %w", err)
			}
		}
		return nil
	}
	for d := days; d >= 1; d-- {
		for k := range 20 {
			t := e.Tenants[(d*20+k)%len(e.Tenants)].ID
			first := now.Add(-time.Duration(d)*24*time.Hour + time.Duration(k)*time.Hour)
			if err := put(fmt.Sprintf("load-history-%03d-%02d", d, k), t, k, fmt.Sprintf("198.51.100.%d", 1+k), first, true); err != nil {
				return err
			}
		}
	}
	for i, t := range e.Tenants {
		for c := range 5 {
			ip := fmt.Sprintf("203.0.%d.%d", 113+c, 1+i%250)
			for k := range 1 + (i+c)%3 {
				first := now.Add(-time.Duration(1+(i+c)%7)*24*time.Hour + time.Duration(k)*time.Hour)
				if err := put(fmt.Sprintf("load-open-%s-%d-%d", t.ID, c, k), t.ID, k, ip, first, false); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
