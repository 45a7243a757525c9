package assess

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/opa/v1/ast"
	"go.yaml.in/yaml/v3"

	"github.com/firebreak-msp/firebreak/internal/access"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

// The tests in this file hold assess and the trust graph to one answer on
// every fact both report (issue 11): both read internal/access.

var agreeNow = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func testKEV(t testing.TB) *kev.Catalog {
	t.Helper()
	k, err := kev.Load("testdata/kev.json")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// judged is one estate seen by both engines.
type judged struct {
	e       *estate.Estate
	g       *trust.Graph
	facts   *trust.FactsDoc
	results map[string]Result // "subject control"
}

func judgeBoth(t *testing.T, src string) *judged {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "estate.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return judgeDir(t, dir, agreeNow)
}

func judgeDir(t *testing.T, dir string, now time.Time) *judged {
	t.Helper()
	e, err := estate.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	kc := testKEV(t)
	acc := access.Compute(e, access.Options{Now: now, KEV: kc})
	g, err := trust.Build(e, trust.Options{Now: now, Access: acc})
	if err != nil {
		t.Fatal(err)
	}
	en, err := New(loadCatalog(t), Options{Clock: func() time.Time { return now }, KEV: kc, Access: acc,
		Extra: map[string]any{"trust": trust.Facts(g)}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := en.Run(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	j := &judged{e: e, g: g, facts: trust.FactsOf(g), results: map[string]Result{}}
	for _, r := range rep.Results {
		j.results[r.Subject+" "+r.Control] = r
	}
	return j
}

func (j *judged) entry(id string) bool {
	return slices.ContainsFunc(j.facts.EntryPoints, func(e trust.FactEntry) bool { return e.ID == id })
}

func (j *judged) status(t *testing.T, key string) (Status, string) {
	t.Helper()
	r, ok := j.results[key]
	if !ok {
		t.Fatalf("no result %s", key)
	}
	var ev []string
	for _, x := range r.Evidence {
		ev = append(ev, x.ID+": "+x.Detail)
	}
	return r.Status, strings.Join(ev, "; ")
}

const agreeBase = `provider: {id: msp, name: Test MSP}
tenants:
  - {id: t1, name: One}
  - {id: t2, name: Two}
`

// A firewall patched after its KEV entry was added is not an entry point,
// and the patch control passes it; the unpatched one is both.
func TestAgreePatchedFirewall(t *testing.T) {
	j := judgeBoth(t, agreeBase+`assets:
  - {id: fw-patched, tenant: t1, hostname: FW1, kind: firewall, internet_ports: [443], last_patched: 2026-11-01, software: [{vendor: Kaseya, product: Virtual System/Server Administrator (VSA)}]}
  - {id: fw-old, tenant: t2, hostname: FW2, kind: firewall, internet_ports: [443], last_patched: 2021-01-01, software: [{vendor: Kaseya, product: Virtual System/Server Administrator (VSA)}]}
`)
	if j.entry("fw-patched") {
		t.Error("trust: patched fw-patched is an entry point")
	}
	if st, ev := j.status(t, "t1 FB-UPD-002"); st != StatusPass {
		t.Errorf("assess t1 FB-UPD-002 = %s (%s), want pass", st, ev)
	}
	if !j.entry("fw-old") {
		t.Error("trust: unpatched fw-old is not an entry point")
	}
	if st, _ := j.status(t, "t2 FB-UPD-002"); st != StatusFail {
		t.Errorf("assess t2 FB-UPD-002 = %s, want fail", st)
	}
}

// A password-only service account reaching two tenants is an entry point
// and fails the MFA control; with a compensating control it is neither.
func TestAgreeServiceAccountMFA(t *testing.T) {
	j := judgeBoth(t, agreeBase+`identities:
  - {id: svc-pw, kind: service, home: msp, owner: ops, credential: password}
  - {id: svc-cert, kind: service, home: msp, owner: ops, credential: password, compensating: [certificate]}
grants:
  - {id: g1, subject: svc-pw, target: t1, privilege: admin, scope: servers}
  - {id: g2, subject: svc-pw, target: t2, privilege: admin, scope: servers}
  - {id: g3, subject: svc-cert, target: t1, privilege: admin, scope: servers}
`)
	if !j.entry("svc-pw") {
		t.Error("trust: password-only svc-pw is not an entry point")
	}
	for _, sub := range []string{"t1", "t2"} {
		st, ev := j.status(t, sub+" FB-MFA-001")
		if st != StatusFail || !strings.Contains(ev, "svc-pw") {
			t.Errorf("assess %s FB-MFA-001 = %s (%s), want fail naming svc-pw", sub, st, ev)
		}
		if strings.Contains(ev, "svc-cert") {
			t.Errorf("assess %s FB-MFA-001 blames svc-cert, which has a certificate: %s", sub, ev)
		}
	}
	if j.entry("svc-cert") {
		t.Error("trust: svc-cert with a certificate is an entry point")
	}
	if st, ev := j.status(t, "msp FB-MFA-003"); st != StatusFail || !strings.Contains(ev, "svc-pw") || strings.Contains(ev, "svc-cert") {
		t.Errorf("assess msp FB-MFA-003 = %s (%s), want fail naming svc-pw only", st, ev)
	}
}

// mfa: {enforced: true} with no methods is enforced for both engines:
// no password-spraying entry point, MFA-001 passes; whether it resists
// phishing is unknown (MFA-002 not evaluable), not "no MFA".
func TestAgreeEnforcedWithoutMethods(t *testing.T) {
	j := judgeBoth(t, agreeBase+`identities:
  - {id: tech-1, kind: human, home: msp, mfa: {enforced: true}}
grants:
  - {id: g1, subject: tech-1, target: t1, privilege: admin, scope: servers}
`)
	if j.entry("tech-1") {
		t.Error("trust: tech-1 (MFA enforced, methods unrecorded) is a no-MFA entry point")
	}
	if st, ev := j.status(t, "t1 FB-MFA-001"); st != StatusPass {
		t.Errorf("assess t1 FB-MFA-001 = %s (%s), want pass", st, ev)
	}
	if st, _ := j.status(t, "t1 FB-MFA-002"); st != StatusNotEvaluable {
		t.Errorf("assess t1 FB-MFA-002 = %s, want not_evaluable (methods unknown)", st)
	}
}

// PIM-eligible GDAP access for one identity into two customers is still
// one credential for both: FB-TRUST-004 and FB-NET-005 give one answer,
// and FB-PRIV-004 (standing admin) does not count it.
func TestAgreeEligibleGDAP(t *testing.T) {
	gdap := func(id, cust string) string {
		return `  - id: ` + id + `
    kind: gdap
    gdap:
      customer: ` + cust + `
      roles: [Exchange Administrator]
      status: active
      auto_extend: false
      assignments:
        - {group: grp-exch, assignment: eligible}
`
	}
	j := judgeBoth(t, agreeBase+`identities:
  - {id: tech-1, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}, groups: [grp-exch]}
groups:
  - {id: grp-exch, home: msp}
tools:
`+gdap("gdap-t1", "t1")+gdap("gdap-t2", "t2"))
	if st, ev := j.status(t, "msp FB-TRUST-004"); st != StatusFail || !strings.Contains(ev, "tech-1") {
		t.Errorf("FB-TRUST-004 = %s (%s), want fail naming tech-1", st, ev)
	}
	for _, sub := range []string{"t1", "t2"} {
		if st, ev := j.status(t, sub+" FB-NET-005"); st != StatusFail || !strings.Contains(ev, "tech-1") {
			t.Errorf("%s FB-NET-005 = %s (%s), want fail naming tech-1 (same answer as FB-TRUST-004)", sub, st, ev)
		}
		if st, ev := j.status(t, sub+" FB-TRUST-004"); st != StatusFail {
			t.Errorf("%s FB-TRUST-004 = %s (%s), want fail", sub, st, ev)
		}
		if st, ev := j.status(t, sub+" FB-PRIV-004"); st != StatusPass {
			t.Errorf("%s FB-PRIV-004 = %s (%s), want pass: the access is just in time", sub, st, ev)
		}
	}
}

// A protected break-glass account with Global Administrator at the MSP
// reaches every customer through the MSP's identity provider, but that is
// not credential reuse: it is judged by FB-AUTH-008, not FB-TRUST-004.
func TestAgreeBreakGlass(t *testing.T) {
	j := judgeBoth(t, agreeBase+`identities:
  - {id: bg-1, kind: break_glass, home: msp, roles: [Global Administrator], mfa: {enforced: true, methods: [fido2]}, break_glass: {monitored: true, last_tested: 2026-09-01}}
  - {id: tech-1, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}}
tools:
  - {id: idp, kind: identity_provider, mfa_enforced: true, mfa_methods: [fido2]}
grants:
  - {id: g1, subject: tech-1, target: t1, privilege: admin, scope: servers}
  - {id: g2, subject: tech-1, target: t2, privilege: admin, scope: servers, mode: jit}
`)
	st, ev := j.status(t, "msp FB-TRUST-004")
	if strings.Contains(ev, "bg-1") {
		t.Errorf("FB-TRUST-004 blames the break-glass account: %s", ev)
	}
	if st != StatusFail || !strings.Contains(ev, "tech-1") {
		t.Errorf("FB-TRUST-004 = %s (%s), want fail naming tech-1 (admin in t1, just in time in t2)", st, ev)
	}
	if st, ev := j.status(t, "msp FB-AUTH-008"); st != StatusPass {
		t.Errorf("FB-AUTH-008 = %s (%s), want pass", st, ev)
	}
	if st, ev := j.status(t, "msp FB-ACC-001"); strings.Contains(ev, "bg-1") {
		t.Errorf("FB-ACC-001 = %s blames the unused-by-design break-glass account: %s", st, ev)
	}
}

// TestPropertyEnginesAgree generates estates, perturbs them where the two
// engines used to disagree (MFA without methods, non-human credentials,
// eligible GDAP, patch dates on known-exploited software, per-user tool
// MFA) and checks every shared fact: open KEV per object, the no-MFA
// entry points, admin credential reuse, and tool console MFA.
func TestPropertyEnginesAgree(t *testing.T) {
	kc := testKEV(t)
	reused, sprays, kevs, consoles, cells, judged, noMFAReach, idleReach := 0, 0, 0, 0, 0, 0, 0, 0
	for seed := int64(1); seed <= 6; seed++ {
		e := estate.Generate(estate.GenOptions{Tenants: 12, Identities: 120, Grants: 150, Assets: 80, Seed: seed, Now: agreeNow})
		perturb(e, rand.New(rand.NewPCG(uint64(seed), 11)))
		acc := access.Compute(e, access.Options{Now: agreeNow, KEV: kc})
		g, err := trust.Build(e, trust.Options{Now: agreeNow, Access: acc})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		doc := trust.FactsOf(g)
		x := newIndex(e, agreeNow, kc, acc)
		node := func(id string) *trust.Node {
			i, err := g.NodeIndex(id)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			return &g.Nodes[i]
		}
		entries := map[string]bool{}
		for _, en := range doc.EntryPoints {
			entries[en.Kind+":"+en.ID+":"+en.Why] = true
		}
		// Open KEV entries per object.
		for ai := range e.Assets {
			got, want := node(e.Assets[ai].ID).KEV, access.CVEs(x.assetKEV[ai])
			if !slices.Equal(got, want) {
				t.Errorf("seed %d asset %s: trust KEV %v, assess KEV %v", seed, e.Assets[ai].ID, got, want)
			}
			if len(want) > 0 {
				kevs++
			}
		}
		for ti := range e.Tools {
			if got, want := node(e.Tools[ti].ID).KEV, access.CVEs(x.toolKEV[ti]); !slices.Equal(got, want) {
				t.Errorf("seed %d tool %s: trust KEV %v, assess KEV %v", seed, e.Tools[ti].ID, got, want)
			}
			// An exposed console without MFA is an entry point exactly
			// when assess judges the tool's MFA as not enforced.
			term := x.toolTerm(ti)
			noMFA := field(term, "mfa_enforced") != "true"
			exposed := e.Tools[ti].InternetExposed != nil && *e.Tools[ti].InternetExposed
			if exposed && noMFA {
				consoles++
			}
			if got, want := entries["tool:"+e.Tools[ti].ID+":internet-exposed console without MFA"], exposed && noMFA; got != want {
				t.Errorf("seed %d tool %s: trust no-MFA console entry %v, assess exposed=%v mfa_enforced=%s", seed, e.Tools[ti].ID, got, exposed, field(term, "mfa_enforced"))
			}
		}
		// Password spraying: an entry point exactly when assess does not
		// find MFA or a compensating control (none fails the MFA checks,
		// unknown makes them not evaluable; the graph assumes the worst).
		for ii := range e.Identities {
			id := &e.Identities[ii]
			if id.Kind == estate.KindAPIToken || !id.IsEnabled() {
				continue
			}
			term := x.identityTerm(ii)
			// Phishing resistance: the graph's credential-replay edges
			// (vault → account) are inert exactly when assess passes it.
			if pr, gotPR := field(term, "pr_state") == `"ok"`, node(id.ID).MFA == estate.MFAPhishingResistant; pr != gotPR {
				t.Errorf("seed %d identity %s: trust MFA %s, assess pr_state %s", seed, id.ID, node(id.ID).MFA, field(term, "pr_state"))
			}
			want := field(term, "mfa_state") != `"ok"`
			got := entries["identity:"+id.ID+":account without MFA (password spraying, credential stuffing)"]
			if want {
				sprays++
			}
			if got != want {
				t.Errorf("seed %d identity %s (%s): trust spray entry %v, assess mfa_state %s", seed, id.ID, id.Kind, got, field(term, "mfa_state"))
			}
		}
		// Admin credential reuse: FB-TRUST-004's list is FB-NET-005's.
		var fromTrust, fromAssess []string
		for _, n := range doc.AdminIdentities {
			fromTrust = append(fromTrust, n.ID)
			if ii := slices.IndexFunc(e.Identities, func(x estate.Identity) bool { return x.ID == n.ID }); ii < 0 || int(x.adminTenants[ii]) != n.TenantsAdmin {
				t.Errorf("seed %d identity %s: trust counts admin in %d tenants, assess %d", seed, n.ID, n.TenantsAdmin, x.adminTenants[max(ii, 0)])
			}
		}
		for ii := range e.Identities {
			if x.adminTenants[ii] >= 2 && e.Identities[ii].IsEnabled() {
				fromAssess = append(fromAssess, e.Identities[ii].ID)
			}
		}
		sort.Strings(fromTrust)
		sort.Strings(fromAssess)
		if d := cmp.Diff(fromTrust, fromAssess); d != "" {
			t.Errorf("seed %d: admin reuse (-trust +assess):\n%s", seed, d)
		}
		reused += len(fromAssess)
		cells += agreeMatrix(t, seed, g, doc)
		j, n, i := agreeJudged(t, seed, e, g, doc, x)
		judged += j
		noMFAReach += n
		idleReach += i
	}
	t.Logf("%d principal×tenant cells compared, %d judged by FB-MFA-001/FB-MFA-002/FB-PRIV-004/FB-ACC-004 (%d reach without MFA, %d idle)", cells, judged, noMFAReach, idleReach)
	if cells == 0 || judged == 0 || noMFAReach == 0 || idleReach == 0 {
		t.Error("the generated estates no longer exercise the access matrix")
	}
	if reused == 0 || sprays == 0 || kevs == 0 || consoles == 0 {
		t.Errorf("the generated estates no longer exercise every fact: %d reused admins, %d spray entries, %d assets with open KEV, %d exposed consoles without MFA",
			reused, sprays, kevs, consoles)
	}
}

// agreeMatrix checks the access matrix three ways: for every tenant T,
// privilege P and mode (standing, just in time), the principals that
// blast --from (one search per principal) says reach T at ≥ P are the
// ones the matrix holds, and the assess input (input.trust.by_tenant[T]
// .access) counts exactly them and lists the first of those at ≥ admin in
// order with blast's privileges. It returns the cells compared.
func agreeMatrix(t *testing.T, seed int64, g *trust.Graph, doc *trust.FactsDoc) int {
	t.Helper()
	m := g.Matrix()
	T := len(m.Tenants)
	tidx := map[string]int{}
	for i, id := range m.Tenants {
		tidx[id] = i
	}
	// blast[jit][p][tenant] is the privilege blast --from p gives.
	var blast [2][][]access.Level
	cells := 0
	for mode := range 2 {
		blast[mode] = make([][]access.Level, len(m.Principals))
		for p, pr := range m.Principals {
			row := make([]access.Level, T)
			b := g.Blast(pr.Node, trust.Query{IncludeJIT: mode == 1})
			for _, r := range b.Tenants {
				row[tidx[g.Nodes[r.Node].ID]] = access.Level(r.Priv)
			}
			blast[mode][p] = row
			for ti, got := range row {
				c, _ := m.At(pr.ID, m.Tenants[ti])
				if pr.ID != g.Nodes[pr.Node].ID || slices.IndexFunc(m.Principals, func(q access.Principal) bool { return q.ID == pr.ID }) != p {
					continue // an id naming several nodes: At finds the first
				}
				if want := c.Level(mode == 1); got != want {
					t.Errorf("seed %d %s %s in %s (jit %v): blast %s, matrix %s", seed, pr.Kind, pr.ID, m.Tenants[ti], mode == 1, got, want)
				}
				if got > access.LevelNone {
					cells++
				}
			}
		}
	}
	// blast --tenant T lists exactly the principals blast --from says
	// reach T, at the same standing and just-in-time privileges.
	for ti, tenant := range m.Tenants {
		rep, err := trust.NewReport(g, trust.ReportOptions{Tenant: tenant})
		if err != nil {
			t.Fatalf("seed %d: blast --tenant %s: %v", seed, tenant, err)
		}
		got := map[string][2]access.Level{}
		for _, row := range rep.Access.Principals {
			got[row.Kind+":"+row.ID] = [2]access.Level{access.Level(row.Standing), access.Level(row.Eligible)}
		}
		want := map[string][2]access.Level{}
		for p, pr := range m.Principals {
			if l := [2]access.Level{blast[0][p][ti], blast[1][p][ti]}; l[1] > access.LevelNone {
				want[pr.Kind+":"+pr.ID] = l
			}
		}
		if d := cmp.Diff(got, want); d != "" {
			t.Errorf("seed %d: blast --tenant %s (-blast --tenant +blast --from):\n%s", seed, tenant, d)
		}
	}
	in := trustTerm(doc)
	get := func(t *ast.Term, path ...string) *ast.Term {
		for _, k := range path {
			t = t.Value.(ast.Object).Get(ast.StringTerm(k))
		}
		return t
	}
	levels := map[access.Level]string{access.LevelRead: "read", access.LevelOperate: "operate", access.LevelAdmin: "admin", access.LevelFull: "full_control"}
	for ti, tenant := range m.Tenants {
		col := get(in, "by_tenant", tenant, "access")
		for mode, key := range []string{"standing", "eligible"} {
			for lvl, name := range levels {
				var want []int
				for p := range m.Principals {
					if blast[mode][p][ti] >= lvl {
						want = append(want, p)
					}
				}
				if got := get(col, key, name).String(); got != strconv.Itoa(len(want)) {
					t.Errorf("seed %d tenant %s: assess input counts %s principals %s at ≥ %s, blast %d", seed, tenant, got, key, name, len(want))
				}
				if mode != 1 || lvl != access.LevelAdmin {
					continue
				}
				if got := get(col, "admins_n").String(); got != strconv.Itoa(len(want)) {
					t.Errorf("seed %d tenant %s: admins_n %s, blast %d", seed, tenant, got, len(want))
				}
				var listed, expect []string
				arr := get(col, "admins").Value.(*ast.Array)
				for i := range arr.Len() {
					a := arr.Elem(i)
					listed = append(listed, strings.Join([]string{get(a, "kind").String(), get(a, "id").String(), get(a, "privilege").String(), get(a, "standing").String()}, " "))
				}
				for _, p := range want[:min(len(want), arr.Len())] {
					pr := m.Principals[p]
					expect = append(expect, strings.Join([]string{strconv.Quote(pr.Kind), strconv.Quote(pr.ID),
						strconv.Quote(blast[1][p][ti].String()), strconv.Quote(blast[0][p][ti].String())}, " "))
				}
				if arr.Len() != min(len(want), 10) {
					t.Errorf("seed %d tenant %s: %d admins listed, want %d", seed, tenant, arr.Len(), min(len(want), 10))
				}
				if d := cmp.Diff(listed, expect); d != "" {
					t.Errorf("seed %d tenant %s: admins (-assess input +blast):\n%s", seed, tenant, d)
				}
			}
		}
	}
	return cells
}

// agreeJudged checks the per-tenant facts FB-MFA-001, FB-MFA-002 and
// FB-PRIV-004 judge (input.trust.by_tenant[T].access: reach_n, no_mfa_n,
// mfa_unknown_n, operators_n, standing_ops_n, admin_identities_n, no_pr_n,
// pr_unknown_n) against blast --from run for every identity and vendor,
// with assess's own mfa_state and pr_state of each identity
// (a vendor: the worst of its staff's; unknown without staff). Identities
// homed in the tenant and a supplier's update channel are not counted. It
// returns the principal×tenant pairs judged.
func agreeJudged(t *testing.T, seed int64, e *estate.Estate, g *trust.Graph, doc *trust.FactsDoc, x *index) (judged, noMFA, idles int) {
	t.Helper()
	stateOf := func(id, key string) string {
		ii := slices.IndexFunc(e.Identities, func(y estate.Identity) bool { return y.ID == id })
		return strings.Trim(field(x.identityTerm(ii), key), `"`)
	}
	prOf := func(id string) string { return stateOf(id, "pr_state") }
	mfaOf := func(id string) string { return stateOf(id, "mfa_state") }
	idleOf := func(id string) bool { return stateOf(id, "idle") != "" }
	unownedOf := func(n *trust.Node) bool {
		ii := slices.IndexFunc(e.Identities, func(y estate.Identity) bool { return y.ID == n.ID })
		return ii >= 0 && e.Identities[ii].Owner == "" && (e.Identities[ii].Kind == estate.KindService || e.Identities[ii].Kind == estate.KindAPIToken)
	}
	type want struct{ reach, idle, unowned, nomfa, mfaunk, ops, sops, adm, nopr, unk, accounts, notKept, acctUnk int }
	wants := map[string]*want{}
	for _, tn := range e.Tenants {
		wants[tn.ID] = &want{}
	}
	reachers := map[string]bool{}
	for v := range g.Nodes {
		n := &g.Nodes[v]
		var pr, mfa, account string // account: assess's account_state of a person's account ("" otherwise)
		var idle bool
		switch {
		case n.Kind == trust.KindIdentity && n.Sub == string(estate.KindBreakGlass):
			continue // FB-AUTH-008's
		case n.Kind == trust.KindIdentity && !n.Disabled:
			pr, mfa, idle = prOf(n.ID), mfaOf(n.ID), idleOf(n.ID)
			if stateOf(n.ID, "human") == "true" {
				account = stateOf(n.ID, "account_state")
			}
		case n.Kind == trust.KindVendor:
			pr, mfa = "unknown", "unknown"
			staff := 0
			for _, ed := range g.Edges {
				if ed.From != int32(v) || ed.Kind != trust.EdgeStaff || g.Nodes[ed.To].Disabled {
					continue
				}
				if p := prOf(g.Nodes[ed.To].ID); staff == 0 || p == "fail" || (p == "unknown" && pr == "ok") {
					pr = p
				}
				if m := mfaOf(g.Nodes[ed.To].ID); staff == 0 || m == "none" || (m == "unknown" && mfa == "ok") {
					mfa = m
				}
				idle = idle || idleOf(g.Nodes[ed.To].ID)
				staff++
			}
		default:
			continue
		}
		var standing [2]map[int32]access.Level
		for mode := range 2 {
			standing[mode] = map[int32]access.Level{}
			b := g.Blast(int32(v), trust.Query{IncludeJIT: mode == 1})
			for _, r := range b.Tenants {
				if path := b.PathOf(r); n.Kind == trust.KindVendor && len(path) > 0 && g.Edges[path[0]].Kind == trust.EdgeSupply {
					continue
				}
				standing[mode][r.Node] = access.Level(r.Priv)
			}
		}
		for tn, l := range standing[1] {
			id := g.Nodes[tn].ID
			if id == n.Home || l < access.LevelRead {
				continue
			}
			w := wants[id]
			judged++
			w.reach++
			if n.Kind == trust.KindIdentity {
				reachers[n.ID] = true
			}
			if idle {
				w.idle++
				idles++
			}
			if n.Kind == trust.KindIdentity && unownedOf(n) {
				w.unowned++
			}
			switch mfa {
			case "none":
				w.nomfa++
				noMFA++
			case "unknown":
				w.mfaunk++
			}
			if l < access.LevelOperate {
				continue
			}
			w.ops++
			if standing[0][tn] >= access.LevelOperate {
				w.sops++
			}
			if account != "" {
				w.accounts++
				switch account {
				case "fail":
					w.notKept++
				case "unknown":
					w.acctUnk++
				}
			}
			if l >= access.LevelAdmin {
				w.adm++
				switch pr {
				case "fail":
					w.nopr++
				case "unknown":
					w.unk++
				}
			}
		}
	}
	// FB-MFA-003's population: the identities reaching a customer.
	got := map[string]bool{}
	for _, id := range doc.CustomerReach {
		got[id] = true
	}
	if d := cmp.Diff(got, reachers); d != "" {
		t.Errorf("seed %d: customer_reach (-assess input +blast --from):\n%s", seed, d)
	}
	for id, w := range wants {
		a := doc.ByTenant[id].Access
		got := want{a.ReachN, a.IdleN, a.UnownedN, a.NoMFAN, a.MFAUnknownN, a.OperatorsN, a.StandingOpsN, a.AdminsIDN, a.NoPRN, a.PRUnknownN, a.AccountsN, a.NotKeptN, a.AccountUnknownN}
		if got != *w {
			t.Errorf("seed %d tenant %s: assess input (reach, idle, unowned, no MFA, MFA unknown, operators, standing, admins, not phishing-resistant, unknown, people's accounts, not kept, account unknown) %v, blast %v", seed, id, got, *w)
		}
	}
	return judged, noMFA, idles
}

func field(t *ast.Term, k string) string {
	v := t.Value.(ast.Object).Get(ast.StringTerm(k))
	if v == nil {
		return ""
	}
	return v.String()
}

// perturb mixes in the shapes the engines used to judge differently.
func perturb(e *estate.Estate, r *rand.Rand) {
	for i := range e.Identities {
		x := &e.Identities[i]
		switch r.IntN(10) {
		case 0:
			x.MFA = estate.MFA{Enforced: estate.Bool(true)}
		case 1:
			x.Kind, x.MFA = estate.KindService, estate.MFA{}
			x.Credential = []estate.Credential{estate.CredPassword, estate.CredCertificate, estate.CredClientSecret, ""}[r.IntN(4)]
		case 2:
			x.Kind = estate.KindService
			x.Compensating = []estate.Compensation{[]estate.Compensation{estate.CompIPRestricted, estate.CompWorkloadIdentity}[r.IntN(2)]}
		case 3:
			x.Enabled = estate.Bool(false)
		case 4:
			x.MFA = estate.MFA{Enforced: estate.Bool(false)}
		case 5:
			x.MFA = estate.MFA{}
		case 6:
			x.Kind, x.Roles = estate.KindBreakGlass, []string{"Global Administrator"}
		case 7:
			x.LastSignIn, x.Created = nil, &estate.Date{Time: time.Date(2022, 8, 15, 0, 0, 0, 0, time.UTC)}
		}
		// How the account is kept (FB-PRIV-008): unknown, kept, or a
		// practice not followed.
		if k := r.IntN(4); k > 0 {
			b := func() *bool { return []*bool{nil, estate.Bool(true), estate.Bool(false)}[r.IntN(3)] }
			x.Account = &estate.AccountPractice{Dedicated: b(), Vaulted: b(), DisabledWhenUnused: b()}
			if k == 3 {
				x.Account = &estate.AccountPractice{Dedicated: estate.Bool(true), Vaulted: estate.Bool(true), DisabledWhenUnused: estate.Bool(true)}
			}
		}
	}
	for i := range e.Tools {
		t := &e.Tools[i]
		if t.GDAP != nil && r.IntN(2) == 0 {
			for _, g := range t.GDAP.AccessGroups {
				t.GDAP.Assignments = append(t.GDAP.Assignments, estate.GDAPAssignment{Group: g, Roles: []string{"Exchange Administrator"},
					Assignment: []string{estate.AssignEligible, estate.AssignActive}[r.IntN(2)]})
			}
			t.GDAP.AccessGroups = nil
		}
		if t.GDAP == nil && r.IntN(3) == 0 && len(e.Identities) > 2 {
			t.InternetExposed = estate.Bool(true)
			t.MFAEnforced = estate.Bool(true)
			t.Logins = []estate.ToolLogin{{Identity: e.Identities[0].ID, MFA: estate.MFA{Enforced: estate.Bool(r.IntN(2) == 0)}}, {Identity: e.Identities[1].ID}}
		}
	}
	for i := range e.Assets {
		a := &e.Assets[i]
		if r.IntN(4) == 0 {
			a.Software = append(a.Software, estate.Software{Vendor: "Kaseya", Product: "Virtual System/Server Administrator (VSA)"})
			a.LastPatched = &estate.Date{Time: time.Date(2019+r.IntN(8), 6, 1, 0, 0, 0, 0, time.UTC)}
			if r.IntN(2) == 0 {
				a.InternetPorts = []int{443}
			}
		}
	}
}

// verdicts is testdata/kaseya-vsa/verdicts.yaml.
type verdicts struct {
	Now    string `yaml:"now"`
	Assess []struct {
		Subject string   `yaml:"subject"`
		Control string   `yaml:"control"`
		Status  Status   `yaml:"status"`
		Names   []string `yaml:"names"`
		Not     []string `yaml:"not"`
	} `yaml:"assess"`
	Trust struct {
		EntryPoints    []string                     `yaml:"entry_points"`
		NotEntryPoints []string                     `yaml:"not_entry_points"`
		AdminReuse     []string                     `yaml:"admin_reuse"`
		From           map[string]map[string]string `yaml:"from"`
	} `yaml:"trust"`
}

// TestKaseyaVSAFixture runs the hand-written Kaseya-VSA-style estate through
// both engines and checks the verdicts written down beside it.
func TestKaseyaVSAFixture(t *testing.T) {
	dir := "testdata/kaseya-vsa"
	b, err := os.ReadFile(filepath.Join(dir, "verdicts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v verdicts
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("verdicts.yaml: %v", err)
	}
	now, err := estate.ParseDate(v.Now)
	if err != nil {
		t.Fatal(err)
	}
	j := judgeDir(t, filepath.Join(dir, "estate"), now.Time)
	for _, want := range v.Assess {
		key := want.Subject + " " + want.Control
		st, ev := j.status(t, key)
		if st != want.Status {
			t.Errorf("%s = %s, want %s (evidence: %s)", key, st, want.Status, ev)
		}
		ids := map[string]bool{}
		for _, x := range j.results[key].Evidence {
			ids[x.ID] = true
		}
		for _, n := range want.Names {
			if !ids[n] {
				t.Errorf("%s: evidence does not name %s: %s", key, n, ev)
			}
		}
		for _, n := range want.Not {
			if ids[n] {
				t.Errorf("%s: evidence names %s: %s", key, n, ev)
			}
		}
	}
	for _, id := range v.Trust.EntryPoints {
		if !j.entry(id) {
			t.Errorf("trust: %s is not an entry point", id)
		}
	}
	for _, id := range v.Trust.NotEntryPoints {
		if j.entry(id) {
			t.Errorf("trust: %s is an entry point", id)
		}
	}
	var reuse []string
	for _, n := range j.facts.AdminIdentities {
		reuse = append(reuse, n.ID)
	}
	if d := cmp.Diff(reuse, v.Trust.AdminReuse); d != "" {
		t.Errorf("trust: admin reuse (-got +want):\n%s", d)
	}
	for from, want := range v.Trust.From {
		bl, err := j.g.BlastFrom(from)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, r := range bl.Tenants {
			got[j.g.Nodes[r.Node].ID] = r.Priv.String()
		}
		if d := cmp.Diff(got, want); d != "" {
			t.Errorf("blast --from %s (-got +want):\n%s", from, d)
		}
	}
}

// TestStatusRank pins the one status order (report, dashboard and store
// call Status.Rank): strictly worst first, every status distinct.
func TestStatusRank(t *testing.T) {
	order := []Status{StatusFail, StatusExcepted, StatusNotEvaluable, StatusAttested, StatusPass, StatusNotApplicable, Status("bogus")}
	for i := 1; i < len(order); i++ {
		if order[i-1].Rank() <= order[i].Rank() {
			t.Errorf("%s (rank %d) does not outrank %s (rank %d)", order[i-1], order[i-1].Rank(), order[i], order[i].Rank())
		}
	}
}

// TestTrustTermMatchesJSON: the typed input.trust is the document trust.Facts
// gives (the map form Extra carried before), key for key.
func TestTrustTermMatchesJSON(t *testing.T) {
	e := estate.Generate(estate.GenOptions{Tenants: 15, Identities: 150, Grants: 200, Assets: 100, Seed: 3, Now: agreeNow})
	perturb(e, rand.New(rand.NewPCG(3, 11)))
	g, err := trust.Build(e, trust.Options{Now: agreeNow, KEVCatalog: testKEV(t)})
	if err != nil {
		t.Fatal(err)
	}
	want, err := ast.InterfaceToValue(trust.Facts(g))
	if err != nil {
		t.Fatal(err)
	}
	got := trustTerm(trust.FactsOf(g)).Value
	if got.Compare(want) != 0 {
		t.Errorf("typed input.trust differs from trust.Facts:\n got %.600s\nwant %.600s", got, want)
	}
}

// An RMM "operate" right is full control of every managed endpoint
// (capabilities), so the technician who only operates the RMM holds
// admin or more in the tenant by a path no grant names: FB-MFA-002 and
// FB-PRIV-004 judge it from the access matrix, as blast --tenant shows it.
// Before they read the matrix, both passed this tenant (the direct paths
// held only the JIT admin, with phishing-resistant MFA).
func TestMatrixJudgesOperatorThroughRMM(t *testing.T) {
	j := judgeBoth(t, agreeBase+`identities:
  - {id: ops, kind: human, home: msp, mfa: {enforced: true, methods: [push]}, last_sign_in: 2026-11-20}
  - {id: lead, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}, last_sign_in: 2026-11-20}
tools:
  - {id: vsa, kind: rmm, product: VSA, mfa_enforced: true, mfa_methods: [fido2], capabilities: [run_script_system]}
grants:
  - {id: g-ops-vsa, subject: ops, target: vsa, privilege: operate, scope: all machine groups}
  - {id: g-lead-t1, subject: lead, target: t1, privilege: admin, scope: servers, mode: jit}
assets:
  - {id: t1-srv, tenant: t1, hostname: SRV1, kind: server, agents: [vsa], last_patched: 2026-11-10}
`)
	for key, want := range map[string]string{"t1 FB-MFA-002": "ops", "t1 FB-PRIV-004": "ops"} {
		st, ev := j.status(t, key)
		if st != StatusFail || !strings.Contains(ev, want) {
			t.Errorf("%s = %s (%s), want fail naming %s", key, st, ev, want)
		}
		if strings.Contains(ev, "lead") {
			t.Errorf("%s blames the just-in-time, phishing-resistant lead: %s", key, ev)
		}
	}
	rep, err := trust.NewReport(j.g, trust.ReportOptions{Tenant: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, r := range rep.Access.Principals {
		rows = append(rows, fmt.Sprintf("%s:%s %s/%s", r.Kind, r.ID, r.Standing, r.Eligible))
	}
	for _, want := range []string{"identity:ops full_control/full_control", "identity:lead none/admin"} {
		if !slices.Contains(rows, want) {
			t.Errorf("blast --tenant t1 lacks %q: %v", want, rows)
		}
	}
}

// FB-MFA-001 (MFA on every identity that reaches the customer) judges the
// tenant's column of the access matrix, like FB-MFA-002: a technician
// without MFA who reaches the tenant only by operating the RMM (no grant
// names the tenant) fails it, and a read-only reach counts too. Before,
// it judged the direct paths only and passed this tenant.
func TestMFA001JudgesMatrix(t *testing.T) {
	j := judgeBoth(t, agreeBase+`identities:
  - {id: ops, kind: human, home: msp, mfa: {enforced: false}, last_sign_in: 2026-11-20}
  - {id: viewer, kind: human, home: msp, mfa: {enforced: false}, last_sign_in: 2026-11-20}
  - {id: lead, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}, last_sign_in: 2026-11-20}
  - {id: t1-user, kind: human, home: t1, mfa: {enforced: false}, last_sign_in: 2026-11-20}
tools:
  - {id: vsa, kind: rmm, product: VSA, mfa_enforced: true, mfa_methods: [fido2], capabilities: [run_script_system]}
grants:
  - {id: g-ops-vsa, subject: ops, target: vsa, privilege: operate, scope: all machine groups}
  - {id: g-viewer-t2, subject: viewer, target: t2, privilege: read, scope: reports}
  - {id: g-lead-t1, subject: lead, target: t1, privilege: admin, scope: servers, mode: jit}
assets:
  - {id: t1-srv, tenant: t1, hostname: SRV1, kind: server, agents: [vsa], last_patched: 2026-11-10}
`)
	for key, want := range map[string]string{"t1 FB-MFA-001": "ops", "t2 FB-MFA-001": "viewer"} {
		st, ev := j.status(t, key)
		if st != StatusFail || !strings.Contains(ev, want) {
			t.Errorf("%s = %s (%s), want fail naming %s", key, st, ev, want)
		}
		for _, not := range []string{"lead", "t1-user"} {
			if strings.Contains(ev, not) {
				t.Errorf("%s blames %s: %s", key, not, ev)
			}
		}
	}
}

// FB-ACC-004 (idle accounts still reaching the tenant) judges the access
// matrix: an admin account created years ago that never signed in and
// reaches the tenant only through the RMM it administers fails it. A
// break-glass account reaching every tenant through the MSP's identity
// provider is judged by FB-AUTH-008, not as standing operator access
// (FB-PRIV-004) or an unprotected path (FB-MFA-001/002). Before, ACC-004
// judged direct paths only and passed, and PRIV-004 named the break-glass
// account.
func TestMatrixJudgesIdleAndBreakGlass(t *testing.T) {
	j := judgeBoth(t, agreeBase+`identities:
  - {id: ops, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}, last_sign_in: 2026-11-20}
  - {id: old, kind: human, home: msp, created: 2022-08-15, mfa: {enforced: true, methods: [fido2]}}
  - {id: bg, kind: break_glass, home: msp, roles: [Global Administrator], mfa: {enforced: true, methods: [fido2]},
     break_glass: {monitored: true, last_tested: 2026-09-01}}
tools:
  - {id: vsa, kind: rmm, product: VSA, mfa_enforced: true, mfa_methods: [fido2], capabilities: [run_script_system]}
  - {id: entra, kind: identity_provider, product: Entra ID, mfa_enforced: true, mfa_methods: [fido2]}
grants:
  - {id: g-ops-vsa, subject: ops, target: vsa, privilege: operate, scope: all machine groups}
  - {id: g-old-vsa, subject: old, target: vsa, privilege: admin, scope: system}
assets:
  - {id: t1-srv, tenant: t1, hostname: SRV1, kind: server, agents: [vsa], last_patched: 2026-11-10}
`)
	if st, ev := j.status(t, "t1 FB-ACC-004"); st != StatusFail || !strings.Contains(ev, "old") || strings.Contains(ev, "ops") || strings.Contains(ev, "bg") {
		t.Errorf("t1 FB-ACC-004 = %s (%s), want fail naming old only", st, ev)
	}
	if st, ev := j.status(t, "t1 FB-PRIV-004"); strings.Contains(ev, "bg") || st != StatusFail {
		t.Errorf("t1 FB-PRIV-004 = %s (%s), want fail not naming the break-glass account", st, ev)
	}
	if st, _ := j.status(t, "msp FB-AUTH-008"); st != StatusPass {
		t.Errorf("msp FB-AUTH-008 = %s, want pass", st)
	}
	// blast --tenant still shows the break-glass account's reach.
	rep, err := trust.NewReport(j.g, trust.ReportOptions{Tenant: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rep.Access.Principals, func(r trust.AccessRowView) bool { return r.ID == "bg" }) {
		t.Error("blast --tenant t1 does not list bg")
	}
}

// A subcontractor's staff exercise the subcontractor's access: a staff
// account without MFA is an entry point that leads wherever the vendor's
// grants lead, as assess judges the vendor by its staff (FB-MFA-001).
// Before, the graph only had vendor → staff, so blast --from the staff
// account reached nothing while assess failed the vendor because of it.
func TestVendorStaffActForVendor(t *testing.T) {
	j := judgeBoth(t, agreeBase+`identities:
  - {id: ext-lou, kind: human, home: msp, upn: lou_noc.example#EXT#@msp.example, mfa: {enforced: false}, last_sign_in: 2026-11-20}
tools:
  - {id: vsa, kind: rmm, product: VSA, mfa_enforced: true, mfa_methods: [fido2], capabilities: [run_script_system]}
grants:
  - {id: g-noc-vsa, subject: v-noc, target: vsa, privilege: operate, scope: all machine groups}
assets:
  - {id: t1-srv, tenant: t1, hostname: SRV1, kind: server, agents: [vsa], last_patched: 2026-11-10}
vendors:
  - {id: v-noc, name: NOC Ltd, kind: subcontractor, domains: [noc.example]}
`)
	if st, ev := j.status(t, "t1 FB-MFA-001"); st != StatusFail || !strings.Contains(ev, "v-noc") {
		t.Errorf("t1 FB-MFA-001 = %s (%s), want fail naming v-noc", st, ev)
	}
	b, err := j.g.BlastFrom("ext-lou")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range b.Tenants {
		got[j.g.Nodes[r.Node].ID] = r.Priv.String()
	}
	if got["t1"] != "full_control" {
		t.Errorf("blast --from ext-lou = %v, want t1 at full_control (through v-noc's VSA operate)", got)
	}
	for _, e := range j.facts.EntryPoints {
		if e.ID == "ext-lou" && e.TenantsAdmin != 1 {
			t.Errorf("entry point ext-lou leads to admin in %d tenants, want 1", e.TenantsAdmin)
		}
	}
}

// FB-MFA-003 (every MSP account with customer access has MFA) counts the
// accounts that reach a customer by any path (the access matrix): a
// technician without MFA who can read the vault holding a customer
// admin's password reaches the customer. Before, customer access was
// derived again from direct grants and operate on a tool, and the
// technician was not judged.
func TestMFA003JudgesMatrix(t *testing.T) {
	j := judgeBoth(t, agreeBase+`identities:
  - {id: tech, kind: human, home: msp, mfa: {enforced: false}, last_sign_in: 2026-11-20}
  - {id: office, kind: human, home: msp, mfa: {enforced: false}, last_sign_in: 2026-11-20}
  - {id: t1-admin, kind: human, home: t1, roles: [Global Administrator], mfa: {enforced: true, methods: [push]}, last_sign_in: 2026-11-20}
tools:
  - {id: vault, kind: password_vault, product: Vault, mfa_enforced: true, mfa_methods: [fido2]}
grants:
  - {id: g-tech-vault, subject: tech, target: vault, privilege: read, scope: customer passwords}
  - {id: g-vault-t1-admin, subject: vault, target: t1-admin, privilege: full_control, scope: stored credential}
`)
	st, ev := j.status(t, "msp FB-MFA-003")
	if st != StatusFail || !strings.Contains(ev, "tech") || strings.Contains(ev, "office") {
		t.Errorf("msp FB-MFA-003 = %s (%s), want fail naming tech (not office, who reaches no customer)", st, ev)
	}
	if !slices.Contains(j.facts.CustomerReach, "tech") || slices.Contains(j.facts.CustomerReach, "office") {
		t.Errorf("customer_reach = %v", j.facts.CustomerReach)
	}
	// The evidence names how tech reaches customers from the matrix too
	// (customer_via: the first hop, the vault it reads). Before, assess's
	// index re-derived "access_tools" from operate+ tool grants alone and
	// the evidence read "tools " (empty) for this read-only path.
	if !strings.Contains(ev, "via vault") || !slices.Equal(j.facts.CustomerVia["tech"], []string{"vault"}) {
		t.Errorf("msp FB-MFA-003 evidence %q, customer_via %v: want the matrix's first hop (vault)", ev, j.facts.CustomerVia["tech"])
	}
}

// TestIndexDerivesNoReach: who reaches a customer is the access matrix's
// alone; the identity terms carry no re-derived customer_access or
// access_tools (they were built from the grants and read by no control).
func TestIndexDerivesNoReach(t *testing.T) {
	for _, k := range []string{"customer_access", "access_tools"} {
		if _, ok := keyTerms[k]; ok {
			t.Errorf("input schema still has %q", k)
		}
	}
}

// FB-AUTH-002 (non-human identities with access have an accountable
// owner) judges every service account and token reaching the tenant by
// any path (the access matrix): an unowned integration token that reaches
// the tenant only by operating the RMM fails it. Before, it judged direct
// paths only and passed.
func TestAUTH002JudgesMatrix(t *testing.T) {
	j := judgeBoth(t, agreeBase+`identities:
  - {id: tok, kind: api_token, home: msp, credential: certificate, created: 2026-10-01}
  - {id: tok-owned, kind: api_token, home: msp, owner: ops, credential: certificate, created: 2026-10-01}
tools:
  - {id: vsa, kind: rmm, product: VSA, mfa_enforced: true, mfa_methods: [fido2], capabilities: [run_script_system]}
grants:
  - {id: g-tok-vsa, subject: tok, target: vsa, privilege: operate, scope: ticket sync}
  - {id: g-tok-owned-vsa, subject: tok-owned, target: vsa, privilege: operate, scope: ticket sync}
assets:
  - {id: t1-srv, tenant: t1, hostname: SRV1, kind: server, agents: [vsa], last_patched: 2026-11-10}
`)
	if st, ev := j.status(t, "t1 FB-AUTH-002"); st != StatusFail || !strings.Contains(ev, "tok:") || strings.Contains(ev, "tok-owned") {
		t.Errorf("t1 FB-AUTH-002 = %s (%s), want fail naming tok only", st, ev)
	}
}

// FB-PRIV-008 (MSP accounts with access to the customer are kept as
// privileged accounts: dedicated, vaulted, disabled when not in use)
// judges every person's account reaching the tenant at operate or above by
// any path (the access matrix) by access.AccountState: a technician whose
// everyday account operates the RMM fails it; one whose dedicated account
// is held in the PAM vault (a vault grant to it) and enabled per task
// passes; a service account and a read-only reader are not judged; and
// with nothing recorded the tenant is not evaluable. Before, the model
// could not say any of it and no control judged it.
func TestPRIV008JudgesAccounts(t *testing.T) {
	src := agreeBase + `identities:
  - {id: kept, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}, last_sign_in: 2026-11-20, account: {dedicated: true, disabled_when_unused: true}}
  - {id: daily, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}, last_sign_in: 2026-11-20, account: {dedicated: false, vaulted: true, disabled_when_unused: true}}
  - {id: svc, kind: service, home: msp, owner: ops, credential: certificate, created: 2026-10-01}
  - {id: reader, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}, last_sign_in: 2026-11-20}
tools:
  - {id: pam, kind: password_vault, product: Vault, mfa_enforced: true, mfa_methods: [fido2]}
  - {id: vsa, kind: rmm, product: VSA, mfa_enforced: true, mfa_methods: [fido2], capabilities: [run_script_system]}
grants:
  - {id: g-pam-kept, subject: pam, target: kept, privilege: full_control, scope: stored credential}
  - {id: g-kept-t1, subject: kept, target: t1, privilege: admin, mode: jit}
  - {id: g-daily-vsa, subject: daily, target: vsa, privilege: operate, scope: technicians}
  - {id: g-svc-vsa, subject: svc, target: vsa, privilege: operate, scope: sync}
  - {id: g-reader-t2, subject: reader, target: t2, privilege: read}
assets:
  - {id: t1-srv, tenant: t1, hostname: SRV1, kind: server, agents: [vsa], last_patched: 2026-11-10}
`
	j := judgeBoth(t, src)
	st, ev := j.status(t, "t1 FB-PRIV-008")
	if st != StatusFail || !strings.Contains(ev, "daily") || !strings.Contains(ev, "not dedicated") || strings.Contains(ev, "kept") || strings.Contains(ev, "svc") {
		t.Errorf("t1 FB-PRIV-008 = %s (%s), want fail naming daily (not dedicated) only", st, ev)
	}
	if r := j.results["t1 FB-PRIV-008"]; !strings.HasPrefix(r.Message, "1 of 2 ") {
		t.Errorf("t1 FB-PRIV-008 message %q, want 1 of the 2 people's accounts (kept, daily)", r.Message)
	}
	if st, _ := j.status(t, "t2 FB-PRIV-008"); st != StatusNotApplicable {
		t.Errorf("t2 FB-PRIV-008 = %s, want not_applicable (reader only reads)", st)
	}
	// Nothing recorded: not evaluable, naming what is missing.
	j = judgeBoth(t, strings.ReplaceAll(strings.ReplaceAll(src, ", account: {dedicated: true, disabled_when_unused: true}", ""),
		", account: {dedicated: false, vaulted: true, disabled_when_unused: true}", ""))
	if st, ev := j.status(t, "t1 FB-PRIV-008"); st != StatusNotEvaluable || !strings.Contains(ev, "dedicated, vaulted, disabled when unused not recorded") {
		t.Errorf("t1 FB-PRIV-008 with nothing recorded = %s (%s), want not_evaluable naming what is missing", st, ev)
	}
}

// FB-MFA-003's evidence says how far an identity without MFA reaches. A
// subcontractor's technician who runs the RMM (full control of both
// customers, as `blast --from` says) read "0 as admin": the count was of
// the customers its own credentials are admin in (admin reuse), printed
// beside the access matrix's reach as if it were the reach.
func TestMFA003EvidenceAgreesWithBlast(t *testing.T) {
	j := judgeBoth(t, agreeBase+`identities:
  - {id: ext-dan, kind: human, home: msp, upn: dan@nightowl.example, mfa: {enforced: false}, last_sign_in: 2026-11-20}
tools:
  - {id: vsa, kind: rmm, product: VSA, mfa_enforced: true, mfa_methods: [fido2], capabilities: [run_script_system]}
vendors:
  - {id: nightowl, kind: subcontractor, domains: [nightowl.example]}
grants:
  - {id: g-noc, subject: nightowl, target: vsa, privilege: operate}
assets:
  - {id: t1-srv, tenant: t1, hostname: SRV1, kind: server, agents: [vsa], last_patched: 2026-11-10}
  - {id: t2-srv, tenant: t2, hostname: SRV2, kind: server, agents: [vsa], last_patched: 2026-11-10}
`)
	st, ev := j.status(t, "msp FB-MFA-003")
	if st != StatusFail || !strings.Contains(ev, "ext-dan") {
		t.Fatalf("msp FB-MFA-003 = %s (%s), want fail naming ext-dan", st, ev)
	}
	if strings.Contains(ev, "0 as admin") {
		t.Errorf("msp FB-MFA-003 evidence %q: ext-dan reaches both customers at full control through the RMM; the evidence must not say 0 as admin", ev)
	}
}

// A console whose tool-wide setting enforces MFA but where one user's login
// has none is judged by its weakest login (blast calls it "no MFA"); the
// evidence must say so, not "mfa_enforced=false", which contradicts the
// estate file (mfa_enforced: true) the reader checks it against.
func TestToolMFAEvidenceNamesTheLogin(t *testing.T) {
	j := judgeBoth(t, agreeBase+`identities:
  - {id: sam, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}, last_sign_in: 2026-11-20}
  - {id: ari, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}, last_sign_in: 2026-11-20}
tools:
  - id: vsa
    kind: rmm
    product: VSA
    internet_exposed: true
    capabilities: [run_script_system]
    mfa_enforced: true
    mfa_methods: [totp]
    logins:
      - {identity: sam, mfa: {enforced: true, methods: [totp]}}
      - {identity: ari, mfa: {enforced: false}}
grants:
  - {id: g-ari, subject: ari, target: vsa, privilege: operate}
assets:
  - {id: t1-srv, tenant: t1, hostname: SRV1, kind: server, agents: [vsa], last_patched: 2026-11-10}
`)
	for _, k := range []string{"msp FB-IC-001", "msp FB-MFA-004", "t1 FB-MFA-001"} {
		st, ev := j.status(t, k)
		if st != StatusFail || !strings.Contains(ev, "vsa") {
			t.Errorf("%s = %s (%s), want fail naming vsa", k, st, ev)
			continue
		}
		if strings.Contains(ev, "mfa_enforced=false") || !strings.Contains(ev, "ari") {
			t.Errorf("%s evidence %q: want the login without MFA (ari) named, not mfa_enforced=false", k, ev)
		}
	}
}

// Per tenant FB-NET-005 and FB-TRUST-004 judge one population, the access
// facts' identities holding admin in the tenant, with real counts: a
// tenant no identity is admin in is not applicable for both (FB-TRUST-004
// said "all 1 identities ... pass", a made-up count, while FB-NET-005 was
// not applicable), and FB-TRUST-001/002 count no object that is not there.
func TestAgreeAdminReusePerTenant(t *testing.T) {
	j := judgeBoth(t, agreeBase+`  - {id: t3, name: Three}
identities:
  - {id: tech-1, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}}
  - {id: tech-2, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}, groups: [grp-t2]}
  - {id: tech-3, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}, groups: [grp-t2]}
groups:
  - {id: grp-t2, home: msp}
grants:
  - {id: g1, subject: tech-1, target: t1, privilege: admin, scope: servers}
  - {id: g2, subject: tech-1, target: t2, privilege: admin, scope: servers, mode: jit}
  - {id: g3, subject: grp-t2, target: t2, privilege: admin, scope: servers}
  - {id: g4, subject: tech-2, target: t3, privilege: read, scope: servers}
`)
	want := map[string]struct {
		st  Status
		msg string
	}{
		"t1": {StatusFail, "1 of 1 identities with admin in this tenant"},
		"t2": {StatusFail, "1 of 3 identities with admin in this tenant"},
		"t3": {StatusNotApplicable, "no identities with admin in this tenant"},
	}
	for sub, w := range want {
		net, tr := j.results[sub+" FB-NET-005"], j.results[sub+" FB-TRUST-004"]
		if net.Status != w.st || !strings.HasPrefix(net.Message, w.msg) {
			t.Errorf("%s FB-NET-005 = %s %q, want %s %q…", sub, net.Status, net.Message, w.st, w.msg)
		}
		if tr.Status != net.Status || tr.Message != net.Message {
			t.Errorf("%s FB-TRUST-004 = %s %q, FB-NET-005 = %s %q: want one answer", sub, tr.Status, tr.Message, net.Status, net.Message)
		}
	}
	for _, key := range []string{"t3 FB-TRUST-001", "t3 FB-TRUST-002", "msp FB-TRUST-002"} {
		if r := j.results[key]; strings.Contains(r.Message, "all 1 ") {
			t.Errorf("%s = %s %q: a made-up count", key, r.Status, r.Message)
		}
	}
}
