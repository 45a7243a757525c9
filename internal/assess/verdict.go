package assess

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// evalSubject evaluates every policy for one subject and turns the raw
// Rego results into finished Results: catalog metadata, attested controls,
// collection gaps, exceptions and evidence positions.
func (en *Engine) evalSubject(ctx context.Context, x *index, st *staticInput, subject string) ([]Result, error) {
	in := x.input(st, subject)
	rs, err := en.pq.Eval(ctx, rego.EvalParsedInput(in), rego.EvalTime(x.now))
	if err != nil {
		return nil, &PolicyError{Msg: fmt.Sprintf("evaluating policies for subject %s: %s", subject, formatRegoErr(err))}
	}
	isMSP := subject == estate.MSP
	objs := &inputObjects{doc: in.(ast.Object), settings: st.settings.Value.(ast.Object)}
	byControl := map[string][]Result{}
	var custom []string
	for _, r := range rs {
		items, _ := r.Bindings["r"].([]any)
		for _, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				return nil, &PolicyError{Msg: fmt.Sprintf("subject %s: a results entry is %T, want an object with control and status", subject, it)}
			}
			res, err := rawResult(m, objs)
			if err != nil {
				return nil, &PolicyError{Msg: fmt.Sprintf("subject %s: %v", subject, err)}
			}
			res.Subject = subject
			if c, ok := en.cat.Control(res.Control); ok {
				if (isMSP && !c.AppliesToMSP()) || (!isMSP && !c.AppliesToTenants()) {
					continue
				}
			} else if _, seen := byControl[res.Control]; !seen {
				custom = append(custom, res.Control)
			}
			byControl[res.Control] = append(byControl[res.Control], res)
		}
	}

	var out []Result
	stale := x.newStaleness(subject)
	for _, c := range en.cat.Controls() {
		if (isMSP && !c.AppliesToMSP()) || (!isMSP && !c.AppliesToTenants()) {
			continue
		}
		got := byControl[c.ID]
		if c.Kind == catalog.KindAttested {
			got = []Result{{Control: c.ID, Subject: subject, Status: StatusNotEvaluable}}
		} else if len(got) == 0 {
			got = []Result{{Control: c.ID, Subject: subject, Status: StatusNotEvaluable,
				Message: "the policy produced no result for this subject", Missing: []string{"a result from Rego package " + c.Rego}}}
		}
		for i := range got {
			r := &got[i]
			r.Title, r.Heading, r.Severity, r.Remediation = c.Title, c.Heading, string(c.Severity), c.Remediation
			r.Party, r.Kind = string(c.Party), string(c.Kind)
			if c.Kind == catalog.KindAttested {
				x.attest(r, c)
			} else {
				x.applyGaps(r, c)
				stale.apply(r, c)
				if r.Status == StatusNotEvaluable {
					x.attestOverride(r, c)
				}
			}
			x.applyExceptions(r)
			x.fillEvidence(r, subject)
			out = append(out, *r)
		}
	}
	sort.Strings(custom)
	for _, id := range custom {
		for _, r := range byControl[id] {
			if r.Severity == "" {
				r.Severity = string(catalog.SevMedium)
			}
			if r.Title == "" {
				r.Title = id
			}
			r.Kind = string(catalog.KindAutomated)
			stale.apply(&r, nil)
			x.applyExceptions(&r)
			x.fillEvidence(&r, subject)
			out = append(out, r)
		}
	}
	return out, nil
}

var validStatus = map[Status]bool{StatusPass: true, StatusFail: true, StatusNotEvaluable: true, StatusNotApplicable: true}

// inputObjects finds a subject's input objects by kind and id, to fill
// evidence detail templates.
type inputObjects struct {
	doc      ast.Object
	settings ast.Object // fills {setting} placeholders in messages
	byKey    map[string]map[string]ast.Object
}

var kindKey = map[string]string{"asset": "assets", "identity": "identities", "tool": "tools", "backup": "backups",
	"grant": "grants", "ir_plan": "ir_plans", "exposure": "exposures", "domain": "domains", "vendor": "vendors"}

func (o *inputObjects) get(kind, id string) ast.Object {
	if o.byKey == nil {
		o.byKey = map[string]map[string]ast.Object{}
	}
	m, ok := o.byKey[kind]
	if !ok {
		m = map[string]ast.Object{}
		if t := o.doc.Get(ast.StringTerm(kindKey[kind])); t != nil {
			if arr, ok := t.Value.(*ast.Array); ok {
				arr.Foreach(func(x *ast.Term) {
					if ob, ok := x.Value.(ast.Object); ok {
						if idt := ob.Get(ast.StringTerm("id")); idt != nil {
							if s, ok := idt.Value.(ast.String); ok {
								m[string(s)] = ob
							}
						}
					}
				})
			}
		}
		o.byKey[kind] = m
	}
	return m[id]
}

