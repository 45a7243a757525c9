package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/firebreak-msp/firebreak/internal/atomicfile"
	"github.com/firebreak-msp/firebreak/internal/connector"
)

// Spec describes the Microsoft Graph connector for --help, --dry-run, the
// docs and the dashboard.
var Spec = connector.Spec{
	Name:         "graph",
	Title:        "Microsoft 365 (Graph, GDAP)",
	Summary:      "GDAP relationships and, per customer, users (last successful sign-in), MFA registration and enforcement, roles, CA and security defaults, MSP tool apps, domains and sign-in logs",
	Capabilities: []connector.Capability{connector.CapEvidence},
	Schedule:     6 * time.Hour,
	Calls:        planCalls(),
	Config: []connector.Field{
		{Name: "client_id", Type: "string", Required: true, Doc: "the partner's multi-tenant app registration"},
		{Name: "tenant_id", Type: "string", Required: true, Doc: "the partner tenant"},
		{Name: "client_secret", Type: "secret", Secret: true, Doc: "app-only: a client secret ({env: NAME} or {file: PATH})"},
		{Name: "cert_file", Type: "string", Doc: "app-only: the certificate (PEM) registered on the app"},
		{Name: "key", Type: "secret", Secret: true, Doc: "app-only: the certificate's RSA key (PEM)"},
		{Name: "alg", Type: "string", Default: "PS256", Doc: "client assertion algorithm: PS256 (x5t#S256) or RS256 (x5t)"},
		{Name: "delegated_token_file", Type: "string", Doc: "delegated (GDAP) mode: the encrypted refresh token written by `firebreak collect graph signin`"},
		{Name: "token_key", Type: "secret", Secret: true, Doc: "the key (≥ 32 bytes) encrypting delegated_token_file"},
		{Name: "delta", Type: "bool", Doc: "use users/delta between runs (state in delta_state_file)"},
		{Name: "delta_state_file", Type: "string", Doc: "where the users/delta state is kept"},
		{Name: "authority", Type: "string", Default: DefaultAuthority},
		{Name: "graph_url", Type: "string", Default: DefaultGraphURL},
	},
	Permissions: []connector.Permission{
		{Name: PermGDAP, Kind: "application (partner tenant)", For: []string{EvGDAP}},
		{Name: PermUsers, Kind: "application", For: []string{EvIdentities}},
		{Name: PermAuditLog, Kind: "application", For: []string{EvLastSignIn, EvMFAMethods, EvSignIns}, Doc: "signInActivity also needs Entra ID P1"},
		{Name: PermDirectory, Kind: "application", For: []string{EvSignIns}, Doc: "sign-in logs answer 403 without it (a documented known issue)"},
		{Name: PermRoles, Kind: "application", For: []string{EvRoles, EvRolesEligible}, Doc: "eligible (PIM) assignments need Entra ID P2"},
		{Name: PermPolicy, Kind: "application", For: []string{EvMFAEnforced}, Doc: "CA policies need Entra ID P1; security defaults do not"},
		{Name: PermApps, Kind: "application", For: []string{EvSPs}},
		{Name: PermGroupMembers, Kind: "application", For: []string{EvGroups, EvRoles}},
		{Name: PermDomains, Kind: "application", For: []string{EvDomains}},
		{Name: "GDAP roles", Kind: "delegated", Doc: "delegated mode reads what the GDAP roles of the admin's access groups allow: Global Reader + Security Reader cover every call; `consent` needs Cloud Application Administrator"},
	},
	Docs: []string{
		"https://learn.microsoft.com/en-us/graph/api/user-list (signInActivity: $top at most 120)",
		"https://learn.microsoft.com/en-us/graph/api/resources/signinactivity (lastSuccessfulSignInDateTime)",
		"https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleassignments",
		"https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleeligibilityschedules",
		"https://learn.microsoft.com/en-us/graph/api/conditionalaccessroot-list-policies",
		"https://learn.microsoft.com/en-us/graph/api/user-delta",
		"https://learn.microsoft.com/en-us/partner-center/customers/gdap-introduction",
		"https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials (PS256, x5t#S256)",
		"github.com/microsoftgraph/msgraph-metadata schemas/v1.0-Prod.csdl",
	},
}

// planCalls is Plan as connector calls (every option on).
func planCalls() []connector.Call {
	var out []connector.Call
	for _, l := range Plan(Options{Delta: true, SignInDir: "x"}) {
		out = append(out, connector.Call{Path: l})
	}
	return out
}

// FileConfig is the connector's config section.
type FileConfig struct {
	ClientID           string              `yaml:"client_id"`
	TenantID           string              `yaml:"tenant_id"`
	ClientSecret       connector.SecretRef `yaml:"client_secret"`
	CertFile           string              `yaml:"cert_file"`
	Key                connector.SecretRef `yaml:"key"`
	Alg                string              `yaml:"alg"`
	DelegatedTokenFile string              `yaml:"delegated_token_file"`
	TokenKey           connector.SecretRef `yaml:"token_key"`
	Delta              bool                `yaml:"delta"`
	DeltaStateFile     string              `yaml:"delta_state_file"`
	Authority          string              `yaml:"authority"`
	GraphURL           string              `yaml:"graph_url"`
	SignInDir          string              `yaml:"signin_dir"`
}

