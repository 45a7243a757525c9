package estate

import (
	"fmt"
	"strings"
	"time"
)

// MSP is the reserved home/owner/party value meaning "the provider itself"
// (as opposed to a tenant id).
const MSP = "msp"

// Estate is everything firebreak knows about one MSP and its customers.
// It is loaded from YAML/JSON/CSV files (see Load) or produced by collectors.
// Every object carries the position it was read from (Pos) so findings can
// point at file:line.
type Estate struct {
	Provider      Provider      `yaml:"provider" json:"provider"`
	Tenants       []Tenant      `yaml:"tenants,omitempty" json:"tenants,omitempty"`
	Identities    []Identity    `yaml:"identities,omitempty" json:"identities,omitempty"`
	Groups        []Group       `yaml:"groups,omitempty" json:"groups,omitempty"`
	Tools         []Tool        `yaml:"tools,omitempty" json:"tools,omitempty"`
	Grants        []Grant       `yaml:"grants,omitempty" json:"grants,omitempty"`
	Assets        []Asset       `yaml:"assets,omitempty" json:"assets,omitempty"`
	Backups       []Backup      `yaml:"backups,omitempty" json:"backups,omitempty"`
	IRPlans       []IRPlan      `yaml:"ir_plans,omitempty" json:"ir_plans,omitempty"`
	Contracts     []Contract    `yaml:"contracts,omitempty" json:"contracts,omitempty"`
	Vendors       []Vendor      `yaml:"vendors,omitempty" json:"vendors,omitempty"`
	Attestations  []Attestation `yaml:"attestations,omitempty" json:"attestations,omitempty"`
	Exceptions    []Exception   `yaml:"exceptions,omitempty" json:"exceptions,omitempty"`
	Settings      Settings      `yaml:"settings,omitempty" json:"settings"`
	Imports       []CSVImport   `yaml:"imports,omitempty" json:"imports,omitempty"`
	DomainChecks  []DomainCheck `yaml:"domain_checks,omitempty" json:"domain_checks,omitempty"`
	Exposures     []Exposure    `yaml:"exposures,omitempty" json:"exposures,omitempty"`
	Sources       []string      `yaml:"-" json:"sources,omitempty"` // files the estate was loaded from
	CollectionGap []Gap         `yaml:"collection_gaps,omitempty" json:"collection_gaps,omitempty"`
}

// Pos is where an object was read from. Zero when built in code.
type Pos struct {
	File string `yaml:"-" json:"file,omitempty"`
	Line int    `yaml:"-" json:"line,omitempty"`
	Col  int    `yaml:"-" json:"col,omitempty"`
}

