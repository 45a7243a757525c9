package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/collect/graph"
	"github.com/firebreak-msp/firebreak/internal/collect/graph/graphtest"
	"github.com/firebreak-msp/firebreak/internal/collect/okta/oktatest"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// TestCollectOkta runs `firebreak collect okta` against the fake: the
// fragment loads with the estate, one broken org does not lose the other,
// the token never reaches the output, and --help names the scopes.
func TestCollectOkta(t *testing.T) {
	srv := oktatest.NewServer(t,
		&oktatest.Org{Slug: "acme", Users: 40, Token: "ssws-secret-acme", Events: []map[string]any{
			oktatest.Event("e1", "2026-11-27T05:30:00.000Z", "user.session.start", "FAILURE", "user1@acme.example", "198.51.100.7")}},
		&oktatest.Org{Slug: "broken", Users: 5, Token: "ssws-secret-broken", HTML: true})
	dir := writeEstate(t, "provider: {id: msp, name: MSP}\ntenants:\n  - {id: acme, name: Acme}\n  - {id: broken, name: Broken}\n")
	cfg := filepath.Join(t.TempDir(), "okta.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("orgs:\n  - {tenant: acme, org_url: %s, token: {env: OKTA_ACME}}\n  - {tenant: broken, org_url: %s, token: {env: OKTA_BROKEN}}\n",
		srv.URL("acme"), srv.URL("broken"))), 0o600)
	g, out, errb := testGlobals()
	env := map[string]string{"OKTA_ACME": "ssws-secret-acme", "OKTA_BROKEN": "ssws-secret-broken"}
	o := collectConnectorOptions{collectOptions: collectOptions{Format: "table", Concurrency: 8, Timeout: 10e9, now: func() time.Time { return collectNow }, getenv: func(k string) string { return env[k] },
		sleep: func(context.Context, time.Duration) error { return nil }}, Estate: dir, Config: cfg}
	def, _ := newRegistry().Lookup("okta")
	err := runCollectConnector(context.Background(), def, o, g)
	if err == nil || !strings.Contains(err.Error(), "1 tenant runs had errors") {
		t.Fatalf("err %v\n%s", err, out)
	}
	if strings.Contains(out.String()+errb.String(), "ssws-secret") {
		t.Fatal("token leaked")
	}
	e, lerr := estate.Load(dir)
	if lerr != nil {
		t.Fatalf("fragment does not load: %v", lerr)
	}
	n := 0
	for _, x := range e.Identities {
		if x.Home == "acme" && x.Provenance != nil {
			n++
		}
	}
	if n != 40 {
		t.Errorf("%d acme identities with provenance", n)
	}
	ev, _ := os.ReadFile(filepath.Join(dir, "events", "okta-acme.jsonl"))
	if !strings.Contains(string(ev), `"uuid":"e1"`) {
		t.Errorf("events file: %q", ev)
	}

	// --help lists the scopes; --dry-run checks the config without network.
	cmd := newCollectCommand(g)
	cmd.SetArgs([]string{"okta", "--help"})
	out.Reset()
	cmd.SetOut(out)
	cmd.Execute()
	for _, s := range []string{"okta.users.read", "okta.logs.read", "okta.roles.read", "/api/v1/logs"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("--help does not name %s", s)
		}
	}
	out.Reset()
	o.DryRun = true
	calls := srv.Calls.Load()
	if err := runCollectConnector(context.Background(), def, o, g); err != nil || !strings.Contains(out.String(), "valid, secrets readable") || srv.Calls.Load() != calls {
		t.Errorf("dry-run: %v %s", err, out)
	}
}

// TestCollectGraphConsentCheck runs the consent helper: --check reports
// every permission missing, a run grants them, a second --check is clean.
func TestCollectGraphConsentCheck(t *testing.T) {
	f := graphtest.NewServer(t, []graphtest.Tenant{{ID: graphtest.TenantGUID(0), Name: "Cedar Law", Slug: "cedar-law", Users: 1}})
	f.RefreshTokens["rt-0"] = true
	key := strings.Repeat("k", 40)
	tokFile := filepath.Join(t.TempDir(), "rt")
	env := map[string]string{"FIREBREAK_GRAPH_CLIENT_ID": "admin-app", "FIREBREAK_GRAPH_TENANT_ID": f.Partner, "FIREBREAK_GRAPH_TOKEN_KEY": key}
	// Store the refresh token as signin would.
	st, err := graph.NewRefreshStore(tokFile, connector.Secret(key))
	if err != nil {
		t.Fatal(err)
	}
	st.Save("rt-0")
	mk := func(check bool) consentOptions {
		return consentOptions{collectGraphOptions: collectGraphOptions{collectOptions: collectOptions{Format: "table", Concurrency: 2, Timeout: 10e9, getenv: func(k string) string { return env[k] }},
			Authority: f.Srv.URL, GraphURL: f.Srv.URL, Delegated: tokFile}, AppID: "app-1", Check: check}
	}
	g, out, _ := testGlobals()
	if err := runCollectGraphConsent(context.Background(), mk(true), g); err == nil || !strings.Contains(out.String(), "User.Read.All") {
		t.Fatalf("check before: %v\n%s", err, out)
	}
	if err := runCollectGraphConsent(context.Background(), mk(false), g); err != nil {
		t.Fatalf("consent: %v", err)
	}
	out.Reset()
	if err := runCollectGraphConsent(context.Background(), mk(true), g); err != nil || !strings.Contains(out.String(), "ok") {
		t.Fatalf("check after: %v\n%s", err, out)
	}
}

