package server

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/attest"
	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// multipartPost posts fields and files as multipart/form-data with the
// client's CSRF token.
func (c *client) multipartPost(path string, fields map[string]string, files map[string][2]string) (*http.Response, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if _, ok := fields["csrf"]; !ok && c.csrf != "" {
		mw.WriteField("csrf", c.csrf)
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for field, f := range files {
		w, _ := mw.CreateFormFile(field, f[0])
		w.Write([]byte(f[1]))
	}
	mw.Close()
	return c.do("POST", path, &buf, map[string]string{"Content-Type": mw.FormDataContentType()})
}

func (f *fixture) addUser(name string, role store.Role, tenant string) {
	hash, err := auth.HashPasswordParams("pw-"+name, auth.ArgonParams{Time: 1, Memory: 1024, Threads: 1, KeyLen: 32})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.st.CreateUser(context.Background(), &store.User{Username: name, Role: role, Tenant: tenant, PasswordHash: hash}); err != nil {
		f.t.Fatal(err)
	}
	f.pw[name] = "pw-" + name
}

func (f *fixture) assessNow() *store.Run {
	f.t.Helper()
	e, snap := f.srv.work.CurrentEstate()
	run, _, err := f.srv.work.Assess(context.Background(), e, snap, "test")
	if err != nil {
		f.t.Fatal(err)
	}
	return run
}

func resultOf(t *testing.T, st store.Store, runID int64, control, subject string) assess.Status {
	t.Helper()
	rs, err := st.Results(context.Background(), store.AllTenants(), store.ResultFilter{RunID: runID, Subject: subject})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Control == control && r.Object == "" {
			return r.Status
		}
	}
	t.Fatalf("no result for %s/%s in run %d", control, subject, runID)
	return ""
}

