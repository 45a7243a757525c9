package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The Lanternfish estate (testdata/lanternfish/estate) is an MSP written by
// hand from scratch for issue 11, shaped on the Kaseya VSA cascade. The
// golden file pins every verdict `assess` gives and what `blast` says
// (entry points, ranking, every tenant's column of the access matrix, the
// reach of the principals the issue names, implied access), judged against
// the real CISA KEV catalog snapshot in ../shared/data. Regenerate with
// `go test ./cmd/firebreak -run TestLanternfishGolden -update-lanternfish`
// and review the diff. TestLanternfishWhy checks each class of the issue's
// "Why" list by name, so a regenerated golden cannot hide a regression in
// one of them.

const (
	lanternfishEstate = "testdata/lanternfish/estate"
	lanternfishGolden = "testdata/lanternfish/golden.txt"
	lanternfishNow    = "2026-11-27"
	// realKEV is CISA's catalog as published (not written here).
	realKEV = "../../../shared/data/kev/known_exploited_vulnerabilities-2025.08.25.json"
)

var updateLanternfish = flag.Bool("update-lanternfish", false, "rewrite testdata/lanternfish/golden.txt")

// cliJSON runs a verb and decodes its JSON output.
func cliJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	if code != exitOK && code != exitFindings {
		t.Fatalf("firebreak %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		t.Fatalf("firebreak %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
}

type lfEvidence struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Detail string `json:"detail"`
}

type lfResult struct {
	Subject  string       `json:"subject"`
	Control  string       `json:"control"`
	Status   string       `json:"status"`
	Message  string       `json:"message"`
	Evidence []lfEvidence `json:"evidence"`
}

type lfNode struct {
	ID            string `json:"id"`
	Kind          string `json:"kind"`
	MFA           string `json:"mfa"`
	TenantsFull   int    `json:"tenants_full"`
	TenantsAdmin  int    `json:"tenants_admin"`
	TenantsAny    int    `json:"tenants_any"`
	WeightedAdmin int    `json:"weighted_admin"`
}

type lfEntry struct {
	Node         string   `json:"node"`
	Kind         string   `json:"kind"`
	Why          string   `json:"why"`
	Privilege    string   `json:"privilege"`
	KEV          []string `json:"kev"`
	TenantsAdmin int      `json:"tenants_admin"`
}

type lfStep struct {
	From string `json:"from"`
	To   string `json:"to"`
	Edge string `json:"edge"`
	Kind string `json:"kind"`
}

type lfReach struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"`
	Privilege string   `json:"privilege"`
	Path      []lfStep `json:"path"`
}

type lfBlast struct {
	Ranking     []lfNode  `json:"ranking"`
	EntryPoints []lfEntry `json:"entry_points"`
	Warnings    []string  `json:"warnings"`
	Access      *struct {
		Tenant     string `json:"tenant"`
		Principals []struct {
			ID          string `json:"id"`
			Kind        string `json:"kind"`
			MFA         string `json:"mfa"`
			Standing    string `json:"standing"`
			StandingVia string `json:"standing_via"`
			Eligible    string `json:"eligible"`
			EligibleVia string `json:"eligible_via"`
		} `json:"principals"`
	} `json:"access"`
	Blast *struct {
		Tenants []lfReach `json:"tenants"`
	} `json:"blast"`
}

// lanternfish is what assess and blast say about the estate at one date.
type lanternfish struct {
	results map[string]lfResult // "subject control"
	order   []string
	summary lfBlast
	tenants map[string]lfBlast
	from    map[string]lfBlast
}

var lfTenants = []string{"accounts", "clinic", "council", "marina", "bakery"}

// lfFrom are the principals whose whole reach the golden pins: the VSA
// console and server, a technician, the never-used admin, the
// password-only service account, both break-glass accounts, the
// subcontracted night shift and the PIM-eligible escalation group.
var lfFrom = []string{"vsa", "vsa-srv", "wes", "rgreaves", "svc-docsync", "bg-lantern-1", "bg-lantern-2", "v-harbourline", "gdap-escalation-pim", "tomas"}

