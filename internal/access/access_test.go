package access

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

func TestToolMFA(t *testing.T) {
	yes, no := estate.Bool(true), estate.Bool(false)
	for _, tc := range []struct {
		name     string
		tool     estate.Tool
		want     estate.MFAStrength
		enforced *bool
		weak     []string
	}{
		{"console-only", estate.Tool{MFAEnforced: yes, MFAMethods: []estate.MFAMethod{estate.MFAFIDO2}}, estate.MFAPhishingResistant, yes, nil},
		{"enforced-no-methods", estate.Tool{MFAEnforced: yes}, estate.MFAUnknownMethods, yes, nil},
		{"unknown", estate.Tool{}, estate.MFANone, nil, nil},
		{"one-login-without", estate.Tool{MFAEnforced: yes, MFAMethods: []estate.MFAMethod{estate.MFAFIDO2},
			Logins: []estate.ToolLogin{{Identity: "a"}, {Identity: "b", MFA: estate.MFA{Enforced: no}}}}, estate.MFANone, no, []string{"b"}},
		{"logins-all-strong", estate.Tool{Logins: []estate.ToolLogin{
			{Identity: "a", MFA: estate.MFA{Enforced: yes, Methods: []estate.MFAMethod{estate.MFAPasskey}}},
			{Identity: "b", MFA: estate.MFA{Enforced: yes, Methods: []estate.MFAMethod{estate.MFATOTP}}}}}, estate.MFAWeak, yes, nil},
		{"login-unknown", estate.Tool{Logins: []estate.ToolLogin{{Identity: "a", MFA: estate.MFA{Enforced: yes}}, {Identity: "b"}}}, estate.MFANone, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, enf, weak := ToolMFA(&tc.tool)
			if s != tc.want || !cmp.Equal(enf, tc.enforced) || !cmp.Equal(weak, tc.weak) {
				t.Errorf("ToolMFA = %s %v %v, want %s %v %v", s, enf, weak, tc.want, tc.enforced, tc.weak)
			}
		})
	}
}

func TestIdentityMFA(t *testing.T) {
	for _, tc := range []struct {
		name string
		x    estate.Identity
		want estate.MFAStrength
		comp estate.Compensation
	}{
		{"human-none", estate.Identity{Kind: estate.KindHuman}, estate.MFANone, ""},
		{"human-compensation-ignored", estate.Identity{Kind: estate.KindHuman, Compensating: []estate.Compensation{estate.CompCertificate}}, estate.MFANone, ""},
		{"service-password", estate.Identity{Kind: estate.KindService, Credential: estate.CredPassword}, estate.MFANone, ""},
		{"service-certificate", estate.Identity{Kind: estate.KindService, Credential: estate.CredCertificate}, estate.MFAPhishingResistant, estate.CompCertificate},
		{"service-ip", estate.Identity{Kind: estate.KindService, Compensating: []estate.Compensation{estate.CompIPRestricted}}, estate.MFAWeak, estate.CompIPRestricted},
		{"token-workload", estate.Identity{Kind: estate.KindAPIToken, Compensating: []estate.Compensation{estate.CompIPRestricted, estate.CompWorkloadIdentity}}, estate.MFAPhishingResistant, estate.CompWorkloadIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := IdentityMFA(&tc.x)
			if s != tc.want || c != tc.comp {
				t.Errorf("IdentityMFA = %s %q, want %s %q", s, c, tc.want, tc.comp)
			}
		})
	}
}