// render fills {field} placeholders from ob.
func render(tmpl string, ob ast.Object) string {
	if ob == nil || !strings.Contains(tmpl, "{") {
		return tmpl
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		j := strings.IndexByte(tmpl[i+1:], '}')
		if i < 0 || j < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		b.WriteString(tmpl[:i])
		field := tmpl[i+1 : i+1+j]
		if t := ob.Get(ast.StringTerm(field)); t != nil {
			b.WriteString(valueText(t.Value))
		} else {
			b.WriteString("{" + field + "}")
		}
		tmpl = tmpl[i+2+j:]
	}
}

func valueText(v ast.Value) string {
	switch x := v.(type) {
	case ast.String:
		return string(x)
	case ast.Null:
		return "unknown"
	case *ast.Array:
		parts := make([]string, 0, x.Len())
		x.Foreach(func(t *ast.Term) {
			if ob, ok := t.Value.(ast.Object); ok && ob.Get(ast.StringTerm("cve")) != nil {
				parts = append(parts, kevText(ob))
				return
			}
			parts = append(parts, valueText(t.Value))
		})
		return strings.Join(parts, ", ")
	}
	return v.String()
}

func kevText(ob ast.Object) string {
	s := valueText(ob.Get(ast.StringTerm("cve")).Value)
	if n := ob.Get(ast.StringTerm("name")); n != nil {
		s += " " + valueText(n.Value)
	}
	if r := ob.Get(ast.StringTerm("ransomware")); r != nil && r.Value.Compare(ast.Boolean(true)) == 0 {
		s += " [ransomware]"
	}
	if o := ob.Get(ast.StringTerm("overdue")); o != nil && o.Value.Compare(ast.Boolean(true)) == 0 {
		s += " [due " + valueText(ob.Get(ast.StringTerm("due")).Value) + "]"
	}
	return s
}

func rawResult(m map[string]any, objs *inputObjects) (Result, error) {
	var r Result
	r.Control, _ = m["control"].(string)
	st, _ := m["status"].(string)
	r.Status = Status(st)
	if r.Control == "" || !validStatus[r.Status] {
		return r, fmt.Errorf("result %v: needs control (string) and status (pass, fail, not_evaluable or not_applicable)", m)
	}
	r.Message, _ = m["message"].(string)
	// Policies may give a format and its args instead of calling sprintf
	// (sprintf is among the costliest builtins per evaluation).
	if format, ok := m["format"].(string); ok && r.Message == "" {
		args, _ := m["args"].([]any)
		r.Message = fmt.Sprintf(format, goArgs(args)...)
	}
	r.Message = render(r.Message, objs.settings)
	r.Object, _ = m["object"].(string)
	// Custom policies may carry their own metadata.
	r.Title, _ = m["title"].(string)
	r.Severity, _ = m["severity"].(string)
	r.Remediation, _ = m["remediation"].(string)
	if h, ok := m["heading"].(json.Number); ok {
		if n, err := h.Int64(); err == nil {
			r.Heading = int(n)
		}
	}
	if ms, ok := m["missing"].([]any); ok {
		for _, x := range ms {
			if s, ok := x.(string); ok {
				r.Missing = append(r.Missing, s)
			}
		}
		sort.Strings(r.Missing)
	}
	if evs, ok := m["evidence"].([]any); ok {
		evKind, _ := m["evidence_kind"].(string)
		evDetail, _ := m["evidence_detail"].(string)
		for _, x := range evs {
			if id, ok := x.(string); ok && evKind != "" {
				r.Evidence = append(r.Evidence, Evidence{Kind: evKind, ID: id, Detail: render(evDetail, objs.get(evKind, id))})
				continue
			}
			em, ok := x.(map[string]any)
			if !ok {
				continue
			}
			var ev Evidence
			ev.Kind, _ = em["kind"].(string)
			ev.ID, _ = em["id"].(string)
			ev.Detail, _ = em["detail"].(string)
			// Policies may pass a format and its args instead of calling
			// sprintf per object (sprintf per object dominates evaluation
			// time on large estates).
			if args, ok := em["args"].([]any); ok {
				ev.Detail = noMore.ReplaceAllString(fmt.Sprintf(ev.Detail, goArgs(args)...), "")
			}
			r.Evidence = append(r.Evidence, ev)
		}
		slices.SortFunc(r.Evidence, func(a, b Evidence) int {
			if c := strings.Compare(a.Kind, b.Kind); c != 0 {
				return c
			}
			if c := strings.Compare(a.ID, b.ID); c != 0 {
				return c
			}
			return strings.Compare(a.Detail, b.Detail)
		})
	}
	r.Evidence = slices.Compact(r.Evidence)
	return r, nil
}