// TestCollectGraphConsentPartnerCenter consents through Partner Center:
// one customer is consented and verified, one without the GDAP role is
// reported on its own line with the roles it needs, and the run fails.
func TestCollectGraphConsentPartnerCenter(t *testing.T) {
	f := graphtest.NewServer(t, []graphtest.Tenant{
		{ID: graphtest.TenantGUID(0), Name: "Cedar Law", Slug: "cedar-law", Users: 1},
		{ID: graphtest.TenantGUID(1), Name: "Locked", Slug: "locked", Users: 1, NoAppAdmin: true},
	})
	f.RefreshTokens["rt-0"] = true
	key := strings.Repeat("k", 40)
	tokFile := filepath.Join(t.TempDir(), "rt")
	env := map[string]string{"FIREBREAK_GRAPH_CLIENT_ID": "admin-app", "FIREBREAK_GRAPH_TENANT_ID": f.Partner, "FIREBREAK_GRAPH_TOKEN_KEY": key}
	st, err := graph.NewRefreshStore(tokFile, connector.Secret(key))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Save("rt-0"); err != nil {
		t.Fatal(err)
	}
	o := consentOptions{collectGraphOptions: collectGraphOptions{collectOptions: collectOptions{Format: "table", Concurrency: 2, Timeout: 10e9, getenv: func(k string) string { return env[k] }},
		Authority: f.Srv.URL, GraphURL: f.Srv.URL, Delegated: tokFile}, AppID: "app-1", PartnerCenter: true, PartnerCenterURL: f.Srv.URL}
	g, out, _ := testGlobals()
	err = runCollectGraphConsent(context.Background(), o, g)
	if err == nil || !strings.Contains(err.Error(), "1 of 2") {
		t.Fatalf("want one tenant incomplete, got %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "HTTP 403") || f.PCConsents.Load() != 2 {
		t.Errorf("403 not reported per tenant:\n%s", out)
	}
	if got := f.Consented(graphtest.TenantGUID(0)); len(got) != len(graph.CustomerPermissions) {
		t.Errorf("consented %v", got)
	}
}

// TestCollectRefusedKeepsFragment: when every org refuses the credentials
// the run collects gaps and nothing else; `firebreak collect` fails and
// leaves the last good fragment as it was (serve's runner does the same,
// through the same connector.Evidence.Refused).
func TestCollectRefusedKeepsFragment(t *testing.T) {
	srv := oktatest.NewServer(t, &oktatest.Org{Slug: "acme", Users: 12, Token: "ssws-secret-acme"})
	dir := writeEstate(t, "provider: {id: msp, name: MSP}\ntenants:\n  - {id: acme, name: Acme}\n")
	cfg := filepath.Join(t.TempDir(), "okta.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("orgs:\n  - {tenant: acme, org_url: %s, token: {env: OKTA_ACME}}\n", srv.URL("acme"))), 0o600); err != nil {
		t.Fatal(err)
	}
	token := "ssws-secret-acme"
	g, out, _ := testGlobals()
	o := collectConnectorOptions{collectOptions: collectOptions{Format: "table", Concurrency: 4, Timeout: 10e9, now: func() time.Time { return collectNow },
		getenv: func(k string) string { return map[string]string{"OKTA_ACME": token}[k] },
		sleep:  func(context.Context, time.Duration) error { return nil }}, Estate: dir, Config: cfg, NoPoll: true}
	def, _ := newRegistry().Lookup("okta")
	if err := runCollectConnector(context.Background(), def, o, g); err != nil {
		t.Fatalf("good run: %v\n%s", err, out)
	}
	frag := filepath.Join(dir, fragmentName("okta"))
	before, err := os.ReadFile(frag)
	if err != nil || !strings.Contains(string(before), "acme") {
		t.Fatalf("no fragment after the good run: %v", err)
	}
	token = "ssws-wrong"
	err = runCollectConnector(context.Background(), def, o, g)
	if err == nil || !strings.Contains(err.Error(), "nothing collected") {
		t.Fatalf("refused run: err %v, want nothing collected", err)
	}
	if after, _ := os.ReadFile(frag); string(after) != string(before) {
		t.Errorf("the refused run rewrote the fragment:\n%s", after)
	}
}