func TestEndpointPrivilegeAndGrants(t *testing.T) {
	e := &estate.Estate{
		Tenants: []estate.Tenant{{ID: "t1"}},
		Tools: []estate.Tool{
			{ID: "rmm", Kind: estate.ToolRMM, Capabilities: []estate.Capability{estate.CapRunScriptSystem}},
			{ID: "viewer", Kind: estate.ToolRemoteAccess, Capabilities: []estate.Capability{estate.CapViewOnly}},
			{ID: "plain", Kind: estate.ToolRMM},
		},
		Grants: []estate.Grant{
			{ID: "g1", Subject: "x", Target: "rmm", Privilege: estate.PrivOperate},
			{ID: "g2", Subject: "x", Target: "viewer", Privilege: estate.PrivOperate},
			{ID: "g3", Subject: "x", Target: "plain", Privilege: estate.PrivOperate},
		},
	}
	f := Compute(e, Options{})
	got := []estate.Privilege{f.Tools[0].EndpointPriv, f.Tools[1].EndpointPriv, f.Tools[2].EndpointPriv, f.Grants[0], f.Grants[1], f.Grants[2]}
	want := []estate.Privilege{estate.PrivFull, estate.PrivRead, estate.PrivFull, estate.PrivFull, estate.PrivOperate, estate.PrivOperate}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("endpoint privileges, grant privileges (-got +want):\n%s", d)
	}
}

func TestIdleNeverSignedIn(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	e := &estate.Estate{Identities: []estate.Identity{
		{ID: "old-unused", Kind: estate.KindHuman, Created: estate.MustDate("2022-11-01")},
		{ID: "new-unused", Kind: estate.KindHuman, Created: estate.MustDate("2026-11-01")},
		{ID: "active", Kind: estate.KindHuman, LastSignIn: estate.MustDate("2026-11-20")},
		{ID: "stale", Kind: estate.KindHuman, LastSignIn: estate.MustDate("2026-01-20")},
		{ID: "unknown", Kind: estate.KindHuman},
	}}
	f := Compute(e, Options{Now: now})
	var got []string
	for _, x := range f.Identities {
		got = append(got, x.Idle)
	}
	want := []string{"never signed in, created 1487 days ago", "", "", "no sign-in for 311 days", ""}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("idle (-got +want):\n%s", d)
	}
}

func TestRolePrivilege(t *testing.T) {
	for role, want := range map[string]estate.Privilege{
		"Global Administrator":          estate.PrivFull,
		"Backup Operators":              estate.PrivFull,
		"Server Operators":              estate.PrivFull,
		"Account Operators":             estate.PrivAdmin,
		"Exchange Administrator":        estate.PrivAdmin,
		"Security Administrator":        estate.PrivAdmin,
		"Hybrid Identity Administrator": estate.PrivFull,
		"Helpdesk Administrator":        estate.PrivOperate,
		"Global Reader":                 estate.PrivRead,
	} {
		if got, _ := RolePrivilege([]string{role}); got != want {
			t.Errorf("RolePrivilege(%q) = %s, want %s", role, got, want)
		}
	}
}

func TestAdminReachEligibleAndNested(t *testing.T) {
	e := &estate.Estate{
		Tenants: []estate.Tenant{{ID: "t1"}, {ID: "t2"}, {ID: "t3"}},
		Identities: []estate.Identity{{ID: "tech", Kind: estate.KindHuman, Home: estate.MSP, Groups: []string{"inner"}},
			{ID: "local", Kind: estate.KindHuman, Home: "t3", Groups: []string{"inner"}}},
		Groups: []estate.Group{{ID: "inner", Home: estate.MSP}, {ID: "outer", Home: estate.MSP, Members: []string{"inner"}}},
		Tools: []estate.Tool{{ID: "gd", Kind: estate.ToolGDAP, GDAP: &estate.GDAP{Customer: "t1", Roles: []string{"Global Reader"},
			Assignments: []estate.GDAPAssignment{{Group: "outer", Roles: []string{"Exchange Administrator"}, Assignment: estate.AssignEligible}}}}},
		Grants: []estate.Grant{{Subject: "inner", Target: "t2", Privilege: estate.PrivAdmin}, {Subject: "inner", Target: "t3", Privilege: estate.PrivAdmin}},
	}
	f := Compute(e, Options{})
	if got := f.Identities[0].AdminTenants; !cmp.Equal(got, []int32{0, 1, 2}) || f.Identities[0].StandingAdmin != 2 {
		t.Errorf("tech: admin tenants %v (standing %d), want [0 1 2] (standing 2)", got, f.Identities[0].StandingAdmin)
	}
	if got := f.Identities[1].AdminTenants; !cmp.Equal(got, []int32{0, 1}) {
		t.Errorf("local (home t3): admin tenants %v, want [0 1] (its home is not reuse)", got)
	}
}