// ClientConfig resolves the secrets and builds a Config.
func (fc FileConfig) ClientConfig(env connector.Env) (Config, error) {
	cfg := Config{Authority: fc.Authority, GraphURL: fc.GraphURL, Log: env.Log, Now: env.Now, HTTP: env.HTTP, Concurrency: env.Concurrency}
	cfg.Credentials = Credentials{ClientID: fc.ClientID, TenantID: fc.TenantID, Alg: fc.Alg}
	read := env.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	if fc.DelegatedTokenFile != "" {
		key, err := fc.TokenKey.Resolve(env)
		if err != nil {
			return cfg, fmt.Errorf("graph token_key: %w", err)
		}
		st, err := NewRefreshStore(fc.DelegatedTokenFile, key)
		if err != nil {
			return cfg, err
		}
		cfg.Delegated = &Delegated{ClientID: fc.ClientID, Partner: fc.TenantID, Store: st}
		return cfg, nil
	}
	if !fc.ClientSecret.IsZero() {
		s, err := fc.ClientSecret.Resolve(env)
		if err != nil {
			return cfg, fmt.Errorf("graph client_secret: %w", err)
		}
		cfg.Credentials.Secret = s
	}
	if !fc.Key.IsZero() {
		k, err := fc.Key.Resolve(env)
		if err != nil {
			return cfg, fmt.Errorf("graph key: %w", err)
		}
		cfg.Credentials.KeyPEM = k
	}
	if fc.CertFile != "" {
		b, err := read(fc.CertFile)
		if err != nil {
			return cfg, fmt.Errorf("graph cert_file: %w", err)
		}
		cfg.Credentials.CertPEM = b
	}
	return cfg, cfg.Credentials.Validate()
}

// Definition registers the connector.
var Definition = connector.Definition{Spec: Spec, New: func(decode func(any) error, env connector.Env) (any, error) {
	var fc FileConfig
	if err := decode(&fc); err != nil {
		return nil, err
	}
	cfg, err := fc.ClientConfig(env)
	if err != nil {
		return nil, err
	}
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	src := &Source{Client: c, Options: Options{SignInDir: fc.SignInDir, Delta: fc.Delta}}
	if fc.Delta {
		src.Options.DeltaState = &DeltaState{}
		src.deltaFile = fc.DeltaStateFile
	}
	return src, nil
}}

// Source is the Graph collector as a connector.EvidenceSource.
type Source struct {
	Client    *Client
	Options   Options
	deltaFile string
}

var _ connector.EvidenceSource = (*Source)(nil)

// Collect runs Collect and reports it the connector framework's way.
func (s *Source) Collect(ctx context.Context, req connector.Request) (*connector.Evidence, error) {
	o := s.Options
	o.Estate, o.Only = req.Estate, req.Only
	if !req.Now.IsZero() {
		o.Now = func() time.Time { return req.Now }
	}
	if s.deltaFile != "" && o.DeltaState != nil {
		if err := o.DeltaState.Load(s.deltaFile); err != nil {
			return nil, err
		}
	}
	res, err := Collect(ctx, s.Client, o)
	if res == nil {
		return nil, err
	}
	if s.deltaFile != "" && o.DeltaState != nil {
		if serr := o.DeltaState.Save(s.deltaFile); serr != nil && err == nil {
			err = serr
		}
	}
	ev := &connector.Evidence{Fragment: res.Fragment, Stats: connector.Stats{Calls: res.Stats.Calls, Retries: res.Stats.Retries,
		Throttled: res.Stats.Throttled, Refreshes: res.Stats.Refreshes, MaxInFlight: res.Stats.MaxInFlight, Bound: res.Stats.Bound}}
	for _, t := range res.Tenants {
		run := connector.TenantRun{Connector: "graph", Tenant: t.Tenant, VendorID: t.EntraID, Started: res.Started, Finished: res.Started.Add(t.Duration),
			Gaps: t.Gaps, Errors: t.Errors, Counts: map[string]int{"users": t.Users, "mfa_registered": t.MFARegistered, "role_assignments": t.RoleAssignments,
				"foreign_principals": t.ForeignPrincipals, "ca_policies": t.CAPolicies, "tool_apps": t.ToolApps, "signins": t.SignIns}}
		if t.NoP2 {
			run.Notes = append(run.Notes, "no Entra ID P2 or ID Governance licence: no PIM-eligible role assignments can exist")
		}
		if t.LastSignInFallback > 0 {
			run.Notes = append(run.Notes, fmt.Sprintf("%d users without a successful sign-in since 2023-12-01: last sign-in taken as the last attempt capped at 2023-12-01 (attempts include failures)", t.LastSignInFallback))
		}
		ev.Tenants = append(ev.Tenants, run)
	}
	if err != nil && !errors.Is(err, context.Canceled) && len(res.Tenants) > 1 {
		err = nil // per-tenant failures are in the runs
	}
	return ev, err
}

// Load reads the users/delta state (a missing file is an empty state).
func (d *DeltaState) Load(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("graph delta state: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := json.Unmarshal(b, d); err != nil {
		return fmt.Errorf("graph delta state %s: %w (delete it to start a full round)", path, err)
	}
	return nil
}

// Save writes the users/delta state (mode 0600, atomically).
func (d *DeltaState) Save(path string) error {
	d.mu.Lock()
	b, err := json.Marshal(d)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, 0o600, b)
}