func (p Pos) String() string {
	if p.File == "" {
		return ""
	}
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Provenance records where collected data came from.
type Provenance struct {
	Source      string    `yaml:"source" json:"source"` // e.g. "graph", "dns", "probe", "csv:identities.csv"
	CollectedAt time.Time `yaml:"collected_at" json:"collected_at"`
}

// Gap names evidence a collector could not obtain (for example a missing Graph
// permission). Controls needing that evidence are not-evaluable, never failed.
type Gap struct {
	Tenant     string    `yaml:"tenant,omitempty" json:"tenant,omitempty"`
	Evidence   string    `yaml:"evidence" json:"evidence"`                         // e.g. "identities.mfa"
	Permission string    `yaml:"permission,omitempty" json:"permission,omitempty"` // e.g. "UserAuthenticationMethod.Read.All"
	Reason     string    `yaml:"reason,omitempty" json:"reason,omitempty"`
	At         time.Time `yaml:"at,omitempty" json:"at,omitempty"`
}

// Provider is the MSP itself.
type Provider struct {
	ID      string          `yaml:"id" json:"id"` // defaults to "msp"
	Name    string          `yaml:"name" json:"name"`
	Domains []string        `yaml:"domains,omitempty" json:"domains,omitempty"`
	Network ProviderNetwork `yaml:"network,omitempty" json:"network"`
	Pos     Pos             `yaml:"-" json:"pos"`
}

// ProviderNetwork describes the MSP's internal architecture (heading 4).
type ProviderNetwork struct {
	CustomerDataSegregated *bool `yaml:"customer_data_segregated,omitempty" json:"customer_data_segregated,omitempty"`
	AdminNetworkSeparate   *bool `yaml:"admin_network_separate,omitempty" json:"admin_network_separate,omitempty"`
}

// Criticality of a tenant; weights blast radius and scores.
type Criticality string

const (
	CritLow      Criticality = "low"
	CritMedium   Criticality = "medium"
	CritHigh     Criticality = "high"
	CritCritical Criticality = "critical"
)

// Weight returns the numeric weight used by blast radius ranking.
func (c Criticality) Weight() float64 {
	switch c {
	case CritLow:
		return 1
	case CritHigh:
		return 3
	case CritCritical:
		return 5
	default:
		return 2
	}
}

// Tenant is one customer.
type Tenant struct {
	ID            string        `yaml:"id" json:"id"`
	Name          string        `yaml:"name" json:"name"`
	Domains       []string      `yaml:"domains,omitempty" json:"domains,omitempty"`
	Criticality   Criticality   `yaml:"criticality,omitempty" json:"criticality,omitempty"`
	Endpoints     int           `yaml:"endpoints,omitempty" json:"endpoints,omitempty"`
	EntraTenantID string        `yaml:"entra_tenant_id,omitempty" json:"entra_tenant_id,omitempty"`
	Sector        string        `yaml:"sector,omitempty" json:"sector,omitempty"`
	Network       TenantNetwork `yaml:"network,omitempty" json:"network"`
	Detection     TenantDetect  `yaml:"detection,omitempty" json:"detection,omitzero"`
	Pos           Pos           `yaml:"-" json:"pos"`
}

// TenantDetect tunes detection for one customer: sources and accounts whose
// failed sign-ins are expected (an office NAT, a monitoring probe, a service
// account with a stale password) and do not count towards brute-force or
// spray thresholds. Identities of kind service are service accounts too.
type TenantDetect struct {
	BenignNetworks  []string `yaml:"benign_networks,omitempty" json:"benign_networks,omitempty"`   // CIDRs or addresses
	ServiceAccounts []string `yaml:"service_accounts,omitempty" json:"service_accounts,omitempty"` // user names (sAMAccountName or UPN)
}

// TenantNetwork is the customer's side of segregation (heading 4).
type TenantNetwork struct {
	DataSegregated      *bool `yaml:"data_segregated,omitempty" json:"data_segregated,omitempty"`
	DedicatedConnection *bool `yaml:"dedicated_connection,omitempty" json:"dedicated_connection,omitempty"`
}

// IdentityKind classifies identities.
type IdentityKind string

const (
	KindHuman      IdentityKind = "human"
	KindService    IdentityKind = "service"
	KindAPIToken   IdentityKind = "api_token"
	KindBreakGlass IdentityKind = "break_glass"
	KindShared     IdentityKind = "shared"
)

// MFAMethod is one registered or allowed authentication method.
type MFAMethod string

const (
	MFAFIDO2         MFAMethod = "fido2"
	MFAPasskey       MFAMethod = "passkey"
	MFACertificate   MFAMethod = "certificate"
	MFAWindowsHello  MFAMethod = "windows_hello"
	MFAAuthenticator MFAMethod = "authenticator_app" // TOTP or number-matching app
	MFATOTP          MFAMethod = "totp"
	MFAPush          MFAMethod = "push"
	MFASMS           MFAMethod = "sms"
	MFAVoice         MFAMethod = "voice"
	MFAEmail         MFAMethod = "email"
)

// PhishingResistant reports whether the method resists phishing (FIDO2,
// passkeys, certificate-based, Windows Hello for Business).
func (m MFAMethod) PhishingResistant() bool {
	switch m {
	case MFAFIDO2, MFAPasskey, MFACertificate, MFAWindowsHello:
		return true
	}
	return false
}

// MFAStrength summarises MFA for trust graph conditions.
type MFAStrength string

const (
	MFANone              MFAStrength = "none"
	MFAWeak              MFAStrength = "weak"
	MFAPhishingResistant MFAStrength = "phishing-resistant"
	// MFAUnknownMethods is MFA enforced with no methods recorded: it stops
	// password spraying, but nothing says it resists phishing.
	MFAUnknownMethods MFAStrength = "unknown-methods"
)

// Rank orders strengths: none < unknown-methods < weak < phishing-resistant.
func (s MFAStrength) Rank() int {
	switch s {
	case MFAUnknownMethods:
		return 1
	case MFAWeak:
		return 2
	case MFAPhishingResistant:
		return 3
	}
	return 0
}

// MFA describes an identity's multifactor state.
type MFA struct {
	// Enforced is nil when unknown (not-evaluable), false when MFA is not required.
	Enforced *bool       `yaml:"enforced,omitempty" json:"enforced,omitempty"`
	Methods  []MFAMethod `yaml:"methods,omitempty" json:"methods,omitempty"`
}

// Strength is none when not enforced (unknown enforcement counts as none),
// unknown-methods when enforced with no method recorded, phishing-resistant
// when every registered method is, weak otherwise. It is the one rule both
// assess and the trust graph judge MFA by (see internal/access).
func (m MFA) Strength() MFAStrength {
	if m.Enforced == nil || !*m.Enforced {
		return MFANone
	}
	if len(m.Methods) == 0 {
		return MFAUnknownMethods
	}
	for _, x := range m.Methods {
		if !x.PhishingResistant() {
			return MFAWeak
		}
	}
	return MFAPhishingResistant
}

// Identity is a human or non-human account, at the MSP or in a tenant.
type Identity struct {
	ID         string       `yaml:"id" json:"id"`
	Name       string       `yaml:"name,omitempty" json:"name,omitempty"`
	UPN        string       `yaml:"upn,omitempty" json:"upn,omitempty"`
	Kind       IdentityKind `yaml:"kind" json:"kind"`
	Home       string       `yaml:"home" json:"home"` // "msp" or a tenant id
	Enabled    *bool        `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	Owner      string       `yaml:"owner,omitempty" json:"owner,omitempty"`         // identity id or person responsible
	Personnel  string       `yaml:"personnel,omitempty" json:"personnel,omitempty"` // "active", "departed" (HR status of the person behind it)
	Created    *Date        `yaml:"created,omitempty" json:"created,omitempty"`
	LastSignIn *Date        `yaml:"last_sign_in,omitempty" json:"last_sign_in,omitempty"`
	MFA        MFA          `yaml:"mfa,omitempty" json:"mfa"`
	Groups     []string     `yaml:"groups,omitempty" json:"groups,omitempty"` // group ids this identity is a member of
	Roles      []string     `yaml:"roles,omitempty" json:"roles,omitempty"`   // directory roles held in its home (e.g. "Global Administrator")
	// Credential is how a non-human identity authenticates (password,
	// client_secret, certificate, managed_identity, token).
	Credential Credential `yaml:"credential,omitempty" json:"credential,omitempty"`
	// Compensating lists the controls that stand in for MFA on a
	// non-human identity (certificate, workload_identity, ip_restricted).
	Compensating []Compensation `yaml:"compensating,omitempty" json:"compensating,omitempty"`
	// BreakGlass records the emergency-access account's own safeguards
	// (kind break_glass).
	BreakGlass *BreakGlass `yaml:"break_glass,omitempty" json:"break_glass,omitempty"`
	// Account records how an account with access to customers is kept:
	// AA22-131A §3 asks MSPs to treat those accounts as privileged, §12
	// that they be disabled when not actively used (FB-PRIV-008).
	Account    *AccountPractice `yaml:"account,omitempty" json:"account,omitempty"`
	Provenance *Provenance      `yaml:"provenance,omitempty" json:"provenance,omitempty"`
	Pos        Pos              `yaml:"-" json:"pos"`
}

// AccountPractice is how a privileged account is kept; each fact is
// unknown when left out.
type AccountPractice struct {
	// Dedicated: used only for administering customers, not the person's
	// everyday account (mail, web).
	Dedicated *bool `yaml:"dedicated,omitempty" json:"dedicated,omitempty"`
	// Vaulted: its credential is held in a privileged-access (PAM) vault
	// and checked out per use. Left out, a password_vault tool holding a
	// grant to the identity (its stored credential) counts as vaulted.
	Vaulted *bool `yaml:"vaulted,omitempty" json:"vaulted,omitempty"`
	// DisabledWhenUnused: enabled only for a task (PAM or PIM
	// activation) and disabled between uses.
	DisabledWhenUnused *bool `yaml:"disabled_when_unused,omitempty" json:"disabled_when_unused,omitempty"`
}

// Credential is how a non-human identity authenticates.
type Credential string

// Credential types.
const (
	CredPassword        Credential = "password"
	CredClientSecret    Credential = "client_secret"
	CredCertificate     Credential = "certificate"
	CredManagedIdentity Credential = "managed_identity"
	CredToken           Credential = "token"
)

// Compensation is a control standing in for MFA on a non-human identity.
type Compensation string

// Compensating controls.
const (
	CompCertificate      Compensation = "certificate"       // certificate credential, no password
	CompWorkloadIdentity Compensation = "workload_identity" // federated / managed identity, no secret to steal
	CompIPRestricted     Compensation = "ip_restricted"     // conditional access limits sign-in to named networks
)

// BreakGlass is what makes an emergency-access account safe to keep.
type BreakGlass struct {
	Monitored  *bool `yaml:"monitored,omitempty" json:"monitored,omitempty"` // every sign-in alerts
	LastTested *Date `yaml:"last_tested,omitempty" json:"last_tested,omitempty"`
}

// IsEnabled treats unknown as enabled (the safe assumption for risk).
func (i Identity) IsEnabled() bool { return i.Enabled == nil || *i.Enabled }

// Group is a security group or role container (e.g. the GDAP access group).
type Group struct {
	ID      string   `yaml:"id" json:"id"`
	Name    string   `yaml:"name,omitempty" json:"name,omitempty"`
	Home    string   `yaml:"home" json:"home"`
	Members []string `yaml:"members,omitempty" json:"members,omitempty"` // identity ids
	Pos     Pos      `yaml:"-" json:"pos"`
}

// ToolKind classifies MSP tools and systems.
type ToolKind string

const (
	ToolRMM           ToolKind = "rmm"
	ToolPSA           ToolKind = "psa"
	ToolRemoteAccess  ToolKind = "remote_access"
	ToolVPN           ToolKind = "vpn"
	ToolJumpHost      ToolKind = "jump_host"
	ToolVault         ToolKind = "password_vault"
	ToolBackupConsole ToolKind = "backup_console"
	ToolIdP           ToolKind = "identity_provider"
	ToolSIEM          ToolKind = "siem"
	ToolGDAP          ToolKind = "gdap"
	ToolOther         ToolKind = "other"
)

// ManagementKinds are tools whose consoles administer customers.
var ManagementKinds = []ToolKind{ToolRMM, ToolPSA, ToolRemoteAccess, ToolVPN, ToolJumpHost, ToolVault, ToolBackupConsole, ToolIdP}

// Logging describes a tool's logs (heading 2).
type Logging struct {
	Enabled       *bool `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	RetentionDays int   `yaml:"retention_days,omitempty" json:"retention_days,omitempty"`
	Segregated    *bool `yaml:"segregated,omitempty" json:"segregated,omitempty"` // logs shipped to a destination the tool's admins cannot alter
}

// GDAP holds the Microsoft 365 delegated admin relationship details for a
// tool of kind "gdap" (one relationship with one customer).
type GDAP struct {
	Customer     string     `yaml:"customer" json:"customer"` // tenant id
	Roles        []string   `yaml:"roles,omitempty" json:"roles,omitempty"`
	Duration     Duration   `yaml:"duration,omitempty" json:"duration,omitempty"`       // ISO 8601, e.g. P730D
	AutoExtend   *bool      `yaml:"auto_extend,omitempty" json:"auto_extend,omitempty"` // true/false (PT0S and P180D accepted)
	Status       GDAPStatus `yaml:"status,omitempty" json:"status,omitempty"`           // active, expired, ...
	EndDate      *Date      `yaml:"end_date,omitempty" json:"end_date,omitempty"`
	AccessGroups []string   `yaml:"access_groups,omitempty" json:"access_groups,omitempty"` // group ids holding every role, active
	// Assignments are the access groups with the roles each holds and
	// whether the assignment is active or eligible (PIM just-in-time).
	Assignments []GDAPAssignment `yaml:"assignments,omitempty" json:"assignments,omitempty"`
	// Active and Eligible are the compact form of Assignments: access
	// groups holding the relationship's roles, active (standing) or
	// eligible (PIM). Load folds them into Assignments (active first, in
	// order) after validating them, so every reader sees one form.
	Active         []string `yaml:"active,omitempty" json:"active,omitempty"`
	Eligible       []string `yaml:"eligible,omitempty" json:"eligible,omitempty"`
	RelationshipID string   `yaml:"relationship_id,omitempty" json:"relationship_id,omitempty"`
}

// GDAPAssignment is one access group's assignment in a GDAP relationship.
type GDAPAssignment struct {
	Group string   `yaml:"group" json:"group"`
	Roles []string `yaml:"roles,omitempty" json:"roles,omitempty"` // default: the relationship's roles
	// Assignment is "active" (standing, the default) or "eligible" (PIM:
	// activated just in time).
	Assignment string `yaml:"assignment,omitempty" json:"assignment,omitempty"`
	Pos        Pos    `yaml:"-" json:"pos"`
}

// Eligible reports whether the assignment is PIM-eligible (just in time).
func (a GDAPAssignment) Eligible() bool { return a.Assignment == AssignEligible }

// GDAP assignment kinds.
const (
	AssignActive   = "active"
	AssignEligible = "eligible"
)

// GDAPStatus is a relationship's status as Partner Center reports it.
type GDAPStatus string

// GDAP statuses (Microsoft Graph delegatedAdminRelationshipStatus).
const (
	GDAPActive               GDAPStatus = "active"
	GDAPActivating           GDAPStatus = "activating"
	GDAPApprovalPending      GDAPStatus = "approvalPending"
	GDAPApproved             GDAPStatus = "approved"
	GDAPCreated              GDAPStatus = "created"
	GDAPExpired              GDAPStatus = "expired"
	GDAPExpiring             GDAPStatus = "expiring"
	GDAPTerminated           GDAPStatus = "terminated"
	GDAPTerminating          GDAPStatus = "terminating"
	GDAPTerminationRequested GDAPStatus = "terminationRequested"
)

// Inactive reports whether the relationship grants no access.
func (s GDAPStatus) Inactive() bool {
	switch s {
	case GDAPExpired, GDAPTerminated, GDAPTerminationRequested, GDAPTerminating:
		return true
	}
	return false
}

// ParseAutoExtend reads Partner Center's autoExtendDuration: PT0S or P0D
// mean off, any other positive duration (P180D) on; ok is false otherwise.
func ParseAutoExtend(s string) (*bool, bool) {
	d, ok := Duration(s).Days()
	if s == "P0D" {
		d, ok = 0, true
	}
	if !ok {
		return nil, false
	}
	return Bool(d > 0), true
}

// Duration is an ISO 8601 duration in days as GDAP uses it (P730D, PT0S).
type Duration string

// Days returns the duration in days; ok is false when it is not P<n>D,
// P<n>Y, P<n>M, P<n>W or PT0S.
func (d Duration) Days() (int, bool) {
	s := string(d)
	if s == "PT0S" {
		return 0, true
	}
	if len(s) < 3 || s[0] != 'P' {
		return 0, false
	}
	n := 0
	for _, c := range s[1 : len(s)-1] {
		if c < '0' || c > '9' || n > 100000 {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	switch s[len(s)-1] {
	case 'D':
		return n, true
	case 'W':
		return 7 * n, true
	case 'M':
		return 30 * n, true
	case 'Y':
		return 365 * n, true
	}
	return 0, false
}

// Tool is an MSP tool or system (RMM, PSA, vault, GDAP relationship...).
type Tool struct {
	ID              string      `yaml:"id" json:"id"`
	Name            string      `yaml:"name,omitempty" json:"name,omitempty"`
	Kind            ToolKind    `yaml:"kind" json:"kind"`
	Owner           string      `yaml:"owner,omitempty" json:"owner,omitempty"` // "msp" (default) or tenant id
	Vendor          string      `yaml:"vendor,omitempty" json:"vendor,omitempty"`
	Product         string      `yaml:"product,omitempty" json:"product,omitempty"`
	Version         string      `yaml:"version,omitempty" json:"version,omitempty"`
	CPE             string      `yaml:"cpe,omitempty" json:"cpe,omitempty"`
	Host            string      `yaml:"host,omitempty" json:"host,omitempty"` // console hostname or URL
	Ports           []int       `yaml:"ports,omitempty" json:"ports,omitempty"`
	InternetExposed *bool       `yaml:"internet_exposed,omitempty" json:"internet_exposed,omitempty"`
	MFAEnforced     *bool       `yaml:"mfa_enforced,omitempty" json:"mfa_enforced,omitempty"`
	MFAMethods      []MFAMethod `yaml:"mfa_methods,omitempty" json:"mfa_methods,omitempty"` // methods the tool accepts
	Logging         Logging     `yaml:"logging,omitempty" json:"logging"`
	LastPatched     *Date       `yaml:"last_patched,omitempty" json:"last_patched,omitempty"`
	Delivered       bool        `yaml:"delivered,omitempty" json:"delivered,omitempty"` // a service delivered to customers
	// Logins are per-user accounts inside the tool with their own MFA
	// (a console where 2FA is set per user).
	Logins []ToolLogin `yaml:"logins,omitempty" json:"logins,omitempty"`
	// Capabilities are what the tool can do on the endpoints its agent runs
	// on; they set the privilege over those endpoints (RMM, remote access).
	Capabilities []Capability `yaml:"capabilities,omitempty" json:"capabilities,omitempty"`
	GDAP         *GDAP        `yaml:"gdap,omitempty" json:"gdap,omitempty"`
	Provenance   *Provenance  `yaml:"provenance,omitempty" json:"provenance,omitempty"`
	Pos          Pos          `yaml:"-" json:"pos"`
}

// ToolLogin is one user's account inside a tool.
type ToolLogin struct {
	Identity string `yaml:"identity" json:"identity"`
	MFA      MFA    `yaml:"mfa,omitempty" json:"mfa"`
	Pos      Pos    `yaml:"-" json:"pos"`
}

// Capability is one thing a management tool can do on a managed endpoint.
type Capability string

// Capabilities.
const (
	CapRunScriptSystem Capability = "run_script_system"
	CapRemoteShell     Capability = "remote_shell"
	CapFileTransfer    Capability = "file_transfer"
	CapDeploySoftware  Capability = "deploy_software"
	CapViewOnly        Capability = "view_only"
)

// Privilege is ordered: read < operate < admin < full_control.
type Privilege string

const (
	PrivRead    Privilege = "read"
	PrivOperate Privilege = "operate"
	PrivAdmin   Privilege = "admin"
	PrivFull    Privilege = "full_control"
)

// Rank orders privileges; 0 for unknown.
func (p Privilege) Rank() int {
	switch p {
	case PrivRead:
		return 1
	case PrivOperate:
		return 2
	case PrivAdmin:
		return 3
	case PrivFull:
		return 4
	}
	return 0
}

// Mode of a grant.
const (
	ModeStanding = "standing"
	ModeJIT      = "jit"
)

// Grant is "subject can control target". Subject is an identity, group,
// tool or vendor id; target is a tenant, tool, asset or identity id
// (a vault holding an identity's credentials is a grant vault → identity).
type Grant struct {
	ID         string      `yaml:"id" json:"id"`
	Subject    string      `yaml:"subject" json:"subject"`
	Target     string      `yaml:"target" json:"target"`
	Privilege  Privilege   `yaml:"privilege" json:"privilege"`
	Mode       string      `yaml:"mode,omitempty" json:"mode,omitempty"` // standing (default) or jit
	Expires    *Date       `yaml:"expires,omitempty" json:"expires,omitempty"`
	Scope      string      `yaml:"scope,omitempty" json:"scope,omitempty"`
	Roles      []string    `yaml:"roles,omitempty" json:"roles,omitempty"` // e.g. GDAP / directory roles conveyed
	Via        string      `yaml:"via,omitempty" json:"via,omitempty"`     // tool id through which the access is exercised
	Provenance *Provenance `yaml:"provenance,omitempty" json:"provenance,omitempty"`
	Pos        Pos         `yaml:"-" json:"pos"`
}

// IsStanding reports whether the grant is standing access (default).
func (g Grant) IsStanding() bool { return g.Mode == "" || g.Mode == ModeStanding }

// Software is one installed product.
type Software struct {
	Vendor  string `yaml:"vendor" json:"vendor"`
	Product string `yaml:"product" json:"product"`
	Version string `yaml:"version,omitempty" json:"version,omitempty"`
	CPE     string `yaml:"cpe,omitempty" json:"cpe,omitempty"`
}

// Asset is a host or device at the MSP or a tenant.
type Asset struct {
	ID            string      `yaml:"id" json:"id"`
	Tenant        string      `yaml:"tenant" json:"tenant"` // "msp" or tenant id
	Hostname      string      `yaml:"hostname,omitempty" json:"hostname,omitempty"`
	Kind          string      `yaml:"kind,omitempty" json:"kind,omitempty"` // server, workstation, firewall, nas, hypervisor, ...
	Critical      bool        `yaml:"critical,omitempty" json:"critical,omitempty"`
	Software      []Software  `yaml:"software,omitempty" json:"software,omitempty"`
	InternetPorts []int       `yaml:"internet_ports,omitempty" json:"internet_ports,omitempty"`
	EndOfLife     *bool       `yaml:"end_of_life,omitempty" json:"end_of_life,omitempty"`
	LastPatched   *Date       `yaml:"last_patched,omitempty" json:"last_patched,omitempty"`
	Agents        []string    `yaml:"agents,omitempty" json:"agents,omitempty"` // tool ids with an agent on this asset (RMM, remote access, backup)
	GoldImage     *bool       `yaml:"gold_image,omitempty" json:"gold_image,omitempty"`
	Provenance    *Provenance `yaml:"provenance,omitempty" json:"provenance,omitempty"`
	Pos           Pos         `yaml:"-" json:"pos"`
}

// Backup is one backup job or policy for a tenant (heading 8).
type Backup struct {
	ID              string `yaml:"id" json:"id"`
	Tenant          string `yaml:"tenant" json:"tenant"` // "msp" or tenant id
	Scope           string `yaml:"scope,omitempty" json:"scope,omitempty"`
	Console         string `yaml:"console,omitempty" json:"console,omitempty"` // tool id
	RPOHours        int    `yaml:"rpo_hours,omitempty" json:"rpo_hours,omitempty"`
	RTOHours        int    `yaml:"rto_hours,omitempty" json:"rto_hours,omitempty"`
	LastSuccess     *Date  `yaml:"last_success,omitempty" json:"last_success,omitempty"`
	Offline         *bool  `yaml:"offline,omitempty" json:"offline,omitempty"`
	Immutable       *bool  `yaml:"immutable,omitempty" json:"immutable,omitempty"`
	Encrypted       *bool  `yaml:"encrypted,omitempty" json:"encrypted,omitempty"`
	KeysSeparate    *bool  `yaml:"keys_separate,omitempty" json:"keys_separate,omitempty"` // encryption keys held separately, offline
	LastRestoreTest *Date  `yaml:"last_restore_test,omitempty" json:"last_restore_test,omitempty"`
	GoldImages      *bool  `yaml:"gold_images,omitempty" json:"gold_images,omitempty"` // gold images of critical systems maintained
	Pos             Pos    `yaml:"-" json:"pos"`
}

// IRPlan is an incident response and recovery plan (heading 9).
type IRPlan struct {
	ID            string  `yaml:"id" json:"id"`
	Party         string  `yaml:"party" json:"party"` // "msp" or tenant id
	Roles         IRRoles `yaml:"roles,omitempty" json:"roles"`
	LastExercised *Date   `yaml:"last_exercised,omitempty" json:"last_exercised,omitempty"`
	HardCopy      *bool   `yaml:"hard_copy,omitempty" json:"hard_copy,omitempty"`
	// HardCopyUpdated is when the printed copy was last brought up to date.
	HardCopyUpdated *Date `yaml:"hard_copy_updated,omitempty" json:"hard_copy_updated,omitempty"`
	IncludesMSP     *bool `yaml:"includes_msp,omitempty" json:"includes_msp,omitempty"` // customer plan covers MSP-side scenarios
	Pos             Pos   `yaml:"-" json:"pos"`
}

// IRRoles names who fills each role.
type IRRoles struct {
	Executive   string `yaml:"executive,omitempty" json:"executive,omitempty"`
	Technical   string `yaml:"technical,omitempty" json:"technical,omitempty"`
	Procurement string `yaml:"procurement,omitempty" json:"procurement,omitempty"`
}

// Contract clause identifiers (heading 11 and the customer paragraphs).
const (
	ClauseMFAMSPAccounts       = "mfa_msp_accounts"
	ClauseMFADelivered         = "mfa_delivered_services"
	ClauseLeastPrivilege       = "least_privilege"
	ClauseLogging              = "logging_retention"
	ClauseCustomerLogAccess    = "customer_log_access"
	ClauseIncidentNotification = "incident_notification"
	ClausePatching             = "patching"
	ClauseBackups              = "backups_rpo_rto"
	ClauseIncidentResponse     = "incident_response"
	ClauseSupplyChain          = "supply_chain"
	ClauseNetworkSecurity      = "network_security"
	ClauseDeprovisioning       = "account_deprovisioning"
	ClauseSecurityRoles        = "security_roles"
)

// Clauses lists every required clause id, in display order.
var Clauses = []string{
	ClauseMFAMSPAccounts, ClauseMFADelivered, ClauseLeastPrivilege, ClauseLogging,
	ClauseCustomerLogAccess, ClauseIncidentNotification, ClausePatching, ClauseBackups,
	ClauseIncidentResponse, ClauseSupplyChain, ClauseNetworkSecurity, ClauseDeprovisioning,
	ClauseSecurityRoles,
}

// Contract is the MSP–customer agreement for one tenant.
type Contract struct {
	ID                string   `yaml:"id" json:"id"`
	Tenant            string   `yaml:"tenant" json:"tenant"`
	Clauses           []string `yaml:"clauses,omitempty" json:"clauses,omitempty"` // clause ids present
	NotificationHours int      `yaml:"notification_hours,omitempty" json:"notification_hours,omitempty"`
	// LogRetentionDays is the period the logging_retention clause sets.
	LogRetentionDays int   `yaml:"log_retention_days,omitempty" json:"log_retention_days,omitempty"`
	Reviewed         *Date `yaml:"reviewed,omitempty" json:"reviewed,omitempty"`
	Pos              Pos   `yaml:"-" json:"pos"`
}

// HasClause reports whether the contract contains clause id.
func (c Contract) HasClause(id string) bool {
	for _, x := range c.Clauses {
		if x == id {
			return true
		}
	}
	return false
}

// Vendor is a subcontractor or software supplier (heading 10).
type Vendor struct {
	ID       string   `yaml:"id" json:"id"`
	Name     string   `yaml:"name,omitempty" json:"name,omitempty"`
	Kind     string   `yaml:"kind,omitempty" json:"kind,omitempty"`         // subcontractor, software, cloud, ...
	Supplies []string `yaml:"supplies,omitempty" json:"supplies,omitempty"` // tool ids whose software/updates it ships
	Domains  []string `yaml:"domains,omitempty" json:"domains,omitempty"`   // its mail domains: guest accounts from them are its staff
	Staff    []string `yaml:"staff,omitempty" json:"staff,omitempty"`       // identity ids of its staff
	Assessed *Date    `yaml:"assessed,omitempty" json:"assessed,omitempty"` // last supply-chain risk review
	Pos      Pos      `yaml:"-" json:"pos"`
}

// Attestation records a human statement for a control that cannot be
// checked automatically.
type Attestation struct {
	Control string `yaml:"control" json:"control"`
	Subject string `yaml:"subject" json:"subject"` // "msp" or tenant id
	By      string `yaml:"by" json:"by"`
	Date    *Date  `yaml:"date,omitempty" json:"date,omitempty"`
	Expires *Date  `yaml:"expires" json:"expires"`
	Note    string `yaml:"note,omitempty" json:"note,omitempty"`
	Pos     Pos    `yaml:"-" json:"pos"`
}

// Exception accepts a failing control for a subject, until it expires.
type Exception struct {
	Control string `yaml:"control" json:"control"`
	Subject string `yaml:"subject" json:"subject"` // "msp", tenant id, or an object id
	Owner   string `yaml:"owner" json:"owner"`
	Reason  string `yaml:"reason" json:"reason"`
	Expires *Date  `yaml:"expires" json:"expires"`
	Pos     Pos    `yaml:"-" json:"pos"`
}

// Settings are the policy thresholds controls are judged against.
// Zero values are replaced by DefaultSettings.
type Settings struct {
	// Pos is where the settings mapping was read (for error positions).
	Pos                  Pos     `yaml:"-" json:"-"`
	StaleDays            int     `yaml:"stale_days,omitempty" json:"stale_days"`
	PatchDays            int     `yaml:"patch_days,omitempty" json:"patch_days"`
	LogRetentionDays     int     `yaml:"log_retention_days,omitempty" json:"log_retention_days"`
	RestoreTestDays      int     `yaml:"restore_test_days,omitempty" json:"restore_test_days"`
	IRExerciseDays       int     `yaml:"ir_exercise_days,omitempty" json:"ir_exercise_days"`
	ContractReviewDays   int     `yaml:"contract_review_days,omitempty" json:"contract_review_days"`
	VendorReviewDays     int     `yaml:"vendor_review_days,omitempty" json:"vendor_review_days"`
	EvidenceMaxAgeDays   int     `yaml:"evidence_max_age_days,omitempty" json:"evidence_max_age_days"`
	MaxTenantShare       float64 `yaml:"max_tenant_share,omitempty" json:"max_tenant_share"` // blast radius bound, e.g. 0.10
	NotificationMaxHours int     `yaml:"notification_max_hours,omitempty" json:"notification_max_hours"`
}

// MinLogRetentionDays is the advisory's "at least six months" as a floor
// no setting can lower (183 days: the longest six calendar months).
const MinLogRetentionDays = 183

// DefaultSettings are the advisory-derived defaults.
func DefaultSettings() Settings {
	return Settings{
		StaleDays:            90,
		PatchDays:            30,
		LogRetentionDays:     MinLogRetentionDays,
		RestoreTestDays:      180,
		IRExerciseDays:       365,
		ContractReviewDays:   365,
		VendorReviewDays:     365,
		EvidenceMaxAgeDays:   30,
		MaxTenantShare:       0.10,
		NotificationMaxHours: 72,
	}
}

// WithDefaults fills zero fields from DefaultSettings.
func (s Settings) WithDefaults() Settings {
	d := DefaultSettings()
	if s.StaleDays == 0 {
		s.StaleDays = d.StaleDays
	}
	if s.PatchDays == 0 {
		s.PatchDays = d.PatchDays
	}
	if s.LogRetentionDays < MinLogRetentionDays {
		s.LogRetentionDays = MinLogRetentionDays // a floor, not a default
	}
	if s.RestoreTestDays == 0 {
		s.RestoreTestDays = d.RestoreTestDays
	}
	if s.IRExerciseDays == 0 {
		s.IRExerciseDays = d.IRExerciseDays
	}
	if s.ContractReviewDays == 0 {
		s.ContractReviewDays = d.ContractReviewDays
	}
	if s.VendorReviewDays == 0 {
		s.VendorReviewDays = d.VendorReviewDays
	}
	if s.EvidenceMaxAgeDays == 0 {
		s.EvidenceMaxAgeDays = d.EvidenceMaxAgeDays
	}
	if s.MaxTenantShare == 0 {
		s.MaxTenantShare = d.MaxTenantShare
	}
	if s.NotificationMaxHours == 0 {
		s.NotificationMaxHours = d.NotificationMaxHours
	}
	return s
}

// CSVImport declares a CSV file to merge into the estate
// (see internal/estate/csv.go for the column mapping).
type CSVImport struct {
	Kind    string            `yaml:"kind" json:"kind"`                           // identities, assets, grants
	File    string            `yaml:"file" json:"file"`                           // relative to the declaring file
	Columns map[string]string `yaml:"columns,omitempty" json:"columns,omitempty"` // field -> CSV header override
	Home    string            `yaml:"home,omitempty" json:"home,omitempty"`       // default home/tenant for rows
	Pos     Pos               `yaml:"-" json:"pos"`
}

// DomainCheck is collected email-domain security evidence (SPF, DMARC, DKIM, MTA-STS).
type DomainCheck struct {
	Tenant     string      `yaml:"tenant" json:"tenant"`
	Domain     string      `yaml:"domain" json:"domain"`
	SPF        *SPF        `yaml:"spf,omitempty" json:"spf,omitempty"`
	DMARC      *DMARC      `yaml:"dmarc,omitempty" json:"dmarc,omitempty"`
	DKIM       []DKIM      `yaml:"dkim,omitempty" json:"dkim,omitempty"`
	MTASTS     *bool       `yaml:"mta_sts,omitempty" json:"mta_sts,omitempty"`
	TLSRPT     *bool       `yaml:"tls_rpt,omitempty" json:"tls_rpt,omitempty"`
	Error      string      `yaml:"error,omitempty" json:"error,omitempty"`
	Provenance *Provenance `yaml:"provenance,omitempty" json:"provenance,omitempty"`
	Pos        Pos         `yaml:"-" json:"pos"`
}

// SPF is a parsed SPF record.
type SPF struct {
	Record      string `yaml:"record" json:"record"`
	All         string `yaml:"all,omitempty" json:"all,omitempty"` // "-all", "~all", "?all", "+all" or "" when missing
	LookupCount int    `yaml:"lookup_count" json:"lookup_count"`
	Valid       bool   `yaml:"valid" json:"valid"`
	Problem     string `yaml:"problem,omitempty" json:"problem,omitempty"`
}

// DMARC is a parsed DMARC record.
type DMARC struct {
	Record string `yaml:"record" json:"record"`
	Policy string `yaml:"policy" json:"policy"` // none, quarantine, reject
	Pct    int    `yaml:"pct" json:"pct"`
	RUA    string `yaml:"rua,omitempty" json:"rua,omitempty"`
	// SP is the subdomain policy (sp=), "" when absent (subdomains inherit p).
	SP string `yaml:"sp,omitempty" json:"sp,omitempty"`
	// Problem is set when the record is missing or malformed ("no DMARC record").
	Problem string `yaml:"problem,omitempty" json:"problem,omitempty"`
}

// DKIM is one selector's result.
type DKIM struct {
	Selector string `yaml:"selector" json:"selector"`
	Present  bool   `yaml:"present" json:"present"`
}

// Exposure is collected network exposure evidence for a host:port listed in the estate.
type Exposure struct {
	Object      string      `yaml:"object" json:"object"` // tool or asset id probed
	Tenant      string      `yaml:"tenant,omitempty" json:"tenant,omitempty"`
	Host        string      `yaml:"host" json:"host"`
	Port        int         `yaml:"port" json:"port"`
	Open        bool        `yaml:"open" json:"open"`
	Service     string      `yaml:"service,omitempty" json:"service,omitempty"` // rdp, smb, winrm, vnc, ssh, https, ...
	TLSVersion  string      `yaml:"tls_version,omitempty" json:"tls_version,omitempty"`
	CertExpires *time.Time  `yaml:"cert_expires,omitempty" json:"cert_expires,omitempty"`
	Banner      string      `yaml:"banner,omitempty" json:"banner,omitempty"`
	Error       string      `yaml:"error,omitempty" json:"error,omitempty"`
	Provenance  *Provenance `yaml:"provenance,omitempty" json:"provenance,omitempty"`
	Pos         Pos         `yaml:"-" json:"pos"`
	// Management is true for remote-management services (RDP, SMB, WinRM,
	// VNC, SSH, RMM and remote-access consoles) found open.
	Management bool `yaml:"management,omitempty" json:"management,omitempty"`
	// CertSubject is the leaf certificate's subject CN when TLS was offered.
	CertSubject string `yaml:"cert_subject,omitempty" json:"cert_subject,omitempty"`
}

// Date is a calendar date (YYYY-MM-DD) or a full RFC 3339 timestamp.
type Date struct{ time.Time }

// ParseDate accepts 2006-01-02, RFC 3339, and "2006-01-02 15:04:05".
func ParseDate(s string) (Date, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02", time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return Date{t.UTC()}, nil
		}
	}
	return Date{}, fmt.Errorf("invalid date %q: expected YYYY-MM-DD or RFC 3339", s)
}

// MustDate is for tests and generated data.
func MustDate(s string) *Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return &d
}

// DaysSince returns whole days from d to now.
func (d Date) DaysSince(now time.Time) int { return int(now.Sub(d.Time).Hours() / 24) }

func (d Date) String() string {
	if d.Hour() == 0 && d.Minute() == 0 && d.Second() == 0 {
		return d.Format("2006-01-02")
	}
	return d.Format(time.RFC3339)
}

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	p, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// Bool is a helper for optional booleans.
func Bool(b bool) *bool { return &b }