// noMore drops a "(+N more)" suffix whose N is zero or negative
// (lib.principal_ev always passes the count of ids beyond the first five).
var noMore = regexp.MustCompile(` \(\+(0|-\d+) more\)`)

// goArgs converts Rego values (json.Number for numbers) for fmt.
func goArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case json.Number:
			if n, err := v.Int64(); err == nil {
				out[i] = n
			} else if f, err := v.Float64(); err == nil {
				out[i] = f
			} else {
				out[i] = v.String()
			}
		case []any:
			parts := make([]string, len(v))
			for j, x := range goArgs(v) {
				parts[j] = fmt.Sprint(x)
			}
			out[i] = strings.Join(parts, ", ")
		default:
			out[i] = v
		}
	}
	return out
}

// attest judges an attested control from the estate's attestations:
// valid → attested; expired → fail (the review cadence lapsed); none →
// not_evaluable naming the attestation needed.
func (x *index) attest(r *Result, c *catalog.Control) {
	a, until := x.bestAttestation(c, r.Subject)
	if a == nil {
		r.Status = StatusNotEvaluable
		r.Message = "no attestation recorded"
		r.Missing = []string{fmt.Sprintf("attestation of %s for %s by a named person (valid %d days)", c.ID, r.Subject, c.ValidityDays)}
		return
	}
	r.Attestation = a
	r.Evidence = append(r.Evidence, Evidence{Kind: "attestation", ID: c.ID, Detail: "by " + a.By + ", until " + until.Format("2006-01-02"), Pos: a.Pos})
	if until.Before(x.now) {
		r.Status = StatusFail
		r.Message = fmt.Sprintf("attestation by %s expired on %s; re-attest", a.By, until.Format("2006-01-02"))
		return
	}
	r.Status = StatusAttested
	r.Message = fmt.Sprintf("attested by %s until %s", a.By, until.Format("2006-01-02"))
}

// attestOverride lets a valid attestation stand in for automated evidence
// that could not be evaluated.
func (x *index) attestOverride(r *Result, c *catalog.Control) {
	a, until := x.bestAttestation(c, r.Subject)
	if a == nil || until.Before(x.now) {
		return
	}
	r.Attestation = a
	r.Status = StatusAttested
	r.Message = fmt.Sprintf("evidence not evaluable (%s); attested by %s until %s", strings.Join(r.Missing, "; "), a.By, until.Format("2006-01-02"))
	r.Evidence = append(r.Evidence, Evidence{Kind: "attestation", ID: c.ID, Detail: "by " + a.By, Pos: a.Pos})
}

func (x *index) bestAttestation(c *catalog.Control, subject string) (*estate.Attestation, time.Time) {
	var best *estate.Attestation
	var bestUntil time.Time
	for _, ai := range x.attestations[c.ID+"\x00"+subject] {
		a := &x.e.Attestations[ai]
		var until time.Time
		switch {
		case a.Expires != nil:
			until = a.Expires.Time
		case a.Date != nil:
			until = a.Date.AddDate(0, 0, c.ValidityDays)
		default:
			continue
		}
		if best == nil || until.After(bestUntil) {
			best, bestUntil = a, until
		}
	}
	return best, bestUntil
}

// applyGaps makes a control not-evaluable when a collector recorded that
// evidence it needs could not be collected (naming the permission); gap
// evidence names are translated to catalog ones by gapAffects (fresh.go).
func (x *index) applyGaps(r *Result, c *catalog.Control) {
	var missing []string
	keys := []string{"", r.Subject}
	if r.Subject != estate.MSP && readsAccess(c) {
		// Paths into a tenant start at the MSP: gaps in the partner
		// tenant (GDAP relationships, access groups, technicians' MFA)
		// reach every tenant's access controls.
		keys = append(keys, estate.MSP)
	}
	for _, key := range keys {
		for _, gi := range x.gapsBySub[key] {
			g := &x.e.CollectionGap[gi]
			for _, need := range c.Evidence {
				if slices.ContainsFunc(gapNeeds(g.Evidence), func(ev string) bool { return evidenceOverlaps(need, ev) }) {
					m := g.Evidence
					if g.Permission != "" {
						m += " (needs permission " + g.Permission + ")"
					}
					if g.Reason != "" {
						m += ": " + g.Reason
					}
					missing = append(missing, m)
					break
				}
			}
		}
	}
	if len(missing) == 0 {
		return
	}
	slices.Sort(missing)
	missing = slices.Compact(missing)
	r.Status = StatusNotEvaluable
	r.Missing = append(r.Missing, missing...)
	r.Message = "evidence could not be collected: " + strings.Join(missing, "; ")
}