// The whole flow of issue 17 through HTTP: a signed attestation per tenant
// after an assessment, downloadable only by its tenant, verifiable offline
// and on the public page; a tenant attester records the customer's side of
// a control and the next assessment changes; an analyst reviews a contract
// and the confirmed clauses replace the estate's.
func TestAttestationFlow(t *testing.T) {
	f := newFixture(t)
	eng, err := worker.NewEngines(worker.EngineOptions{Clock: f.clk.now})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.setEngines(eng)
	f.addUser("attester-a", store.RoleTenantAttester, tenantA)
	run := f.assessNow()
	ctx := context.Background()

	// One posture per tenant, signed with the key the server made.
	if fi, err := os.Stat(filepath.Join(f.srv.cfg.DataDir, "attest.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("signing key: %v %v", fi, err)
	}
	pub, err := attest.LoadKey(filepath.Join(f.srv.cfg.DataDir, "attest.pub"))
	if err != nil {
		t.Fatal(err)
	}
	pa, _ := f.st.ListPostures(ctx, store.AllTenants(), tenantA, 0)
	pb, _ := f.st.ListPostures(ctx, store.AllTenants(), tenantB, 0)
	if len(pa) != 1 || len(pb) != 1 || pa[0].RunID != run.ID {
		t.Fatalf("postures: alpha %+v bravo %+v", pa, pb)
	}

	viewer := f.client()
	viewer.login("viewer-a")
	resp, list := viewer.do("GET", "/api/v1/tenants/"+tenantA+"/attestations", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(list, fmt.Sprintf(`"id":%d`, pa[0].ID)) {
		t.Fatalf("list: %d %s", resp.StatusCode, list)
	}
	resp, env := viewer.do("GET", fmt.Sprintf("/tenants/%s/attestations/%d.intoto.json", tenantA, pa[0].ID), nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %d", resp.StatusCode)
	}
	v, err := attest.Verify(ctx, strings.NewReader(env), attest.VerifyOptions{Keys: []*attest.Key{pub}, Now: f.clk.now(), Tenant: tenantA})
	if err != nil {
		t.Fatalf("downloaded attestation does not verify: %v", err)
	}
	if strings.Contains(strings.ToLower(env), markerB) {
		t.Error("alpha's attestation mentions bravo")
	}
	if n := len(v.Statement.Predicate.Access); n == 0 {
		t.Error("no access listed: tech-1 holds admin in alpha")
	}
	for _, path := range []string{
		fmt.Sprintf("/tenants/%s/attestations/%d.intoto.json", tenantA, pb[0].ID),
		fmt.Sprintf("/tenants/%s/attestations/%d.intoto.json", tenantB, pb[0].ID),
		fmt.Sprintf("/api/v1/tenants/%s/attestations/%d", tenantB, pb[0].ID),
		"/api/v1/tenants/" + tenantB + "/attestations",
	} {
		if resp, body := viewer.do("GET", path, nil, nil); resp.StatusCode != http.StatusNotFound || strings.Contains(body, markerB) {
			t.Errorf("viewer-a GET %s: %d", path, resp.StatusCode)
		}
	}

	// The public page: no account needed; a changed byte is refused.
	anon := f.client()
	resp, page := anon.multipartPost("/verify", nil, map[string][2]string{"envelope": {"a.intoto.json", env}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Verified") || !strings.Contains(page, "Alpha Company") {
		t.Fatalf("public verify: %d\n%s", resp.StatusCode, page)
	}
	bad := strings.Replace(env, `"sig": "`, `"sig": "AA`, 1)
	if resp, page := anon.multipartPost("/verify", nil, map[string][2]string{"envelope": {"a.json", bad}}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "Not verified") {
		t.Errorf("tampered verify: %d", resp.StatusCode)
	}
	if resp, _ := anon.do("GET", "/attest/key.pub", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("public key: %d", resp.StatusCode)
	}

	// A viewer cannot record; the attester can, for the customer's side
	// of its own tenant only.
	if resp, _ := viewer.multipartPost("/tenants/"+tenantA+"/claims", map[string]string{"kind": "attestation", "control": "FB-LOG-007", "text": "x", "expires": "2027-06-01"}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer records a claim: %d", resp.StatusCode)
	}
	if got := resultOf(t, f.st, run.ID, "FB-LOG-007", tenantA); got != assess.StatusNotEvaluable {
		t.Fatalf("FB-LOG-007 before attesting: %s", got)
	}
	att := f.client()
	att.login("attester-a")
	claim := map[string]string{"kind": "attestation", "control": "FB-LOG-007", "text": "Our SOC monitors and logs every server (Sentinel workspace law-alpha).", "expires": "2027-06-01"}
	resp, body := att.multipartPost("/tenants/"+tenantA+"/claims", claim, map[string][2]string{"evidence": {"soc-report.pdf", "%PDF-1.4\nsoc report\n%%EOF"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("attester records: %d %s", resp.StatusCode, body)
	}
	for name, c := range map[string]struct {
		path   string
		fields map[string]string
		files  map[string][2]string
		want   int
	}{
		"msp-party control": {"/tenants/" + tenantA + "/claims", map[string]string{"kind": "attestation", "control": "FB-LOG-001", "text": "x", "expires": "2027-06-01"}, nil, http.StatusForbidden},
		"other tenant":      {"/tenants/" + tenantB + "/claims", claim, nil, http.StatusNotFound},
		"contract":          {"/tenants/" + tenantA + "/contract", nil, map[string][2]string{"contract": {"c.md", "x"}}, http.StatusForbidden},
		"executable":        {"/tenants/" + tenantA + "/claims", claim, map[string][2]string{"evidence": {"x.exe", "MZ\x90\x00\x03\x00\x00\x00"}}, http.StatusUnsupportedMediaType},
		"too large":         {"/tenants/" + tenantA + "/claims", claim, map[string][2]string{"evidence": {"big.txt", strings.Repeat("a", maxUploadBody)}}, http.StatusRequestEntityTooLarge},
		"past expiry":       {"/tenants/" + tenantA + "/claims", map[string]string{"kind": "attestation", "control": "FB-LOG-007", "text": "x", "expires": "2020-01-01"}, nil, http.StatusBadRequest},
		"no csrf":           {"/tenants/" + tenantA + "/claims", map[string]string{"csrf": "nope", "kind": "attestation", "control": "FB-LOG-007", "text": "x", "expires": "2027-06-01"}, nil, http.StatusForbidden},
	} {
		if resp, _ := att.multipartPost(c.path, c.fields, c.files); resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", name, resp.StatusCode, c.want)
		}
	}
	cs, _ := f.st.ListClaims(ctx, store.AllTenants(), store.ClaimFilter{})
	if len(cs) != 1 || cs[0].By != "attester-a" || cs[0].EvidenceName != "soc-report.pdf" || len(cs[0].EvidenceSHA256) != 64 {
		t.Fatalf("claims: %+v", cs)
	}
	if entries, _ := f.st.ListAudit(ctx, store.AllTenants(), store.AuditFilter{Action: "claim.attestation"}); len(entries) != 1 {
		t.Errorf("audit entries for the claim: %d", len(entries))
	}
	// The next assessment counts it.
	run2 := f.assessNow()
	if got := resultOf(t, f.st, run2.ID, "FB-LOG-007", tenantA); got != assess.StatusAttested {
		t.Errorf("FB-LOG-007 after attesting: %s, want attested", got)
	}
	if got := resultOf(t, f.st, run2.ID, "FB-LOG-007", tenantB); got != assess.StatusNotEvaluable {
		t.Errorf("bravo's FB-LOG-007 changed: %s", got)
	}

	// Contract review: the analyst uploads, confirms a subset; the
	// contract controls follow the confirmed clauses.
	an := f.client()
	an.login("analyst1")
	doc, err := os.ReadFile("../contract/testdata/missing-mfa-logging.md")
	if err != nil {
		t.Fatal(err)
	}
	resp, review := an.multipartPost("/tenants/"+tenantA+"/contract", nil, map[string][2]string{"contract": {"msa-alpha.md", string(doc)}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(review, "10 present, 0 weak, 3 absent") {
		t.Fatalf("contract review: %d\n%s", resp.StatusCode, review)
	}
	sha := regexpFind(t, review, `name="sha256" value="([0-9a-f]{64})"`)
	form := url.Values{"file": {"msa-alpha.md"}, "sha256": {sha}, "clause": {"patching", "incident_notification", "mfa_msp_accounts"}}
	if resp, body := an.form("/tenants/"+tenantA+"/contract/confirm", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm: %d %s", resp.StatusCode, body)
	}
	run3 := f.assessNow()
	if got := resultOf(t, f.st, run3.ID, "FB-CTR-001", tenantA); got != assess.StatusPass {
		t.Errorf("FB-CTR-001 (MFA clause confirmed): %s", got)
	}
	if got := resultOf(t, f.st, run3.ID, "FB-CTR-004", tenantA); got != assess.StatusFail {
		t.Errorf("FB-CTR-004 (logging clause not confirmed): %s", got)
	}
	// An attester cannot revoke what the MSP recorded.
	msp := store.Claim{Kind: store.ClaimAttestation, Tenant: tenantA, Control: "FB-LOG-007", Body: "MSP view", By: "analyst1", Expires: f.clk.now().AddDate(0, 6, 0)}
	if err := f.st.PutClaim(ctx, &msp); err != nil {
		t.Fatal(err)
	}
	att.do("GET", "/tenants/"+tenantA+"/attest", nil, nil)
	if resp, _ := att.form(fmt.Sprintf("/tenants/%s/claims/%d/revoke", tenantA, msp.ID), url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("attester revokes the MSP's claim: %d", resp.StatusCode)
	}
	if resp, _ := an.form(fmt.Sprintf("/tenants/%s/claims/%d/revoke", tenantA, msp.ID), url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("analyst revokes the MSP's claim: %d", resp.StatusCode)
	}
	// The attester revokes; the attestation stops counting.
	_, page = att.do("GET", "/tenants/"+tenantA+"/attest", nil, nil)
	if !strings.Contains(page, "soc-report.pdf") || !strings.Contains(page, "Revoke") {
		t.Fatalf("attest page lacks the claim:\n%s", page)
	}
	if resp, _ := att.form(fmt.Sprintf("/tenants/%s/claims/%d/revoke", tenantA, cs[0].ID), url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	run4 := f.assessNow()
	if got := resultOf(t, f.st, run4.ID, "FB-LOG-007", tenantA); got != assess.StatusNotEvaluable {
		t.Errorf("FB-LOG-007 after revoking: %s", got)
	}
	if ps, _ := f.st.ListPostures(ctx, store.AllTenants(), tenantA, 0); len(ps) != 4 {
		t.Errorf("%d postures kept for alpha, want one per run (4)", len(ps))
	}
}

// A recorded exception expiring within remind_before raises a reminder.
func TestClaimReminder(t *testing.T) {
	f := newFixture(t)
	eng, err := worker.NewEngines(worker.EngineOptions{Clock: f.clk.now})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.setEngines(eng)
	ctx := context.Background()
	c := store.Claim{Kind: store.ClaimException, Tenant: tenantA, Control: "FB-MFA-001", Body: "legacy app", By: "owner1", Owner: "owner1", Expires: f.clk.now().Add(3 * 24 * time.Hour)}
	if err := f.st.PutClaim(ctx, &c); err != nil {
		t.Fatal(err)
	}
	f.assessNow()
	incs, err := f.st.ListIncidents(ctx, store.AllTenants(), store.IncidentFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, i := range incs {
		if i.Rule == "firebreak-claim-expiry" && i.Tenant == tenantA && strings.Contains(i.Title, "FB-MFA-001") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d reminders, want 1", n)
	}
}

func regexpFind(t *testing.T, s, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%s not found", re)
	}
	return m[1]
}

// The public /verify page refuses an envelope over the limit and more
// than 30 checks a minute from one address.
func TestVerifyLimits(t *testing.T) {
	f := newFixture(t)
	anon := f.client()
	big := strings.Repeat("a", maxUploadBody)
	if resp, _ := anon.multipartPost("/verify", nil, map[string][2]string{"envelope": {"big.json", big}}); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized envelope: %d, want 413", resp.StatusCode)
	}
	// An upload route parses nothing for an anonymous caller: 401, not 413.
	if resp, _ := anon.multipartPost("/tenants/"+tenantA+"/claims", nil, map[string][2]string{"evidence": {"big.txt", big}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous upload: %d, want 401", resp.StatusCode)
	}
	for i := 1; i <= 31; i++ {
		resp, _ := anon.multipartPost("/verify", nil, map[string][2]string{"envelope": {"a.json", "{}"}})
		if limited := resp.StatusCode == http.StatusTooManyRequests; limited != (i == 31) {
			t.Fatalf("check %d in a minute: %d", i, resp.StatusCode)
		}
	}
}