func judgeLanternfish(t *testing.T, now string) *lanternfish {
	t.Helper()
	if _, err := os.Stat(realKEV); err != nil {
		t.Fatalf("CISA KEV snapshot: %v (shared/data must sit beside the repository)", err)
	}
	lf := &lanternfish{results: map[string]lfResult{}, tenants: map[string]lfBlast{}, from: map[string]lfBlast{}}
	var rep struct {
		Results []lfResult `json:"results"`
	}
	cliJSON(t, &rep, "assess", lanternfishEstate, "--now", now, "--kev", realKEV, "-f", "json")
	for _, r := range rep.Results {
		k := r.Subject + " " + r.Control
		lf.results[k] = r
		lf.order = append(lf.order, k)
	}
	sort.Strings(lf.order)
	blast := func(v *lfBlast, extra ...string) {
		cliJSON(t, v, append([]string{"blast", lanternfishEstate, "--now", now, "--kev", realKEV, "-f", "json"}, extra...)...)
	}
	blast(&lf.summary)
	for _, tn := range lfTenants {
		var b lfBlast
		blast(&b, "--tenant", tn)
		lf.tenants[tn] = b
	}
	for _, p := range lfFrom {
		var b lfBlast
		blast(&b, "--from", p)
		lf.from[p] = b
	}
	return lf
}

