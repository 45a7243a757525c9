package assess

import (
	"fmt"
	"slices"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/collect"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// gapAffects maps the evidence names collectors record in collection gaps
// (estate.Gap.Evidence; see internal/collect/graph) to the catalog evidence
// names (catalog.Control.Evidence) that the missing data feeds. A gap makes
// every control whose evidence overlaps one of these names not_evaluable
// for the gap's tenant, naming the permission. Names not listed here are
// matched as they are ("identities" overlaps "identities.mfa" and vice
// versa), so a collector may also use the catalog vocabulary directly.
//
//	gap evidence              permission (graph)                    catalog evidence
//	gdap                      DelegatedAdminRelationship.Read.All   tools.gdap, grants, groups
//	gdap.access_assignments   DelegatedAdminRelationship.Read.All   tools.gdap, grants, groups
//	identities                User.Read.All                         identities (all of it)
//	identities.last_sign_in   AuditLog.Read.All (+ Entra P1)        identities.sign_in
//	identities.mfa            (okta, google: all MFA data)          identities.mfa (both below)
//	identities.mfa.methods    AuditLog.Read.All (+ Entra P1)        identities.mfa.methods
//	identities.mfa.enforced   Policy.Read.All                       identities.mfa.enforced
//	identities.roles          RoleManagement.Read.Directory         identities.roles
//	service_principals        Application.Read.All                  identities.roles, identities.service
//	groups                    GroupMember.Read.All                  groups
//	tenants.domains           Domain.Read.All                       domains
//	tenant                    (token refused: nothing read)         identities, groups, domains
//	signins                   AuditLog.Read.All                     (none: sign-in logs feed detect)
var gapAffects = map[string][]string{
	"gdap":                    {"tools.gdap", "grants", "groups"},
	"gdap.access_assignments": {"tools.gdap", "grants", "groups"},
	"identities":              {"identities"},
	"identities.last_sign_in": {"identities.sign_in"},
	"identities.mfa":          {"identities.mfa"},
	"identities.mfa.methods":  {"identities.mfa.methods"},
	"identities.mfa.enforced": {"identities.mfa.enforced"},
	"identities.roles":        {"identities.roles"},
	"service_principals":      {"identities.roles", "identities.service"},
	"groups":                  {"groups"},
	"tenants.domains":         {"domains"},
	"tenant":                  {"identities", "groups", "domains"},
	"signins":                 {},
}

// gapNeeds returns the catalog evidence names a gap's evidence affects.
func gapNeeds(ev string) []string {
	if n, ok := gapAffects[ev]; ok {
		return n
	}
	return []string{ev}
}

// staleObj is one collected estate object older than the evidence limit.
type staleObj struct {
	kind, id, source string
	age              int
}

// staleness finds, once per subject and evidence category, the collected
// objects a result may rest on that are older than
// settings.evidence_max_age_days.
type staleness struct {
	x    *index
	sub  string
	sets map[string][]staleObj

	byControl map[string]staleSet // by the control's sorted categories
}

func (x *index) newStaleness(subject string) *staleness {
	if !x.collected {
		return nil
	}
	return &staleness{x: x, sub: subject, sets: map[string][]staleObj{}}
}

func (s *staleness) check(kind, id string, p *estate.Provenance, out *[]staleObj) {
	if p == nil {
		return
	}
	if stale, age := collect.Stale(p, s.x.now, s.x.settings.EvidenceMaxAgeDays); stale {
		*out = append(*out, staleObj{kind: kind, id: id, source: p.Source, age: age})
	}
}

func (s *staleness) identity(i int, out *[]staleObj) {
	id := &s.x.e.Identities[i]
	s.check("identity", id.ID, id.Provenance, out)
}

// object checks one evidence object (as a result names it).
func (s *staleness) object(kind, id string, out *[]staleObj) {
	x, e := s.x, s.x.e
	switch kind {
	case "identity":
		if i, ok := x.identityIdx[id]; ok {
			s.identity(i, out)
		}
	case "group":
		for _, i := range x.members[id] {
			s.identity(i, out)
		}
	case "tool", "gdap":
		if i, ok := x.toolIdx[id]; ok {
			s.check("tool", id, e.Tools[i].Provenance, out)
		}
	case "grant":
		if i, ok := x.grantIdx[id]; ok {
			s.check("grant", id, e.Grants[i].Provenance, out)
		}
	case "asset":
		if i, ok := x.assetIdx[id]; ok {
			s.check("asset", id, e.Assets[i].Provenance, out)
		}
	case "domain":
		for i := range e.DomainChecks {
			if e.DomainChecks[i].Domain == id {
				s.check("domain", id, e.DomainChecks[i].Provenance, out)
			}
		}
	case "exposure":
		for i := range e.Exposures {
			if exposureID(&e.Exposures[i]) == id {
				s.check("exposure", id, e.Exposures[i].Provenance, out)
			}
		}
	}
}

// category returns the stale objects of the subject in one evidence
// category (the part of a catalog evidence name before the first dot).
func (s *staleness) category(cat string) []staleObj {
	if got, ok := s.sets[cat]; ok {
		return got
	}
	x, e := s.x, s.x.e
	sd := x.subj[s.sub]
	var out []staleObj
	if sd != nil {
		switch cat {
		case "identities":
			for _, i := range sd.identities {
				s.identity(i, &out)
			}
		case "access": // grants, groups and GDAP: the paths into the subject
			for _, p := range sd.access {
				if p.identity >= 0 {
					s.identity(p.identity, &out)
				}
				if p.group >= 0 {
					for _, i := range x.members[e.Groups[p.group].ID] {
						s.identity(i, &out)
					}
				}
				if p.grant >= 0 {
					s.check("grant", e.Grants[p.grant].ID, e.Grants[p.grant].Provenance, &out)
				}
				if p.tool >= 0 {
					s.check("tool", e.Tools[p.tool].ID, e.Tools[p.tool].Provenance, &out)
				}
			}
		case "tools":
			for _, i := range sd.tools {
				s.check("tool", e.Tools[i].ID, e.Tools[i].Provenance, &out)
			}
		case "assets":
			for _, i := range sd.assets {
				s.check("asset", e.Assets[i].ID, e.Assets[i].Provenance, &out)
			}
		case "domains":
			for _, i := range sd.domains {
				s.check("domain", e.DomainChecks[i].Domain, e.DomainChecks[i].Provenance, &out)
			}
		case "exposures":
			for _, i := range sd.exposures {
				s.check("exposure", exposureID(&e.Exposures[i]), e.Exposures[i].Provenance, &out)
			}
		}
	}
	s.sets[cat] = out
	return out
}

// control returns the stale objects in the categories of c's evidence,
// oldest first, computed once per subject and set of categories.
func (s *staleness) control(c *catalog.Control) ([]staleObj, map[string]bool) {
	var cats []string
	for _, n := range c.Evidence {
		if cat := evidenceCategory(n); !slices.Contains(cats, cat) {
			cats = append(cats, cat)
		}
	}
	slices.Sort(cats)
	key := strings.Join(cats, "\x00")
	if got, ok := s.byControl[key]; ok {
		return got.objs, got.in
	}
	var out []staleObj
	for _, cat := range cats {
		out = append(out, s.category(cat)...)
	}
	out = sortStale(out)
	in := make(map[string]bool, len(out))
	for _, o := range out {
		in[o.kind+"\x00"+o.id] = true
	}
	if s.byControl == nil {
		s.byControl = map[string]staleSet{}
	}
	s.byControl[key] = staleSet{out, in}
	return out, in
}

type staleSet struct {
	objs []staleObj
	in   map[string]bool // kind + "\x00" + id
}

// sortStale orders stale objects oldest first (then by kind and id) and
// drops duplicates.
func sortStale(xs []staleObj) []staleObj {
	slices.SortFunc(xs, func(a, b staleObj) int {
		if a.age != b.age {
			return b.age - a.age
		}
		if c := strings.Compare(a.kind, b.kind); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return slices.CompactFunc(xs, func(a, b staleObj) bool { return a.kind == b.kind && a.id == b.id })
}

// evidenceCategory maps a catalog evidence name to the category of
// subject objects it reads.
func evidenceCategory(need string) string {
	head, _, _ := strings.Cut(need, ".")
	switch head {
	case "grants", "groups":
		return "access"
	case "tools":
		if need == "tools.gdap" {
			return "access"
		}
	}
	return head
}

// applyStale makes a pass or fail not_evaluable when the evidence it rests
// on was collected (has provenance) more than evidence_max_age_days before
// the evaluation time: the objects the result names as evidence, and the
// subject's objects in the categories of the control's catalog evidence.
// Hand-written objects (no provenance) are never stale.
func (s *staleness) apply(r *Result, c *catalog.Control) {
	if s == nil || (r.Status != StatusPass && r.Status != StatusFail) {
		return
	}
	var found []staleObj
	for _, ev := range r.Evidence {
		s.object(ev.Kind, ev.ID, &found)
	}
	const show = 10
	found = sortStale(found)
	total := len(found)
	var needs []string
	if c != nil {
		// The control's categories, sorted once per subject: merge the
		// first few with the result's own stale objects not among them.
		needs = c.Evidence
		base, in := s.control(c)
		extra := found[:0]
		for _, o := range found {
			if !in[o.kind+"\x00"+o.id] {
				extra = append(extra, o)
			}
		}
		total = len(base) + len(extra)
		found = sortStale(append(slices.Clone(base[:min(show, len(base))]), extra...))
	}
	if total == 0 {
		return
	}
	old := found[0]
	what := "its"
	if len(needs) > 0 {
		what = strings.Join(needs, ", ")
	}
	was := r.Status
	r.Status = StatusNotEvaluable
	r.Message = fmt.Sprintf("%s evidence collected %d days ago (max %d) by %s; %s (would be %s: %s)",
		what, old.age, s.x.settings.EvidenceMaxAgeDays, collector(old.source), refresh(old.source), was, r.Message)
	for i, o := range found {
		if i == show {
			break
		}
		r.Missing = append(r.Missing, fmt.Sprintf("fresh evidence for %s %s (collected %d days ago by %s)", o.kind, o.id, o.age, o.source))
	}
	if total > show {
		r.Missing = append(r.Missing, fmt.Sprintf("(+%d more stale objects)", total-show))
	}
}

// collector is the collector part of a provenance source ("graph:<tenant
// guid>" → "graph").
func collector(source string) string {
	head, _, _ := strings.Cut(source, ":")
	if head == "" {
		return "an unnamed source"
	}
	return head
}

func refresh(source string) string {
	switch c := collector(source); c {
	case "graph", "dns", "probe":
		return "re-run firebreak collect " + c
	default:
		return "refresh it from " + source
	}
}

// anyProvenance reports whether some estate object was collected (hand-
// written estates skip the staleness checks entirely).
func anyProvenance(e *estate.Estate) bool {
	for i := range e.Identities {
		if e.Identities[i].Provenance != nil {
			return true
		}
	}
	for i := range e.Tools {
		if e.Tools[i].Provenance != nil {
			return true
		}
	}
	for i := range e.Grants {
		if e.Grants[i].Provenance != nil {
			return true
		}
	}
	for i := range e.Assets {
		if e.Assets[i].Provenance != nil {
			return true
		}
	}
	for i := range e.DomainChecks {
		if e.DomainChecks[i].Provenance != nil {
			return true
		}
	}
	for i := range e.Exposures {
		if e.Exposures[i].Provenance != nil {
			return true
		}
	}
	return false
}

// readsAccess reports whether a control judges the paths into a tenant
// (its evidence names grants, groups or GDAP), which start at the MSP.
func readsAccess(c *catalog.Control) bool {
	return slices.ContainsFunc(c.Evidence, func(n string) bool { return evidenceCategory(n) == "access" })
}
