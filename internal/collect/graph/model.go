package graph

import (
	"encoding/json"
	"time"
)

// Graph v1.0 response shapes (only the properties firebreak reads).

// DelegatedAdminRelationship is /tenantRelationships/delegatedAdminRelationships.
type DelegatedAdminRelationship struct {
	ID            string `json:"id"`
	DisplayName   string `json:"displayName"`
	Duration      string `json:"duration"`
	Status        string `json:"status"`
	AutoExtend    string `json:"autoExtendDuration"`
	EndDateTime   string `json:"endDateTime"`
	ActivatedTime string `json:"activatedDateTime"`
	Customer      struct {
		TenantID    string `json:"tenantId"`
		DisplayName string `json:"displayName"`
	} `json:"customer"`
	AccessDetails struct {
		UnifiedRoles []struct {
			RoleDefinitionID string `json:"roleDefinitionId"`
		} `json:"unifiedRoles"`
	} `json:"accessDetails"`
}

// DelegatedAdminAccessAssignment is …/{id}/accessAssignments.
type DelegatedAdminAccessAssignment struct {
	ID              string `json:"id"`
	Status          string `json:"status"`
	AccessContainer struct {
		AccessContainerID   string `json:"accessContainerId"`
		AccessContainerType string `json:"accessContainerType"`
	} `json:"accessContainer"`
	AccessDetails struct {
		UnifiedRoles []struct {
			RoleDefinitionID string `json:"roleDefinitionId"`
		} `json:"unifiedRoles"`
	} `json:"accessDetails"`
}

// User is /users with signInActivity.
type User struct {
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	UserPrincipalName string `json:"userPrincipalName"`
	AccountEnabled    *bool  `json:"accountEnabled"`
	UserType          string `json:"userType"`
	CreatedDateTime   string `json:"createdDateTime"`
	SignInActivity    *struct {
		LastSignInDateTime               string `json:"lastSignInDateTime"`
		LastNonInteractiveSignInDateTime string `json:"lastNonInteractiveSignInDateTime"`
		LastSuccessfulSignInDateTime     string `json:"lastSuccessfulSignInDateTime"`
	} `json:"signInActivity"`
}

// UserRegistrationDetails is /reports/authenticationMethods/userRegistrationDetails.
type UserRegistrationDetails struct {
	ID                string   `json:"id"`
	UserPrincipalName string   `json:"userPrincipalName"`
	IsAdmin           bool     `json:"isAdmin"`
	IsMfaCapable      bool     `json:"isMfaCapable"`
	IsMfaRegistered   bool     `json:"isMfaRegistered"`
	IsPasswordless    bool     `json:"isPasswordlessCapable"`
	MethodsRegistered []string `json:"methodsRegistered"`
	UserType          string   `json:"userType"`
}

// RoleDefinition is /roleManagement/directory/roleDefinitions.
type RoleDefinition struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	TemplateID  string `json:"templateId"`
}

// RoleAssignment is /roleManagement/directory/roleAssignments?$expand=principal
// (unifiedRoleAssignment), and also an eligibility from
// roleEligibilitySchedules (unifiedRoleEligibilitySchedule, which has no
// principalOrganizationId).
type RoleAssignment struct {
	ID                      string          `json:"id"`
	RoleDefinitionID        string          `json:"roleDefinitionId"`
	PrincipalID             string          `json:"principalId"`
	PrincipalOrganizationID string          `json:"principalOrganizationId"`
	DirectoryScopeID        string          `json:"directoryScopeId"`
	Principal               json.RawMessage `json:"principal"`
}

// principal decodes the expanded principal (zero when null: a deleted or
// foreign object Graph cannot expand).
func (a RoleAssignment) principal() principal {
	var p principal
	if len(a.Principal) > 0 && string(a.Principal) != "null" {
		_ = json.Unmarshal(a.Principal, &p)
	}
	return p
}

// principal is the expanded directoryObject of a role assignment.
type principal struct {
	Type              string `json:"@odata.type"`
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	UserPrincipalName string `json:"userPrincipalName"`
	AppID             string `json:"appId"`
	AppOwnerTenantID  string `json:"appOwnerOrganizationId"`
	Org               string `json:"-"` // principalOrganizationId of the assignment
}

