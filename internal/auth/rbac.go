package auth

import "github.com/firebreak-msp/firebreak/internal/store"

// Access is who may call a route (role-based access control).
type Access int

// Principal is the authenticated caller: a user session or an API token,
// with the tenant scope every read goes through.
type Principal struct {
	User    *store.User     // nil for tokens
	Token   *store.APIToken // nil for sessions
	Session *store.Session
	Raw     store.Secret // session token
	Scope   store.Scope
	IP      string
}

// Actor names the caller in the audit log.
func (p *Principal) Actor() string {
	switch {
	case p == nil:
		return "anonymous"
	case p.User != nil:
		return p.User.Username
	case p.Token != nil:
		return "token:" + p.Token.ID
	}
	return "anonymous"
}

func (p *Principal) Can(a Access) bool {
	if p == nil {
		return a == AccessPublic
	}
	switch a {
	case AccessPublic:
		return true
	case AccessPreMFA:
		return p.Session != nil
	}
	if p.Session != nil && !p.Session.MFA {
		return false
	}
	if p.Token != nil {
		switch a {
		case AccessRead:
			return p.Token.Can(store.PermRead)
		case AccessReadHeavy:
			return p.Token.Can(store.PermRead) && p.Token.Can(store.PermReadHeavy)
		case AccessIngest:
			return p.Token.Can(store.PermIngest)
		}
		return false
	}
	switch a {
	case AccessRead, AccessReadHeavy:
		return p.User.Role.Valid()
	case AccessIncident, AccessIngest:
		return p.User.Role == store.RoleOwner || p.User.Role == store.RoleAnalyst
	case AccessAdmin:
		return p.User.Role == store.RoleOwner
	case AccessAttest:
		// Which controls and tenants is decided per claim (server.claimRights).
		return p.User.Role == store.RoleOwner || p.User.Role == store.RoleAnalyst || p.User.Role == store.RoleTenantAttester
	}
	return false
}

const (
	AccessPublic   Access = iota // anyone (login, health)
	AccessPreMFA                 // a session that passed the password step
	AccessRead                   // any authenticated caller, within its scope
	AccessIncident               // owner or analyst (or a token? no: sessions only)
	AccessAdmin                  // owner
	AccessIngest                 // token with events:write, or owner/analyst session
	AccessAttest                 // owner, analyst or tenant attester session (issue 17)
	// AccessReadHeavy: a read whose cost grows with the data (a heavy
	// route in server/cost.go): any signed-in user within its scope, a
	// token only with read and read:heavy.
	AccessReadHeavy
)

func (a Access) String() string {
	return [...]string{"public", "pre-mfa", "read", "incident", "admin", "ingest", "attest", "read-heavy"}[a]
}