func (lf *lanternfish) golden() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# firebreak assess %s --now %s --kev <CISA KEV 2025-08-25>: every result, its status and evidence\n", lanternfishEstate, lanternfishNow)
	for _, k := range lf.order {
		r := lf.results[k]
		var ev []string
		for _, e := range r.Evidence {
			if e.Kind == "tenant" || e.Kind == "msp" {
				continue
			}
			ev = append(ev, e.Kind+":"+e.ID)
		}
		sort.Strings(ev)
		ev = slices.Compact(ev)
		fmt.Fprintf(&b, "%s %s %s", r.Subject, r.Control, r.Status)
		if len(ev) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(ev, " "))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\n# firebreak blast: entry points\n")
	for _, e := range lf.summary.EntryPoints {
		fmt.Fprintf(&b, "%s:%s %s, %s; admin in %d tenants", e.Kind, e.Node, e.Why, e.Privilege, e.TenantsAdmin)
		if len(e.KEV) > 0 {
			fmt.Fprintf(&b, "; KEV %s", strings.Join(e.KEV, " "))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\n# firebreak blast: ranking (full / admin / any tenants, weighted admin)\n")
	for _, n := range lf.summary.Ranking {
		fmt.Fprintf(&b, "%s:%s mfa=%s %d/%d/%d %d\n", n.Kind, n.ID, n.MFA, n.TenantsFull, n.TenantsAdmin, n.TenantsAny, n.WeightedAdmin)
	}
	fmt.Fprintf(&b, "\n# firebreak blast: warnings\n")
	for _, w := range lf.summary.Warnings {
		b.WriteString(w + "\n")
	}
	for _, tn := range lfTenants {
		fmt.Fprintf(&b, "\n# firebreak blast --tenant %s (standing via / just in time via)\n", tn)
		for _, p := range lf.tenants[tn].Access.Principals {
			fmt.Fprintf(&b, "%s:%s mfa=%s %s via %s / %s via %s\n", p.Kind, p.ID, p.MFA, p.Standing, p.StandingVia, p.Eligible, p.EligibleVia)
		}
	}
	for _, p := range lfFrom {
		fmt.Fprintf(&b, "\n# firebreak blast --from %s (tenants: privilege, path)\n", p)
		for _, r := range lf.from[p].Blast.Tenants {
			if r.Kind != "tenant" {
				continue
			}
			var path []string
			for _, s := range r.Path {
				path = append(path, s.Edge)
			}
			fmt.Fprintf(&b, "%s %s [%s]\n", r.ID, r.Privilege, strings.Join(path, " "))
		}
	}
	return b.String()
}

func TestLanternfishGolden(t *testing.T) {
	got := judgeLanternfish(t, lanternfishNow).golden()
	if *updateLanternfish {
		if err := os.WriteFile(lanternfishGolden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(lanternfishGolden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("assess/blast on the Lanternfish estate differ from %s (-want +got; -update-lanternfish rewrites it, then review the diff):\n%s", lanternfishGolden, d)
	}
}

// TestLanternfishWhy checks, on the hand-written estate, each class of
// wrong verdict the "Why" list names, with both engines.
func TestLanternfishWhy(t *testing.T) {
	lf := judgeLanternfish(t, lanternfishNow)
	status := func(t *testing.T, key string) (string, []string) {
		t.Helper()
		r, ok := lf.results[key]
		if !ok {
			t.Fatalf("no result %s", key)
		}
		var ids []string
		for _, e := range r.Evidence {
			ids = append(ids, e.ID)
		}
		return r.Status, ids
	}
	want := func(t *testing.T, key, st string, names, not []string) {
		t.Helper()
		got, ids := status(t, key)
		if got != st {
			t.Errorf("%s = %s (%v), want %s", key, got, ids, st)
		}
		for _, n := range names {
			if !slices.Contains(ids, n) {
				t.Errorf("%s does not name %s: %v", key, n, ids)
			}
		}
		for _, n := range not {
			if slices.Contains(ids, n) {
				t.Errorf("%s names %s: %v", key, n, ids)
			}
		}
	}
	entry := func(id string) []string {
		var whys []string
		for _, e := range lf.summary.EntryPoints {
			if e.Node == id {
				whys = append(whys, e.Why)
			}
		}
		return whys
	}
	reach := func(from, tenant string) string {
		for _, r := range lf.from[from].Blast.Tenants {
			if r.ID == tenant {
				return r.Privilege
			}
		}
		return "none"
	}
	column := func(tenant, id string) (standing, eligible string) {
		for _, p := range lf.tenants[tenant].Access.Principals {
			if p.ID == id {
				return p.Standing, p.Eligible
			}
		}
		return "none", "none"
	}

	t.Run("patched firewall with a KEV-listed product", func(t *testing.T) {
		// FortiOS has entries in the real catalog; both firewalls were
		// patched after the last was added. The council's was not.
		for _, id := range []string{"accounts-fw", "lf-fw"} {
			if w := entry(id); len(w) > 0 {
				t.Errorf("blast: patched %s is an entry point: %v", id, w)
			}
		}
		want(t, "accounts FB-UPD-002", "pass", nil, nil)
		want(t, "council FB-UPD-002", "fail", []string{"council-fw"}, nil)
		if w := entry("council-fw"); len(w) == 0 {
			t.Error("blast: the unpatched council-fw is not an entry point")
		}
		want(t, "msp FB-UPD-002", "fail", []string{"vsa-srv"}, []string{"lf-fw"})
	})
	t.Run("password-only service account reaching two tenants", func(t *testing.T) {
		if w := entry("svc-docsync"); !slices.Contains(w, "account without MFA (password spraying, credential stuffing)") {
			t.Errorf("blast: svc-docsync entry %v", w)
		}
		for _, tn := range []string{"accounts", "clinic"} {
			want(t, tn+" FB-MFA-001", "fail", []string{"svc-docsync"}, []string{"svc-m365-report", "app-backup", "priya"})
			if reach("svc-docsync", tn) != "admin" {
				t.Errorf("blast --from svc-docsync: %s at %s, want admin", tn, reach("svc-docsync", tn))
			}
		}
		want(t, "msp FB-MFA-003", "fail", []string{"svc-docsync", "tok-psa"}, []string{"svc-m365-report", "app-backup", "priya"})
	})
	t.Run("mfa enforced without methods", func(t *testing.T) {
		// priya: enforced, methods unknown. Not an entry point, not "no
		// MFA" for assess; "unknown-methods" in blast's column.
		if w := entry("priya"); len(w) > 0 {
			t.Errorf("blast: priya is an entry point: %v", w)
		}
		want(t, "accounts FB-MFA-001", "fail", nil, []string{"priya"})
		want(t, "msp FB-MFA-003", "fail", nil, []string{"priya"})
		for _, p := range lf.tenants["accounts"].Access.Principals {
			if p.ID == "priya" && p.MFA != "unknown-methods" {
				t.Errorf("blast --tenant accounts: priya mfa %s", p.MFA)
			}
		}
	})
	t.Run("PIM-eligible GDAP is reuse for both controls; break-glass is not", func(t *testing.T) {
		// nadia is eligible Exchange admin in two customers: one
		// credential in two customers, whichever control asks.
		for _, tn := range []string{"accounts", "clinic"} {
			want(t, tn+" FB-TRUST-004", "fail", []string{"nadia", "svc-docsync"}, []string{"bg-lantern-1", "bg-lantern-2"})
			want(t, tn+" FB-NET-005", "fail", []string{"nadia", "svc-docsync"}, []string{"bg-lantern-1", "bg-lantern-2"})
			if s, e := column(tn, "gdap-escalation-pim"); s != "none" || e != "admin" {
				t.Errorf("blast --tenant %s: gdap-escalation-pim %s/%s, want none/admin (just in time)", tn, s, e)
			}
		}
		want(t, "msp FB-TRUST-004", "fail", []string{"nadia", "svc-docsync"}, []string{"bg-lantern-1", "bg-lantern-2", "rgreaves"})
		// The break-glass accounts reach every tenant through the MSP's
		// directory; FB-AUTH-008 judges them, not reuse or standing access.
		if reach("bg-lantern-1", "accounts") != "full_control" {
			t.Errorf("blast --from bg-lantern-1: accounts at %s", reach("bg-lantern-1", "accounts"))
		}
		want(t, "msp FB-AUTH-008", "fail", []string{"bg-lantern-2"}, []string{"bg-lantern-1"})
		for _, tn := range lfTenants {
			want(t, tn+" FB-PRIV-004", "fail", nil, []string{"bg-lantern-1", "bg-lantern-2"})
			want(t, tn+" FB-ACC-004", "fail", []string{"rgreaves"}, []string{"bg-lantern-1", "bg-lantern-2"})
		}
		want(t, "msp FB-ACC-001", "fail", []string{"rgreaves"}, []string{"bg-lantern-1", "bg-lantern-2"})
	})
	t.Run("GDAP access groups, RMM capabilities, per-user tool MFA, vendors", func(t *testing.T) {
		// wes operates VSA (no grant to any customer): scripts as SYSTEM
		// on every managed endpoint are full control.
		for _, tn := range []string{"accounts", "clinic", "council", "marina", "bakery"} {
			if got := reach("wes", tn); got != "full_control" {
				t.Errorf("blast --from wes: %s at %s, want full_control", tn, got)
			}
		}
		// Per-user 2FA in VSA: wes and rgreaves have none, so the console
		// is not MFA-protected for assess and blast alike.
		want(t, "msp FB-MFA-004", "fail", []string{"vsa"}, []string{"psa", "backup-console", "docs-vault"})
		if w := entry("vsa"); !slices.Contains(w, "internet-exposed console without MFA") {
			t.Errorf("blast: vsa entry %v", w)
		}
		// The vendor's staff: ext-marek listed, ext-lou by domain.
		want(t, "accounts FB-MFA-001", "fail", []string{"v-harbourline"}, nil)
		if got := reach("v-harbourline", "council"); got != "full_control" {
			t.Errorf("blast --from v-harbourline: council at %s", got)
		}
		// The expired GDAP relationship grants nothing.
		if s, e := column("marina", "gdap-helpdesk"); s != "none" || e != "none" {
			t.Errorf("blast --tenant marina: gdap-helpdesk %s/%s through an expired relationship", s, e)
		}
	})
	t.Run("one clock: --now on blast and assess", func(t *testing.T) {
		// tomas's temporary admin on the bakery ends 2026-12-15.
		if got := reach("tomas", "bakery"); got != "full_control" {
			t.Errorf("blast --from tomas at %s: bakery %s", lanternfishNow, got)
		}
		later := judgeLanternfish(t, "2027-01-10")
		var via []string
		for _, r := range later.from["tomas"].Blast.Tenants {
			if r.ID == "bakery" {
				for _, s := range r.Path {
					via = append(via, s.Edge)
				}
			}
		}
		if slices.Contains(via, "g-tomas-bakery") {
			t.Errorf("blast --now 2027-01-10 --from tomas still goes through the expired grant: %v", via)
		}
		if r := later.results["bakery FB-PRIV-005"]; r.Status != "fail" || !slices.ContainsFunc(r.Evidence, func(e lfEvidence) bool { return e.ID == "g-tomas-bakery" }) {
			t.Errorf("assess --now 2027-01-10 bakery FB-PRIV-005 = %s %v, want fail naming g-tomas-bakery", r.Status, r.Evidence)
		}
	})
	t.Run("controls do what their titles say", func(t *testing.T) {
		want(t, "accounts FB-BAK-002", "fail", []string{"bk-accounts"}, nil) // immutable is not offline
		want(t, "accounts FB-BAK-003", "fail", []string{"bk-accounts"}, nil) // keys in the same console
		want(t, "accounts FB-BAK-005", "fail", []string{"accounts-fs"}, []string{"accounts-dc"})
		want(t, "clinic FB-BAK-001", "not_evaluable", []string{"bk-clinic"}, nil)  // RPO not recorded
		want(t, "msp FB-IR-003", "fail", []string{"ir-msp"}, nil)                  // hard copy from 2024
		want(t, "msp FB-LOG-002", "fail", []string{"vsa"}, []string{"docs-vault"}) // 90 days under the 183-day floor the settings tried to lower
		want(t, "accounts FB-CTR-004", "fail", []string{"ct-accounts"}, nil)       // the clause's 90 days
		want(t, "msp FB-IC-002", "fail", []string{"jumpbox"}, nil)                 // RDP whatever the console MFA
		want(t, "marina FB-IC-001", "fail", []string{"marina-anydesk"}, nil)       // the customer's own console
		want(t, "council FB-PRIV-003", "fail", []string{"gdap-council"}, nil)
	})
}

// TestLanternfishBadInput: the GDAP relationship as people write it wrong
// (the examples) is refused with file:line:col, the field and the
// expected form, all at once, and suggestions for near misses.
func TestLanternfishBadInput(t *testing.T) {
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(lanternfishEstate, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if filepath.Base(f) == "tools.yaml" {
			s = strings.Replace(s, "      duration: P730D\n      auto_extend: false\n      status: active\n      end_date: 2027-09-30",
				"      duration: 1 year\n      auto_extend: \"false\"\n      status: Active\n      end_date: 2027-09-30", 1)
			s = strings.Replace(s, "assignment: eligible}", "assignment: eligable}", 1)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"validate", dir}, &out, &errb)
	if code == exitOK {
		t.Fatalf("validate accepted the bad GDAP relationship:\n%s", out.String())
	}
	msg := out.String() + errb.String()
	for _, w := range []string{
		`tools.yaml:102:17: tools[7].gdap.duration: invalid duration "1 year" (expected an ISO 8601 duration`,
		`tools.yaml:103:20: tools[7].gdap.auto_extend: found a string "false" (expected true or false`,
		`tools.yaml:104:15: tools[7].gdap.status: invalid value "Active" (did you mean "active"?)`,
		`tools.yaml:107:85: tools[7].gdap.assignments[0].assignment: invalid value "eligable" (did you mean "eligible"?)`,
		`4 problems`,
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("validate output lacks %q:\n%s", w, msg)
		}
	}
	for _, verb := range []string{"assess", "blast"} {
		var o, e bytes.Buffer
		if c := run(context.Background(), []string{verb, dir, "--now", lanternfishNow, "--kev", realKEV}, &o, &e); c == exitOK || c == exitFindings {
			t.Errorf("%s judged an estate that does not load (exit %d)", verb, c)
		}
	}
}