// ConditionalAccessPolicy is /identity/conditionalAccess/policies
// (conditionalAccessPolicy, conditionalAccessConditionSet and
// conditionalAccessGrantControls in the v1.0 CSDL).
type ConditionalAccessPolicy struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	State       string `json:"state"` // enabled, disabled, enabledForReportingButNotEnforced
	Conditions  struct {
		Users struct {
			IncludeUsers  []string `json:"includeUsers"`
			ExcludeUsers  []string `json:"excludeUsers"`
			IncludeGroups []string `json:"includeGroups"`
			ExcludeGroups []string `json:"excludeGroups"`
			IncludeRoles  []string `json:"includeRoles"`
			ExcludeRoles  []string `json:"excludeRoles"`
			// conditionalAccessGuestsOrExternalUsers: guests and
			// external users of these types are left out.
			ExcludeGuestsOrExternalUsers json.RawMessage `json:"excludeGuestsOrExternalUsers"`
		} `json:"users"`
		Applications struct {
			IncludeApplications []string `json:"includeApplications"`
			ExcludeApplications []string `json:"excludeApplications"`
		} `json:"applications"`
		ClientAppTypes []string `json:"clientAppTypes"`
		Locations      *struct {
			IncludeLocations []string `json:"includeLocations"`
			ExcludeLocations []string `json:"excludeLocations"`
		} `json:"locations"`
		Platforms *struct {
			IncludePlatforms []string `json:"includePlatforms"`
			ExcludePlatforms []string `json:"excludePlatforms"`
		} `json:"platforms"`
		Devices *struct {
			DeviceFilter *struct {
				Mode string `json:"mode"`
				Rule string `json:"rule"`
			} `json:"deviceFilter"`
		} `json:"devices"`
		SignInRiskLevels           []string `json:"signInRiskLevels"`
		UserRiskLevels             []string `json:"userRiskLevels"`
		ServicePrincipalRiskLevels []string `json:"servicePrincipalRiskLevels"`
		InsiderRiskLevels          string   `json:"insiderRiskLevels"`
		// conditionalAccessAuthenticationFlows: transferMethods other
		// than "none" limit the policy to those flows (e.g. device code).
		AuthenticationFlows json.RawMessage `json:"authenticationFlows"`
	} `json:"conditions"`
	GrantControls *struct {
		Operator                    string   `json:"operator"`
		BuiltInControls             []string `json:"builtInControls"`
		CustomAuthenticationFactors []string `json:"customAuthenticationFactors"`
		TermsOfUse                  []string `json:"termsOfUse"`
		AuthenticationStrength      *struct {
			ID          string `json:"id"`
			DisplayName string `json:"displayName"`
		} `json:"authenticationStrength"`
	} `json:"grantControls"`
}

// SecurityDefaults is /policies/identitySecurityDefaultsEnforcementPolicy.
type SecurityDefaults struct {
	IsEnabled bool `json:"isEnabled"`
}

// ServicePrincipal is /servicePrincipals.
type ServicePrincipal struct {
	ID                     string   `json:"id"`
	AppID                  string   `json:"appId"`
	DisplayName            string   `json:"displayName"`
	AppOwnerOrganizationID string   `json:"appOwnerOrganizationId"`
	AccountEnabled         *bool    `json:"accountEnabled"`
	ServicePrincipalType   string   `json:"servicePrincipalType"`
	Tags                   []string `json:"tags"`
}

// deltaUser is one entry of /users/delta: a user, or "@removed".
type deltaUser struct {
	User
	Removed *struct {
		Reason string `json:"reason"`
	} `json:"@removed"`
}

// Domain is /domains.
type Domain struct {
	ID         string `json:"id"`
	IsVerified bool   `json:"isVerified"`
}

// Group is /groups/{id}.
type Group struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// DirectoryObject is a member of a group.
type DirectoryObject struct {
	Type              string `json:"@odata.type"`
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	UserPrincipalName string `json:"userPrincipalName"`
}

// Well-known Entra role template ids (built-in roles).
const (
	RoleGlobalAdmin         = "62e90394-69f5-4237-9190-012177145e10"
	RolePrivilegedRoleAdmin = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	RolePrivilegedAuthAdmin = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
	RoleGlobalReader        = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
)

// roleNames names built-in roles by template id (GDAP relationships carry
// only ids; customer tenants' roleDefinitions are read when permitted).
var roleNames = map[string]string{
	RoleGlobalAdmin:                        "Global Administrator",
	RolePrivilegedRoleAdmin:                "Privileged Role Administrator",
	RolePrivilegedAuthAdmin:                "Privileged Authentication Administrator",
	RoleGlobalReader:                       "Global Reader",
	"29232cdf-9323-42fd-ade2-1d097af3e4de": "Exchange Administrator",
	"729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
	"194ae4cb-b126-40b2-bd5b-6091b380977d": "Security Administrator",
	"fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
	"3a2c62db-5318-420d-8d74-23affee5d9d5": "Intune Administrator",
	"f28a1f50-f6e7-4571-818b-6a12f2af6b6c": "SharePoint Administrator",
	"69091246-20e8-4a56-aa4d-066075b2a7a8": "Teams Administrator",
	"b0f54661-2d74-4c50-afa3-1ec803f12efe": "Billing Administrator",
	"5d6b6bb7-de71-4623-b4af-96380a352509": "Security Reader",
	"4a5d8f65-41da-4de4-8968-e035b65339cf": "Reports Reader",
	"f023fd81-a637-4b56-95fd-791ac0226033": "Service Support Administrator",
	"9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
	"158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
	"c4e39bd9-1100-46d3-8c65-fb160da0071f": "Authentication Administrator",
	"b1be1c3e-b65d-4f19-8427-f6fa0d97feb9": "Conditional Access Administrator",
	"e3973bdf-4987-49ae-837a-ba8e231c7286": "Azure DevOps Administrator",
	"88d8e3e3-8f55-4a1e-953a-9b9898b8876b": "Directory Readers",
}

func roleName(id string) string {
	if n, ok := roleNames[id]; ok {
		return n
	}
	return id
}

func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 1900 { // Graph writes 0001-01-01T00:00:00Z for "never"
		return time.Time{}, false
	}
	return t.UTC(), true
}
