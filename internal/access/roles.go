package access

import (
	"strings"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// RolePrivilege maps directory, GDAP and Active Directory role names to the
// privilege they convey over the tenant they are held in: the highest of
// the roles, and the role that gives it. Unknown role names count as
// operate (a role was granted for a reason); readers count as read.
func RolePrivilege(roles []string) (estate.Privilege, string) {
	var best estate.Privilege
	why := ""
	for _, r := range roles {
		if p := rolePrivilege(r); p.Rank() > best.Rank() {
			best, why = p, r
		}
	}
	return best, why
}

// fullRoles take over the tenant: they can grant themselves anything, or
// reach the domain controllers' secrets.
var fullRoles = map[string]bool{
	"global administrator":                    true,
	"company administrator":                   true,
	"privileged role administrator":           true,
	"privileged authentication administrator": true,
	"partner tier2 support":                   true,
	"hybrid identity administrator":           true,
	"domain admins":                           true,
	"enterprise admins":                       true,
	"schema admins":                           true,
	"administrators":                          true,
	"application administrator":               true,
	"cloud application administrator":         true,
	"conditional access administrator":        true,
	"backup operators":                        true, // can read NTDS.dit on a domain controller
	"server operators":                        true, // can log on to and service domain controllers
	"intune administrator":                    true, // runs code on every managed device
}

// adminRoles administer a large part of the tenant.
var adminRoles = map[string]bool{
	"account operators":                          true,
	"print operators":                            true,
	"exchange administrator":                     true,
	"security administrator":                     true,
	"sharepoint administrator":                   true,
	"teams administrator":                        true,
	"user administrator":                         true,
	"groups administrator":                       true,
	"dnsadmins":                                  true,
	"group policy creator owners":                true,
	"cloud device administrator":                 true,
	"compliance administrator":                   true,
	"azure ad joined device local administrator": true,
}

// PrivilegedRole reports whether holding role r makes an account
// privileged (admin or more over its tenant).
func PrivilegedRole(r string) bool { return rolePrivilege(r).Rank() >= estate.PrivAdmin.Rank() }

func rolePrivilege(r string) estate.Privilege {
	l := strings.ToLower(strings.TrimSpace(r))
	if fullRoles[l] {
		return estate.PrivFull
	}
	if adminRoles[l] {
		return estate.PrivAdmin
	}
	switch {
	case l == "":
		return ""
	case strings.Contains(l, "reader"), strings.HasSuffix(l, "viewer"):
		return estate.PrivRead
	case l == "helpdesk administrator", l == "password administrator", l == "authentication administrator", l == "service support administrator",
		l == "license administrator", l == "billing administrator",
		strings.Contains(l, "support"), strings.Contains(l, "operator"):
		return estate.PrivOperate
	case strings.Contains(l, "administrator"), strings.Contains(l, "admin"), strings.Contains(l, "owner"):
		return estate.PrivAdmin
	}
	return estate.PrivOperate
}