// TestAccountState: how an account is kept, judged as a privileged
// account (FB-PRIV-008): each practice recorded as not followed fails; one
// left out is unknown; a vault holding the credential counts as vaulted
// when the estate does not say.
func TestAccountState(t *testing.T) {
	yes, no := estate.Bool(true), estate.Bool(false)
	for _, tc := range []struct {
		a              *estate.AccountPractice
		vault          bool
		state, wantWhy string
	}{
		{nil, false, "unknown", "dedicated, vaulted, disabled when unused not recorded"},
		{&estate.AccountPractice{Dedicated: yes, Vaulted: yes, DisabledWhenUnused: yes}, false, "ok", ""},
		{&estate.AccountPractice{Dedicated: yes, DisabledWhenUnused: yes}, true, "ok", ""},
		{&estate.AccountPractice{Dedicated: yes, DisabledWhenUnused: yes}, false, "unknown", "vaulted not recorded"},
		{&estate.AccountPractice{Dedicated: no, Vaulted: no}, true, "fail", "not dedicated, not vaulted"},
		{&estate.AccountPractice{Dedicated: yes, Vaulted: yes, DisabledWhenUnused: no}, false, "fail", "not disabled when unused"},
	} {
		if st, why := AccountState(tc.a, tc.vault); st != tc.state || why != tc.wantWhy {
			t.Errorf("AccountState(%+v, vault %v) = %s %q, want %s %q", tc.a, tc.vault, st, why, tc.state, tc.wantWhy)
		}
	}
	// Computed once per estate: a vault's grant to the identity.
	e := &estate.Estate{
		Identities: []estate.Identity{{ID: "a", Account: &estate.AccountPractice{Dedicated: yes, DisabledWhenUnused: yes}}, {ID: "b"}},
		Tools:      []estate.Tool{{ID: "pam", Kind: estate.ToolVault}},
		Grants:     []estate.Grant{{ID: "g", Subject: "pam", Target: "a", Privilege: estate.PrivFull}},
	}
	f := Compute(e, Options{})
	if got := f.Identities[0].Account; got != "ok" {
		t.Errorf("a (dedicated, disabled when unused, credential in the vault) = %s %q, want ok", got, f.Identities[0].AccountWhy)
	}
	if got := f.Identities[1].Account; got != "unknown" {
		t.Errorf("b = %s, want unknown", got)
	}
}

// validate --explain's text for an agent comes from the capabilities that
// set its privilege (one derivation with EndpointPrivilege): a tool with
// only remote_shell was described as "running scripts as SYSTEM".
func TestImpliedAgentSaysItsCapabilities(t *testing.T) {
	e := &estate.Estate{
		Tenants: []estate.Tenant{{ID: "t1"}},
		Tools: []estate.Tool{
			{ID: "shell", Kind: estate.ToolRemoteAccess, Capabilities: []estate.Capability{estate.CapRemoteShell}},
			{ID: "rmm", Kind: estate.ToolRMM, Capabilities: []estate.Capability{estate.CapFileTransfer, estate.CapRunScriptSystem, estate.CapDeploySoftware}},
			{ID: "files", Kind: estate.ToolRMM, Capabilities: []estate.Capability{estate.CapViewOnly, estate.CapFileTransfer}},
			{ID: "plain", Kind: estate.ToolRMM},
		},
		Assets: []estate.Asset{{ID: "a1", Tenant: "t1", Agents: []string{"shell", "rmm", "files", "plain"}}},
	}
	f := Compute(e, Options{})
	got := map[string]string{}
	for _, im := range f.Implied {
		got[im.Subject] = im.Because
	}
	want := map[string]string{
		"shell": "remote_access agent giving a remote shell on 1 of the tenant's endpoints",
		"rmm":   "rmm agent running scripts as SYSTEM, deploying software on 1 of the tenant's endpoints",
		"files": "rmm agent transferring files on 1 of the tenant's endpoints",
		"plain": "rmm agent on 1 of the tenant's endpoints",
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("implications (-got +want):\n%s", d)
	}
}
