package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// TenantRun is one tenant's share of a connector run: what was read, which
// evidence is missing and why, and errors. It is what the dashboard shows
// per collector and tenant.
type TenantRun struct {
	Connector string         `json:"connector"`
	Tenant    string         `json:"tenant"`
	VendorID  string         `json:"vendor_id,omitempty"` // the tenant's id at the vendor (Entra tenant, Okta org, Google customer)
	Started   time.Time      `json:"started"`
	Finished  time.Time      `json:"finished"`
	Counts    map[string]int `json:"counts,omitempty"` // e.g. users, factors, events
	Gaps      []estate.Gap   `json:"gaps,omitempty"`
	Errors    []string       `json:"errors,omitempty"`
	Notes     []string       `json:"notes,omitempty"` // flagged fallbacks and truncations
}

// OK reports a run without errors (gaps from missing permissions are not
// errors: the evidence is not evaluable, and said so).
func (r *TenantRun) OK() bool { return len(r.Errors) == 0 }

// Count adds n to a counter.
func (r *TenantRun) Count(name string, n int) {
	if r.Counts == nil {
		r.Counts = map[string]int{}
	}
	r.Counts[name] += n
}

// Gap records that evidence could not be read. A 403 *APIError becomes a
// gap naming permission ("not evaluable: missing …"). A refused credential
// (HTTP 401: an invalid or expired token; an OAuth unauthorized_client,
// invalid_client or invalid_grant: delegation not granted) is no missing
// scope: a gap without a permission and a run error, so the tenant shows
// failed. Any other error is a gap with the error as reason, and also a
// run error.
func (r *TenantRun) Gap(evidence, permission string, err error, at time.Time) {
	g := estate.Gap{Tenant: r.Tenant, Evidence: evidence, Permission: permission, At: at}
	var ae *APIError
	if errors.As(err, &ae) && CredentialRefused(ae) {
		g.Permission = ""
		g.Reason = "credential or delegation refused (not a missing permission: check the token, key or delegation grant): " + err.Error()
		r.Errors = append(r.Errors, g.Reason)
	} else if errors.As(err, &ae) && ae.Forbidden() {
		g.Reason = fmt.Sprintf("the connector lacks %s in this tenant: %v", permission, err)
	} else {
		g.Permission = ""
		g.Reason = err.Error()
		r.Errors = append(r.Errors, err.Error())
	}
	r.Gaps = append(r.Gaps, g)
}

// ForEachTenant runs fn for every tenant with at most limit in flight. Each
// tenant's failures stay in its own TenantRun: an error fn records, or a
// panic (recorded with its stack's first frames) never reaches the others.
// Runs come back in the order of tenants.
func ForEachTenant(ctx context.Context, connector string, tenants []string, limit int, fn func(ctx context.Context, run *TenantRun)) []TenantRun {
	runs := make([]TenantRun, len(tenants))
	if limit <= 0 {
		limit = 1
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i, t := range tenants {
		runs[i] = TenantRun{Connector: connector, Tenant: t}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			runs[i].Errors = append(runs[i].Errors, "not started: "+ctx.Err().Error())
			continue
		}
		wg.Add(1)
		go func(r *TenantRun) {
			defer wg.Done()
			defer func() { <-sem }()
			r.Started = time.Now().UTC()
			defer func() {
				if p := recover(); p != nil {
					st := debug.Stack()
					if len(st) > 600 {
						st = st[:600]
					}
					r.Errors = append(r.Errors, fmt.Sprintf("panic: %v\n%s", p, st))
				}
				r.Finished = time.Now().UTC()
			}()
			fn(ctx, r)
		}(&runs[i])
	}
	wg.Wait()
	return runs
}

// Prov is the provenance of a fact read from source (e.g. "okta:acme",
// "graph:<tenant-guid>") at at.
func Prov(source string, at time.Time) *estate.Provenance {
	return &estate.Provenance{Source: source, CollectedAt: at.UTC()}
}

// MissingProvenance lists the objects of a collected fragment that carry
// no provenance (identities, tools, grants, domain checks,
// exposures); a connector's tests assert it is empty.
func MissingProvenance(e *estate.Estate) []string {
	var out []string
	check := func(kind, id string, p *estate.Provenance) {
		if p == nil || p.Source == "" || p.CollectedAt.IsZero() {
			out = append(out, kind+" "+id)
		}
	}
	for _, x := range e.Identities {
		check("identity", x.ID, x.Provenance)
	}
	for _, x := range e.Tools {
		check("tool", x.ID, x.Provenance)
	}
	for _, x := range e.Grants {
		check("grant", x.ID, x.Provenance)
	}
	for _, x := range e.DomainChecks {
		check("domain check", x.Domain, x.Provenance)
	}
	for _, x := range e.Exposures {
		check("exposure", x.Object, x.Provenance)
	}
	sort.Strings(out)
	return out
}

// Group builds one TenantRun per tenant from per-item results, in the
// order tenants first appear: tenantOf names an item's tenant and add
// records it in its run.
func Group[T any](connector string, items []T, at time.Time, tenantOf func(T) string, add func(T, *TenantRun)) []TenantRun {
	idx := map[string]int{}
	var runs []TenantRun
	for _, it := range items {
		t := tenantOf(it)
		i, ok := idx[t]
		if !ok {
			i = len(runs)
			idx[t] = i
			runs = append(runs, TenantRun{Connector: connector, Tenant: t, Started: at, Finished: at})
		}
		add(it, &runs[i])
	}
	return runs
}

// Gaps gathers every run's gaps (for the fragment).
func Gaps(runs []TenantRun) []estate.Gap {
	var out []estate.Gap
	for _, r := range runs {
		out = append(out, r.Gaps...)
	}
	return out
}

// CredentialRefused reports an answer refusing the credential itself rather
// than one scope: HTTP 401, or an OAuth token error saying the client or
// its delegation is not authorised.
func CredentialRefused(ae *APIError) bool {
	switch ae.Code {
	case "unauthorized_client", "invalid_client", "invalid_grant":
		return true
	}
	return ae.Status == http.StatusUnauthorized
}
