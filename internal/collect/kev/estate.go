package kev

import (
	"cmp"
	"slices"
	"time"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Finding is a KEV entry matching a tool or an asset's software.
type Finding struct {
	Object          string     `json:"object"`      // tool or asset id
	ObjectKind      string     `json:"object_kind"` // "tool" or "asset"
	Tenant          string     `json:"tenant"`      // "msp" or tenant id
	Vendor          string     `json:"vendor"`
	Product         string     `json:"product"`
	Version         string     `json:"version,omitempty"`
	CPE             string     `json:"cpe,omitempty"`
	InternetExposed bool       `json:"internet_exposed,omitempty"`
	Overdue         bool       `json:"overdue"` // BOD 22-01 due date passed
	Vuln            Vuln       `json:"vuln"`
	Pos             estate.Pos `json:"pos"`
}

// MatchEstate matches every tool and every asset's software against the
// catalog. Findings are ordered ransomware first, then by due date.
func MatchEstate(c *Catalog, e *estate.Estate, now time.Time) []Finding {
	var out []Finding
	for _, t := range e.Tools {
		if t.Vendor == "" && t.Product == "" && t.CPE == "" {
			continue
		}
		owner := t.Owner
		if owner == "" {
			owner = estate.MSP
		}
		exposed := t.InternetExposed != nil && *t.InternetExposed
		for _, v := range c.Match(t.Vendor, t.Product, t.Version, t.CPE) {
			out = append(out, Finding{Object: t.ID, ObjectKind: "tool", Tenant: owner, Vendor: t.Vendor, Product: t.Product,
				Version: t.Version, CPE: t.CPE, InternetExposed: exposed, Overdue: v.Overdue(now), Vuln: v, Pos: t.Pos})
		}
	}
	for _, a := range e.Assets {
		exposed := len(a.InternetPorts) > 0
		for _, s := range a.Software {
			for _, v := range c.Match(s.Vendor, s.Product, s.Version, s.CPE) {
				out = append(out, Finding{Object: a.ID, ObjectKind: "asset", Tenant: a.Tenant, Vendor: s.Vendor, Product: s.Product,
					Version: s.Version, CPE: s.CPE, InternetExposed: exposed, Overdue: v.Overdue(now), Vuln: v, Pos: a.Pos})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		if a.Vuln.Ransomware() != b.Vuln.Ransomware() {
			if a.Vuln.Ransomware() {
				return -1
			}
			return 1
		}
		if c := a.Vuln.DueDate.Compare(b.Vuln.DueDate.Time); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Object, b.Object), cmp.Compare(a.Vuln.CVE, b.Vuln.CVE))
	})
	return out
}