// evidenceOverlaps: "identities" covers "identities.mfa" and vice versa.
func evidenceOverlaps(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(b, a+".")
}

// applyExceptions turns a fail into excepted when an unexpired exception
// covers the subject, or covers every failing object; an expired exception
// leaves the fail and says so.
func (x *index) applyExceptions(r *Result) {
	if r.Status != StatusFail {
		return
	}
	exs := x.exceptions[r.Control]
	if len(exs) == 0 {
		return
	}
	active := func(ex *estate.Exception) bool { return ex.Expires != nil && !ex.Expires.Before(x.now) }
	var expired *estate.Exception
	for _, ei := range exs {
		ex := &x.e.Exceptions[ei]
		if ex.Subject != r.Subject && ex.Subject != r.Object {
			continue
		}
		if active(ex) {
			r.Status, r.Exception = StatusExcepted, ex
			r.Message = fmt.Sprintf("%s — excepted by %s until %s: %s", r.Message, ex.Owner, ex.Expires, ex.Reason)
			return
		}
		expired = ex
	}
	// Object-level exceptions: every failing evidence object excepted.
	if len(r.Evidence) > 0 {
		covered := 0
		var last *estate.Exception
		for i := range r.Evidence {
			ev := &r.Evidence[i]
			for _, ei := range exs {
				ex := &x.e.Exceptions[ei]
				if ex.Subject == ev.ID && active(ex) {
					covered++
					last = ex
					ev.Detail += fmt.Sprintf(" [excepted by %s until %s]", ex.Owner, ex.Expires)
					break
				} else if ex.Subject == ev.ID {
					expired = ex
				}
			}
		}
		if covered == len(r.Evidence) {
			r.Status, r.Exception = StatusExcepted, last
			r.Message = fmt.Sprintf("%s — every failing object is excepted (e.g. by %s until %s: %s)", r.Message, last.Owner, last.Expires, last.Reason)
			return
		}
	}
	if expired != nil {
		r.Exception = expired
		r.Message = fmt.Sprintf("%s — exception by %s expired on %s", r.Message, expired.Owner, expired.Expires)
	}
}

// fillEvidence sets each evidence object's position, and gives results
// without evidence the subject itself as evidence.
func (x *index) fillEvidence(r *Result, subject string) {
	for i := range r.Evidence {
		if r.Evidence[i].Pos.File == "" {
			r.Evidence[i].Pos = x.posOf(r.Evidence[i].Kind, r.Evidence[i].ID)
		}
	}
	if len(r.Evidence) == 0 {
		if subject == estate.MSP {
			r.Evidence = []Evidence{{Kind: "provider", ID: nonEmpty(x.e.Provider.ID), Pos: x.e.Provider.Pos}}
		} else {
			r.Evidence = []Evidence{{Kind: "tenant", ID: subject, Pos: x.posOf("tenant", subject)}}
		}
	}
}

func (x *index) posOf(kind, id string) estate.Pos {
	e := x.e
	look := func(m map[string]int) (int, bool) { i, ok := m[id]; return i, ok }
	switch kind {
	case "identity":
		if i, ok := look(x.identityIdx); ok {
			return e.Identities[i].Pos
		}
	case "tool", "gdap":
		if i, ok := look(x.toolIdx); ok {
			return e.Tools[i].Pos
		}
	case "asset":
		if i, ok := look(x.assetIdx); ok {
			return e.Assets[i].Pos
		}
	case "grant":
		if i, ok := look(x.grantIdx); ok {
			return e.Grants[i].Pos
		}
	case "group":
		if i, ok := look(x.groupIdx); ok {
			return e.Groups[i].Pos
		}
	case "vendor":
		if i, ok := look(x.vendorIdx); ok {
			return e.Vendors[i].Pos
		}
	case "backup":
		if i, ok := look(x.backupIdx); ok {
			return e.Backups[i].Pos
		}
	case "ir_plan":
		if i, ok := look(x.planIdx); ok {
			return e.IRPlans[i].Pos
		}
	case "contract":
		if i, ok := look(x.contractIdx); ok {
			return e.Contracts[i].Pos
		}
	case "tenant":
		if i, ok := look(x.tenantIdx); ok {
			return e.Tenants[i].Pos
		}
	case "provider":
		return e.Provider.Pos
	case "domain":
		for i := range e.DomainChecks {
			if e.DomainChecks[i].Domain == id {
				return e.DomainChecks[i].Pos
			}
		}
	case "exposure":
		for i := range e.Exposures {
			if exposureID(&e.Exposures[i]) == id {
				return e.Exposures[i].Pos
			}
		}
	}
	return estate.Pos{}
}

// Score credit per status (see docs/usage.md "Scoring"); not_applicable results
// are left out of the score.
func credit(s Status) (float64, bool) {
	switch s {
	case StatusPass, StatusAttested:
		return 1, true
	case StatusExcepted:
		return 0.5, true
	case StatusFail, StatusNotEvaluable:
		return 0, true
	}
	return 0, false
}

type acc struct {
	got, max float64
	s        Score
}

func (a *acc) add(r *Result) {
	switch r.Status {
	case StatusPass:
		a.s.Pass++
	case StatusFail:
		a.s.Fail++
	case StatusNotEvaluable:
		a.s.NotEvaluable++
		a.s.Other++
	case StatusNotApplicable:
		a.s.NotApplicable++
		a.s.Other++
	case StatusAttested:
		a.s.Attested++
		a.s.Other++
	case StatusExcepted:
		a.s.Excepted++
		a.s.Other++
	}
	c, ok := credit(r.Status)
	if !ok {
		return
	}
	w := catalog.Severity(r.Severity).Weight()
	a.got += w * c
	a.max += w
}

func (a *acc) score() Score {
	s := a.s
	s.Score = 100
	if a.max > 0 {
		s.Score = math.Round(1000*a.got/a.max) / 10
	}
	return s
}

// scores computes one Score per subject plus the MSP's: the MSP score
// covers every result on the MSP subject and, on tenant subjects, the
// results of controls that are the MSP's obligation (party msp).
func scores(cat *catalog.Catalog, x *index, subjects []string, results []Result) []Score {
	names := make(map[string]string, len(subjects))
	for _, s := range subjects {
		if s == estate.MSP {
			names[s] = firstNonEmpty(x.e.Provider.Name, x.e.Provider.ID, estate.MSP)
		} else {
			names[s] = firstNonEmpty(x.e.Tenants[x.tenantIdx[s]].Name, s)
		}
	}
	return scoreSubjects(subjects, names, results)
}

// Rescore recomputes r.Scores from r.Results (after results were changed,
// e.g. a demo's seeded history), keeping the subjects and their names: the
// same derivation as the engine's.
func Rescore(r *Report) {
	subjects := make([]string, len(r.Scores))
	names := make(map[string]string, len(r.Scores))
	for i, sc := range r.Scores {
		subjects[i], names[sc.Subject] = sc.Subject, sc.Name
	}
	r.Scores = scoreSubjects(subjects, names, r.Results)
}

func scoreSubjects(subjects []string, names map[string]string, results []Result) []Score {
	per := map[string]*acc{}
	for _, s := range subjects {
		per[s] = &acc{}
	}
	mspAcc := per[estate.MSP]
	if mspAcc == nil {
		mspAcc = &acc{} // MSP not evaluated (--tenant): no MSP score
	}
	for i := range results {
		r := &results[i]
		if a := per[r.Subject]; a != nil {
			a.add(r)
		}
		if r.Subject != estate.MSP && r.Party == string(catalog.PartyMSP) {
			mspAcc.add(r)
		}
	}
	var out []Score
	for _, s := range subjects {
		sc := per[s].score()
		if s == estate.MSP {
			sc = mspAcc.score()
		}
		sc.Subject, sc.Name = s, names[s]
		out = append(out, sc)
	}
	slices.SortStableFunc(out, func(a, b Score) int {
		if (a.Subject == estate.MSP) != (b.Subject == estate.MSP) {
			if a.Subject == estate.MSP {
				return -1
			}
			return 1
		}
		if a.Score != b.Score {
			if a.Score < b.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Subject, b.Subject)
	})
	return out
}

// ScoreText is how every surface writes a score: one decimal, the
// precision it is computed to (the CLI table, the HTML report, the
// dashboard and the demo summary agree to the rounding).
func ScoreText(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
